import dagster as dg

from asr_assets import settings
from asr_assets.defs.dbt import DBT_GROUP

# Every step of a batch run retries (transient storage, database or pod failures): each step rewrites its own
# outputs, so a retry is safe. The default window is 10 + 20 + 40 s; an outage longer than that fails the run and
# the landing sensor requests the batch again later (platform/batch_runs.py).
# ASR_STEP_MAX_RETRIES and ASR_STEP_RETRY_DELAY_S (settings.py), read when the code location loads.
STEP_RETRY = dg.RetryPolicy(
    max_retries=settings.current().step_max_retries,
    delay=settings.current().step_retry_delay_s,
    backoff=dg.Backoff.EXPONENTIAL,
    jitter=dg.Jitter.PLUS_MINUS,
)

# Runs of one lane wait for each other (settings.instance_config): a batch's ingest and a model's evaluation load
# TensorFlow and the model and use every core, so locally one of them runs at a time; the marts lane (defs/marts.py)
# runs beside it.
LANE_TAG = settings.LANE_TAG
REPORTS_GROUP = "reports"
ENGINE_LANE = {LANE_TAG: "engine"}

# raw_audio and what follows it up to the raw tables: the batch's calls transcribed and loaded into asr_raw. The
# dbt models are built by marts_job (defs/marts.py), one coalesced build for every batch loaded since the last.
# (Model evaluation assets are not downstream of raw_audio and stay out of every ingest run.)
ingest_job = dg.define_asset_job(
    "ingest_job",
    # the report pages read the marts: written after the build (batch_reports) or hourly (overall_report)
    selection=dg.AssetSelection.assets("raw_audio").downstream()
    - dg.AssetSelection.groups(DBT_GROUP, REPORTS_GROUP),
    op_retry_policy=STEP_RETRY,
    tags=ENGINE_LANE,
    description="Transcribe one ingest batch and load it: raw_audio -> transcripts -> asr_raw.*.",
)
