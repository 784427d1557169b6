"""What a decoding engine takes and returns, shared by the XLA engine (decoding.py) and LiteRT (litert/runtime.py).

Free of TensorFlow so that a LiteRT-only process never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asr_assets.asr.tokenizer import Tokenizer


@dataclass(frozen=True)
class GenerateOptions:
    beam_size: int = 5
    patience: float = 1.0
    length_penalty: float = 1.0
    temperature: float = 0.0  # > 0: sampling with best_of draws per window
    best_of: int = 5
    max_new_tokens: int = 224
    suppress_tokens: tuple[int, ...] = (-1,)  # -1 expands to the checkpoint's suppress_ids
    suppress_blank: bool = True
    without_timestamps: bool = False  # appends <|notimestamps|> to prompts that lack it
    max_initial_timestamp_index: int = 50  # round(max_initial_timestamp 1.0 s / 0.02)
    seed: int = 0  # stateless sampling seed (same seed, same draws); CT2 has no such option


@dataclass(frozen=True)
class GenerationResult:
    tokens: list[int]  # generated ids without eot, timestamps included
    sum_logprob: float
    avg_logprob: float  # faster-whisper's: sum_logprob / (len(tokens) + 1)
    no_speech_prob: float


@dataclass(frozen=True)
class SpecialTokens:
    eot: int
    sot: int
    no_speech: int
    no_timestamps: int
    timestamp_begin: int
    english: int | None  # <|en|> on multilingual models
    transcribe: int

    @classmethod
    def from_tokenizer(cls, tokenizer: Tokenizer) -> SpecialTokens:
        """The ids as tokenizer.json names them (the one source, as in openai/whisper)."""
        return cls(
            eot=tokenizer.eot,
            sot=tokenizer.sot,
            no_speech=tokenizer.no_speech,
            no_timestamps=tokenizer.no_timestamps,
            timestamp_begin=tokenizer.timestamp_begin,
            english=tokenizer.language_tokens.get("en") if tokenizer.multilingual else None,
            transcribe=tokenizer.transcribe,
        )
