"""batch_report: the report page of each ingest batch (asr_assets/report_page.py), written to the artifact store
as reports/<batch>.html beside reports/plotly.min.js, and linked from the materialisation's metadata. The page reads
the marts, so it is written after the build that put the batch there: marts_job's batch_reports step writes the
page of every batch its build picked up and records each as a materialisation of that batch_report partition
(materialising one partition from the UI writes it again);
overall_report: the same page over the latest batches, reports/index.html, rebuilt hourly by report_schedule (and
on demand from the UI), not in every batch's run.

`asr-assets report [--open]` writes the overall page locally.
"""

import dagster as dg
import fsspec

from asr_assets import report_page
from asr_assets.defs.partitions import OWNERS, ingest_batches
from asr_assets.defs.resources import ArtifactStoreResource, PostgresResource
from asr_assets.platform.artifacts import REPORTS

# What a report page reads: the marts (redacted) and the quarantine's reason codes.
REPORT_DEPS = [
    dg.AssetKey(["asr_marts", "fct_calls"]),
    dg.AssetKey(["asr_marts", "fct_words"]),
    dg.AssetKey(["asr_raw", "quarantine"]),
]


@dg.asset(
    partitions_def=ingest_batches,
    deps=REPORT_DEPS,
    group_name="reports",
    kinds={"html", "plotly"},
    owners=OWNERS,
    code_version="1",
    description="The batch's report page: talk time agent vs customer, silence and overlap per call, word "
    "confidence, quarantine reasons, audio per batch, model versions, and the calls (redacted names); offline.",
)
def batch_report(
    context: dg.AssetExecutionContext, postgres: PostgresResource, artifacts: ArtifactStoreResource
) -> dg.MaterializeResult:
    key = context.partition_key
    return _write_report(postgres, artifacts, key, f"Ingest batch {key}", f"{key}.html")


def _write_report(postgres, artifacts, key, title: str, name: str) -> dg.MaterializeResult:
    with postgres.connect() as conn:
        data = report_page.report_data(conn, key)
    page = report_page.render(data, title)
    fs, script = fsspec.core.url_to_fs(artifacts.uri(REPORTS, report_page.PLOTLY_JS))
    if not fs.exists(script):
        artifacts.write_bytes(report_page.plotly_js(), REPORTS, report_page.PLOTLY_JS)
    uri = artifacts.write_bytes(page.encode(), REPORTS, name)
    calls = data["calls"]
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(uri),
            "calls": len(calls),
            "suspect_calls": int(calls["is_suspect"].sum()) if len(calls) else 0,
            "quarantined": int(data["quarantine"]["files"].sum()),
        }
    )


class BatchReportsConfig(dg.Config):
    partition_keys: list[str] = []  # the batches the marts build picked up (marts_sensor's request)


@dg.asset(
    deps=REPORT_DEPS,
    group_name="reports",
    kinds={"html", "plotly"},
    owners=OWNERS,
    code_version="1",
    description="The report page of every batch a marts build picked up (each recorded as its batch_report "
    "partition), written after the build in marts_job.",
)
def batch_reports(
    context: dg.AssetExecutionContext,
    config: BatchReportsConfig,
    postgres: PostgresResource,
    artifacts: ArtifactStoreResource,
) -> dg.MaterializeResult:
    for key in config.partition_keys:
        written = _write_report(postgres, artifacts, key, f"Ingest batch {key}", f"{key}.html")
        context.log_event(dg.AssetMaterialization(batch_report.key, partition=key, metadata=written.metadata))
    return dg.MaterializeResult(metadata={"batches": len(config.partition_keys)})


@dg.asset(
    deps=REPORT_DEPS,
    group_name="reports",
    kinds={"html", "plotly"},
    owners=OWNERS,
    code_version="1",
    description=f"The report page over the latest {report_page.OVERALL_BATCHES} batches (reports/index.html): the "
    "batch report's charts across batches, with audio per batch.",
)
def overall_report(postgres: PostgresResource, artifacts: ArtifactStoreResource) -> dg.MaterializeResult:
    return _write_report(postgres, artifacts, None, "Latest ingest batches", "index.html")


report_job = dg.define_asset_job(
    "report_job", selection=[overall_report], description="Rebuild the overall report."
)
report_schedule = dg.ScheduleDefinition(
    job=report_job, cron_schedule="0 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)
