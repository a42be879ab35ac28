"""Cosmos-Embed1 through its own (here: tiny, test-built) remote code, from a pinned snapshot."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cosmos_fixture import MODELING_PY, SHARD_NAMES, build_cosmos_snapshot
from safetensors.torch import load_file, save_file

from video_assets.models import embedder_registry
from video_assets.models.cosmos_embed1 import (
    DEFAULT_VARIANT,
    VARIANTS,
    CosmosEmbed1Embedder,
    CosmosEmbed1Preprocessor,
    NonFiniteEmbeddingError,
)
from video_assets.models.frame_selection import TOO_FEW_FRAMES, ensure_enough_frames, uniform_indices
from video_assets.models.hub import ModelHub
from video_assets.models.snapshot_pin import (
    DEFAULT_PINS,
    Pin,
    SnapshotIncompleteError,
    SnapshotNotFoundError,
    UntrustedSnapshotError,
    code_files,
    find_pin,
    main,
    manifest_sha256,
    record_pins,
    revision_matches,
    verify_snapshot,
)
from video_assets.models.transformers_compat import install_remote_code_shims
from video_assets.models.weight_specs import WEIGHT_SPECS
from video_assets.settings.config import ModelSettings

SPEC = VARIANTS[DEFAULT_VARIANT]


def build(
    root: Path,
    variant: str = DEFAULT_VARIANT,
    *,
    embed_dim: int | None = None,
    normalize_embeddings: bool = True,
) -> Path:
    """The tiny snapshot of ``variant`` (its repo, revision, resolution, and by default its dim)."""
    spec = VARIANTS[variant]
    return build_cosmos_snapshot(
        root,
        repo_id=spec.model_id,
        revision=spec.revision,
        embed_dim=embed_dim or spec.dim,
        resolution=spec.resolution[0],
        normalize_embeddings=normalize_embeddings,
    )


def own_pins(snap: Path, variant: str = DEFAULT_VARIANT) -> tuple[Pin, ...]:
    """The tests' own pin table: the fixture's code, recorded like a maintainer would."""
    return (record_pins(snap, repo_id=VARIANTS[variant].model_id),)


def load(snap: Path, variant: str = DEFAULT_VARIANT) -> CosmosEmbed1Embedder:
    return CosmosEmbed1Embedder.from_snapshot(snap, variant, pins=own_pins(snap, variant))


def random_clip(seed: int, n: int = 12, h: int = 24, w: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def solid_clip(rgb: tuple[int, int, int], n: int = 10) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (n, 20, 30, 3)).copy()


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def embedder(snap: Path) -> CosmosEmbed1Embedder:
    return load(snap)


def copy_snapshot(snap: Path, root: Path) -> Path:
    dest = root / SPEC.model_id / snap.name
    shutil.copytree(snap, dest)
    return dest


# -- pins and snapshot checks -------------------------------------------------------------


def test_every_variant_has_a_production_pin_entry() -> None:
    for spec in VARIANTS.values():
        assert find_pin(DEFAULT_PINS, spec.model_id, spec.revision) is not None, spec.name


def test_unrecorded_snapshot_is_refused_with_how_to_approve(snap: Path) -> None:
    manifest = manifest_sha256(code_files(snap))
    with pytest.raises(UntrustedSnapshotError) as err:
        verify_snapshot(snap, repo_id=SPEC.model_id, revision=SPEC.revision, pins=())
    msg = str(err.value)
    assert "no code hashes are recorded" in msg
    assert f"python -m video_assets.models.snapshot_pin record {snap} --repo-id {SPEC.model_id}" in msg
    assert f"trust_snapshot_sha256={manifest!r}" in msg


def test_trust_snapshot_sha256_approves_only_that_exact_code(
    snap: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = manifest_sha256(code_files(snap))
    with caplog.at_level(logging.WARNING, logger="video_assets.models.snapshot_pin"):
        ok = verify_snapshot(
            snap, repo_id=SPEC.model_id, revision=SPEC.revision, pins=(), trust_snapshot_sha256=manifest
        )
    assert ok.approved_by == "trust_snapshot_sha256" and ok.manifest_sha256 == manifest
    assert manifest in caplog.text  # every load by opt-in leaves a trace

    changed = copy_snapshot(snap, tmp_path)
    with (changed / "preprocessing_embed1.py").open("a") as f:
        f.write("# edited after review\n")
    with pytest.raises(UntrustedSnapshotError, match="changed since it was reviewed"):
        verify_snapshot(changed, repo_id=SPEC.model_id, revision=SPEC.revision, pins=(), trust_snapshot_sha256=manifest)


def test_changed_or_extra_code_file_is_refused_by_name(snap: Path, tmp_path: Path) -> None:
    pins = own_pins(snap)
    changed = copy_snapshot(snap, tmp_path)
    with (changed / "modeling_embed1.py").open("a") as f:
        f.write("import os  # not what was reviewed\n")
    (changed / "extra_hook.py").write_text("print('hi')\n")
    with pytest.raises(UntrustedSnapshotError) as err:
        CosmosEmbed1Embedder.from_snapshot(changed, DEFAULT_VARIANT, pins=pins)
    msg = str(err.value)
    assert "changed: modeling_embed1.py" in msg
    assert "not pinned: extra_hook.py" in msg


def test_auto_map_into_another_repo_is_refused(snap: Path, tmp_path: Path) -> None:
    other = copy_snapshot(snap, tmp_path)
    config = json.loads((other / "config.json").read_text())
    config["auto_map"]["AutoModel"] = "someone/else--modeling_embed1.CosmosEmbed1"
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(UntrustedSnapshotError, match="someone/else--modeling_embed1"):
        verify_snapshot(other, repo_id=SPEC.model_id, revision=SPEC.revision, pins=own_pins(other))


def test_absent_snapshot_dir_message(tmp_path: Path) -> None:
    where = tmp_path / SPEC.model_id / SPEC.revision
    with pytest.raises(SnapshotNotFoundError) as err:
        CosmosEmbed1Embedder.from_snapshot(where, DEFAULT_VARIANT)
    assert f"no snapshot of {SPEC.model_id}@{SPEC.revision} at {where}" in str(err.value)


def test_missing_shard_message(snap: Path, tmp_path: Path) -> None:
    broken = copy_snapshot(snap, tmp_path)
    (broken / SHARD_NAMES[1]).unlink()
    with pytest.raises(SnapshotIncompleteError, match=f"missing: {SHARD_NAMES[1]}"):
        CosmosEmbed1Embedder.from_snapshot(broken, DEFAULT_VARIANT, pins=own_pins(snap))


def test_wrong_revision_message(tmp_path: Path) -> None:
    other = build_cosmos_snapshot(tmp_path, repo_id=SPEC.model_id, revision="abcdef1")
    with pytest.raises(UntrustedSnapshotError) as err:
        CosmosEmbed1Embedder.from_snapshot(other, DEFAULT_VARIANT, pins=own_pins(other))
    msg = str(err.value)
    assert "revision 'abcdef1'" in msg and f"pinned revision is {SPEC.revision!r}" in msg


def test_short_pin_matches_full_commit_only_by_prefix() -> None:
    full = "0e8a28f" + "3" * 33
    assert revision_matches(full, "0e8a28f") and revision_matches("0e8a28f", full)
    assert not revision_matches("0e8a28e" + "3" * 33, "0e8a28f")
    assert not revision_matches("0e8a2", "0e8a28f")  # too short to name a commit


def test_record_command_prints_an_entry_that_verifies(snap: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", str(snap), "--repo-id", SPEC.model_id]) == 0
    out = capsys.readouterr().out
    entry_source = "\n".join(line for line in out.splitlines() if not line.startswith("#"))
    pins = eval(entry_source, {"Pin": Pin})  # the printed text is what gets pasted
    ok = verify_snapshot(snap, repo_id=SPEC.model_id, revision=SPEC.revision, pins=pins)
    assert ok.approved_by == "pin table"
    assert f"# manifest sha256 (trust_snapshot_sha256): {ok.manifest_sha256}" in out


# -- the transformers shim ----------------------------------------------------------------


def test_shim_adds_only_the_missing_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers.modeling_utils as modeling_utils
    from transformers.pytorch_utils import apply_chunking_to_forward

    assert "from transformers.modeling_utils import apply_chunking_to_forward" in MODELING_PY
    monkeypatch.delattr(modeling_utils, "apply_chunking_to_forward", raising=False)
    with pytest.raises(ImportError):
        exec("from transformers.modeling_utils import apply_chunking_to_forward", {})
    assert install_remote_code_shims() == ["transformers.modeling_utils.apply_chunking_to_forward"]
    scope: dict[str, object] = {}
    exec("from transformers.modeling_utils import apply_chunking_to_forward", scope)
    assert scope["apply_chunking_to_forward"] is apply_chunking_to_forward
    assert install_remote_code_shims() == []  # idempotent

    def own() -> None: ...

    monkeypatch.setattr(modeling_utils, "apply_chunking_to_forward", own, raising=False)
    assert install_remote_code_shims() == []
    assert modeling_utils.apply_chunking_to_forward is own  # never replaces what transformers has


# -- the embedder ---------------------------------------------------------------------------


def test_variant_specs() -> None:
    expected = {"cosmos_embed1_224p": (224, 256), "cosmos_embed1_336p": (336, 768), "cosmos_embed1_448p": (448, 768)}
    assert DEFAULT_VARIANT == "cosmos_embed1_336p"
    for name, (res, dim) in expected.items():
        spec = VARIANTS[name]
        assert (spec.resolution, spec.dim, spec.frames_per_clip) == ((res, res), dim, 8)
        assert spec.model_id == f"nvidia/Cosmos-Embed1-{res}p" and spec.has_text
        assert (spec.target_fps, spec.gpu_memory_gb) == (2.0, 20)
        assert (spec.num_cpus, spec.num_gpus_per_worker) == (3, 1)
        pin = find_pin(DEFAULT_PINS, spec.model_id, spec.revision)
        assert pin is not None and pin.revision == spec.revision


@pytest.mark.parametrize("variant", ["cosmos_embed1_224p", "cosmos_embed1_448p"])
def test_dims_per_variant(variant: str, tmp_path: Path) -> None:
    spec = VARIANTS[variant]
    emb = load(build(tmp_path, variant), variant)
    video = emb.embed_video(emb.prepare(random_clip(1))[None])
    text = emb.embed_text(["a dog", "red"])
    assert video.shape == (1, spec.dim) and text.shape == (2, spec.dim)
    assert video.dtype == text.dtype == torch.float32


def test_snapshot_of_another_variant_is_refused(tmp_path: Path) -> None:
    spec = VARIANTS["cosmos_embed1_224p"]
    wrong = build(tmp_path, "cosmos_embed1_224p", embed_dim=768)  # 224p layout, 336p-sized head
    with pytest.raises(ValueError, match="embed_dim 768 \\(expected 256\\)"):
        CosmosEmbed1Embedder.from_snapshot(wrong, spec.name, pins=own_pins(wrong, spec.name))


def test_missing_weight_is_refused_not_randomly_initialised(snap: Path, tmp_path: Path) -> None:
    broken = copy_snapshot(snap, tmp_path)
    tensors = load_file(str(broken / SHARD_NAMES[1]))
    del tensors["text_proj.weight"]
    save_file(tensors, str(broken / SHARD_NAMES[1]), metadata={"format": "pt"})
    index = json.loads((broken / "model.safetensors.index.json").read_text())
    del index["weight_map"]["text_proj.weight"]
    (broken / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="missing \\['text_proj.weight'\\]"):
        CosmosEmbed1Embedder.from_snapshot(broken, DEFAULT_VARIANT, pins=own_pins(broken))


def test_ragged_batches_equal_one_by_one(embedder: CosmosEmbed1Embedder) -> None:
    clips = torch.stack([embedder.prepare(random_clip(seed)) for seed in range(5)])  # (5, C, T, H, W)
    assert clips.shape == (5, 3, 8, 336, 336)
    batched = torch.cat([embedder.embed_video(clips[i : i + 2]) for i in range(0, 5, 2)])  # 2, 2, 1
    single = torch.cat([embedder.embed_video(clips[i : i + 1]) for i in range(5)])
    assert batched.dtype == torch.float32 and batched.shape == (5, SPEC.dim)
    torch.testing.assert_close(batched, single, atol=1e-6, rtol=0)
    torch.testing.assert_close(batched.norm(dim=1), torch.ones(5))
    assert torch.cdist(batched, batched).triu(1).max() > 0  # distinct clips, distinct vectors


def test_prepare_covers_the_whole_clip_in_rgb_order(embedder: CosmosEmbed1Embedder) -> None:
    n = 21  # a 10 s clip at 2 fps; NeMo Curator's frames[::2][:8] stops at frame 14
    frames = np.zeros((n, 12, 16, 3), np.uint8)
    frames[..., 0] = (10 * np.arange(n, dtype=np.uint8))[:, None, None]  # R encodes the index
    frames[..., 2] = 200
    prepared = embedder.prepare(frames)  # (C, T, R, R)
    chosen = (prepared[0].mean(dim=(1, 2)) * 255 / 10).round().long().tolist()
    assert chosen == uniform_indices(n, 8).tolist()
    assert chosen[0] < n / 8 and chosen[-1] >= n - n / 8  # first and last eighth both seen
    torch.testing.assert_close(prepared[2], torch.full_like(prepared[2], 200 / 255))
    assert float(prepared[1].abs().max()) == 0.0


def test_prepare_rejects_bad_input(embedder: CosmosEmbed1Embedder) -> None:
    with pytest.raises(ValueError, match="needs 8 frames per clip, got 7"):
        embedder.prepare(random_clip(0, n=7))
    with pytest.raises(ValueError, match="RGB uint8"):
        embedder.prepare(random_clip(0).astype(np.float32))
    with pytest.raises(ValueError, match="expected a batch"):
        embedder.embed_video(torch.zeros(1, 8, 3, 336, 336))  # (B, T, C, ...) mix-up


def test_text_matches_the_clip_it_describes(embedder: CosmosEmbed1Embedder) -> None:
    colours = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}
    videos = embedder.embed_video(torch.stack([embedder.prepare(solid_clip(c)) for c in colours.values()]))
    texts = embedder.embed_text(list(colours))
    assert texts.dtype == torch.float32 and texts.shape == (3, SPEC.dim)
    torch.testing.assert_close(texts.norm(dim=1), torch.ones(3))
    assert embedder.logit_scale == pytest.approx(50.0)  # fixture stores log(50); exp taken once
    probs = torch.softmax(embedder.logit_scale * videos @ texts.T, dim=1)  # (clips, texts)
    assert probs.argmax(dim=1).tolist() == [0, 1, 2]
    one_by_one = torch.cat([embedder.embed_text([t]) for t in ["red", "a dog riding the bike"]])
    torch.testing.assert_close(embedder.embed_text(["red", "a dog riding the bike"]), one_by_one)


def test_unnormalised_model_output_is_normalised(embedder: CosmosEmbed1Embedder, tmp_path: Path) -> None:
    raw = load(build(tmp_path, normalize_embeddings=False))
    clip = embedder.prepare(random_clip(3))[None]
    with torch.no_grad():
        raw_out = raw.model.get_video_embeddings(videos=clip).visual_proj
    assert abs(float(raw_out.norm()) - 1.0) > 1e-3  # the model really returns non-unit vectors
    torch.testing.assert_close(raw.embed_video(clip), embedder.embed_video(clip))
    torch.testing.assert_close(raw.embed_text(["green bike"]), embedder.embed_text(["green bike"]))


DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", DEVICES)
def test_bfloat16_model_gives_unit_float32_close_to_float32(
    embedder: CosmosEmbed1Embedder, snap: Path, device: str
) -> None:
    half = CosmosEmbed1Embedder.from_snapshot(
        snap, DEFAULT_VARIANT, device=device, dtype=torch.bfloat16, pins=own_pins(snap)
    )
    assert next(half.model.parameters()).dtype == torch.bfloat16
    assert next(half.model.parameters()).device.type == device
    clips = torch.stack([embedder.prepare(random_clip(seed)) for seed in range(2)])
    got = half.embed_video(clips)
    assert got.dtype == torch.float32 and got.device.type == "cpu"
    torch.testing.assert_close(got.norm(dim=1), torch.ones(2), atol=1e-6, rtol=0)  # re-normalised
    torch.testing.assert_close(got, embedder.embed_video(clips), atol=2e-2, rtol=0)
    assert half.embed_text(["red"]).dtype == torch.float32


def test_non_finite_output_is_an_error(embedder: CosmosEmbed1Embedder) -> None:
    with pytest.raises(NonFiniteEmbeddingError, match="NaN/inf in rows \\[0\\]"):
        embedder.embed_video(torch.full((1, 3, 8, 336, 336), float("nan")))


# -- frame creation without the model (the CPU-side tensors step) ---------------------------


@pytest.fixture
def no_model_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to load the model's weights fails the test."""
    import transformers

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the preprocessor must not load the model")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", refuse)


