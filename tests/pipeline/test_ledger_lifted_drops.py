"""A done video with a clip dropped for a limit the code no longer has is redone, and only it (issue 23:
a picture size change inside a clip failed it; now every picture takes the first one's size)."""

from __future__ import annotations

from pathlib import Path

from video_assets.catalog.input_walk import DiscoveredFile
from video_assets.catalog.ledger import VideoLedger
from video_assets.catalog.registry import VideoRegistry


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


def test_only_an_edit_list_video_indexed_before_the_fix_reopens(tmp_path: Path) -> None:
    """Issue 23: an edit-list MP4 was indexed on the raw stream timeline. No code version moved; a done video
    indexed before (no landing since) is checked once, and only one whose stream hides frames is redone."""
    from video_assets.media.pyav_container import hides_leading_frames
    from video_assets.media.synthetic import make_video
    from video_assets.media.synthetic_timeline import make_edit_list_cut

    plain = make_video(tmp_path / "plain.mp4", duration_s=4.0, fps=12, size=(64, 48), gop=48)
    cut = make_edit_list_cut(plain, tmp_path / "cut.mp4", 1.32)
    registry = VideoRegistry(tmp_path / "registry.sqlite")
    ledger = VideoLedger(registry)
    ids = registry.register([DiscoveredFile(p.name, str(p), 10, 1.0) for p in (plain, cut)])
    for video_id in ids:
        registry.record_probe(video_id, f"sha-{video_id}")
        registry.mark(video_id, "done")  # as a ledger from before the fix holds them
    assert ledger.reopen_edit_listed(hides_leading_frames) == [ids[1]]
    assert [registry.get(v).status for v in ids] == ["done", "pending"]
    assert ledger.reopen_edit_listed(hides_leading_frames) == []  # checked once
    # A landing made by the fixed code counts as checked: its next check never reopens it.
    registry.mark(ids[1], "done", sha256="sha-new")
    ledger.record_landed("fingerprint", "v1", {ids[1]: 2})
    assert ledger.reopen_edit_listed(hides_leading_frames) == []
