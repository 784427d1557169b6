"""What a decoding engine takes and returns, shared by the XLA engine (decoding.py) and LiteRT (litert/runtime.py).

Free of TensorFlow so that a LiteRT-only process never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from asr_assets.asr.checkpoints import Checkpoint
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


def suppress_masks(checkpoint: Checkpoint, options: GenerateOptions) -> tuple[np.ndarray, np.ndarray]:
    """(suppressed at every step, suppressed at the first step only) as boolean masks over the vocabulary.

    -1 in suppress_tokens expands to the checkpoint's suppress_ids; the first-step ids are suppress_blank's.
    """
    v = checkpoint.dims.n_vocab
    suppress = np.zeros(v, bool)
    for i in options.suppress_tokens:
        if i == -1:
            suppress[list(checkpoint.suppress_ids)] = True
        elif 0 <= i < v:
            suppress[i] = True
    begin = np.zeros(v, bool)
    if options.suppress_blank:
        begin[[i for i in checkpoint.suppress_ids_begin if 0 <= i < v]] = True
    return suppress, begin