def test_preprocessor_alone_gives_exactly_the_embedders_prepare(
    embedder: CosmosEmbed1Embedder, snap: Path, no_model_loading: None
) -> None:
    pre = CosmosEmbed1Preprocessor.from_snapshot(snap, DEFAULT_VARIANT, pins=own_pins(snap))
    assert pre.spec == embedder.spec and pre.snapshot.manifest_sha256 == embedder.snapshot.manifest_sha256
    for frames in (random_clip(5), random_clip(6, n=8, h=40, w=24), solid_clip((10, 200, 30))):
        got = pre(frames)
        assert got.shape == (3, 8, 336, 336)
        assert torch.equal(got, embedder.prepare(frames))
    with pytest.raises(ValueError, match="needs 8 frames per clip, got 7"):
        pre(random_clip(0, n=7))


def test_preprocessor_refuses_an_unpinned_snapshot_like_the_embedder(snap: Path, no_model_loading: None) -> None:
    with pytest.raises(UntrustedSnapshotError) as pre_err:
        CosmosEmbed1Preprocessor.from_snapshot(snap, DEFAULT_VARIANT, pins=())
    with pytest.raises(UntrustedSnapshotError) as emb_err:
        CosmosEmbed1Embedder.from_snapshot(snap, DEFAULT_VARIANT, pins=())
    assert str(pre_err.value) == str(emb_err.value)
    assert "no code hashes are recorded" in str(pre_err.value)
    manifest = manifest_sha256(code_files(snap))
    pre = CosmosEmbed1Preprocessor.from_snapshot(snap, DEFAULT_VARIANT, pins=(), trust_snapshot_sha256=manifest)
    assert pre.snapshot.approved_by == "trust_snapshot_sha256"


