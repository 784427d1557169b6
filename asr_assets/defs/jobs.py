import dagster as dg

# Everything downstream of raw_audio: the raw tables and the dbt models that read them run in the batch's run.
# (Model evaluation assets, if any, are not downstream of raw_audio and stay out of every ingest run.)
ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets("raw_audio").downstream(),
    description="Transcribe one ingest batch and load it: raw_audio -> transcripts -> asr_raw.* -> dbt models.",
)
