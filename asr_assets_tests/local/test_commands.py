import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from asr_assets.platform import embedded_pg
from asr_assets_tests.conftest import free_port

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
    assert "2 file(s): 1 transcribed, 1 quarantined; 1 batch(es), 1 succeeded" in out
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
    assert "1 batch(es), 1 succeeded" in again.stdout

    # `asr-assets report`: the page of every batch, written locally, offline (plotly.js beside it)
    report = subprocess.run(
        [sys.executable, "-m", "asr_assets.cli", "report"], cwd=REPO, env=dict(os.environ), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    page = Path(report.stdout.strip())
    assert page == scratch_asr_home / "reports" / "report.html" and (page.parent / "plotly.min.js").is_file()
    assert "1 calls" in page.read_text() and "Quarantined files by reason (1 in all)" in page.read_text()


def _run_in_step(
    dagster_home: Path, step_key: str, deadline_s: float, need_worker: bool = True
) -> tuple[str, int | None]:
    """(run id, run worker pid) of the first run of the job that has `step_key` (a batch's ingest_job, or
    marts_job for the dbt build) once that step has started (need_worker: and its worker process is known)."""
    import time

    import dagster as dg

    from asr_assets.platform.batch_runs import _worker_pid

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if (dagster_home / "dagster.yaml").exists():
            with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
                job = "marts_job" if step_key == "dbt_transcripts" else "ingest_job"
                for record in instance.get_run_records(dg.RunsFilter(job_name=job)):
                    run_id = record.dagster_run.run_id
                    steps = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
                    worker = _worker_pid(instance, run_id)
                    if (worker or not need_worker) and any(
                        e.dagster_event.step_key == step_key for e in steps
                    ):
                        return run_id, worker[0] if worker else None
        time.sleep(0.2)
    raise AssertionError(f"no run reached {step_key} within {deadline_s} s")


def _kill_run_worker_in_step(dagster_home: Path, step_key: str, deadline_s: float) -> str:
    """kill -9 the run worker of the first run in `step_key` once that step has started; returns the run id."""
    import signal

    run_id, pid = _run_in_step(dagster_home, step_key, deadline_s)
    os.kill(pid, signal.SIGKILL)
    return run_id


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def _every_file_once(pgdata: Path) -> tuple[list[tuple], list[tuple]]:
    """(per landed file: name, rows in calls, rows in quarantine), (status, attempts) of each non-empty batch."""
    conn = psycopg2.connect(embedded_pg.start_embedded_postgres(pgdata))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select f.file_name, count(c.call_id), (select count(*) from asr_raw.quarantine q"
                " where q.checksum = f.checksum) from asr_raw.landed_files f"
                " left join asr_raw.calls c on c.call_id = f.checksum group by f.file_name, f.checksum order by 1"
            )
            rows = cur.fetchall()
            cur.execute("select status, attempts from asr_raw.ingest_batches where file_count > 0")
            return rows, cur.fetchall()
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(1500)
@pytest.mark.parametrize("step", ["transcripts", "dbt_transcripts"])
def test_after_a_kill_9_of_the_run_worker_ingest_again_accounts_for_every_file_once(
    step, scratch_asr_home, tmp_path, sample_calls
):
    """The issue's "Done when": a kill -9 of the run worker mid-transcription (and of the marts build's during
    dbt); `asr-assets ingest` on the same folder again ends with every file in calls or quarantine exactly once,
    the marts complete, and exit 0 (F1). The killed run is failed by the reaper, so its lane moves on."""
    calls = tmp_path / "calls"
    calls.mkdir()
    for path in (sample_calls[3], sample_calls[0]):
        (calls / path.name).write_bytes(path.read_bytes())
    (calls / "broken.wav").write_bytes(os.urandom(3000))
    first = subprocess.Popen(
        [sys.executable, "-m", "asr_assets.cli", "ingest", str(calls), "--timeout", "600"],
        cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    killed = _kill_run_worker_in_step(scratch_asr_home / "dagster", step, 600)
    first_out, _ = first.communicate(timeout=900)

    again = _ingest(calls, 600)
    assert again.returncode == 0, first_out + again.stdout + again.stderr
    rows, batches = _every_file_once(scratch_asr_home / "pgdata")
    assert rows == [("broken.wav", 0, 1), (sample_calls[0].name, 1, 0), (sample_calls[3].name, 1, 0)]
    assert [status for status, _ in batches] == ["succeeded"]
    assert "asr_marts.fct_calls (dbt):" in again.stdout  # the marts were built after the kill
    for path in (sample_calls[0], sample_calls[3]):
        assert path.name[:32] in again.stdout.split("asr_marts.fct_calls (dbt):")[1]
    import dagster as dg

    with dg.DagsterInstance.from_config(str(scratch_asr_home / "dagster")) as instance:
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_database_outage_longer_than_the_step_retries_is_recovered_without_a_person(
    scratch_asr_home, tmp_path, sample_calls, monkeypatch
):
    """The database goes away mid-run for longer than the steps' retry window (here shortened to one retry after
    2 s), on a PostgreSQL of the test's own (never the shared one): the run fails, the landing sensor requests the
    batch again once the database is back, and the same `ingest` ends with exit 0 and every file once.

    The URL carries a password (the server's local trust ignores it): afterwards no output, file under ASR_HOME
    (Dagster's event log and compute logs, the daemon's log, artifacts, dbt's files) or table holds it, although
    the run's failure was a database error."""

    for name, value in (
        ("ASR_STEP_MAX_RETRIES", "1"),
        ("ASR_STEP_RETRY_DELAY_S", "2"),
        ("ASR_RETRY_BACKOFF_S", "5"),
    ):
        monkeypatch.setenv(name, value)
    # Its own server, named by ASR_DATABASE_URL: the embedded default would be restarted by the next process
    # that needs it, which is no outage.
    pgdata = scratch_asr_home / "outage-pgdata"
    url = embedded_pg.start_embedded_postgres(pgdata)
    assert "postgres:@" in url
    monkeypatch.setenv("ASR_DATABASE_URL", url.replace("postgres:@", f"postgres:{SECRET}@"))
    try:
        out = _outage_then_recovery(scratch_asr_home, pgdata, url, tmp_path, sample_calls)
        assert _places_holding(SECRET, [scratch_asr_home, REPO / "dbt_transcripts"], [out], url) == []
    finally:
        embedded_pg.stop_embedded_postgres(pgdata)


SECRET = "pw-Qx7-never-print-me"


def _places_holding(secret: str, roots: list[Path], outputs: list[str], url: str) -> list[str]:
    """Every output, file under roots (bytes, recursively) and database row (any schema) that contains secret."""
    from psycopg2 import sql

    found = [f"output {i}" for i, text in enumerate(outputs) if secret in text]
    needle = secret.encode()
    for root in roots:
        # os.walk skips a folder that vanishes while it walks (another process's dbt scratch folder under target/)
        for folder, _, names in os.walk(root):
            for path in (Path(folder) / name for name in names):
                try:
                    if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                        found.append(str(path))
                except OSError:  # a socket or a file that vanished meanwhile
                    continue
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
                " and table_schema not in ('pg_catalog', 'information_schema')"
            )
            for schema, table in cur.fetchall():
                query = sql.SQL("select count(*) from {} as t where t::text like %s")
                cur.execute(query.format(sql.Identifier(schema, table)), (f"%{secret}%",))
                if cur.fetchone()[0]:
                    found.append(f"{schema}.{table}")
    finally:
        conn.close()
    return found


def _outage_then_recovery(
    scratch_asr_home: Path, pgdata: Path, url: str, tmp_path: Path, sample_calls
) -> str:
    import time

    import dagster as dg

    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / sample_calls[0].name).write_bytes(sample_calls[0].read_bytes())
    (calls / "broken.wav").write_bytes(os.urandom(3000))
    ingest = subprocess.Popen(
        [sys.executable, "-m", "asr_assets.cli", "ingest", str(calls), "--timeout", "900"],
        cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    # raw_audio has started: the transcripts step and the raw tables' load (which needs the database) are ahead
    try:
        run_id, _ = _run_in_step(scratch_asr_home / "dagster", "raw_audio", 600, need_worker=False)
    except AssertionError:
        _kill_tree(ingest.pid)  # its dagster-daemon too: an orphan daemon would run on after the test
        raise AssertionError(ingest.communicate()[0]) from None
    embedded_pg.stop_embedded_postgres(pgdata)
    down_since = time.monotonic()
    with dg.DagsterInstance.from_config(str(scratch_asr_home / "dagster")) as instance:
        while time.monotonic() - down_since < 600:  # down until every run has failed, and at least 30 s
            runs = [r.dagster_run for r in instance.get_run_records(dg.RunsFilter(job_name="ingest_job"))]
            retried = {run.tags.get("dagster/parent_run_id") for run in runs}
            # a failed run Dagster will re-execute (its run retry) is not the end: its retry must fail too
            settled = all(
                run.is_finished and (run.tags.get("dagster/will_retry") != "true" or run.run_id in retried)
                for run in runs
            )
            if time.monotonic() - down_since > 30 and settled:
                break
            time.sleep(1)
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert embedded_pg.start_embedded_postgres(pgdata) == url

    out, _ = ingest.communicate(timeout=900)
    assert ingest.returncode == 0, out
    assert "database unavailable, waiting" in out and "database is back" in out
    rows, batches = _every_file_once(pgdata)
    assert rows == [("broken.wav", 0, 1), (sample_calls[0].name, 1, 0)]
    ((status, attempts),) = batches
    assert status == "succeeded" and attempts >= 2, out
    return out


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://bob:{SECRET}@127.0.0.1:1/asr",
        f"postgresql://bob@127.0.0.1:1/asr?sslmode=disable&password={SECRET}",
        f"host=127.0.0.1 port=1 user=bob password={SECRET} dbname=asr",
    ],
    ids=["userinfo", "query", "libpq-keywords"],
)
def test_a_database_that_cannot_be_reached_is_one_line_without_the_password(url, scratch_asr_home, tmp_path):
    """Each form a password can take in ASR_DATABASE_URL: `ingest` and `erase` end with one line naming the
    database (password as ***) and the fix, no traceback."""
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "a.wav").write_bytes(b"RIFF")
    env = {**os.environ, "ASR_DATABASE_URL": url, "ASR_DB_CONNECT_TIMEOUT_S": "2"}
    for command in (["ingest", str(calls)], ["erase", "--call-id", "0" * 64, "--requested-by", "x"]):
        out = subprocess.run(
            [sys.executable, "-m", "asr_assets.cli", *command], cwd=REPO, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        text = out.stdout + out.stderr
        assert out.returncode in (1, 2) and "Traceback" not in text, text
        assert SECRET not in text and "ASR_DATABASE_URL" in text, text
        assert len(out.stderr.strip().splitlines()) == 1, text


@pytest.mark.slow
def test_evaluate_registers_scores_and_promotes_behind_the_gate(
    scratch_asr_home, embedded_server_url, monkeypatch
):
    """`asr-assets evaluate tiny.en --promote` on the shipped English set: WER printed per language, the gate
    passes (first version), the version is promoted; an unregistered name is a usage error."""
    import io

    from asr_assets.cli import main
    from asr_assets_tests.conftest import throwaway_database

    database = throwaway_database(embedded_server_url, prefix="asr_evaluate")  # promotions are global state
    monkeypatch.setenv("ASR_DATABASE_URL", next(database))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["evaluate", "tiny.en", "--promote", "--no-shared-eval"]) == 0
    text = out.getvalue()
    assert re.search(r"en\s+samples\s+53 files\s+390 words\s+WER\s+\d+\.\d+ %", text), text
    assert "quality gate (wer_within_margin_of_promoted): passed" in text and "promoted for en" in text
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["evaluate", "nonexistent"]) == 2
    next(database, None)  # drops it


