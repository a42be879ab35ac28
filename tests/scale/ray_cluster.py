"""A real two-node Ray cluster on this machine, for the tests in this folder.

Each node is `ray start --block --node-ip-address 127.0.0.1 --num-cpus 1 --num-gpus 1` (logical GPUs:
Ray assigns ids and CUDA_VISIBLE_DEVICES without a card), started in its own session so the test
stops it, and everything it spawned, by the process group of the pid it started. Run it inside a
private network namespace (`cluster_session.py` is run under `unshare -n`): nothing listens
outside that namespace's loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import ray

RAY = str(Path(sys.executable).with_name("ray"))
HEAD_PORT = 6379
# Small nodes on a 2-core machine: a minimal object store, no dashboard, no usage report.
NODE_ARGS = ["--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--num-gpus", "1"]
NODE_ARGS += ["--object-store-memory", str(80 * 2**20), "--disable-usage-stats"]
# A killed node is declared dead after ~3 s instead of ~45 s.
HEALTH_ENV = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


class RayCluster:
    """Head and one worker node; `address` for `run --ray`; `kill_worker()` loses the worker node."""

    def __init__(self, temp_dir: Path, logs: Path) -> None:
        self.temp_dir, self.logs = temp_dir, logs
        self.address = f"127.0.0.1:{HEAD_PORT}"
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, args: list[str]) -> None:
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **HEALTH_ENV}
        log = (self.logs / f"ray-{name}.log").open("w")
        # start_new_session: the node's pid is its process group, so stop() reaches every child.
        self.procs[name] = subprocess.Popen(
            [RAY, "start", *NODE_ARGS, "--temp-dir", str(self.temp_dir), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def start(self, timeout_s: float = 90.0) -> RayCluster:
        self._start("head", ["--head", "--port", str(HEAD_PORT), "--include-dashboard=false"])
        self._wait_nodes(1, timeout_s)
        self._start("worker", ["--address", self.address])
        self._wait_nodes(2, timeout_s)
        return self

    def _wait_nodes(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"ray node {name} exited with {proc.returncode}: see {self.logs}")
            if self.alive_nodes() >= count:
                return
            time.sleep(1.0)
        raise TimeoutError(f"the Ray cluster did not reach {count} node(s) within {timeout_s:g} s: see {self.logs}")

    def alive_nodes(self) -> int:
        """Alive nodes, asked through this process's own connection (opened once the head listens)."""
        if not ray.is_initialized():
            try:
                socket.create_connection(("127.0.0.1", HEAD_PORT), timeout=1.0).close()
            except OSError:
                return 0
            ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
        return sum(node["Alive"] for node in ray.nodes())

    def kill_worker(self) -> None:
        """The worker node dies at once (SIGKILL to its whole process group), as a lost machine."""
        self._signal("worker", signal.SIGKILL)

    def _signal(self, name: str, sig: int) -> None:
        proc = self.procs.get(name)
        if proc is None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        ray.shutdown()  # this process's connection first: the head is about to go
        for name in ("worker", "head"):
            self._signal(name, signal.SIGTERM)
            try:  # what outlived the node's own shutdown (workers, agents) in its group
                os.killpg(self.procs[name].pid, signal.SIGKILL)
            except (ProcessLookupError, KeyError):
                pass

    def __enter__(self) -> RayCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
