import psycopg2
import pytest

from asr_assets import settings
from asr_assets.local.ingest_summary import mart_rows, print_report
from asr_assets.local.landing import LandedCopy
from asr_assets.platform.sql.migrate import migrate
from asr_assets_tests.conftest import DATABASE_PARAMS, database_server, throwaway_database


def test_report_shows_text_reasons_and_duplicates(capsys, tmp_path):
    landed = [
        LandedCopy(tmp_path / "a.wav", "a.wav", "c1"),
        LandedCopy(tmp_path / "bad.wav", "bad.wav", "c2"),
        LandedCopy(tmp_path / "a copy.wav", "a copy.wav", "c1"),
    ]
    rows = {
        "c1": ("ok", 12.5, 2, 30, 0.91, "Hello, thank you for calling. " * 5),
        "c2": ("quarantined", None, None, None, None, "empty: bad.wav: empty file (0 bytes); re-upload it"),
    }
    counts = print_report(landed, rows, {"c1": "b1", "c2": "b1"})
    out = capsys.readouterr().out
    assert counts == (1, 1, 1)
    assert "Hello, thank you for calling." in out and "…" in out
    assert "QUARANTINED empty: empty file (0 bytes); re-upload it" in out
    assert "duplicate of a.wav" in out


@pytest.fixture(params=DATABASE_PARAMS)
def fresh_database_url(request):
    """A database of this test's own (no other test has built the marts in it), on each test server."""
    yield from throwaway_database(database_server(request, request.param))


def test_mart_rows_is_empty_until_dbt_built_the_mart(fresh_database_url):
    migrate(settings.libpq_url(fresh_database_url))
    conn = psycopg2.connect(settings.libpq_url(fresh_database_url))
    try:
        assert mart_rows(conn, ["0" * 64]) == {}
    finally:
        conn.close()
