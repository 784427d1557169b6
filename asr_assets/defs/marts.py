"""marts_job and marts_sensor: the dbt models follow the raw tables in coalesced builds, one at a time.

A batch's run ends when its calls are in asr_raw; it does not build the marts. marts_sensor looks every tick for
loaded batches the marts do not hold (platform/marts.py) and, when there are some and no marts_job run is queued or
going, requests one `dbt build`: it picks up every batch loaded since the last build (each incremental mart builds
the batches it lacks, macros/pending_batches.sql), however many runs loaded them. So the build no longer queues
behind each batch: a busy hour costs one build per build's duration, not one per batch, and a tick with nothing new
requests nothing. A failed build is requested again after a backoff that doubles (ASR_RETRY_BACKOFF_S); batches
loaded meanwhile join it. docs/dagster-ingest.md, "Marts: coalesced builds".
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from asr_assets import settings
from asr_assets.defs.batch_report import batch_reports
from asr_assets.defs.dbt import DBT_GROUP
from asr_assets.defs.jobs import LANE_TAG, STEP_RETRY
from asr_assets.defs.resources import LandingZoneResource, PostgresResource
from asr_assets.platform.marts import EPOCH, MARTS_JOB, unbuilt_batches

MAX_BACKOFF_S = 1800
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

marts_job = dg.define_asset_job(
    MARTS_JOB,
    selection=dg.AssetSelection.groups(DBT_GROUP) | dg.AssetSelection.assets(batch_reports),
    tags={LANE_TAG: "marts"},
    op_retry_policy=STEP_RETRY,
    description="Build the dbt models over every loaded batch the marts do not hold yet, then those batches' "
    "report pages (requested by marts_sensor; one at a time).",
)


def failed_builds_in_a_row(instance: dg.DagsterInstance) -> tuple[int, float | None]:
    """How many of the newest marts_job runs failed in a row, and when the newest of them ended."""
    failures, ended = 0, None
    for record in instance.get_run_records(dg.RunsFilter(job_name=MARTS_JOB), limit=10):
        if record.dagster_run.status != dg.DagsterRunStatus.FAILURE:
            break
        failures += 1
        ended = ended or record.end_time or record.update_timestamp.timestamp()
    return failures, ended


def backoff_s(failures: int, first_s: float) -> float:
    return 0.0 if failures == 0 else min(first_s * 2 ** (failures - 1), MAX_BACKOFF_S)


@dg.sensor(
    job=marts_job,
    minimum_interval_seconds=settings.current().sensor_interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def marts_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, landing: LandingZoneResource
):
    """Requests a dbt build when loaded batches are missing from the marts and no build is queued or running."""
    if context.instance.get_run_records(dg.RunsFilter(job_name=MARTS_JOB, statuses=IN_FLIGHT), limit=1):
        return dg.SkipReason(
            "a marts build is queued or running: batches loaded meanwhile wait for the next one"
        )
    since = datetime.fromisoformat(context.cursor) if context.cursor else EPOCH
    with postgres.connect() as conn:
        unbuilt = unbuilt_batches(conn, since)
    context.update_cursor(unbuilt.next_since().isoformat())
    if not unbuilt.batches:
        return dg.SkipReason("the marts hold every loaded batch")
    failures, ended = failed_builds_in_a_row(context.instance)
    wait = backoff_s(failures, landing.retry_backoff_s)
    if ended is not None and datetime.now().timestamp() < ended + wait:
        return dg.SkipReason(
            f"{len(unbuilt.batches)} batch(es) to build; the last {failures} build(s) failed, the next in "
            f"{ended + wait - datetime.now().timestamp():.0f} s"
        )
    keys = unbuilt.keys
    shown = ", ".join(keys[:5]) + (" ..." if len(keys) > 5 else "")
    context.log.info(f"building the marts for {len(keys)} batch(es): {shown}")
    return dg.RunRequest(
        tags={"asr/batches": str(len(keys)), "asr/oldest_batch": keys[0]},
        run_config={"ops": {batch_reports.op.name: {"config": {"partition_keys": keys}}}},
    )
