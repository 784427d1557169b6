import threading

import psycopg2
import pytest

from asr_assets import settings
from asr_assets.platform.sql.migrate import list_migrations, migrate

RAW_TABLES = {
    "calls", "channels", "segments", "words", "quarantine", "landed_files", "landed_duplicates", "ingest_batches",
    "schema_migrations",
}  # fmt: skip


def _tables(dsn: str) -> set[str]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("select table_name from information_schema.tables where table_schema = 'asr_raw'")
            return {r[0] for r in cur.fetchall()}
    finally:
        conn.close()


def test_migrations_are_numbered_in_order():
    versions = [m.version for m in list_migrations()]
    assert versions == sorted(versions) and versions[0] == 1 and len(set(versions)) == len(versions)


def test_migrate_creates_the_raw_schema_once(database_url):
    dsn = settings.libpq_url(database_url)
    migrate(dsn)
    assert _tables(dsn) >= RAW_TABLES
    assert migrate(dsn) == []  # nothing pending the second time


def test_concurrent_starters_do_not_race(embedded_server_url, tmp_path):
    # a fresh database, migrated by four processes' worth of threads at once: the advisory lock serialises them
    name = "asr_migrate_race"
    admin = psycopg2.connect(embedded_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"drop database if exists {name}")
        cur.execute(f"create database {name}")
    dsn = embedded_server_url.replace("/postgres?", f"/{name}?")
    results, errors = [], []

    def run():
        try:
            results.append(migrate(dsn))
        except Exception as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with admin.cursor() as cur:
        cur.execute(f"drop database {name} with (force)")
    admin.close()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, 0, len(list_migrations())]


def test_a_badly_named_migration_is_an_error(tmp_path):
    (tmp_path / "1_init.sql").write_text("select 1")
    with pytest.raises(ValueError, match="NNNN_lowercase_name.sql"):
        list_migrations(tmp_path)
