"""Plain functions the index tests import (conftest modules are not importable)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import lancedb
import numpy as np

from video_assets.index.search import SearchRequest, search_vector

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_python_json(script: str, *argv: str, timeout: float) -> Any:
    """Run `script` in a fresh Python process (this checkout importable) and return the JSON of its
    last output line: a fresh process shares no connection or cache with the test's."""
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def full_and_paged(
    db: lancedb.DBConnection, model: str, query: np.ndarray, **knobs: Any
) -> tuple[list[str], list[str]]:
    """Clip ids of one k=12 search, and of the same search as three pages of 4 (offsets 0, 4, 8)."""
    full = [h.clip_id for h in search_vector(db, model, query, SearchRequest(k=12, **knobs))]
    paged = [
        h.clip_id
        for page in range(3)
        for h in search_vector(db, model, query, SearchRequest(k=4, offset=4 * page, **knobs))
    ]
    return full, paged
