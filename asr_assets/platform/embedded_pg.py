"""The embedded PostgreSQL (the `pgserver` wheel, PostgreSQL 16) used when ASR_DATABASE_URL is not set.

It keeps its data in $ASR_HOME/pgdata (`settings.pgdata_dir()`) and answers on a Unix socket only. Run as root,
pgserver creates a system user `pgserver` (useradd) to run postgres as, and makes the data folder and its parents
group/other readable.
"""

from __future__ import annotations

import os
import signal
import time
import warnings
from pathlib import Path

from asr_assets import settings


def ensure_database_url() -> str:
    """SQLAlchemy URL (postgresql+psycopg2://) of the database: ASR_DATABASE_URL, else the embedded server,
    started here when it is not up yet."""
    config = settings.current()
    if config.database_url:
        return settings.sqlalchemy_url(config.database_url)
    if config.executor == "k8s":
        # Each step is its own pod: an embedded server per pod would scatter the rows over throwaway databases.
        raise RuntimeError(
            "ASR_EXECUTOR=k8s needs ASR_DATABASE_URL (the shared PostgreSQL); set it from a Secret "
            "(deployment/k8s/secrets.example.yaml)"
        )
    return settings.sqlalchemy_url(start_embedded_postgres())


def _import_pgserver():
    """pgserver, imported without platformdirs' RuntimeDirWarning (XDG_RUNTIME_DIR unset: it uses /tmp/runtime-$UID
    for its lock file, which is fine and not worth a warning in every CLI run)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
        import pgserver.utils

    return pgserver


PID_FILE_READS = 50  # 5 s of a postmaster.pid being written


def embedded_postgres_running(pgdata: Path | None = None) -> bool:
    """True when the embedded server for this ASR_HOME is up."""
    PostmasterInfo = _import_pgserver().utils.PostmasterInfo

    for _ in range(PID_FILE_READS):
        try:
            info = PostmasterInfo.read_from_pgdata(pgdata or settings.pgdata_dir())
        except (AssertionError, ValueError, IndexError):
            # postmaster.pid read while a starting or stopping server writes it (another process of this home:
            # a run worker, the daemon's code server): pgserver asserts on its line count. Read it again.
            time.sleep(0.1)
            continue
        return info is not None and info.is_running() and info.status == "ready"
    return False


def start_embedded_postgres(pgdata: Path | None = None) -> str:
    """Start (or attach to) the embedded PostgreSQL under pgdata and return its libpq URL.

    cleanup_mode=None: many processes use the server (the CLI, the daemon's code server, run workers), some of
    which are killed rather than exit; pgserver's own "last one out stops it" would then never stop it, or stop it
    under a live process. The process that started it stops it (`stop_embedded_postgres`).
    """
    pgserver = _import_pgserver()
    PostmasterInfo = pgserver.utils.PostmasterInfo
    pgdata = (pgdata or settings.pgdata_dir()).resolve()
    if embedded_postgres_running(pgdata):
        # Already up (started by another process): read its socket from postmaster.pid, skip pgserver's lock.
        return PostmasterInfo.read_from_pgdata(pgdata).get_uri()  # type: ignore[union-attr]
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    if not embedded_postgres_running(pgdata):
        # get_server returned the object cached in this process from before a stop: start it again.
        with server._lock:
            server.ensure_postgres_running()
    return server.get_uri()


def stop_embedded_postgres(pgdata: Path | None = None, timeout_s: float = 30.0) -> None:
    """Fast shutdown (SIGINT to the postmaster: rolls back open transactions, closes connections)."""
    PostmasterInfo = _import_pgserver().utils.PostmasterInfo
    pgdata = (pgdata or settings.pgdata_dir()).resolve()
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running() or info.pid is None:
        return
    os.kill(info.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and info.is_running():
        time.sleep(0.1)
