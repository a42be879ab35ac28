"""One-shot CLI start-up: `video-assets search --like-clip ID` as users type it (no --model) and with
--model, against a bare `python -c "import lancedb"` (the floor: a like-clip search must import LanceDB).

Each command is a fresh process on a small fingerprint table (synthetic rows, the real clip schema);
the figure is the median wall time of --repeats runs after one warm-up, and the ratio is against the
import-only process measured in the same run, alternating the three so machine load hits each alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from bench_inputs import clip_batch

from video_assets.index.connection import connect
from video_assets.index.schema import clip_schema, table_name
from video_assets.models.fingerprint import FINGERPRINT_SPEC


def small_index(data_dir: Path, rows: int) -> str:
    """A fingerprint clip table of `rows` unit vectors in `data_dir`/lancedb; returns a clip id in it."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((rows, FINGERPRINT_SPEC.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"clip{i:06d}" for i in range(rows)]
    videos = [f"video{i // 10:05d}" for i in range(rows)]
    starts = np.arange(rows, dtype=np.float64) % 10 * 8.0
    batch = clip_batch(ids, videos, videos, starts, vectors, model_id="builtin", created=datetime.now(timezone.utc))
    db = connect(str(data_dir / "lancedb"))
    db.create_table(table_name("fingerprint"), [batch], schema=clip_schema(FINGERPRINT_SPEC.dim))
    return ids[0]


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        clip = small_index(data, args.rows)
        search = [sys.executable, "-m", "video_assets.cli", "search", "--like-clip", clip, "--output", str(data)]
        commands = {
            "import lancedb": [sys.executable, "-c", "import lancedb"],
            "search --like-clip (default model)": search,
            "search --like-clip --model fingerprint": [*search, "--model", "fingerprint"],
        }
        for command in commands.values():  # warm-up: page cache, .pyc files
            wall(command)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, command in commands.items():
                times[name].append(wall(command))
    base = statistics.median(times["import lancedb"])
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"{name:<40} median {median:6.2f} s  ratio {median / base:4.2f}x vs import lancedb")


if __name__ == "__main__":
    main()
