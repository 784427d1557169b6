"""The code location's definitions, one file per concern; `asr_assets.definitions` loads every module here."""
