"""Following `ingest`'s runs: which batch holds each file, waiting for the batches' runs, failures, abandoning."""

from __future__ import annotations

import subprocess
import time
from typing import Any

from asr_assets.local.daemon import daemon_hint
from asr_assets.local.sql import read_sql
from asr_assets.platform.batch_runs import JOB_NAME, WILL_RETRY_TAG
from asr_assets.platform.marts import MARTS_JOB

POLL_S = 1.0
PROGRESS_EVERY_S = 15.0  # while a batch's run is going: how often `ingest` says how far it got


def batch_keys(conn, checksums: list[str]) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(read_sql("batch_keys"), {"c": checksums})
        return dict(cur.fetchall())


SETTLED = ("succeeded", "given_up")


def batch_status(conn, keys: list[str]) -> dict[str, tuple[str, int, str | None]]:
    """Per batch key: (status, attempts, last error) from the registry."""
    with conn.cursor() as cur:
        cur.execute(read_sql("batch_status"), {"k": keys})
        return {key: (status, attempts, error) for key, status, attempts, error in cur.fetchall()}


def wait_for_runs(
    instance,
    dsn: str,
    checksums: list[str],
    deadline: float,
    daemon: subprocess.Popen | None,
    runs: dict[str, Any],
) -> dict[str, tuple[str, int, str | None]]:
    """Poll the registry until every file has a batch and every batch is settled (succeeded, or given up after
    its retries); returns each batch's (status, attempts, last error).

    A failed run is not the end: the landing sensor retries its batch, so this waits for the batch's status, not
    for one run. `runs` (batch key -> latest RunRecord) is filled in place, so a caller that is interrupted knows
    them. A database that drops while we wait is waited for, like the daemon does.
    """
    import psycopg2
    from dagster import RunsFilter

    keys: dict[str, str] = {}
    statuses: dict[str, tuple[str, int, str | None]] = {}
    reported: dict[str, str] = {}
    progressed: dict[str, float] = {}
    db_down = False
    while time.monotonic() < deadline:
        if daemon is not None and daemon.poll() is not None:
            raise RuntimeError(f"dagster-daemon exited with code {daemon.returncode}; see its log")
        try:
            conn = psycopg2.connect(dsn, connect_timeout=5)
            try:
                keys = batch_keys(conn, checksums)
                statuses = batch_status(conn, sorted(set(keys.values())))
            finally:
                conn.close()
            if db_down:
                print("  database is back", flush=True)
            db_down = False
        except psycopg2.OperationalError as e:
            if not db_down:
                print(f"  database unavailable, waiting: {str(e).strip().splitlines()[0]}", flush=True)
            db_down = True
        for key in sorted(set(keys.values())):
            records = instance.get_run_records(
                RunsFilter(job_name=JOB_NAME, tags={"dagster/partition": key}), limit=1
            )
            if records:
                runs[key] = records[0]
            status, attempts, _ = statuses.get(key, ("open", 0, None))
            run_status = records[0].dagster_run.status.value if records else "no run yet"
            line = f"{status} (attempt {attempts}, run {run_status})"
            if reported.get(key) != line:
                reported[key] = line
                progressed[key] = time.monotonic()
                print(f"  batch {key}: {line}", flush=True)
            elif (
                records
                and run_status == "STARTED"
                and time.monotonic() - progressed.get(key, 0) >= PROGRESS_EVERY_S
            ):
                progressed[key] = time.monotonic()
                print(f"  batch {key}: {run_progress(instance, records[0])}", flush=True)
        done = len(keys) == len(set(checksums)) and all(
            statuses.get(key, ("open",))[0] in SETTLED for key in set(keys.values())
        )
        if done:
            return statuses
        time.sleep(POLL_S)
    raise TimeoutError(f"no result within the timeout; the daemon's log has the details{daemon_hint(daemon)}")


def wait_for_marts(
    instance, dsn: str, keys: list[str], deadline: float, daemon: subprocess.Popen | None
) -> str | None:
    """Poll until the marts hold every batch of `keys` (marts_sensor requests the build once they are loaded);
    returns None, or the error of a build that started while we waited and failed (its step retries and Dagster's
    run retry included). A build that failed before (a killed one) is not the answer: the sensor tries again."""
    import psycopg2
    from dagster import DagsterRunStatus, RunsFilter

    from asr_assets.platform.batch_runs import run_error
    from asr_assets.platform.marts import unbuilt_batches

    said = False
    waiting_since = time.time()
    while time.monotonic() < deadline:
        if daemon is not None and daemon.poll() is not None:
            raise RuntimeError(f"dagster-daemon exited with code {daemon.returncode}; see its log")
        conn = psycopg2.connect(dsn, connect_timeout=5)
        try:
            waiting = [(key, at) for key, at in unbuilt_batches(conn).batches if key in keys]
        finally:
            conn.close()
        if not waiting:
            return None
        if not said:
            print(f"  marts: waiting for the build of {len(waiting)} batch(es)", flush=True)
            said = True
        newest = instance.get_run_records(RunsFilter(job_name=MARTS_JOB), limit=1)
        if newest and newest[0].dagster_run.status == DagsterRunStatus.FAILURE:
            record = newest[0]
            if (record.start_time or 0) > waiting_since and record.dagster_run.tags.get(
                WILL_RETRY_TAG
            ) != "true":
                return run_error(instance, record.dagster_run)
        time.sleep(POLL_S)
    raise TimeoutError(
        f"the marts were not built within the timeout; the daemon's log has the details{daemon_hint(daemon)}"
    )


def run_progress(instance, record) -> str:
    """ "running 42 s, step transcripts: transcribed 3/8 calls ...": the run's elapsed time, the step it is in, and
    the latest progress line transcripts logged (calls done per chunk, the share of audio every 30 s)."""
    started = record.start_time or record.create_timestamp.timestamp()
    step, progress = None, None
    for entry in instance.all_logs(record.dagster_run.run_id):
        if entry.is_dagster_event and entry.dagster_event.event_type_value == "STEP_START":
            step = entry.step_key
        elif (entry.user_message or "").startswith("transcribed "):
            progress = entry.user_message
    where = f", step {step}" if step else ""
    if step == "transcripts" and progress:
        where += f": {progress}"
    return f"running {time.time() - started:.0f} s{where}"


def abandon_runs(instance, runs: dict[str, Any]) -> None:
    """Mark our unfinished runs failed: locally nothing checks run-worker health, so a run whose worker is gone
    would stay STARTED forever."""
    for key, record in runs.items():
        run = instance.get_run_by_id(record.dagster_run.run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, message="asr-assets ingest stopped before the run finished")
            print(
                f"  batch {key}: run {run.run_id[:8]} marked FAILURE (the next `asr-assets ingest` retries it)"
            )
