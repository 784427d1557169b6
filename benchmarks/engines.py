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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asr_assets.asr.cli import file_result, transcribe_files
from asr_assets.asr.modes import ENGINES as OUR_RUNTIMES
from asr_assets.asr.modes import Mode, choose_mode
from asr_assets.asr.types import Progress

ENGINES = ("ours", "faster-whisper")
RUNTIMES = OUR_RUNTIMES  # ours only: "litert", "xla" (asr/modes.py)


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
    # The spoken language given to both engines (other than en needs a multilingual model, e.g. base).
    language: str = "en"

    @property
    def mode(self) -> str:
        return "batched" if self.batched else "sequential"

    def engine_mode(self) -> Mode:
        """Ours: the engine's Mode of this setting (asr/modes.py), as `asr-assets transcribe` builds it from the
        same options (vad is the Silero VAD of the sequential mode)."""
        vad = None if self.vad is None else "silero" if self.vad else "none"
        return choose_mode(self.mode, compute_type=self.compute_type, vad=vad, engine=self.runtime)

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
        if self.language != "en":
            args += ["--language", self.language]
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
        mode = config.engine_mode()
        self.transcriber = Transcriber(config.model_path, engine=mode.engine, compute_type=mode.compute_type)
        self.model_version = self.transcriber.model_version

    def options(self):
        return self.config.engine_mode().options(
            beam_size=self.config.beam_size, word_timestamps=True, language=self.config.language
        )

    def run(self, paths: Sequence[str | Path], progress: Progress | None = None) -> EngineRun:
        return EngineRun(*transcribe_files(self.transcriber, paths, self.options(), progress))


CT2_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")


def ct2_directory(model: str | Path | None) -> tuple[Path, str]:
    """(a CTranslate2 folder faster-whisper can load, the model version ours records) for `model`: a folder, a
    catalog name ("tiny.en", "base") or None (the bundled tiny.en), resolved as ours resolves it
    (`asr_assets.asr.checkpoints.locate_checkpoint`).

    A split checkpoint (base: model.bin.part1 + part2) is reassembled into the model cache as ours does, and
    faster-whisper gets a folder of links outside the repository (in the temp dir) holding that model.bin next to
    the checkpoint's config and tokenizer files: the same bytes ours converts.
    """
    import tempfile

    from asr_assets.asr.checkpoints import locate_checkpoint, model_cache_dir
    from asr_assets.asr.checkpoints.cache import reassemble

    root, fmt, files, version = locate_checkpoint(model)
    if fmt != "ct2":
        raise ValueError(f"{root} is a {fmt} checkpoint; faster-whisper needs a CTranslate2 one (model.bin)")
    if (root / "model.bin").is_file():
        return root, version
    model_bin = reassemble(files, model_cache_dir(), version)
    folder = Path(tempfile.gettempdir()) / f"asr-benchmarks-ct2-{version[:16]}"
    folder.mkdir(exist_ok=True)
    links = {"model.bin": model_bin} | {n: root / n for n in CT2_FILES if (root / n).exists()}
    for name, source in links.items():
        link = folder / name
        if link.is_symlink() and link.resolve() == source.resolve():
            continue
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(source.resolve())
        os.replace(tmp, link)
    return folder, version


class FasterWhisperEngine:
    """faster-whisper on the same weights, one channel at a time (its API takes mono 16 kHz arrays)."""

    def __init__(self, config: EngineConfig):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.config = config
        directory, self.model_version = ct2_directory(config.model_path)
        self.model = WhisperModel(
            str(directory), device="cpu", compute_type=config.compute_type, cpu_threads=os.cpu_count() or 0
        )
        self.pipeline = BatchedInferencePipeline(self.model) if config.batched else None

    def transcribe_channel(self, samples) -> list[Any]:
        kwargs: dict[str, Any] = {
            "language": self.config.language,
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
