"""The two engines the bench compares, behind one small interface.

`tf` is ours (`asr_assets.asr.transcribe.Transcriber`). `faster-whisper` is the reference, a dev dependency
only. Both get the same waveform per channel (our decoder and resampler, 16 kHz mono float32), the same weights
(the CTranslate2 directory) and the same options, so differences come from the engines. Both produce the JSON
objects `asr-assets transcribe` prints (`asr_assets.asr.cli.file_result`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from asr_assets.asr.cli import file_result, transcribe_files
from asr_assets.asr.transcribe import Progress

ENGINES = ("tf", "faster-whisper")


@dataclass(frozen=True)
class EngineConfig:
    engine: str = "tf"  # "tf" | "faster-whisper"
    beam_size: int = 5
    model_path: str | None = None  # None: the bundled tiny.en
    compute_type: str = "float32"  # faster-whisper only: "float32" (same math as ours) or "int8"
    batched: bool = False  # faster-whisper only: BatchedInferencePipeline (Silero VAD + batches of chunks)
    vad: bool | None = None  # tf only: None keeps TranscriptionOptions' default

    @property
    def label(self) -> str:
        if self.engine == "tf":
            vad = "" if self.vad is None else ("-vad" if self.vad else "-novad")
            return f"tf{vad}-beam{self.beam_size}"
        return f"fw-{self.compute_type}{'-batched' if self.batched else ''}-beam{self.beam_size}"


@dataclass
class EngineRun:
    """Everything one engine produced on a list of files, plus where its time went."""

    results: list[dict[str, Any]]
    wall_s: float
    audio_s: float
    stage_s: dict[str, float] = field(default_factory=dict)


class TfEngine:
    """Our TensorFlow Whisper: windows of all files and channels are batched together."""

    def __init__(self, config: EngineConfig):
        from asr_assets.asr.transcribe import Transcriber

        self.config = config
        self.transcriber = Transcriber(config.model_path)
        self.model_version = self.transcriber.model_version

    def options(self):
        from asr_assets.asr.transcribe import TranscriptionOptions

        options = TranscriptionOptions(beam_size=self.config.beam_size, word_timestamps=True)
        return options if self.config.vad is None else replace(options, vad=self.config.vad)

    def run(self, paths: Sequence[str | Path], progress: Progress | None = None) -> EngineRun:
        return EngineRun(*transcribe_files(self.transcriber, paths, self.options(), progress))


class FasterWhisperEngine:
    """faster-whisper on the same weights, one channel at a time (its API takes mono 16 kHz arrays)."""

    def __init__(self, config: EngineConfig):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        from asr_assets.asr.checkpoints import default_model_path
        from asr_assets.hashing import sha256_file

        self.config = config
        directory = Path(config.model_path) if config.model_path else default_model_path()
        self.model = WhisperModel(
            str(directory), device="cpu", compute_type=config.compute_type, cpu_threads=os.cpu_count() or 0
        )
        self.pipeline = BatchedInferencePipeline(self.model) if config.batched else None
        self.model_version = sha256_file(directory / "model.bin")

    def transcribe_channel(self, samples) -> list[Any]:
        kwargs: dict[str, Any] = {
            "language": "en",
            "beam_size": self.config.beam_size,
            "word_timestamps": True,
        }
        if self.pipeline is not None:
            segments, _ = self.pipeline.transcribe(samples, batch_size=8, **kwargs)
        else:
            segments, _ = self.model.transcribe(samples, **kwargs)
        return list(segments)

    def run(self, paths: Sequence[str | Path], progress: Progress | None = None) -> EngineRun:
        from asr_assets.asr.audio import load_audio

        start = time.perf_counter()
        results, audio_s = [], 0.0
        for path in paths:
            audio = load_audio(path)
            channels = [self.transcribe_channel(ch) for ch in audio.channels]
            results.append(file_result(str(path), audio.duration_s, self.model_version, channels))
            audio_s += audio.duration_s
            if progress:
                progress(audio.duration_s)
        return EngineRun(results, time.perf_counter() - start, audio_s)


def load_engine(config: EngineConfig) -> TfEngine | FasterWhisperEngine:
    if config.engine == "tf":
        return TfEngine(config)
    if config.engine == "faster-whisper":
        return FasterWhisperEngine(config)
    raise ValueError(f"unknown engine {config.engine!r}; choose one of {', '.join(ENGINES)}")
