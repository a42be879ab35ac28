"""A done video with a clip dropped for a limit the code no longer has is redone, and only it (issue 23:
a picture size change inside a clip failed it; now every picture takes the first one's size)."""

from __future__ import annotations

from pathlib import Path

from video_assets.input_walk import DiscoveredFile
from video_assets.ledger import VideoLedger
from video_assets.video_registry import VideoRegistry


def test_only_the_video_with_a_lifted_drop_reopens(tmp_path: Path) -> None:
    registry = VideoRegistry(tmp_path / "registry.sqlite")
    ledger = VideoLedger(registry)
    files = [DiscoveredFile(name, str(tmp_path / name), 10, 1.0) for name in ("switch.ts", "plain.mp4")]
    switch, plain = registry.register(files)
    required = {"fingerprint": "v1"}
    for video_id in (switch, plain):
        registry.record_probe(video_id, f"sha-{video_id}")
        ledger.record_plan({video_id: (2, None)})
    ledger.record_drops(
        "frames", [switch], {"c1": (switch, "frame size changes inside the clip [...]; set target_res")}
    )
    ledger.record_drops("frames", [plain], {"c2": (plain, "decode failed: 3 of 8 frames have no decoded picture")})
    ledger.record_landed("fingerprint", "v1", {switch: 1, plain: 1})
    assert ledger.settle([switch, plain], required) == {switch: "done", plain: "done"}
    assert ledger.reopen_unfinished(required) == [switch]
    assert registry.get(switch).status == "pending" and registry.get(plain).status == "done"
