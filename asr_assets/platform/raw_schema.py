"""The asr_raw schema as the migrations (platform/sql/migrations) create it: the tables each batch's load fills,
their columns, and the table recording each batch's load."""

SCHEMA = "asr_raw"
# Columns we load per table, in load order (parents first; deletes run in reverse).
COLUMNS: dict[str, tuple[str, ...]] = {
    "calls": (
        "call_id", "file_name", "source_uri", "partition_key", "duration_s", "sample_rate", "channels",
        "source_format", "size_bytes", "checksum", "model_version", "transcribed_at", "language",
        "language_source", "language_probability", "model_name", "decoding", "suspect_reasons",
    ),
    "channels": (
        "call_id", "channel", "partition_key", "duration_s", "peak_dbfs", "segment_count", "word_count",
    ),
    "segments": (
        "call_id", "channel", "segment_index", "partition_key", "start_s", "end_s", "text", "avg_logprob",
        "no_speech_prob", "compression_ratio", "temperature",
    ),
    "words": (
        "call_id", "channel", "word_index", "segment_index", "partition_key", "word", "start_s", "end_s",
        "probability",
    ),
    "quarantine": (
        "checksum", "file_name", "source_uri", "partition_key", "reason_code", "reason", "size_bytes",
    ),
}  # fmt: skip
TABLES = tuple(COLUMNS)
# Written in the same transaction as the tables above (upsert_batch_load.sql): one row per batch, the load the
# marts follow. An asset of its own (defs/raw_tables.py) so the dbt source that reads it is a node of the graph.
BATCH_LOADS = "batch_loads"