def _assert_all_stopped(started: list, pgdata: Path) -> None:
    """Every process a command started has exited (within 30 s of its own end), and so has its embedded server."""
    import psutil

    _, alive = psutil.wait_procs(started, timeout=30)
    assert alive == [], [" ".join(p.cmdline()[:4]) for p in alive if p.is_running()]
    assert not embedded_pg.embedded_postgres_running(pgdata)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigterm_of_ui_started_in_the_background_leaves_nothing_running(scratch_asr_home):
    """`asr-assets ui &` then `kill PID`: the webserver, the daemon, their code servers and the embedded
    PostgreSQL it started all stop. Started as a shell starts a background job: SIGINT ignored. On this fresh home
    it made the landing folder it watches and said where it is, so a call dropped there has somewhere to go."""
    import signal
    import time
    import urllib.request

    import psutil

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "asr_assets.cli", "ui", "--port", str(port)],
        cwd=REPO,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the UI did not come up"
            time.sleep(2)
        started = psutil.Process(proc.pid).children(recursive=True)
        assert len(started) >= 2  # dagster dev, its webserver and daemon (and code servers)
        assert embedded_pg.embedded_postgres_running(scratch_asr_home / "pgdata")
        assert (scratch_asr_home / "landing").is_dir()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
        assert f"Drop recordings into {scratch_asr_home / 'landing'}" in out
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_all_stopped(started, scratch_asr_home / "pgdata")


