"""The XLA runtime: the Keras model's compiled programs (decoding.WhisperEngine for encoder and decoding,
alignment.Aligner for the forced pass) behind runtime.WhisperRuntime. float32 only, and the one runtime with
Whisper's timestamp rules, which the sequential mode needs.

It imports TensorFlow: Transcriber imports this module only when it is built on engine "xla".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from asr_assets.asr.alignment import Aligner
from asr_assets.asr.checkpoints import Checkpoint
from asr_assets.asr.decoding import WhisperEngine
from asr_assets.asr.decoding_types import GenerateOptions, GenerationResult


class XlaRuntime:
    """One checkpoint's WhisperEngine and its Aligner; build one per process (it owns the compiled programs)."""

    def __init__(self, checkpoint: Checkpoint, weights: dict[str, np.ndarray]):
        self.engine = WhisperEngine(checkpoint, weights)
        self.aligner = Aligner(self.engine)

    def encode(self, mel: np.ndarray) -> tf.Tensor:
        return self.engine.encode(mel)

    @staticmethod
    def select(encoded: tf.Tensor, rows: Sequence[int]) -> tf.Tensor:
        return tf.gather(encoded, list(rows))

    def generate(
        self, encoded: tf.Tensor, prompts: list[list[int]], options: GenerateOptions
    ) -> list[GenerationResult]:
        return self.engine.generate(encoded, prompts, options)

    def align(
        self, encoded: tf.Tensor, text_tokens: list[list[int]], *, sot_sequence: Sequence[int] | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        return self.aligner.align(encoded, text_tokens, sot_sequence=sot_sequence)

    def language_logprobs(self, encoded: tf.Tensor, candidates: Sequence[int]) -> np.ndarray:
        """The prefill's logits at <|startoftranscript|> (WhisperEngine.sot_logits), log-softmax over candidates."""
        logits = self.engine.sot_logits(encoded)[:, list(candidates)].astype(np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
