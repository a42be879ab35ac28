"""examples/postgres/dagster.yaml against a real PostgreSQL server started by the test.

The server comes from the distribution's packages (Debian: ``apt-get install
postgresql``; binaries in /usr/lib/postgresql/<version>/bin): a throwaway
cluster (initdb) in a temp dir, password auth on 127.0.0.1, a free port, run
as the ``postgres`` user when the test runs as root (the server refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.conftest import settings_for
from video_assets.app.runner import run_folder
from video_assets.catalog.discovery import chunked
from video_assets.media.synthetic import make_video

pytestmark = pytest.mark.slow

psycopg2 = pytest.importorskip("psycopg2", reason="dagster-postgres is not installed (the `postgres` extra)")
pytest.importorskip("dagster_postgres", reason="dagster-postgres is not installed (the `postgres` extra)")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "postgres" / "dagster.yaml"
USER, PASSWORD, DB = "dagster", "s3cret-for-tests", "dagster_test"


def _server_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def _as_server_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, so drop to the packaged user.
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as a non-root user")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and no 'postgres' user to run the server as")
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run_as_server_user(cmd: list[str]) -> None:
    subprocess.run(_as_server_user(cmd), check=True, capture_output=True, text=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    port: int

    def env(self) -> dict[str, str]:
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": USER,
            "DAGSTER_PG_PASSWORD": PASSWORD,
            "DAGSTER_PG_DB": DB,
        }

    def query(self, sql: str) -> list[tuple]:
        with psycopg2.connect(host="127.0.0.1", port=self.port, user=USER, password=PASSWORD, dbname=DB) as conn:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[Server]:
    bindir = _server_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    # Not pytest's tmp_path: that is private to root, and the server may run as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="va_pg_"))
    data, pwfile, log = root / "data", root / "pw", root / "server.log"
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    try:
        _run_as_server_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
            ]
        )
        _run_as_server_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "30",
                "start",
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
            ]
        )
    except subprocess.CalledProcessError as err:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {err.stderr or err.stdout}") from err
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user=USER, password=PASSWORD, dbname="postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {DB}")
        conn.close()
        yield Server(port)
    finally:
        subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


def test_example_config_runs_the_graph_on_postgres(postgres_server, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(EXAMPLE, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in postgres_server.env().items():
        monkeypatch.setenv(name, value)

    with dg.DagsterInstance.get() as instance:
        from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        # Many keys go in chunks (the sensor's request size); the server holds them all.
        keys = [f"bulk-{i:05d}" for i in range(1200)]
        for chunk in chunked(keys):
            instance.add_dynamic_partitions("videos", chunk)
        assert set(instance.get_dynamic_partitions("videos")) == set(keys)

    folder = tmp_path / "videos"
    make_video(folder / "one.mp4", duration_s=2.0, fps=12, size=(96, 72), seed=5)
    summary = run_folder(settings_for(folder, tmp_path / "data"), progress=lambda _: None)

    assert [p.success for p in summary.partitions] == [True]
    key = summary.partitions[0].key
    with dg.DagsterInstance.get() as instance:
        assert key in instance.get_dynamic_partitions("videos")
        done = instance.get_materialized_partitions(dg.AssetKey("fingerprint_clip_index"))
        assert done == {key}
    # The run and its events are rows on the server, not files under DAGSTER_HOME.
    assert postgres_server.query("SELECT count(*) FROM runs WHERE status = 'SUCCESS'") == [(1,)]
    assert (
        postgres_server.query("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")[0][
            0
        ]
        >= 6
    )  # source_videos, clips, frames, and the fingerprint tensors/embeddings/index
    assert not (home / "history").exists()
