"""A code location for the warm launcher's tests: a job that reports where it ran, one that waits.

WARM_TEST_OUT (a folder) receives `<run_id>.txt` from `where`; WARM_TEST_BREAK set makes the import
fail, as a code location with a bug would in the zygote.
"""

import os
import time
from pathlib import Path

import dagster as dg

if os.environ.get("WARM_TEST_BREAK"):
    raise RuntimeError("warm_jobs: broken on purpose (WARM_TEST_BREAK)")

BUILT_IN_PID = os.getpid()  # the process that imported this module: the zygote, for a forked worker


@dg.op
def report_where(context: dg.OpExecutionContext) -> None:
    out = Path(os.environ["WARM_TEST_OUT"]) / f"{context.run_id}.txt"
    out.write_text(f"{os.getpid()} {os.getppid()} {BUILT_IN_PID} {os.getsid(0)}")


@dg.op
def wait_long() -> None:
    time.sleep(300)


@dg.job
def where() -> None:
    report_where()


@dg.job
def sleepy() -> None:
    wait_long()


defs = dg.Definitions(jobs=[where, sleepy], executor=dg.in_process_executor)  # as our code location
