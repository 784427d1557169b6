"""Whisper in TensorFlow: a plain library with no Dagster imports."""
