"""What both the Dagster definitions (defs/) and the laptop commands (local/) stand on: the database (migrations,
loader SQL, the embedded server), the landing registry and batch runs, artifacts, languages, erasure. Nothing here
imports asr_assets.defs or asr_assets.local (docs/layers.md)."""
