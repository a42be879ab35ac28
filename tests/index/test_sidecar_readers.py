"""Searches running while commits, deletes and sidecar rebuilds happen never fail nor return removed rows."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import numpy as np
import pyarrow as pa

from tests.clip_rows import grid_row
from video_assets.index.commit import commit_partition, delete_videos
from video_assets.index.connection import connect
from video_assets.index.maintenance import optimize_clip_table
from video_assets.index.schema import rows_to_table
from video_assets.index.search import SearchRequest, search_vector
from video_assets.index.sidecar import Sidecar

DIM, MODEL, PER_VIDEO = 16, "readers", 30


def _video(video_id: str, vectors: np.ndarray) -> pa.Table:
    return rows_to_table([grid_row(video_id, i, v, model_id="test/readers") for i, v in enumerate(vectors)], DIM)


def test_readers_survive_commits_deletes_and_sidecar_rebuilds(tmp_path, monkeypatch):
    served = {"sidecar": 0}
    original = Sidecar.search

    def counted(self, *args, **kwargs):
        served["sidecar"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Sidecar, "search", counted)
    rng = np.random.default_rng(3)
    db = connect(str(tmp_path / "lancedb"))
    vectors = {}
    for n in range(20):
        block = rng.standard_normal((PER_VIDEO, DIM)).astype(np.float32)
        vectors[f"v{n}"] = block / np.linalg.norm(block, axis=1, keepdims=True)
        commit_partition(db, MODEL, _video(f"v{n}", vectors[f"v{n}"]), [f"v{n}"])
    first = optimize_clip_table(db, MODEL, retention=timedelta(hours=1), index_kind="ivf_sq")
    assert first.sidecar is not None
    stable = [f"v{n}" for n in range(10)]  # never touched by the writer
    doomed = [f"v{n}" for n in range(10, 20)]  # deleted one by one while readers search
    deleted_at: dict[str, float] = {}
    errors: list[BaseException] = []
    searches = [0]
    stop = threading.Event()

    def reader(seed: int) -> None:
        local = np.random.default_rng(seed)
        reader_db = connect(db.uri)  # each reader its own connection and table handle, like a search server
        while not stop.is_set():
            try:
                video = stable[local.integers(len(stable))]
                clip = int(local.integers(PER_VIDEO))
                started = time.monotonic()
                every_list = SearchRequest(k=10, nprobes=1000, refine_factor=4)
                hits = search_vector(reader_db, MODEL, vectors[video][clip], every_list)
                # Every list probed and an exact re-rank: the clip itself is found, with cosine 1.
                assert hits[0].video_id == video and abs(hits[0].score - 1.0) < 1e-4, hits[0]
                gone = {v for v, when in dict(deleted_at).items() if when < started}
                assert not gone & {h.video_id for h in hits}, (
                    f"deleted videos came back: {gone & {h.video_id for h in hits}}"
                )
                searches[0] += 1
            except BaseException as error:  # noqa: BLE001 - handed to the main thread's assertion
                errors.append(error)
                stop.set()

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(2)]
    for thread in threads:
        thread.start()
    try:
        for round_ in range(2):
            for video in doomed[round_ * 5 : round_ * 5 + 5]:
                delete_videos(db, MODEL, [video])
                deleted_at[video] = time.monotonic()
            block = rng.standard_normal((PER_VIDEO, DIM)).astype(np.float32)
            commit_partition(
                db,
                MODEL,
                _video(f"new{round_}", block / np.linalg.norm(block, axis=1, keepdims=True)),
                [f"new{round_}"],
            )
            before = served["sidecar"]
            assert optimize_clip_table(db, MODEL, retention=timedelta(hours=1), index_kind="ivf_sq").sidecar is not None
            deadline = time.monotonic() + 10  # let the readers hit the freshly published sidecar
            while served["sidecar"] == before and time.monotonic() < deadline and not stop.is_set():
                time.sleep(0.02)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors[0]
    assert searches[0] > 20  # the readers really ran alongside
    assert 0 < served["sidecar"] < searches[0]  # both paths answered: the sidecars and LanceDB between them
