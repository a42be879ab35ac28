"""The warm zygote: imports the heavy libraries and builds our code location once, then forks a run
worker per run id it is sent, so a run launched from the UI skips a fresh interpreter's start-up.

    python -m video_assets.orchestration.warm_zygote [MODULE]   (started by warm_launcher.WarmRunLauncher;
                                                                 MODULE: the code location, ours by default)

Channel: the launcher writes one JSON line per run on our stdin ({"run_id", "instance_ref"}, or
{"drain": true}: stop forking and exit once the workers are done); we answer one JSON line on the
original stdout ({"ready": ...} once warm, then {"run_id", "pid"} per fork). Anything the libraries
print goes to stderr, never into the channel. stdin at EOF means the launcher (the daemon) is gone:
the workers are interrupted like the code server's would be when `video-assets ui` stops.

Fork safety: warming runs no torch op and touches no CUDA (real runs in forked workers, LanceDB
writes and torch included, are exercised by tests/pipeline/test_ui_backfill.py). Three threads exist at fork time, all fork-aware: pyarrow's jemalloc background thread (jemalloc's
own fork handlers), LanceDB's idle asyncio loop thread (lancedb re-creates it and its tokio runtime in
the child with os.register_at_fork; nothing is in flight here at fork time), and one torch thread made
at import (torch resets its pools in a forked child, as DataLoader workers rely on).
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import signal
import sys
import time
import traceback
import warnings

from video_assets.orchestration.warm_worker import OUR_MODULE, run_in_child

STOP_GRACE_S = 10.0  # after SIGINT, before SIGKILL, when the launcher is gone
REAP_EVERY_S = 1.0


def warm(module: str) -> None:
    """Everything a run worker would import and build before its first step, done once."""
    import dagster  # noqa: F401
    import dagster._cli.api  # noqa: F401  (the run worker's body and the execution machinery it imports)
    import lancedb  # noqa: F401
    import pyarrow  # noqa: F401
    import torch  # noqa: F401

    definitions = importlib.import_module(module)  # by name: the code location builds a graph on import
    repository = definitions.defs.get_repository_def()  # cached on the Definitions the child inherits
    repository.get_all_jobs()
    # lancedb warns once per forked child that its fork support is experimental: the risk it names is
    # an operation in flight at fork time, which never happens here.
    warnings.filterwarnings("ignore", message="lancedb fork support", category=RuntimeWarning)


def reap(children: set[int]) -> None:
    """Collect the workers that ended (they are ours: nobody else may wait for them)."""
    for pid in list(children):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            children.discard(pid)
            continue
        if done:
            children.discard(pid)
            code = os.waitstatus_to_exitcode(status)
            if code not in (0, 1):  # 1: the run failed, and its events say why
                print(f"warm zygote: run worker {pid} exited with {code}", file=sys.stderr, flush=True)


def stop_children(children: set[int]) -> None:
    """The launcher is gone: interrupt every worker's group (Dagster records the runs canceled), then kill."""
    for signum, grace_s in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
        for pid in children:
            try:
                os.killpg(pid, signum)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while children and time.monotonic() < deadline:
            reap(children)
            time.sleep(0.1)


def fork_run(request: dict, channel_fds: list[int]) -> int:
    pid = os.fork()
    if pid == 0:
        run_in_child(request["run_id"], request["instance_ref"], channel_fds)
    return pid


def serve(commands: int, answers: int) -> None:
    """Fork a worker per run id read on `commands`, answer its pid on `answers`, reap the workers."""
    children: set[int] = set()
    selector = selectors.DefaultSelector()
    selector.register(commands, selectors.EVENT_READ)
    pending = b""
    while True:
        reap(children)
        if not selector.select(timeout=REAP_EVERY_S):
            continue
        chunk = os.read(commands, 1 << 16)
        if not chunk:  # EOF: the daemon is gone
            stop_children(children)
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            if request.get("drain"):
                drain(children)
                return
            pid = fork_run(request, [commands, answers])
            children.add(pid)
            os.write(answers, (json.dumps({"run_id": request["run_id"], "pid": pid}) + "\n").encode())


def drain(children: set[int]) -> None:
    """Stale code: fork no more, wait for the workers to finish their runs, then exit."""
    while children:
        reap(children)
        time.sleep(REAP_EVERY_S / 10)


def main() -> None:
    answers = os.dup(1)  # the channel keeps the original stdout; fd 1 becomes stderr for stray prints
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopped by the launcher (EOF or drain), never by Ctrl-C
    try:
        warm(sys.argv[1] if len(sys.argv) > 1 else OUR_MODULE)
    except BaseException:
        os.write(answers, (json.dumps({"ready": False, "error": traceback.format_exc()}) + "\n").encode())
        raise
    os.write(answers, (json.dumps({"ready": True, "pid": os.getpid()}) + "\n").encode())
    serve(0, answers)


if __name__ == "__main__":
    main()
