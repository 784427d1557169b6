"""The asset checks on the registry's batches: `no_batch_given_up` surfaces the batches the platform stopped
retrying (status given_up) with their errors, on asr_raw.ingest_batches; `marts_fresh` on the marts says whether
every batch closed more than ASR_MARTS_MAX_LAG_S ago (default 3600) has reached them (its run, which builds the
marts, succeeded): the marts' freshness expectation.

The landing sensor reports an evaluation whenever a batch's status changes (a batch is given up, or one that was
given up succeeds after an operator re-materialised it), so the UI shows it at once; no batch run has to evaluate
it. It can also be executed from the UI at any time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from asr_assets import settings
from asr_assets.defs.resources import LandingZoneResource, PostgresResource
from asr_assets.platform.marts import unbuilt_batches
from asr_assets.platform.sql import read_sql
from asr_assets.platform.text import one_line

CHECK_NAME = "no_batch_given_up"
ERROR_CHARS = 300

# The registry's batch table, written by the landing sensor (not by a run): the check's subject. A check on
# raw_audio instead ran as an extra step (an extra pod under k8s) whenever raw_audio was materialised.
ingest_batches_table = dg.AssetSpec(
    ["asr_raw", "ingest_batches"],
    description="asr_raw.ingest_batches: every ingest batch, its files and audio, and its status (open, closed, "
    "requested, succeeded, failed, given_up), written by the landing sensor.",
    kinds={"postgres"},
    group_name="ingest",
    metadata={"dagster/table_name": "asr_raw.ingest_batches"},
)


def given_up_state(conn, landing_url: str) -> tuple[bool, dict]:
    """(passed, metadata): no batch of this landing zone is given up; else which, after how many runs, why."""
    with conn.cursor() as cur:
        cur.execute(read_sql("select_given_up_batches"), {"landing_url": landing_url, "limit": 50})
        rows = cur.fetchall()
    lines = [
        f"| {key} | {attempts} | {updated:%Y-%m-%d %H:%M} | {one_line(error or '')[:ERROR_CHARS]} |"
        for _, key, attempts, _, error, updated in rows
    ]
    table = "\n".join(["| batch | runs | given up at | last error |", "|---|---|---|---|", *lines])
    metadata = {
        "given_up_batches": len(rows),
        "batches": dg.MetadataValue.md(table if rows else "none"),
        "fix": "fix the cause (the last error), then re-materialise the batch's partition",
    }
    return not rows, metadata


def evaluation(conn, landing_url: str) -> dg.AssetCheckEvaluation:
    passed, metadata = given_up_state(conn, landing_url)
    return dg.AssetCheckEvaluation(
        asset_key=ingest_batches_table.key,
        check_name=CHECK_NAME,
        passed=passed,
        metadata=metadata,
        severity=dg.AssetCheckSeverity.ERROR,
    )


@dg.asset_check(
    asset=ingest_batches_table.key,
    name=CHECK_NAME,
    description="No ingest batch of this landing zone has been given up (its runs failed ASR_BATCH_MAX_ATTEMPTS "
    "times); lists those that have, with their last error.",
)
def no_batch_given_up(postgres: PostgresResource, landing: LandingZoneResource) -> dg.AssetCheckResult:
    with postgres.connect() as conn:
        passed, metadata = given_up_state(conn, landing.resolved_url())
    return dg.AssetCheckResult(passed=passed, metadata=metadata, severity=dg.AssetCheckSeverity.ERROR)


FRESH_CHECK = "marts_fresh"
MARTS_KEY = dg.AssetKey(["asr_marts", "fct_calls"])


# How far back marts_fresh looks for loaded batches the marts still lack (a bounded probe, platform/marts.py).
FRESH_LOOKBACK = timedelta(days=7)


def fresh_state(conn, landing_url: str, max_lag_s: int) -> tuple[bool, dict]:
    """(passed, metadata): no batch closed more than max_lag_s ago is still missing from the marts: not yet
    transcribed and loaded, or loaded and not yet built (marts_sensor's build has not picked it up)."""
    with conn.cursor() as cur:
        cur.execute(read_sql("select_stale_batches"), {"landing_url": landing_url, "max_lag_s": max_lag_s})
        rows = cur.fetchall()
    unbuilt = unbuilt_batches(conn, datetime.now(UTC) - FRESH_LOOKBACK).keys
    if unbuilt:
        with conn.cursor() as cur:
            cur.execute(
                read_sql("select_closed_batches"),
                {"keys": unbuilt, "landing_url": landing_url, "max_lag_s": max_lag_s},
            )
            rows = sorted(rows + cur.fetchall(), key=lambda row: row[2])[:50]
    lines = [f"| {key} | {status} | {closed:%Y-%m-%d %H:%M} |" for key, status, closed in rows]
    table = "\n".join(["| batch | status | closed at |", "|---|---|---|", *lines])
    return not rows, {
        "stale_batches": len(rows),
        "max_lag_s": max_lag_s,
        "batches": dg.MetadataValue.md(table if rows else "none"),
    }


@dg.asset_check(
    asset=MARTS_KEY,
    name=FRESH_CHECK,
    description="The marts are fresh: every ingest batch closed more than ASR_MARTS_MAX_LAG_S ago (default 1 h) has "
    "been transcribed and built into them; lists the batches still waiting. Evaluated by marts_freshness_sensor.",
)
def marts_fresh(postgres: PostgresResource, landing: LandingZoneResource) -> dg.AssetCheckResult:
    with postgres.connect() as conn:
        passed, metadata = fresh_state(conn, landing.resolved_url(), settings.current().marts_max_lag_s)
    return dg.AssetCheckResult(passed=passed, metadata=metadata, severity=dg.AssetCheckSeverity.WARN)


@dg.sensor(minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def marts_freshness_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, landing: LandingZoneResource
):
    """Reports marts_fresh whenever it changes (the cursor keeps the last verdict), so a lag shows without a run."""
    with postgres.connect() as conn:
        passed, metadata = fresh_state(conn, landing.resolved_url(), settings.current().marts_max_lag_s)
    verdict = "fresh" if passed else f"stale:{metadata['stale_batches']}"
    if verdict == context.cursor:
        return dg.SkipReason(f"marts_fresh unchanged ({verdict})")
    context.update_cursor(verdict)
    return dg.SensorResult(
        asset_events=[
            dg.AssetCheckEvaluation(
                asset_key=MARTS_KEY,
                check_name=FRESH_CHECK,
                passed=passed,
                metadata=metadata,
                severity=dg.AssetCheckSeverity.WARN,
            )
        ]
    )
