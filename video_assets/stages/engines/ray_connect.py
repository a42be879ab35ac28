"""Connecting to a Ray cluster with bounded waits, and noticing when it is gone."""

from __future__ import annotations

import os
import socket

from .base import EngineError


class ClusterUnreachable(EngineError):
    """The Ray cluster at the configured address cannot be reached (at start or mid-run)."""


def gcs_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of a "host:port" address (a "ray://" prefix allowed); None for "auto"."""
    if address == "auto":
        return None
    bare = address.removeprefix("ray://")
    host, _, port = bare.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterUnreachable(f"Ray address {address!r} is not host:port (or 'auto')")
    return host, int(port)


def probe(address: str, timeout_s: float) -> None:
    """Raise `ClusterUnreachable` naming `address` unless its head accepts a TCP connection."""
    endpoint = gcs_endpoint(address)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=timeout_s):
            pass
    except OSError as err:
        raise ClusterUnreachable(f"cannot reach the Ray cluster at {address}: {err}") from None


def connect(address: str, timeout_s: float) -> None:
    """ray.init against `address` once per process; an unreachable head fails in `timeout_s`
    (ray.init itself retries for minutes)."""
    import ray

    if ray.is_initialized():
        return
    probe(address, timeout_s)
    # Ray's driver exits the whole process when the head stays away this long; we probe the
    # head ourselves while waiting and fail the step naming the address well before that.
    os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", "600")
    try:
        ray.init(address=address, namespace="video_assets", log_to_driver=False, logging_level="WARNING")
    except Exception as err:  # ray raises ConnectionError, RuntimeError, ... depending on the failure
        raise ClusterUnreachable(f"cannot connect to the Ray cluster at {address}: {err}") from err
