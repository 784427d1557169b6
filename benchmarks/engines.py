"""The two engines the bench compares, behind one small interface, and the bench's engine settings.

`ours` is `asr_assets.asr.transcribe.Transcriber` (runtime `litert` or `xla`). `faster-whisper` is the
reference, a dev dependency only. Both get the same waveform per channel (our decoder and resampler, 16 kHz mono
float32), the same weights (the CTranslate2 directory) and the same options, so differences come from the
engines. Both produce the JSON objects `asr-assets transcribe` prints (`asr_assets.asr.cli.file_result`).
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

ENGINES = ("ours", "faster-whisper")
RUNTIMES = ("litert", "xla")  # ours only


@dataclass(frozen=True)
class EngineConfig:
    engine: str = "ours"  # "ours" | "faster-whisper"
    beam_size: int = 5
    model_path: str | None = None  # None: the bundled tiny.en
    compute_type: str = "float32"  # "float32" | "int8" (ours: int8 on the litert runtime only)
    batched: bool = (
        False  # BatchedInferencePipeline rules (Silero VAD chunks <= 30 s, no timestamps, batches of 8)
    )
    runtime: str = "xla"  # ours only: "litert" (TensorFlow Lite programs) | "xla" (TensorFlow, float32)
    vad: bool | None = None  # ours, sequential mode only: None keeps TranscriptionOptions' default

    @property
    def mode(self) -> str:
        return "batched" if self.batched else "sequential"

    @property
    def group(self) -> str:
        """The setting's name without the beam size: `ours-litert-int8-batched`, `fw-float32`."""
        if self.engine == "ours":
            vad = "" if self.vad is None or self.batched else ("-vad" if self.vad else "-novad")
            return f"ours-{self.runtime}-{self.compute_type}-{self.mode}{vad}"
        return f"fw-{self.compute_type}{'-batched' if self.batched else ''}"

    @property
    def label(self) -> str:
        return f"{self.group}-beam{self.beam_size}"

    def transcribe_args(self) -> list[str]:
        """The options of `asr-assets transcribe` (ours) or `python -m benchmarks _fw_transcribe` (faster-whisper)
        for this setting, files not included."""
        args = ["--compute-type", self.compute_type, "--beam-size", str(self.beam_size)]
        if self.model_path:
            args += ["--model", self.model_path]
        if self.engine == "ours":
            args += ["--mode", self.mode, "--engine", self.runtime]
            if self.vad is not None and not self.batched:
                args.append("--vad" if self.vad else "--no-vad")
        elif self.batched:
            args.append("--batched")
        return args


# The bench's engine settings, keyed by `EngineConfig.group`; each runs in its own subprocess.
# ours-litert-int8-batched is the product's default (`asr-assets transcribe`); ours-xla-float32-sequential is the
# old TensorFlow path (faster-whisper's long-form transcribe, token for token: the like-for-like of fw-float32),
# -vad the same with the Silero VAD. fw-int8-batched is faster-whisper's fastest CPU setting (int8 weights,
# BatchedInferencePipeline): the peer every setting of ours is compared with.
_SETTINGS = (
    EngineConfig(runtime="litert", compute_type="int8", batched=True),
    EngineConfig(runtime="litert", compute_type="float32", batched=True),
    EngineConfig(runtime="xla", compute_type="float32"),
    EngineConfig(runtime="xla", compute_type="float32", vad=True),
    EngineConfig(engine="faster-whisper", compute_type="int8", batched=True),
    EngineConfig(engine="faster-whisper", compute_type="float32"),
)
GROUPS = {c.group: c for c in _SETTINGS}
PEER = "fw-int8-batched"
SAME_MATH = "fw-float32"


@dataclass
class EngineRun:
    """Everything one engine produced on a list of files, plus where its time went."""

    results: list[dict[str, Any]]
    wall_s: float
    audio_s: float
    stage_s: dict[str, float] = field(default_factory=dict)


class OursEngine:
    """Our Whisper (LiteRT or XLA runtime): windows of all files and channels are batched together."""

    def __init__(self, config: EngineConfig):
        from asr_assets.asr.transcribe import Transcriber

        self.config = config
        self.transcriber = Transcriber(
            config.model_path, engine=config.runtime, compute_type=config.compute_type
        )
        self.model_version = self.transcriber.model_version

    def options(self):
        from asr_assets.asr.transcribe import TranscriptionOptions

        options = TranscriptionOptions(
            beam_size=self.config.beam_size, word_timestamps=True, batched=self.config.batched
        )
        if self.config.vad is None or self.config.batched:
            return options
        return replace(options, vad=self.config.vad)

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

    def transcribe_file(self, path: str | Path) -> dict[str, Any]:
        from asr_assets.asr.audio import load_audio

        audio = load_audio(path)
        channels = [self.transcribe_channel(ch) for ch in audio.channels]
        return file_result(str(path), audio.duration_s, self.model_version, channels)

    def run(self, paths: Sequence[str | Path], progress: Progress | None = None) -> EngineRun:
        start = time.perf_counter()
        results, audio_s = [], 0.0
        for path in paths:
            result = self.transcribe_file(path)
            results.append(result)
            audio_s += result["duration"]
            if progress:
                progress(result["duration"])
        return EngineRun(results, time.perf_counter() - start, audio_s)


def load_engine(config: EngineConfig) -> OursEngine | FasterWhisperEngine:
    if config.engine == "ours":
        return OursEngine(config)
    if config.engine == "faster-whisper":
        return FasterWhisperEngine(config)
    raise ValueError(f"unknown engine {config.engine!r}; choose one of {', '.join(ENGINES)}")
