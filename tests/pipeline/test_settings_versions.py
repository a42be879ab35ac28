"""Each asset's code version follows exactly the settings its output depends on."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.conftest import settings_for
from video_assets.orchestration.definitions import build_definitions
from video_assets.settings.config import ClippingSettings, Settings
from video_assets.settings.versions import clips_version, settings_hash


def _versions(settings: Settings) -> dict[str, str | None]:
    graph = build_definitions(settings).resolve_asset_graph()
    return {key.to_user_string(): graph.get(key).code_version for key in graph.get_all_asset_keys()}


def _changed(base: Settings, **update) -> set[str]:
    before, after = _versions(base), _versions(base.model_copy(update=update))
    return {name for name in before if before[name] != after[name]}


@pytest.fixture
def base(tmp_path: Path) -> Settings:
    return settings_for(tmp_path / "videos", tmp_path / "data")


def test_clip_and_frame_settings_version_only_their_asset(base):
    assert _changed(base, clipping=base.clipping.model_copy(update={"min_clip_len_s": 1.5})) == {"clips"}
    for frames in ({"target_fps": (4.0,)}, {"policies": ("middle",)}, {"storage": "jpeg"}, {"target_res": (224, 224)}):
        assert _changed(base, frames=base.frames.model_copy(update=frames)) == {"frames"}, frames
    assert _changed(base, frames=base.frames.model_copy(update={"num_threads": 4})) == set()  # speed only


def _v1_clips_version(clipping: ClippingSettings) -> str:
    """What clips version 1 hashed: the clipping settings as they were before scene_detector."""
    return f"1-{settings_hash(clipping.model_dump(mode='json', exclude={'scene_detector'}))}"


@pytest.mark.parametrize(
    "fields",
    [{}, {"clip_len_s": 4.0, "stride_s": 2.0}, {"scene_threshold": 0.3}, {"max_clip_len_s": 20.0, "transcode": True}],
)
def test_fixed_stride_keeps_its_clips_version(base, fields):
    """A settings file for fixed_stride, written before or after the scene-detector work, keeps
    the version it had: one that leaves scene_threshold out (default then 0.35) or holds it as
    the runner wrote it (0.35) hashes as before; so does one with any other value."""
    unset = base.clipping.model_copy(update=fields)
    written = ClippingSettings(**{**unset.model_dump(), "scene_threshold": fields.get("scene_threshold", 0.35)})
    assert clips_version(base.model_copy(update={"clipping": unset})) == _v1_clips_version(written)
    assert clips_version(base.model_copy(update={"clipping": written})) == _v1_clips_version(written)
    # fixed_stride never reads the detector, so choosing one changes nothing.
    adaptive = unset.model_copy(update={"scene_detector": "adaptive"})
    assert clips_version(base.model_copy(update={"clipping": adaptive})) == _v1_clips_version(written)


def test_scene_cut_versions_follow_the_detector(base):
    scene_cut = ClippingSettings(method="scene_cut", min_clip_len_s=1.0, max_clip_len_s=10.0)
    scene_base = base.model_copy(update={"clipping": scene_cut})
    # The builtin splitter's cuts changed (flashes), so its videos are reopened once.
    assert clips_version(scene_base) != _v1_clips_version(scene_cut)
    adaptive = scene_cut.model_copy(update={"scene_detector": "adaptive"})
    assert _changed(scene_base, clipping=adaptive) == {"clips"}
    assert _changed(base, clipping=base.clipping.model_copy(update={"scene_detector": "adaptive"})) == set()
    # The adaptive detector does not read the builtin threshold; the builtin splitter does.
    assert (
        _changed(
            scene_base.model_copy(update={"clipping": adaptive}),
            clipping=adaptive.model_copy(update={"scene_threshold": 0.3}),
        )
        == set()
    )
    assert _changed(scene_base, clipping=scene_cut.model_copy(update={"scene_threshold": 0.3})) == {"clips"}


def test_transnetv2_has_its_own_clips_version_and_the_others_keep_theirs(base):
    scene_cut = ClippingSettings(method="scene_cut", min_clip_len_s=1.0, max_clip_len_s=10.0)
    clipping = {d: scene_cut.model_copy(update={"scene_detector": d}) for d in ("builtin", "adaptive", "transnetv2")}
    versions = {d: clips_version(base.model_copy(update={"clipping": c})) for d, c in clipping.items()}
    assert len(set(versions.values())) == 3
    # What the code before "transnetv2" existed gave these settings: no collection is reopened.
    assert (versions["builtin"], versions["adaptive"]) == ("1-754b29cf", "1-e7e0086c")
    assert clips_version(base) == "1-6f1ae4db"  # fixed_stride
    # TransNetV2 cuts at its own 0.5: the builtin threshold is not part of its version.
    moved = clipping["transnetv2"].model_copy(update={"scene_threshold": 0.3})
    assert clips_version(base.model_copy(update={"clipping": moved})) == versions["transnetv2"]


def test_model_settings_version_tensors_or_embeddings(base):
    from video_assets.settings.config import ModelSettings

    def with_model(**fields) -> dict:
        return {"models": {"fingerprint": ModelSettings(**fields)}}

    # A model rate the frames settings lack is extracted by the frames asset too (stages/resolved.py).
    assert _changed(base, **with_model(target_fps=4.0)) == {"frames", "fingerprint_tensors"}
    assert _changed(base, tensor_dtype="float32") == {"fingerprint_tensors"}
    assert _changed(base, **with_model(texts_to_verify=("a dog",))) == {"fingerprint_embeddings"}
    assert _changed(base, dtype="fp32") == {"fingerprint_embeddings"}
    assert _changed(base, **with_model(batch_size=7, num_cpus=3, verbose=True)) == set()  # throughput and logging


def test_a_settings_change_makes_the_materialized_partition_stale(tmp_path, dagster_home):
    """Dagster itself sees the change: the stale status the UI shows comes from these versions."""
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    from video_assets.app.runner import run_folder
    from video_assets.media.synthetic import make_video

    make_video(tmp_path / "videos" / "a.mp4", duration_s=2.0, fps=12, size=(96, 64), seed=1)
    settings = settings_for(tmp_path / "videos", tmp_path / "data")  # fingerprint only
    [partition] = run_folder(settings, progress=lambda _: None).partitions
    assert partition.success
    changed = settings.model_copy(update={"frames": settings.frames.model_copy(update={"target_fps": (4.0,)})})
    with dg.DagsterInstance.get() as instance:

        def status(defs: dg.Definitions, asset: str):
            resolver = CachingStaleStatusResolver(instance, defs.resolve_asset_graph(), LoadingContextForTest(instance))
            return resolver.get_status(dg.AssetKey(asset), partition.key)

        same, new = build_definitions(settings), build_definitions(changed)
        assert {status(same, a) for a in ("clips", "frames", "fingerprint_tensors")} == {StaleStatus.FRESH}
        assert status(new, "clips") == StaleStatus.FRESH
        assert status(new, "frames") == StaleStatus.STALE  # its code version moved with the settings
        # Re-making the frames under the new settings leaves the tensors made from the old ones stale.
        job = new.resolve_implicit_global_asset_job_def().get_subset(asset_selection={dg.AssetKey("frames")})
        assert job.execute_in_process(partition_key=partition.key, instance=instance).success
        assert status(new, "frames") == StaleStatus.FRESH
        assert status(new, "fingerprint_tensors") == StaleStatus.STALE
