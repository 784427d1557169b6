import dagster as dg

from asr_assets import settings

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

# Everything downstream of raw_audio: the raw tables and the dbt models that read them run in the batch's run.
# (Model evaluation assets, if any, are not downstream of raw_audio and stay out of every ingest run.)
ingest_job = dg.define_asset_job(
    "ingest_job",
    # overall_report spans batches: rebuilt hourly (report_schedule), not by each batch's run
    selection=dg.AssetSelection.assets("raw_audio").downstream() - dg.AssetSelection.assets("overall_report"),
    op_retry_policy=STEP_RETRY,
    description="Transcribe one ingest batch and load it: raw_audio -> transcripts -> asr_raw.* -> dbt models.",
)
