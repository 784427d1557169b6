"""The engine's public types: what a transcription takes (TranscriptionOptions) and returns (Segment, Word), and
where its time went (TranscriptionStats). Plain frozen dataclasses, free of TensorFlow and of any runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from asr_assets.asr.vad import EnergyVadOptions, VadOptions

Progress = Callable[[float], None]  # receives audio seconds done since the last call


@dataclass(frozen=True)
class Word:
    start: float  # seconds from the start of the recording
    end: float
    word: str  # with its leading space, as Whisper writes it
    probability: float  # mean probability of its tokens in the forced alignment pass


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    channel: int
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float = 0.0


@dataclass(frozen=True)
class TranscriptionOptions:
    """faster-whisper's `transcribe` defaults, except word timestamps on and the per-channel VAD."""

    # The spoken language (a Whisper code: "en", "fr", "es", ...): its token starts every decoder prompt and the
    # forced alignment. An English-only checkpoint (tiny.en) takes "en" only; a multilingual one any of its own.
    language: str = "en"
    beam_size: int = 5
    best_of: int = 5
    patience: float = 1.0
    length_penalty: float = 1.0
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    condition_on_previous_text: bool = True
    prompt_reset_on_temperature: float = 0.5
    initial_prompt: str | None = None
    suppress_blank: bool = True
    suppress_tokens: tuple[int, ...] = (-1,)
    without_timestamps: bool = False
    max_initial_timestamp: float = 1.0
    max_new_tokens: int | None = None
    word_timestamps: bool = True
    prepend_punctuations: str = "\"'“¿([{-"
    append_punctuations: str = "\"'.。,，!！?？:：”)]}、"
    # Cut long silences per channel before the encoder (vad.py). Off by default: why is in BENCHMARKS.md ("Silero
    # VAD"). EnergyVadOptions selects the energy detector, which the pipeline uses.
    vad: bool = False
    vad_options: VadOptions | EnergyVadOptions = VadOptions()
    batch_size: int = 8  # windows per encoder/decoder/alignment batch, across files and channels
    # faster-whisper's BatchedInferencePipeline rules (batched.py): VAD chunks of <= 30 s, no timestamps, no
    # previous text, the first temperature only. vad/vad_options/min_piece_s are the sequential mode's.
    batched: bool = False
    overlap_front_end: bool = True  # batched mode: VAD + features of the next chunks in a background thread
    min_piece_s: float = 60.0  # VAD only: shortest run of speech decoded as its own stream (see _streams)


@dataclass
class TranscriptionStats:
    """Wall seconds per stage, summed over calls; the bench reads these to show where time goes."""

    front_end_s: float = 0.0  # VAD + log-mel
    encoder_s: float = 0.0
    decoder_s: float = 0.0  # generate(), fallbacks included
    alignment_s: float = 0.0  # forced pass + DTW + word post-processing
    windows: int = 0
    decoded_rows: int = 0  # windows x temperatures actually decoded
    skipped_no_speech: int = 0
    channel_s: float = 0.0  # audio seconds per channel, summed
    speech_s: float = 0.0  # of which kept by the VAD (equal to channel_s without VAD)

    def as_dict(self) -> dict[str, float]:
        return {
            "front_end": self.front_end_s,
            "encoder": self.encoder_s,
            "decoder": self.decoder_s,
            "alignment": self.alignment_s,
            "windows": self.windows,
            "decoded_rows": self.decoded_rows,
            "skipped_no_speech": self.skipped_no_speech,
            "channel_s": self.channel_s,
            "speech_s": self.speech_s,
        }