def test_db_url_connects_as_the_owner_and_as_an_analyst(scratch_asr_home, capsys):
    """The README's analyst section as written: `psql "$(asr-assets db-url)"` as the owner creates a login role in
    `analyst`; `asr-assets db-url --user alice` then reads the marts' schema and is refused the raw one."""
    from asr_assets.cli import main

    assert main(["db-url"]) == 0
    owner = capsys.readouterr().out.strip()
    conn = psycopg2.connect(owner)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("drop role if exists alice_test")
            cur.execute("create role alice_test login password 'not-checked-on-the-socket' in role analyst")
    finally:
        conn.close()
    assert main(["db-url", "--user", "alice_test"]) == 0
    analyst = psycopg2.connect(capsys.readouterr().out.strip())
    try:
        with analyst.cursor() as cur:
            cur.execute("select current_user, has_schema_privilege('asr_marts', 'usage')")
            assert cur.fetchone() == ("alice_test", True)
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("select count(*) from asr_raw.calls")
    finally:
        analyst.close()
    assert main(["db-url", "--stop"]) == 0
    assert not embedded_pg.embedded_postgres_running(scratch_asr_home / "pgdata")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigterm_of_ingest_in_the_background_stops_its_daemon_runs_and_database(
    scratch_asr_home, tmp_path, sample_calls
):
    """`asr-assets ingest DIR &` then `kill PID` while the batch runs: its daemon, the run worker and the embedded
    PostgreSQL stop; the unfinished run is marked failed (the next ingest retries it)."""
    import signal
    import time

    import psutil

    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / sample_calls[0].name).write_bytes(sample_calls[0].read_bytes())
    proc = subprocess.Popen(
        [sys.executable, "-m", "asr_assets.cli", "ingest", str(calls), "--timeout", "300"],
        cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    lines = []
    try:
        deadline = time.monotonic() + 240
        for line in proc.stdout:  # until its batch's run is going
            lines.append(line)
            if "run STARTED" in line or time.monotonic() > deadline:
                break
        assert any("run STARTED" in line for line in lines), "".join(lines)
        started = psutil.Process(proc.pid).children(recursive=True)
        assert started  # the daemon and its code server, at least
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_all_stopped(started, scratch_asr_home / "pgdata")
    assert "marked FAILURE" in rest or "SUCCESS" in rest, rest
