"""Migration 0002: the read-only analyst role reads the marts and nothing of the raw or staging text."""

import psycopg2
import pytest
from psycopg2 import errors

from asr_assets.platform.sql.migrate import MIGRATIONS_DIR, migrate


def test_analyst_reads_the_marts(built_marts, sql):
    rows = sql(
        built_marts, "select call_id, agent_talk_s from asr_marts.fct_calls order by 1", role="analyst"
    )
    assert [r[0] for r in rows] == ["call-a", "call-b", "call-c"]
    assert sql(built_marts, "select count(*) from asr_marts.call_search", role="analyst") == [(3,)]


@pytest.mark.parametrize(
    "table", ["asr_raw.words", "asr_raw.segments", "asr_raw.calls", "asr_staging.stg_words"]
)
def test_analyst_cannot_read_raw_text(built_marts, sql, table):
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        sql(built_marts, f"select * from {table} limit 1", role="analyst")  # noqa: S608


def test_analyst_cannot_write_the_marts(built_marts, sql):
    with pytest.raises(errors.InsufficientPrivilege):
        sql(built_marts, "delete from asr_marts.fct_calls", role="analyst")


def test_analyst_is_a_nologin_role_and_the_migration_is_idempotent(built_marts, sql):
    assert sql(built_marts, "select rolcanlogin from pg_roles where rolname = 'analyst'") == [(False,)]
    assert migrate(built_marts) == []  # already applied
    conn = psycopg2.connect(built_marts)
    try:
        with conn, conn.cursor() as cur:  # the role exists already: the migration's SQL runs again cleanly
            cur.execute((MIGRATIONS_DIR / "0002_analyst_role.sql").read_text(encoding="utf-8"))
    finally:
        conn.close()
