"""Which runtime, precision and VAD each transcription mode runs with: decided here, once.

- "batched": faster-whisper's BatchedInferencePipeline rules (batched.py). LiteRT int8 by default (float32 too, or
  the xla engine in float32); its chunks are always cut by the Silero VAD, so a VAD choice does not apply to it.
- "sequential": faster-whisper's long-form transcribe (transcribe.py, rounds.py). The xla engine in float32 only:
  the timestamp rules it needs are not in the LiteRT loop. VAD opt-in: "none" (faster-whisper's default),
  "silero" (the CLI's --vad) or "energy" (the pipeline's; why in WhisperModelResource).

WhisperModelResource (the pipeline), `asr-assets transcribe|eval` (cli.py) and the bench (benchmarks/) build their
Transcriber and TranscriptionOptions from `choose_mode`, and `Mode.decoding` describes what ran from the same Mode
and the options used (the lineage stored with every call, asr_raw.calls.decoding). Transcriber checks the runtime
rules below too, for callers that pick a runtime directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asr_assets.asr.litert.programs import COMPUTE_TYPES
from asr_assets.asr.types import TranscriptionOptions
from asr_assets.asr.vad import EnergyVadOptions, VadOptions

MODES = ("batched", "sequential")
ENGINES = (
    "litert",
    "xla",
)  # the runtimes (runtime.WhisperRuntime): LiteRT programs, or the Keras model on XLA
VADS = ("none", "silero", "energy")  # the sequential mode's silence cut
# COMPUTE_TYPES ("int8", "float32") are the LiteRT programs' (litert/programs.py); XLA computes in float32 only.
__all__ = [
    "COMPUTE_TYPES",
    "ENGINES",
    "MODES",
    "VADS",
    "Mode",
    "check_runtime",
    "check_sequential",
    "choose_mode",
]


@dataclass(frozen=True)
class Mode:
    """One mode's settings, as `choose_mode` decided them."""

    name: str  # one of MODES
    engine: str  # one of ENGINES: Transcriber(engine=...)
    compute_type: str  # one of COMPUTE_TYPES: Transcriber(compute_type=...)
    vad: str  # one of VADS; "silero" for the batched mode (its chunks)

    def options(self, **fields: Any) -> TranscriptionOptions:
        """TranscriptionOptions of this mode; `fields` (language, beam_size, ...) are passed through."""
        if self.name == "batched":  # the mode's own Silero settings come with it (batched.BATCHED_VAD)
            return TranscriptionOptions(batched=True, **fields)
        if self.vad == "none":
            return TranscriptionOptions(**fields)
        detector = EnergyVadOptions() if self.vad == "energy" else VadOptions()
        return TranscriptionOptions(vad=True, vad_options=detector, **fields)

    def decoding(self, options: TranscriptionOptions) -> dict[str, Any]:
        """The settings that shaped a transcript's words, from this Mode (the runtime the Transcriber was built on)
        and the options it transcribed with: what the pipeline stores with every call (asr_raw.calls.decoding)."""
        mode = "batched" if options.batched else "sequential"
        if mode != self.name:
            raise ValueError(
                f"options of the {mode} mode cannot describe a transcription in the {self.name} mode"
            )
        return {
            "mode": mode,
            "engine": self.engine,
            "compute_type": self.compute_type,
            "language": options.language,
            "beam_size": options.beam_size,
            "temperatures": list(options.temperatures[:1] if options.batched else options.temperatures),
            "vad": _vad_name(options),
            "without_timestamps": options.batched or options.without_timestamps,
        }


def choose_mode(
    mode: str, *, compute_type: str | None = None, vad: str | None = None, engine: str | None = None
) -> Mode:
    """The Mode of `mode` ("batched" or "sequential").

    compute_type None: int8 in the batched mode, float32 in the sequential one. vad: the sequential mode's (None:
    "none"); the batched mode always uses Silero. engine None: litert for the batched mode or an int8 compute type,
    else xla. A value outside its choices, or a combination that cannot run, is a ValueError naming it.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if vad is not None and vad not in VADS:
        raise ValueError(f"unknown VAD {vad!r}; choose one of {', '.join(VADS)}")
    batched = mode == "batched"
    compute_type = compute_type or ("int8" if batched else "float32")
    engine = engine or ("litert" if batched or compute_type == "int8" else "xla")
    check_runtime(engine, compute_type)
    if not batched:
        check_sequential(engine)
    return Mode(mode, engine, compute_type, "silero" if batched else vad or "none")


def check_runtime(engine: str, compute_type: str) -> None:
    """Refuse an engine or compute type that does not exist, or a pair that does not (XLA is float32 only)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "xla" and compute_type != "float32":
        raise ValueError(
            f"the xla engine computes in float32 only; use engine='litert' for compute type {compute_type!r}"
        )
    if compute_type not in COMPUTE_TYPES:
        raise ValueError(f"unknown compute type {compute_type!r}; choose one of {', '.join(COMPUTE_TYPES)}")


def check_sequential(engine: str) -> None:
    """The sequential mode needs Whisper's timestamp rules, which only the XLA runtime has."""
    if engine != "xla":
        raise ValueError(
            "sequential decoding (timestamps, previous-text prompts, temperature fallback) runs on the xla "
            f"engine only, not on {engine!r}; use the batched mode (TranscriptionOptions(batched=True)) or the xla "
            "engine"
        )


def _vad_name(options: TranscriptionOptions) -> str:
    """The detector that cut silence in a run with these options (batched.py: Silero unless given another)."""
    if not options.batched and not options.vad:
        return "none"
    return "energy" if isinstance(options.vad_options, EnergyVadOptions) else "silero"
