"""asr-assets: call recordings to word-level transcripts in PostgreSQL, as Dagster assets."""

__version__ = "0.1.0"
