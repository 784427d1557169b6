"""Shared fixtures: a real PostgreSQL (embedded always, TEST_DATABASE_URL too when set), a temp ASR_HOME, audio.

`database_url` hands each test session a throwaway database (created here, dropped at the end) on each server, as
a postgresql+psycopg2:// URL; `settings.libpq_url()` turns it into a psycopg2.connect() DSN.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg2
import psycopg2.sql
import pytest
import soundfile as sf

from asr_assets import settings
from asr_assets.platform import embedded_pg

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CALLS = REPO / "asr_assets" / "samples" / "calls"
DATABASE_PARAMS = ["embedded", "external"]
# make test spreads the suite over the cores (pytest-xdist, --dist loadgroup). Tests that share a set-up run in the
# worker that holds it: the tests of these folders share session set-ups (the engine's compiled programs; the marts
# built once per database server, so the dbt tests go one worker per server), and each other file runs whole in one
# worker (its module fixtures, and the session's throwaway database in the order the file expects).
SHARED_SETUP_FOLDERS = ("asr_assets_tests/asr", "asr_assets_tests/dbt")
SERVER_FIXTURES = ("dbt_server",)
# Files whose tests each build their own state (a scratch ASR_HOME, an embedded server of their own) and take
# minutes each: scheduled one test at a time, so they spread over the workers.
INDEPENDENT_TESTS = ("asr_assets_tests/local/test_commands.py",)
# The longest groups and tests (minutes each, `make test`'s --durations), started first so that the workers end
# together rather than one of them starting a long test at the end.
LONG_FIRST = (
    "asr_assets_tests/defs/test_backlog.py",
    "asr_assets_tests/local/test_commands.py",
    "asr_assets_tests/dbt",
    "asr_assets_tests/asr",
    "asr_assets_tests/ui",
    "benchmarks_tests/test_pg_volume.py",
    "asr_assets_tests/defs/test_models.py",
)


def _group(item: pytest.Item, path: str) -> str | None:
    if path in INDEPENDENT_TESTS:
        return None
    folder = next((folder for folder in SHARED_SETUP_FOLDERS if path.startswith(folder + "/")), None)
    if folder is None:
        return path
    params = getattr(item, "callspec", None)
    server = next((params.params[f] for f in SERVER_FIXTURES if params and f in params.params), None)
    return f"{folder}[{server}]" if server else folder


def _start_rank(path: str) -> int:
    return next((i for i, prefix in enumerate(LONG_FIRST) if path.startswith(prefix)), len(LONG_FIRST))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the groups into the test ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = _group(item, item.path.relative_to(REPO).as_posix())
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(
        key=lambda item: _start_rank(item.path.relative_to(REPO).as_posix())
    )  # stable: file order kept


def private_temp_dir(prefix: str) -> Path:
    """A temp folder outside pytest's basetemp: pytest resets /tmp/pytest-of-<user> to mode 0700 whenever it makes
    a new numbered folder, and as root pgserver runs postgres as the `pgserver` user, which then loses access to
    its data folder mid-session (PANIC: could not open pg_control)."""
    return Path(tempfile.mkdtemp(prefix=prefix))


@pytest.fixture(scope="session")
def embedded_server_url() -> Iterator[str]:
    """An embedded PostgreSQL (pgserver) for this session, in its own temp data folder; stopped at the end."""
    base = private_temp_dir("asr-test-pg-")
    pgdata = base / "pgdata"
    url = embedded_pg.start_embedded_postgres(pgdata)
    yield url
    embedded_pg.stop_embedded_postgres(pgdata)
    shutil.rmtree(base, ignore_errors=True)


def throwaway_database(server_url: str, prefix: str = "asr_test") -> Iterator[str]:
    """Create a fresh database on the server; yield its SQLAlchemy URL; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(settings.libpq_url(server_url))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'create database "{name}"')
        parts = urlsplit(settings.sqlalchemy_url(server_url))
        yield urlunsplit(parts._replace(path=f"/{name}"))
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
    finally:
        admin.close()


def query_rows(
    database_url: str, query, params: dict | tuple | None = None, role: str | None = None
) -> list[tuple]:
    """The rows of one statement (text or psycopg2.sql.Composed) on the database, in a transaction of its own that
    commits (as `role` when given); [] for a statement that returns no rows."""
    conn = psycopg2.connect(settings.libpq_url(database_url))
    try:
        with conn, conn.cursor() as cur:
            if role:
                cur.execute(psycopg2.sql.SQL("set role {}").format(psycopg2.sql.Identifier(role)))
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_server(request: pytest.FixtureRequest, which: str) -> str:
    """The server URL of one of DATABASE_PARAMS: the session's embedded server, or TEST_DATABASE_URL's (the test
    skips when that is not set)."""
    if which == "external":
        server = os.environ.get("TEST_DATABASE_URL")
        if not server:
            pytest.skip("TEST_DATABASE_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/postgres)")
        return server
    return request.getfixturevalue("embedded_server_url")


@pytest.fixture(scope="session")
def any_server_url(request: pytest.FixtureRequest) -> str:
    """One server for a test that needs just one: TEST_DATABASE_URL's when it answers, else the embedded one."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        try:
            psycopg2.connect(settings.libpq_url(url), connect_timeout=5).close()
            return url
        except psycopg2.OperationalError:
            pass
    return request.getfixturevalue("embedded_server_url")


@pytest.fixture(scope="session", params=DATABASE_PARAMS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A throwaway database (postgresql+psycopg2:// URL) on the embedded server, and on TEST_DATABASE_URL's."""
    yield from throwaway_database(database_server(request, request.param))


@pytest.fixture(scope="session")
def embedded_database_url(embedded_server_url: str) -> Iterator[str]:
    """A throwaway database on the embedded server only (for tests too slow to run on both)."""
    yield from throwaway_database(embedded_server_url)


@pytest.fixture
def scratch_asr_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ASR_HOME outside pytest's basetemp, so an embedded server started in it (by `ingest`) keeps
    access to its data folder; the server is stopped and the folder removed afterwards."""
    home = private_temp_dir("asr-test-home-")
    monkeypatch.setenv("ASR_HOME", str(home))
    for name in ("DAGSTER_HOME", "ASR_LANDING_URL", "ASR_STORAGE_URL", "ASR_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield home
    embedded_pg.stop_embedded_postgres(home / "pgdata")
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def asr_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ASR_HOME (landing, artifacts, Dagster home); the location variables point into it."""
    home = tmp_path / "asr_home"
    home.mkdir()
    monkeypatch.setenv("ASR_HOME", str(home))
    for name in ("DAGSTER_HOME", "ASR_LANDING_URL", "ASR_STORAGE_URL", "ASR_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def sample_calls() -> list[Path]:
    """The bundled two-channel 8 kHz sample calls (real recorded speech)."""
    calls = sorted(SAMPLE_CALLS.glob("*.wav"))
    if not calls:
        pytest.fail(f"no sample calls in {SAMPLE_CALLS}; run asr_assets/samples/build_calls.py")
    return calls


def _write_tone(
    path: Path, seconds: float, sample_rate: int = 8000, channels: int = 2, amplitude: float = 0.3
) -> Path:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    wave = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(path, np.stack([wave] * channels, axis=1), sample_rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def write_tone():
    """write_tone(path, seconds, sample_rate=8000, channels=2, amplitude=0.3): a PCM_16 WAV of a 440 Hz tone
    (amplitude 0 = digital silence)."""
    return _write_tone
