"""The asset check that surfaces batches the platform stopped retrying (status given_up), with their errors, on the
registry's batch table asr_raw.ingest_batches.

The landing sensor reports an evaluation whenever a batch's status changes (a batch is given up, or one that was
given up succeeds after an operator re-materialised it), so the UI shows it at once; no batch run has to evaluate
it. It can also be executed from the UI at any time.
"""

from __future__ import annotations

import dagster as dg

from asr_assets.defs.raw_audio import one_line
from asr_assets.defs.resources import LandingZoneResource, PostgresResource
from asr_assets.defs.sql import read_sql

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
