import hashlib
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from asr_assets import settings
from asr_assets.ingest import land_files, safe_name

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("call 01.wav", "call 01.wav"),
        ('it\'s a "quoted" call.wav', 'it\'s a "quoted" call.wav'),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\evil.wav", "evil.wav"),
        ("..", "unnamed"),
        (".hidden.wav", "hidden.wav"),
        ("a\nb\x00c.wav", "a_b_c.wav"),
    ],
)
def test_safe_name_stays_inside_the_folder(name, expected, tmp_path):
    safe = safe_name(name)
    assert safe == expected
    assert (tmp_path / safe).resolve().parent == tmp_path.resolve()


def test_land_files_copies_then_renames_and_keeps_different_content_apart(tmp_path, sample_calls):
    landing = tmp_path / "landing"
    src = tmp_path / "src"
    src.mkdir()
    a = src / "call 'one'.wav"
    a.write_bytes(sample_calls[0].read_bytes())
    landed = land_files([a], landing)
    assert [p.name for p in landing.iterdir()] == ["call 'one'.wav"]
    assert landed[0].checksum == hashlib.sha256(a.read_bytes()).hexdigest()
    # same name, other content: lands under a suffixed name; same content again: nothing new
    other = tmp_path / "other"
    other.mkdir()
    b = other / "call 'one'.wav"
    b.write_bytes(sample_calls[1].read_bytes())
    second = land_files([b, a], landing)
    assert second[0].name == f"call 'one'-{second[0].checksum[:8]}.wav"
    assert second[1].name == "call 'one'.wav"
    assert sorted(p.name for p in landing.iterdir()) == sorted({second[0].name, "call 'one'.wav"})


def _ingest(folder: Path, timeout_s: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asr_assets.cli", "ingest", str(folder), "--timeout", str(timeout_s)],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout_s + 120,
    )


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_ingest_runs_calls_through_the_daemon_on_the_embedded_database(
    scratch_asr_home, tmp_path, sample_calls
):
    """`asr-assets ingest DIR` end to end: files landed, the landing sensor in a child dagster-daemon, one batch
    run (real engine), rows in the embedded PostgreSQL, a per-call table; a second ingest of the same folder
    finds everything done and creates nothing new."""
    calls = tmp_path / "calls"
    calls.mkdir()
    good = sample_calls[3]  # the mono call: one channel keeps this test short
    (calls / good.name).write_bytes(good.read_bytes())
    (calls / 'it\'s "broken".wav').write_bytes(os.urandom(4000))
    (calls / "notes.txt").write_text("not audio: skipped by ingest")

    first = _ingest(calls, 600)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "skipped notes.txt" in out
    assert good.name in out
    assert "QUARANTINED undecodable" in out
    assert "2 file(s): 1 transcribed, 1 quarantined; 1 batch run(s), 1 succeeded" in out
    assert "asr_marts.fct_calls (dbt):" in out  # the dbt models ran in the batch's run

    url = settings.start_embedded_postgres(scratch_asr_home / "pgdata")
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*), count(distinct partition_key) from asr_raw.calls")
            assert cur.fetchone() == (1, 1)
            cur.execute("select count(*) from asr_raw.words where probability between 0 and 1")
            assert cur.fetchone()[0] > 10
            cur.execute("select file_name, reason_code from asr_raw.quarantine")
            assert cur.fetchall() == [('it\'s "broken".wav', "undecodable")]
    finally:
        conn.close()
    settings.stop_embedded_postgres(scratch_asr_home / "pgdata")

    again = _ingest(calls, 120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 batch run(s), 1 succeeded" in again.stdout


def test_report_shows_text_reasons_and_duplicates(capsys, tmp_path):
    from asr_assets.ingest import LandedCopy, print_report

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
    from asr_assets.ingest import mart_rows

    conn = psycopg2.connect(settings.libpq_url(database_url))
    try:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('asr_marts.fct_calls')")
            if cur.fetchone()[0] is not None:
                pytest.skip("another test built the marts in this session's database")
        assert mart_rows(conn, ["0" * 64]) == {}
    finally:
        conn.close()
