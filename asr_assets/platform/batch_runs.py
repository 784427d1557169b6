"""Which batches need a run, and what happened to the runs asked for: recovery without a person.

Each batch's status lives in asr_raw.ingest_batches (open -> closed -> requested -> succeeded, or failed -> requested
again, or given_up). Every tick the landing sensor:
1. fails local runs whose worker process is gone (the local run launcher cannot check a worker's health, so a run
   whose process tree was killed would stay STARTED forever and block the one-run queue);
2. looks at the newest run of every requested batch: success with every file in asr_raw.calls or quarantine ->
   succeeded; failure (or success with files in neither table) -> failed, retried after a backoff that doubles, or
   given_up after `max_attempts` with the run's error kept in last_error. A failure that Dagster's own run retry
   will re-execute (tag dagster/will_retry) is left to it. A request whose run never appeared (a tick lost after its
   commit, or another instance's run) is failed after `lost_after_s`;
3. requests a run for every closed batch and every failed batch that is due, with a run key per attempt
   (`<partition>:<attempt>`): Dagster skips a run key it has seen, so a retry needs a fresh one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dagster as dg

from asr_assets.platform.sql import read_sql

logger = logging.getLogger(__name__)

JOB_NAME = "ingest_job"
ATTEMPT_TAG = "asr/attempt"
WILL_RETRY_TAG = "dagster/will_retry"
PARTITION_TAG = "dagster/partition"
MAX_BATCHES_PER_TICK = 50
ERROR_CHARS = 2000


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # runs requested by the sensor per batch (each may be re-executed once by Dagster)
    backoff_s: float = 30.0  # wait before the 2nd attempt; doubles each time
    max_backoff_s: float = 1800.0
    lost_after_s: float = 600.0  # a requested run that never appeared is asked for again after this

    def delay_s(self, attempts: int) -> float:
        return min(self.backoff_s * 2 ** max(attempts - 1, 0), self.max_backoff_s)


@dataclass(frozen=True)
class BatchRun:
    batch_id: int
    partition_key: str
    attempts: int


def latest_runs(instance: dg.DagsterInstance, partition_keys: list[str]) -> dict[str, dg.DagsterRun]:
    """The newest ingest_job run of each partition that has one, in one query of the run storage (a tick looks at
    every requested batch: one query each grew the tick with the backlog waiting for runs)."""
    if not partition_keys:
        return {}
    records = instance.get_run_records(
        dg.RunsFilter(job_name=JOB_NAME, tags={PARTITION_TAG: list(partition_keys)})
    )
    newest: dict[str, dg.DagsterRun] = {}
    for record in records:  # newest first
        newest.setdefault(record.dagster_run.tags[PARTITION_TAG], record.dagster_run)
    return newest


def step_failures(instance: dg.DagsterInstance, run_id: str, max_chars: int = 800) -> list[tuple[str, str]]:
    """(step, first part of the error) of each failed step of a run."""
    failures = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        error = event.step_failure_data.error if event and event.step_failure_data else None
        message = (error.cause.message if error and error.cause else None) or (error.message if error else "")
        failures.append((event.step_key if event else "?", message.strip()[:max_chars]))
    return failures


def run_error(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str:
    """The first failed step's error (else the run failure's message), one paragraph."""
    for step, message in step_failures(instance, run.run_id, ERROR_CHARS):
        return f"{step}: {message}"[:ERROR_CHARS]
    for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        return (record.message or "run failed")[:ERROR_CHARS]
    return f"run {run.status.value}"


def reap_dead_local_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail STARTED runs whose worker process no longer exists (only where the launcher cannot check health:
    the local one). The worker's pid is in the run's "Started process for run (pid: N)" engine event. Every job's
    runs: a killed marts build left STARTED would hold the marts lane, and marts_sensor would wait for it forever."""
    import psutil

    if instance.run_launcher.supports_check_run_worker_health:
        return []
    reaped = []
    started = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    for record in started:
        worker = _worker_pid(instance, record.dagster_run.run_id)
        if worker is None:
            continue
        pid, started_at = worker
        try:  # a pid reused by a later process is not our worker
            alive = psutil.Process(pid).create_time() <= started_at + 5
        except psutil.NoSuchProcess:
            alive = False
        if not alive:
            instance.report_run_failed(
                record.dagster_run, message=f"the run worker (pid {pid}) is gone: the process was killed"
            )
            reaped.append(record.dagster_run.run_id)
    return reaped


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, time it was reported) of the run's worker process, from its engine events."""
    pid = None
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        value = data.metadata.get("pid") if data and data.metadata else None
        if value is not None and "Started process for run" in (record.message or ""):
            pid = (int(value.value), record.timestamp)  # the last one: a resumed run starts a new process
    return pid