def test_preprocessor_refuses_a_snapshot_of_another_resolution(tmp_path: Path, no_model_loading: None) -> None:
    wrong = build_cosmos_snapshot(tmp_path, repo_id=SPEC.model_id, revision=SPEC.revision, resolution=224)
    with pytest.raises(ValueError, match=r"resolution \(224, 224\) \(expected \(336, 336\)\)"):
        CosmosEmbed1Preprocessor.from_snapshot(wrong, DEFAULT_VARIANT, pins=own_pins(wrong))


def test_builtin_entry_makes_the_processor_only_with_trust_from_settings(
    tmp_path: Path, no_model_loading: None
) -> None:
    name = "cosmos_embed1_224p"
    repo = WEIGHT_SPECS[name].repos[0]
    snap = build(tmp_path, name)  # the hub layout: model_dir/repo_id/revision
    for missing in set(repo.required_files) - {p.name for p in snap.iterdir()}:
        # The tiny model has fewer code files than the real one; the hub checks for all of them.
        (snap / missing).write_text("{}\n" if missing.endswith(".json") else "# not used by the tiny model\n")
    hub = ModelHub(tmp_path, offline=True)
    entry = embedder_registry.get(name)
    assert entry.weights_present(hub)
    with pytest.raises(UntrustedSnapshotError, match="no code hashes are recorded"):
        entry.preprocessor(hub, ModelSettings())  # no pin recorded for the real code yet
    trusted = ModelSettings(trust_snapshot_sha256=manifest_sha256(code_files(snap)))
    prepare = entry.preprocessor(hub, trusted)
    assert isinstance(prepare, CosmosEmbed1Preprocessor) and prepare.snapshot.path == snap
    assert prepare(random_clip(2)).shape == (3, 8, 224, 224)


