"""Long-form transcription of whole recordings, batched across files and channels.

Per (file, channel) stream this follows faster-whisper 1.2.1 `WhisperModel.generate_segments` (docs/engine.md):
log-mel once per channel (the checkpoint's n_mels bins), 30 s windows from `seek`, the previous text as prompt,
temperature fallback on compression ratio / average log-prob, the no-speech skip, segments cut at timestamp
pairs, word timestamps from the alignment heads and the word-based seek rule. The difference is the
schedule: each round takes the current window of up to `batch_size` live streams and runs encoder, decoder and
alignment once for all of them (the decoder's cost per step is dominated by reading the vocabulary projection,
whatever the batch). Only the rows that fail a threshold are decoded again at the next temperature.

This module builds the runtime (runtime.py; which one a mode uses is modes.py's decision) and schedules the streams;
one round over their windows is rounds.py, and `TranscriptionOptions(batched=True)` hands the whole batch to
batched.py instead. With `vad=True` (opt-in) each channel's long silences are cut first (vad.py) and times mapped
back afterwards, as faster-whisper does with `vad_filter=True`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asr_assets.asr.audio import Audio, load_audio
from asr_assets.asr.batched import transcribe_batched
from asr_assets.asr.checkpoints import load_checkpoint
from asr_assets.asr.constants import SAMPLE_RATE
from asr_assets.asr.features import log_mel_spectrogram
from asr_assets.asr.litert.programs import ensure_programs
from asr_assets.asr.litert.runtime import LiteRtEngine
from asr_assets.asr.modes import check_runtime, check_sequential
from asr_assets.asr.rounds import Stream, WindowDecoder
from asr_assets.asr.runtime import WhisperRuntime
from asr_assets.asr.segments import restore_times
from asr_assets.asr.tokenizer import Tokenizer
from asr_assets.asr.types import Progress, Segment, TranscriptionOptions, TranscriptionStats, Word
from asr_assets.asr.vad import SpeechMap, collect_speech, speech_regions

# The public types' home is types.py; importing them from here keeps working (`asr_assets.asr` re-exports them too).
__all__ = [
    "Progress",
    "Segment",
    "Transcriber",
    "TranscriptionOptions",
    "TranscriptionStats",
    "Word",
]

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = TranscriptionOptions()  # faster-whisper's defaults (frozen, so one shared instance is safe)


class Transcriber:
    """Whisper in TensorFlow over whole recordings. One per process: it owns the compiled model."""

    def __init__(
        self, model_path: str | Path | None = None, *, engine: str = "xla", compute_type: str = "float32"
    ):
        """engine "xla": the Keras model compiled by XLA (float32; both modes, faster-whisper parity).
        engine "litert": LiteRT programs of compute type "int8" or "float32" (batched mode only), with no
        TensorFlow in the process once the programs are cached (litert/programs.py)."""
        check_runtime(engine, compute_type)
        self.runtime: WhisperRuntime
        if engine == "litert":
            checkpoint, directory = ensure_programs(model_path, compute_type)
            self.runtime = LiteRtEngine(checkpoint, directory)
        else:
            # Imported only when chosen: it brings TensorFlow, which a LiteRT process never loads.
            from asr_assets.asr.xla_runtime import XlaRuntime

            checkpoint, weights = load_checkpoint(model_path)
            self.runtime = XlaRuntime(checkpoint, weights)
        self.engine_name, self.compute_type = engine, compute_type
        self.checkpoint = checkpoint
        self.model_version = checkpoint.version
        # The checkpoint's tokenizer as loaded: every language's tokens (`language_tokens`), English in its start
        # sequence. `tokenizer` is the one of the batch being transcribed, derived from it per batch (use_language).
        self.checkpoint_tokenizer = Tokenizer.from_file(
            checkpoint.tokenizer_file,
            multilingual=checkpoint.is_multilingual,
            task="transcribe",
            language="en",
        )
        self.tokenizer = self.checkpoint_tokenizer
        self.stats = TranscriptionStats()

    def use_language(self, language: str) -> None:
        """Make `language` the one every prompt and alignment of the next batch carries."""
        if not self.checkpoint.is_multilingual:
            if language != "en":
                raise ValueError(
                    f"{self.checkpoint.path} is an English-only checkpoint and cannot transcribe {language!r}; use a "
                    "multilingual one (model 'base')"
                )
            self.tokenizer = self.checkpoint_tokenizer
            return
        self.tokenizer = self.checkpoint_tokenizer.with_language(language)

    def reset_stats(self) -> None:
        self.stats = TranscriptionStats()

    def transcribe(
        self, audio: Audio | str | Path, options: TranscriptionOptions = DEFAULT_OPTIONS
    ) -> list[Segment]:
        """All channels of one recording; each Segment carries its channel, times are from the start."""
        return self.transcribe_batch([audio], options)[0]

    def transcribe_batch(
        self,
        audios: Sequence[Audio | str | Path],
        options: TranscriptionOptions = DEFAULT_OPTIONS,
        progress: Progress | None = None,
    ) -> list[list[Segment]]:
        """Like `transcribe` for each file, with windows batched across files and channels.

        Returns one list per input, segments sorted by (start, channel).
        """
        loaded = [a if isinstance(a, Audio) else load_audio(a) for a in audios]
        self.use_language(options.language)
        decoder = WindowDecoder(self.runtime, self.tokenizer, self.stats)
        if options.batched:
            return transcribe_batched(decoder, self.checkpoint.dims.n_mels, loaded, options, progress)
        check_sequential(self.engine_name)
        streams = self._streams(loaded, options)
        pending = list(streams)  # not started yet, in input order
        live: list[Stream] = []
        while pending or live:
            while pending and len(live) < options.batch_size:
                stream = pending.pop(0)
                self._prepare(stream, options)
                if stream.done:
                    self._finish(stream, progress)
                else:
                    live.append(stream)
            if not live:
                continue
            decoder.decode_round(live, options)
            for stream in [s for s in live if s.done]:
                live.remove(stream)
                self._finish(stream, progress)
            if progress:
                for stream in live:
                    self._report(stream, progress)
        out: list[list[Segment]] = [[] for _ in loaded]
        for stream in streams:
            out[stream.file].extend(stream.segments)
        return [sorted(segs, key=lambda s: (s.start, s.channel)) for segs in out]

    # --- streams: one per channel, or per piece of a channel's speech -----------------------------------

    def _streams(self, audios: list[Audio], options: TranscriptionOptions) -> list[Stream]:
        """One stream per channel; with the VAD, a channel's speech is cut at long silences into pieces that
        are decoded as independent streams, so that even a single long call fills the batch.

        Pieces hold at least `min_piece_s` of speech, more when there is enough work to fill the batch anyway;
        each starts without a previous-text prompt (as after any prompt reset).
        """
        start = time.perf_counter()
        channels = [(i, c, a.channels[c]) for i, a in enumerate(audios) for c in range(a.channels.shape[0])]
        self.stats.channel_s += sum(len(x) for _, _, x in channels) / SAMPLE_RATE
        if not options.vad:
            return [Stream(i, c, x, len(x) / SAMPLE_RATE) for i, c, x in channels]
        regions = [speech_regions(x, options.vad_options) for _, _, x in channels]
        total_speech_s = sum(e - s for r in regions for s, e in r) / SAMPLE_RATE
        piece_s = max(options.min_piece_s, total_speech_s / options.batch_size)
        streams = []
        for (i, c, x), channel_regions in zip(channels, regions, strict=True):
            duration_s = len(x) / SAMPLE_RATE
            pieces = _split_regions(channel_regions, round(piece_s * SAMPLE_RATE))
            if not pieces:  # no speech at all: a stream with nothing to decode still reports progress
                streams.append(Stream(i, c, np.zeros(0, np.float32), duration_s))
            speech = sum(e - s for s, e in channel_regions)
            for piece in pieces:
                share = duration_s * sum(e - s for s, e in piece) / speech
                streams.append(Stream(i, c, collect_speech(x, piece), share, SpeechMap(piece)))
        self.stats.front_end_s += time.perf_counter() - start
        return streams

    # --- one stream -------------------------------------------------------------------------------------

    def _prepare(self, stream: Stream, options: TranscriptionOptions) -> None:
        start = time.perf_counter()
        samples = stream.samples
        assert samples is not None
        self.stats.speech_s += len(samples) / SAMPLE_RATE
        n_mels = self.checkpoint.dims.n_mels  # 80, or 128 for large-v3
        stream.features = (
            log_mel_spectrogram(samples, n_mels) if len(samples) else np.zeros((n_mels, 1), np.float32)
        )
        stream.content_frames = stream.features.shape[-1] - 1
        stream.samples = None
        if options.initial_prompt:
            stream.all_tokens.extend(self.tokenizer.encode(" " + options.initial_prompt.strip()))
        self.stats.front_end_s += time.perf_counter() - start

    def _report(self, stream: Stream, progress: Progress) -> None:
        fraction = min(1.0, stream.seek / stream.content_frames) if stream.content_frames else 1.0
        done = fraction * stream.duration_s
        if done > stream.reported_s:
            progress(done - stream.reported_s)
            stream.reported_s = done

    def _finish(self, stream: Stream, progress: Progress | None) -> None:
        stream.features = np.zeros(
            (self.checkpoint.dims.n_mels, 1), np.float32
        )  # keep `done` true, free memory
        if stream.speech_map is not None:
            stream.segments = [restore_times(s, stream.speech_map) for s in stream.segments]
        if progress and stream.duration_s > stream.reported_s:
            progress(stream.duration_s - stream.reported_s)
            stream.reported_s = stream.duration_s


def _split_regions(regions: list[tuple[int, int]], piece_samples: int) -> list[list[tuple[int, int]]]:
    """Consecutive speech regions grouped into pieces of at least `piece_samples` of speech (the last may be
    shorter); every boundary between pieces is a silence the VAD cut."""
    pieces: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    size = 0
    for region in regions:
        current.append(region)
        size += region[1] - region[0]
        if size >= piece_samples:
            pieces.append(current)
            current, size = [], 0
    if current:
        pieces.append(current)
    return pieces
