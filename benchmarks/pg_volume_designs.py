"""The pg-volume benchmark's scratch databases on the server given, and the two designs it compares in them:
`current` (migrations 0001-0007, plain tables) and `partitioned` (every migration), both through the real
migration runner."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

DESIGNS = ("current", "partitioned")
CURRENT_LAST_MIGRATION = 7  # the design before 0008: plain tables
# Without its own function the current design's schema cannot take today's raw_tables (which creates the batch's
# month partitions first): a no-op stands in for it there.
CURRENT_SHIM = """
create function asr_raw.create_month_partitions(batch_key text) returns void language sql as 'select'
"""


def execute(dsn: str, statement: str, params: dict | None = None, autocommit: bool = False) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    conn.autocommit = autocommit
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else []
        if not autocommit:
            conn.commit()
        return rows
    finally:
        conn.close()


def vacuum_analyze(dsn: str) -> None:
    execute(dsn, "vacuum (analyze)", autocommit=True)


def create_database(server_url: str, name: str) -> str:
    """A fresh database `name` on the server (dropped first if it exists); its libpq URL."""
    from asr_assets import settings

    admin = settings.libpq_url(server_url)
    execute(admin, f'drop database if exists "{name}" with (force)', autocommit=True)
    execute(admin, f'create database "{name}"', autocommit=True)
    return named_database_url(server_url, name)


def named_database_url(server_url: str, name: str) -> str:
    """The libpq URL of database `name` on the server. The path is replaced, not cut at its last "/": the embedded
    server's URL names its socket folder in the query (?host=/tmp/...), which has slashes of its own."""
    from asr_assets import settings

    return urlunsplit(urlsplit(settings.libpq_url(server_url))._replace(path=f"/{name}"))


def drop_database(server_url: str, name: str) -> None:
    from asr_assets import settings

    execute(settings.libpq_url(server_url), f'drop database if exists "{name}" with (force)', autocommit=True)


def apply_design(dsn: str, design: str, scratch: Path) -> None:
    """The design's schema through the real migration runner: every migration, or those up to 0007."""
    from asr_assets.platform.sql.migrate import MIGRATIONS_DIR, list_migrations, migrate

    if design == "partitioned":
        migrate(dsn)
        return
    folder = scratch / "migrations_current"
    folder.mkdir(exist_ok=True)
    for migration in list_migrations():
        if migration.version <= CURRENT_LAST_MIGRATION:
            shutil.copy(MIGRATIONS_DIR / migration.path.name, folder / migration.path.name)
    migrate(dsn, folder)
    execute(dsn, CURRENT_SHIM)


def table_words(dsn: str) -> int:
    return execute(dsn, "select count(*) from asr_raw.words")[0][0]
