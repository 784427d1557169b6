"""Spoken-language identification as openai/whisper and faster-whisper do it: the decoder's distribution over the
language tokens after <|startoftranscript|> alone, on the first 30 s window. A call's channels are identified
together (each side's window, probabilities averaged), channels of digital silence left out.

The short prompts of telephone menus are where identification is weakest (a 3 s Spanish prompt can come out as
Portuguese at 0.44, ../shared/notes/models.md): callers route by the language given with the file when there is
one, and treat a guess below their threshold as uncertain rather than as the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asr_assets.asr.audio import Audio
from asr_assets.asr.constants import N_FRAMES, N_SAMPLES
from asr_assets.asr.features import log_mel_spectrogram, pad_or_trim
from asr_assets.asr.transcribe import Transcriber

TOP = 5


@dataclass(frozen=True)
class LanguageGuess:
    language: str  # a Whisper language code
    probability: float
    top: dict[str, float]  # the TOP most likely languages and their probabilities


def detect_language(transcriber: Transcriber, audio: Audio) -> LanguageGuess:
    """The most likely language of `audio` for the transcriber's checkpoint (English for an English-only one)."""
    if not transcriber.checkpoint.is_multilingual:
        return LanguageGuess("en", 1.0, {"en": 1.0})
    tokens = transcriber.checkpoint_tokenizer.language_tokens
    codes = list(tokens)
    n_mels = transcriber.checkpoint.dims.n_mels
    mels = [
        pad_or_trim(log_mel_spectrogram(channel[:N_SAMPLES], n_mels), N_FRAMES)
        for channel in audio.channels
        if np.any(channel)
    ]
    if not mels:
        raise ValueError(
            f"{audio.path or 'the recording'} is digital silence: there is no language to identify"
        )
    encoded = transcriber.runtime.encode(np.stack(mels).astype(np.float32))
    logprobs = transcriber.runtime.language_logprobs(encoded, [tokens[c] for c in codes])
    probs = np.exp(logprobs).mean(axis=0)
    order = np.argsort(-probs)
    return LanguageGuess(
        codes[order[0]], float(probs[order[0]]), {codes[i]: float(probs[i]) for i in order[:TOP]}
    )
