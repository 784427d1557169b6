"""Whisper in TensorFlow: a plain library with no Dagster imports.

`Transcriber` turns recordings into timed, per-channel `Segment`s of `Word`s; TensorFlow is imported only when a
Transcriber is built, so importing this package stays cheap.
"""

from asr_assets.asr.audio import SAMPLE_RATE, Audio, load_audio, load_audio_bytes
from asr_assets.asr.errors import AsrError, AudioDecodeError, CheckpointError, UnsupportedAudioError
from asr_assets.asr.transcribe import Transcriber
from asr_assets.asr.types import Segment, TranscriptionOptions, TranscriptionStats, Word
from asr_assets.asr.vad import EnergyVadOptions, VadOptions

__all__ = [
    "SAMPLE_RATE",
    "AsrError",
    "Audio",
    "AudioDecodeError",
    "CheckpointError",
    "EnergyVadOptions",
    "Segment",
    "Transcriber",
    "TranscriptionOptions",
    "TranscriptionStats",
    "UnsupportedAudioError",
    "VadOptions",
    "Word",
    "load_audio",
    "load_audio_bytes",
]
