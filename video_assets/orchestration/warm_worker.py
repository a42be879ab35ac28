"""What a forked run worker does: execute one run as `dagster api execute_run` would, then exit.

Dagster internals: the run is executed by `dagster._cli.api._execute_run_command_body`, the body of
`dagster api execute_run` (the DefaultRunLauncher's gRPC code server calls the same `core_execute_run`
through its own spawned process). Dagster is pinned to 1.13.x (pyproject.toml); if this internal moves,
tests/pipeline/test_warm_launcher.py::test_the_dagster_internals_it_uses_are_there fails loudly.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback

# The code location the zygote pre-builds; runs of any other location go through the default launcher.
OUR_MODULE = "video_assets.definitions"
EXIT_FAILED_TO_START = 3


def reset_signals() -> None:
    """A run worker's signals: SIGINT interrupts the run (Dagster records it canceled; the zygote ignores
    it), SIGTERM too, as in `dagster api execute_run`."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def execute_run(run_id: str, serialized_instance_ref: str) -> int:
    """Run `run_id` in this process; 0 when the run worker did its job (the run may still have failed and
    says so in its events), 1 when the run failed, `EXIT_FAILED_TO_START` when it could not start."""
    import dagster as dg
    from dagster._cli.api import _execute_run_command_body  # Dagster internal, pinned 1.13.x (see above)
    from dagster._core.instance import InstanceRef
    from dagster._serdes import deserialize_value
    from dagster._utils.interrupts import capture_interrupts

    try:
        ref = deserialize_value(serialized_instance_ref, InstanceRef)
    except Exception:
        traceback.print_exc()
        return EXIT_FAILED_TO_START
    with capture_interrupts(), dg.DagsterInstance.from_ref(ref) as instance:
        return _execute_run_command_body(run_id, instance, lambda _event: None, set_exit_code_on_failure=True)


def run_in_child(run_id: str, serialized_instance_ref: str, channel_fds: list[int]) -> None:
    """The forked child: a session of its own (so terminate can signal its whole group), none of the
    zygote's channel, the run, then `os._exit` (never back into the zygote's loop)."""
    code = EXIT_FAILED_TO_START
    try:
        os.setsid()
        for fd in channel_fds:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        reset_signals()
        code = execute_run(run_id, serialized_instance_ref)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
