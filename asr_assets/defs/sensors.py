"""landing_sensor: new files in the landing zone -> registered batches -> one partition and one run per batch,
and every requested run followed to its end: retried with a backoff when it fails, given up (and shown) when it
keeps failing.

Discovery. A local landing folder is watched: a tick registers the files its filesystem events named, lists the
whole folder only when events may have been missed (its first tick in a process), and compares a bounded slice of
a reconciliation pass every ASR_RECONCILE_INTERVAL_S (platform/landing_watch.py). An object store is listed whole
every tick. The registry decides what is new either way; events only wake it.

Batch sizing. Dagster recommends at most ~100,000 partitions per asset (its UI fetches every key). A batch closes
at `batch_max_files` calls or `batch_max_audio_s` of audio (by the file headers), `batch_max_wait_s` after it
opened, or at the end of its tick while fewer than `batch_max_in_flight` batches of its zone wait for or are in a
run (docs/dagster-ingest.md, "Micro-batches"): one call per batch at a trickle, larger batches as calls arrive
faster than runs finish, so each run's start-up is paid for every call that landed while the one before ran.

State. Everything that decides what happens lives in PostgreSQL, not in the sensor's cursor (which keeps only where
the reconciliation pass is): which entries were seen (platform/registry.py), which batch each file is in, and each
batch's status (platform/batch_runs.py). A lost cursor, a restarted daemon or a second instance on the same
database therefore never regroups files or re-requests finished batches, and a batch belongs to the landing zone it
was landed in.
"""

import time

import dagster as dg

from asr_assets import settings
from asr_assets.defs import batch_checks
from asr_assets.defs.jobs import ingest_job
from asr_assets.defs.partitions import ingest_batches
from asr_assets.defs.resources import LandingZoneResource, PostgresResource
from asr_assets.platform.batch_runs import (
    RetryPolicy,
    reap_dead_local_runs,
    request_due,
    settle_given_up,
    settle_requested,
)
from asr_assets.platform.landing_watch import ReconcileState
from asr_assets.platform.registry import BatchLimits, TickBudget, register

# 5 s locally; a deployment sets e.g. 30-60 (an object store's tick lists the whole landing prefix).
SENSOR_INTERVAL_S = settings.current().sensor_interval_s


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_sensor(
    context: dg.SensorEvaluationContext, landing: LandingZoneResource, postgres: PostgresResource
) -> dg.SensorResult:
    """Registers new landed recordings into ingest batches, requests one ingest_job run per closed batch, and
    retries a batch whose run failed (bounded, with a backoff)."""
    started = time.monotonic()
    zone = landing.resolved_url()
    seen = landing.look(ReconcileState.from_cursor(context.cursor), time.time())
    listing = seen.listing
    for run_id in reap_dead_local_runs(context.instance):
        context.log.warning(f"run {run_id} had lost its worker process: marked failed so the queue moves")
    with postgres.connect() as conn:
        registration = register(
            conn,
            listing,
            zone,
            BatchLimits(
                landing.batch_max_files,
                landing.batch_max_audio_s,
                landing.batch_max_wait_s,
                landing.batch_max_in_flight,
            ),
            TickBudget(landing.max_files_per_tick, landing.max_bytes_per_tick, landing.max_tick_s),
        )
    landing.look_again(registration.deferred_uris)
    landing.acknowledge(seen)  # the registration has committed: the queue's messages may go
    with postgres.connect() as conn:
        policy = RetryPolicy(max_attempts=landing.batch_max_attempts, backoff_s=landing.retry_backoff_s)
        changed = settle_requested(conn, context.instance, zone, policy)
        changed += settle_given_up(conn, context.instance, zone)
        for line in changed:
            (context.log.warning if "fail" in line or "given up" in line else context.log.info)(line)
        run_requests = request_due(conn, zone)
        checks = [batch_checks.evaluation(conn, zone)] if any("given up" in line for line in changed) else []
    for entry in registration.skipped:
        context.log.debug(f"not taken: {entry.uri}: {entry.reason}")
    keys = sorted({r.partition_key for r in run_requests if r.partition_key})
    to_add = [key for key in keys if not context.instance.has_dynamic_partition(ingest_batches.name, key)]
    if registration.new or registration.duplicates or registration.deferred:
        # the evaluation's time (listing included; Dagster cancels it at 60 s), before the daemon creates the runs
        context.log.info(
            f"landing zone: {registration.summary()}; looked at {seen.how}; tick {time.monotonic() - started:.2f} s"
        )
    return dg.SensorResult(
        cursor=seen.state.to_cursor(),
        run_requests=run_requests,
        asset_events=checks,
        dynamic_partitions_requests=[ingest_batches.build_add_request(to_add)] if to_add else [],
    )