def settle_requested(conn, instance: dg.DagsterInstance, landing_url: str, policy: RetryPolicy) -> list[str]:
    """Record the outcome of every requested batch's newest run; returns log lines for what changed."""
    lines = []
    with conn.cursor() as cur:
        requested, runs = _batches_with_runs(cur, instance, "select_requested_batches", landing_url)
        for batch_id, key, attempts, waited_s in requested:
            run = runs.get(key)
            if run is None:
                if (waited_s or 0) > policy.lost_after_s:
                    lines.append(
                        _fail(cur, batch_id, key, attempts, None, "no run started for the request", policy)
                    )
                continue
            if not run.is_finished or run.tags.get(WILL_RETRY_TAG) == "true":
                continue
            error = None
            if run.is_success:
                cur.execute(read_sql("count_unsettled_files"), {"partition_key": key})
                unsettled = cur.fetchone()[0]
                if unsettled:
                    error = f"the run succeeded but {unsettled} file(s) are in neither asr_raw.calls nor quarantine"
            else:
                error = run_error(instance, run)
            if error is None:
                _mark(cur, batch_id, "succeeded", run.run_id, None, 0)
                lines.append(f"batch {key}: succeeded (attempt {attempts})")
            else:
                lines.append(_fail(cur, batch_id, key, attempts, run.run_id, error, policy))
    return lines


def settle_given_up(conn, instance: dg.DagsterInstance, landing_url: str) -> list[str]:
    """A given-up batch that an operator re-materialised (a newer run than the last one recorded) and whose run
    succeeded with every file settled is succeeded: the check and the ingest summary stop reporting it."""
    lines = []
    with conn.cursor() as cur:
        given_up, runs = _batches_with_runs(cur, instance, "select_given_up_batches", landing_url)
        for batch_id, key, _, last_run_id, _, _ in given_up:
            run = runs.get(key)
            if run is None or run.run_id == last_run_id or not run.is_success:
                continue
            cur.execute(read_sql("count_unsettled_files"), {"partition_key": key})
            if cur.fetchone()[0] == 0:
                _mark(cur, batch_id, "succeeded", run.run_id, None, 0)
                lines.append(f"batch {key}: succeeded (re-materialised after it was given up)")
    return lines


def _batches_with_runs(
    cur, instance: dg.DagsterInstance, query: str, landing_url: str
) -> tuple[list[tuple], dict[str, dg.DagsterRun]]:
    """The rows of `query` (batches of one status in the landing zone, at most 10 ticks' worth, the partition key
    second) and the newest run of each of their partitions."""
    cur.execute(read_sql(query), {"landing_url": landing_url, "limit": 10 * MAX_BATCHES_PER_TICK})
    rows = cur.fetchall()
    return rows, latest_runs(instance, [row[1] for row in rows])


def _fail(
    cur, batch_id: int, key: str, attempts: int, run_id: str | None, error: str, policy: RetryPolicy
) -> str:
    if attempts >= policy.max_attempts:
        _mark(cur, batch_id, "given_up", run_id, error, 0)
        return f"batch {key}: given up after {attempts} attempt(s): {error}"
    delay = policy.delay_s(attempts)
    _mark(cur, batch_id, "failed", run_id, error, delay)
    return f"batch {key}: attempt {attempts} failed, retry in {delay:.0f} s: {error}"


def _mark(cur, batch_id: int, status: str, run_id: str | None, error: str | None, retry_in_s: float) -> None:
    cur.execute(
        read_sql("mark_batch_outcome"),
        {"batch_id": batch_id, "status": status, "run_id": run_id, "error": error, "retry_in_s": retry_in_s},
    )


def request_due(conn, landing_url: str) -> list[dg.RunRequest]:
    """A run request (fresh run key per attempt) for every closed batch and every failed one that is due."""
    requests = []
    with conn.cursor() as cur:
        cur.execute(
            read_sql("select_batches_to_request"), {"landing_url": landing_url, "limit": MAX_BATCHES_PER_TICK}
        )
        for batch_id, key, _ in cur.fetchall():
            cur.execute(read_sql("mark_batch_requested"), {"batch_id": batch_id, "landing_url": landing_url})
            attempt = cur.fetchone()[0]
            requests.append(
                dg.RunRequest(run_key=f"{key}:{attempt}", partition_key=key, tags={ATTEMPT_TAG: str(attempt)})
            )
    return requests
