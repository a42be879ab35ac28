"""How often the Dagster daemon looks at the work the UI hands it.

A backfill launched from the UI is a row the daemon's backfill loop picks up, turns into runs, and
marks completed once they have ended. Dagster 1.13 runs that loop every 30 s (a constant,
`dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS`, with no setting), and its run queue is
drained every 5 s: measured on 20 small partitions (benchmarks/RESULTS.md "UI backfill"), 25 s passed
before the first run was created, each pair of runs waited ~3 s for the next dequeue, and the backfill
read completed 27 s after its last run ended: 3.5x `video-assets run --all` for the same work.

The run coordinator (video_assets.orchestration.run_queue) is built by the daemon before its loops
start, so it sets both cadences there: the queue every 0.5 s, the backfill loop every
`backfill_interval_seconds`. The constant is read by the backfill loop when it starts (and by the
asset daemon's pre-sensor mode, which this project does not use); tests/pipeline/test_daemon_cadence.py
fails if a Dagster release moves it.
"""

from __future__ import annotations

import os
import sys

DEFAULT_BACKFILL_INTERVAL_S = 2.0  # an idle loop is one SQLite query; a backfill waits at most this long
DEFAULT_DEQUEUE_INTERVAL_S = 0.5  # the finest the daemon's interval loop waits (0.5 s steps)


def in_the_daemon() -> bool:
    """Whether this process is the Dagster daemon (`dagster dev` / `dg dev` start it as `python -m
    dagster._daemon run`; standalone, `dagster-daemon run`): the one process that launches runs.
    Its other commands (`liveness-check`, a container's health probe; `wipe`, `debug`) launch none."""
    program = sys.argv[0] if sys.argv else ""
    daemon = os.path.basename(program) == "dagster-daemon" or program.endswith(os.path.join("_daemon", "__main__.py"))
    return daemon and sys.argv[1:2] == ["run"]


def set_backfill_interval(seconds: float) -> None:
    """Have the daemon's backfill loop, when it starts, wake every `seconds` instead of every 30."""
    from dagster._daemon import controller

    if not hasattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS"):
        return  # a Dagster without the constant: its own cadence (the test names the release to re-read)
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = seconds