# -- frame creation: re-extraction when a clip is short -------------------------------------


def fake_extract_at(duration_s: float, source_fps: float = 30.0):  # noqa: ANN201
    """Frames of a synthetic clip sampled at ``fps`` the way NeMo Curator samples timestamps."""
    last_pts = (round(duration_s * source_fps) - 1) / source_fps

    def extract_at(fps: float) -> np.ndarray:
        n = len(np.arange(0.0, last_pts + 0.5 / fps, 1.0 / fps))
        return random_clip(int(fps), n=n)

    return extract_at


def test_short_clip_is_reextracted_at_doubled_fps(embedder: CosmosEmbed1Embedder) -> None:
    spec = embedder.spec
    extract_at = fake_extract_at(2.0)
    first = extract_at(spec.target_fps)
    assert len(first) == 5
    got = ensure_enough_frames(
        first, spec.frames_per_clip, fps=spec.target_fps, max_fps=spec.max_fps, extract_at=extract_at
    )
    assert (got.fps, got.reextracted, got.skip_reason) == (4.0, True, None)
    assert got.frames is not None and len(got.frames) == 9
    assert embedder.prepare(got.frames).shape == (3, 8, 336, 336)


def test_too_short_clip_is_skipped(embedder: CosmosEmbed1Embedder) -> None:
    spec = embedder.spec
    extract_at = fake_extract_at(0.3)
    got = ensure_enough_frames(
        extract_at(spec.target_fps),
        spec.frames_per_clip,
        fps=spec.target_fps,
        max_fps=spec.max_fps,
        extract_at=extract_at,
    )
    assert got.frames is None and got.skip_reason == TOO_FEW_FRAMES
    assert got.fps == 16.0 and got.fps * 2 > spec.max_fps
