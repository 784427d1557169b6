"""The platform on a laptop: `asr-assets ingest DIR` and `asr-assets ui` (commands.py) and what they need."""
