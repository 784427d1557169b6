import psycopg2
import pytest

from asr_assets import settings
from asr_assets.local.landing import LandedCopy
from asr_assets.local.report import mart_rows, print_report


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


def test_mart_rows_is_empty_until_dbt_built_the_mart(database_url):
    conn = psycopg2.connect(settings.libpq_url(database_url))
    try:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('asr_marts.fct_calls')")
            if cur.fetchone()[0] is not None:
                pytest.skip("another test built the marts in this session's database")
        assert mart_rows(conn, ["0" * 64]) == {}
    finally:
        conn.close()
