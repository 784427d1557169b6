"""The interface the transcription code drives a Whisper network through, whichever runtime runs it.

Two runtimes implement it: `xla_runtime.XlaRuntime` (the Keras model compiled by XLA, float32; it has the timestamp
rules the sequential mode needs) and `litert.runtime.LiteRtEngine` (LiteRT int8 / float32 programs, no TensorFlow).
modes.py decides which one a mode runs on; Transcriber, rounds.py, batched.py and language.py call only the methods
below. Free of TensorFlow, so that a LiteRT-only process never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeAlias

import numpy as np

from asr_assets.asr.decoding_types import GenerateOptions, GenerationResult

# What `encode` returns, in the runtime's own form: a (windows, 1500, d) tf.Tensor on XLA, the decoder layers'
# cross-attention keys and values (numpy arrays) on LiteRT. Callers only hand it back to the runtime that made it.
Encoded: TypeAlias = Any

# Forced-pass lengths: [*sot_sequence, <|notimestamps|>, *text, eot] is right-padded to the next bucket. One tuple
# per runtime, because a bucket costs something different on each:
# - XLA (alignment.Aligner): every (windows, length) bucket is its own program, compiled on first use (seconds) and
#   kept with its buffers for the life of the process; a bucket of 16 serves windows with a few words of text.
# - LiteRT (litert/runtime.py): align.tflite is one program with dynamic shapes, run one window at a time; a bucket
#   is only the shape the interpreter is resized to (allocation, and XNNPACK's 1-1.8 s set-up when it grows past
#   its largest shape so far), so fewer sizes mean fewer resizes. What gets exported does not depend on them.
# Each was chosen when its runtime was written (b64c72b, 35a341d); no commit or note says why LiteRT starts at 32.
# They stay as they are: another bucket runs the forced pass at other shapes, which can move its float results.
XLA_ALIGN_BUCKETS = (16, 32, 64, 128, 256, 448)
LITERT_ALIGN_BUCKETS = (32, 64, 128, 256, 448)


class WhisperRuntime(Protocol):
    """A Whisper network on one runtime: encoder, decoding, forced pass and language identification.

    Arguments before `/` are positional: the runtimes name them after their own representations (mel, cross, ...).
    """

    def encode(self, mel: np.ndarray, /) -> Encoded:
        """mel (windows, n_mels, 3000) float32 log-mel -> the windows' encoder output."""
        ...

    def select(self, encoded: Encoded, rows: Sequence[int], /) -> Encoded:
        """The encoder output of `rows` (in that order)."""
        ...

    def generate(
        self, encoded: Encoded, prompts: list[list[int]], options: GenerateOptions, /
    ) -> list[GenerationResult]:
        """One result per window (CTranslate2's rules, decoding.py); each prompt holds <|startoftranscript|>."""
        ...

    def align(
        self, encoded: Encoded, text_tokens: list[list[int]], /, *, sot_sequence: Sequence[int] | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per window (alignment heads' pre-softmax cross-attention scores, text token probabilities + a trailing 0)
        of the forced pass over [*sot_sequence, <|notimestamps|>, *text, eot] (alignment.Aligner.align)."""
        ...

    def language_logprobs(self, encoded: Encoded, candidates: Sequence[int], /) -> np.ndarray:
        """(windows, len(candidates)) log-probs of the token after <|startoftranscript|> alone, normalised over
        `candidates` (the language tokens), as openai/whisper's detect_language defines them."""
        ...
