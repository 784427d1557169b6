import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from asr_assets.local import embedded_pg

REPO = Path(__file__).resolve().parent.parent.parent


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

    url = embedded_pg.start_embedded_postgres(scratch_asr_home / "pgdata")
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
    embedded_pg.stop_embedded_postgres(scratch_asr_home / "pgdata")

    again = _ingest(calls, 120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 batch run(s), 1 succeeded" in again.stdout
