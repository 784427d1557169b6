"""The sizes of a Whisper network, free of TensorFlow so a LiteRT-only process can read them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelDimensions:
    """openai/whisper's ModelDimensions; asr_assets.asr.checkpoints reads them off the weights' shapes."""

    n_mels: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_vocab: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int
