import dagster as dg

# One partition per ingest batch: a bounded group of landed calls (see sensors.py for the sizing).
ingest_batches = dg.DynamicPartitionsDefinition(name="ingest_batches")

# Who to call about the ingest and model assets (shown in the UI next to each asset).
OWNERS = ["team:asr-platform"]
