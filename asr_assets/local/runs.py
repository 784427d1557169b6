"""Following `ingest`'s runs: which batch holds each file, waiting for the batches' runs, failures, abandoning."""

from __future__ import annotations

import subprocess
import time
from typing import Any

from asr_assets.local.daemon import daemon_hint
from asr_assets.local.sql import read_sql

JOB_NAME = "ingest_job"
POLL_S = 1.0


def batch_keys(conn, checksums: list[str]) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(read_sql("batch_keys"), {"c": checksums})
        return dict(cur.fetchall())


def wait_for_runs(
    instance,
    dsn: str,
    checksums: list[str],
    deadline: float,
    daemon: subprocess.Popen | None,
    runs: dict[str, Any],
) -> dict[str, Any]:
    """Poll the registry until every file has a batch, then the instance until each batch's run is finished.

    `runs` (batch key -> latest RunRecord) is filled in place, so a caller that is interrupted knows them.
    """
    import psycopg2
    from dagster import RunsFilter

    keys: dict[str, str] = {}
    reported: dict[str, str] = {}
    while time.monotonic() < deadline:
        if daemon is not None and daemon.poll() is not None:
            raise RuntimeError(f"dagster-daemon exited with code {daemon.returncode}; see its log")
        if len(keys) < len(set(checksums)):
            conn = psycopg2.connect(dsn)
            try:
                keys = batch_keys(conn, checksums)
            finally:
                conn.close()
        for key in sorted(set(keys.values())):
            records = instance.get_run_records(
                RunsFilter(job_name=JOB_NAME, tags={"dagster/partition": key}), limit=1
            )
            if records:
                run = records[0].dagster_run
                runs[key] = records[0]
                if reported.get(key) != run.status.value:
                    reported[key] = run.status.value
                    print(f"  batch {key}: run {run.run_id[:8]} {run.status.value}", flush=True)
        done = len(keys) == len(set(checksums)) and all(
            key in runs and runs[key].dagster_run.is_finished for key in set(keys.values())
        )
        if done:
            return runs
        time.sleep(POLL_S)
    raise TimeoutError(f"no result within the timeout; the daemon's log has the details{daemon_hint(daemon)}")


def abandon_runs(instance, runs: dict[str, Any]) -> None:
    """Mark our unfinished runs failed: locally nothing checks run-worker health, so a run whose worker is gone
    would stay STARTED forever."""
    for key, record in runs.items():
        run = instance.get_run_by_id(record.dagster_run.run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, message="asr-assets ingest stopped before the run finished")
            print(f"  batch {key}: run {run.run_id[:8]} marked FAILURE (re-execute it in `asr-assets ui`)")


def step_failures(instance, run_id: str, max_chars: int = 800) -> list[tuple[str, str]]:
    """(step, first part of the error) of each failed step of a run, for the summary."""
    from dagster import DagsterEventType

    failures = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        error = event.step_failure_data.error if event and event.step_failure_data else None
        message = (error.cause.message if error and error.cause else None) or (error.message if error else "")
        failures.append((event.step_key if event else "?", message.strip()[:max_chars]))
    return failures
