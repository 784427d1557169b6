"""Long-form transcription of whole recordings, batched across files and channels.

Per (file, channel) stream this follows faster-whisper 1.2.1 `WhisperModel.generate_segments` (docs/engine.md):
log-mel once per channel (the checkpoint's n_mels bins), 30 s windows from `seek`, the previous text as prompt,
temperature fallback on compression ratio / average log-prob, the no-speech skip, segments cut at timestamp
pairs, word timestamps from the alignment heads and the word-based seek rule. The difference is the
schedule: each round takes the current window of up to `batch_size` live streams and runs encoder, decoder and
alignment once for all of them (the decoder's cost per step is dominated by reading the vocabulary projection,
whatever the batch). Only the rows that fail a threshold are decoded again at the next temperature.

With `vad=True` (opt-in) each channel's long silences are cut first (vad.py) and times mapped back afterwards,
as faster-whisper does with `vad_filter=True`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asr_assets.asr import segments as seg
from asr_assets.asr.audio import Audio, load_audio
from asr_assets.asr.constants import FRAMES_PER_SECOND, MAX_LENGTH, N_FRAMES, SAMPLE_RATE, TIME_PRECISION
from asr_assets.asr.runtime import WhisperRuntime
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
    "restore_times",
]

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = TranscriptionOptions()  # faster-whisper's defaults (frozen, so one shared instance is safe)

ENGINES = ("xla", "litert")


@dataclass
class _Stream:
    """One channel of one file being transcribed: its features and its long-form decoding state."""

    file: int
    channel: int
    samples: np.ndarray | None  # freed once features exist
    duration_s: float  # of the original channel, for progress
    speech_map: SpeechMap | None = None
    features: np.ndarray | None = None  # (n_mels, content_frames + 1)
    content_frames: int = 0
    seek: int = 0
    all_tokens: list[int] = field(default_factory=list)
    prompt_reset_since: int = 0
    last_speech_timestamp: float = 0.0
    segments: list[Segment] = field(default_factory=list)
    reported_s: float = 0.0

    @property
    def done(self) -> bool:
        return self.features is not None and self.seek >= self.content_frames


class Transcriber:
    """Whisper in TensorFlow over whole recordings. One per process: it owns the compiled model."""

    def __init__(
        self, model_path: str | Path | None = None, *, engine: str = "xla", compute_type: str = "float32"
    ):
        """engine "xla": the Keras model compiled by XLA (float32; both modes, faster-whisper parity).
        engine "litert": LiteRT programs of compute type "int8" or "float32" (batched mode only), with no
        TensorFlow in the process once the programs are cached (litert/programs.py)."""
        from asr_assets.asr.tokenizer import Tokenizer

        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        # Each runtime is imported only when chosen: XLA brings TensorFlow, which a LiteRT process never loads.
        self.runtime: WhisperRuntime
        if engine == "litert":
            from asr_assets.asr.litert.programs import ensure_programs
            from asr_assets.asr.litert.runtime import LiteRtEngine

            checkpoint, directory = ensure_programs(model_path, compute_type)
            self.runtime = LiteRtEngine(checkpoint, directory)
        else:
            if compute_type != "float32":
                raise ValueError(
                    f"the xla engine computes in float32 only; use engine='litert' for compute type {compute_type!r}"
                )
            from asr_assets.asr.checkpoints import load_checkpoint
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
        if options.batched:
            from asr_assets.asr.batched import transcribe_batched

            return transcribe_batched(self, loaded, options, progress)
        if self.engine_name != "xla":
            raise ValueError(
                "sequential decoding (timestamps, previous-text prompts, temperature fallback) runs on the xla "
                "engine; use TranscriptionOptions(batched=True) or Transcriber(engine='xla')"
            )
        streams = self._streams(loaded, options)
        pending = list(streams)  # not started yet, in input order
        live: list[_Stream] = []
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
            self._round(live, options)
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

    def _streams(self, audios: list[Audio], options: TranscriptionOptions) -> list[_Stream]:
        """One stream per channel; with the VAD, a channel's speech is cut at long silences into pieces that
        are decoded as independent streams, so that even a single long call fills the batch.

        Pieces hold at least `min_piece_s` of speech, more when there is enough work to fill the batch anyway;
        each starts without a previous-text prompt (as after any prompt reset).
        """
        start = time.perf_counter()
        channels = [(i, c, a.channels[c]) for i, a in enumerate(audios) for c in range(a.channels.shape[0])]
        self.stats.channel_s += sum(len(x) for _, _, x in channels) / SAMPLE_RATE
        if not options.vad:
            return [_Stream(i, c, x, len(x) / SAMPLE_RATE) for i, c, x in channels]
        regions = [speech_regions(x, options.vad_options) for _, _, x in channels]
        total_speech_s = sum(e - s for r in regions for s, e in r) / SAMPLE_RATE
        piece_s = max(options.min_piece_s, total_speech_s / options.batch_size)
        streams = []
        for (i, c, x), channel_regions in zip(channels, regions, strict=True):
            duration_s = len(x) / SAMPLE_RATE
            pieces = _split_regions(channel_regions, round(piece_s * SAMPLE_RATE))
            if not pieces:  # no speech at all: a stream with nothing to decode still reports progress
                streams.append(_Stream(i, c, np.zeros(0, np.float32), duration_s))
            speech = sum(e - s for s, e in channel_regions)
            for piece in pieces:
                share = duration_s * sum(e - s for s, e in piece) / speech
                streams.append(_Stream(i, c, collect_speech(x, piece), share, SpeechMap(piece)))
        self.stats.front_end_s += time.perf_counter() - start
        return streams

    # --- one stream -------------------------------------------------------------------------------------

    def _prepare(self, stream: _Stream, options: TranscriptionOptions) -> None:
        from asr_assets.asr.features import log_mel_spectrogram

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

    def _report(self, stream: _Stream, progress: Progress) -> None:
        fraction = min(1.0, stream.seek / stream.content_frames) if stream.content_frames else 1.0
        done = fraction * stream.duration_s
        if done > stream.reported_s:
            progress(done - stream.reported_s)
            stream.reported_s = done

    def _finish(self, stream: _Stream, progress: Progress | None) -> None:
        stream.features = np.zeros(
            (self.checkpoint.dims.n_mels, 1), np.float32
        )  # keep `done` true, free memory
        if stream.speech_map is not None:
            stream.segments = [restore_times(s, stream.speech_map) for s in stream.segments]
        if progress and stream.duration_s > stream.reported_s:
            progress(stream.duration_s - stream.reported_s)
            stream.reported_s = stream.duration_s

    # --- one batched round ------------------------------------------------------------------------------

    def _round(self, live: list[_Stream], options: TranscriptionOptions) -> None:
        from asr_assets.asr.features import pad_or_trim

        sizes, mels = [], []
        for s in live:
            assert s.features is not None
            size = min(N_FRAMES, s.content_frames - s.seek)
            sizes.append(size)
            mels.append(pad_or_trim(s.features[:, s.seek : s.seek + size], N_FRAMES))
        start = time.perf_counter()
        encoder_out = self.runtime.encode(np.stack(mels))
        self.stats.encoder_s += time.perf_counter() - start
        self.stats.windows += len(live)

        prompts = [
            seg.get_prompt(self.tokenizer, s.all_tokens[s.prompt_reset_since :], options.without_timestamps)
            for s in live
        ]
        start = time.perf_counter()
        decoded = self._generate_with_fallback(encoder_out, prompts, options)
        self.stats.decoder_s += time.perf_counter() - start

        windows: list[tuple[int, list[dict[str, Any]], bool]] = []  # (row, segment dicts, single ending)
        for row, (s, size, (result, avg_logprob, _, _)) in enumerate(zip(live, sizes, decoded, strict=True)):
            if options.no_speech_threshold is not None:
                skip = result.no_speech_prob > options.no_speech_threshold
                if options.log_prob_threshold is not None and avg_logprob > options.log_prob_threshold:
                    skip = False  # confident text despite the no-speech probability
                if skip:
                    s.seek += size
                    self.stats.skipped_no_speech += 1
                    windows.append((row, [], True))
                    continue
            time_offset = s.seek / FRAMES_PER_SECOND
            current, s.seek, single_ending = seg.split_segments_by_timestamps(
                self.tokenizer.timestamp_begin,
                result.tokens,
                time_offset,
                size,
                size / FRAMES_PER_SECOND,
                s.seek,
            )
            windows.append((row, current, single_ending))

        if options.word_timestamps:
            start = time.perf_counter()
            self._add_words(encoder_out, live, sizes, windows, options)
            self.stats.alignment_s += time.perf_counter() - start

        for row, current, _ in windows:
            s = live[row]
            result, avg_logprob, temperature, ratio = decoded[row]
            for d in current:
                text = self.tokenizer.decode(d["tokens"])
                if d["start"] == d["end"] or not text.strip():
                    continue
                s.all_tokens.extend(d["tokens"])
                words = tuple(
                    Word(float(w["start"]), float(w["end"]), w["word"], float(w["probability"]))
                    for w in d.get("words") or ()
                )
                s.segments.append(
                    Segment(
                        float(d["start"]),
                        float(d["end"]),
                        text,
                        words,
                        s.channel,
                        float(avg_logprob),
                        float(result.no_speech_prob),
                        float(ratio),
                        float(temperature),
                    )
                )
            if not options.condition_on_previous_text or temperature > options.prompt_reset_on_temperature:
                s.prompt_reset_since = len(s.all_tokens)

    def _add_words(self, encoder_out, live, sizes, windows, options: TranscriptionOptions) -> None:
        """Word timestamps of every window, then faster-whisper's word-based seek rule."""
        segments = [current for _, current, _ in windows]
        states = [live[row] for row, _, _ in windows]
        self.add_words(encoder_out, segments, [sizes[row] for row, _, _ in windows], states, options)
        for row, current, single_ending in windows:
            s = live[row]
            if not current:
                continue
            time_offset = current[0]["seek"] / FRAMES_PER_SECOND
            if not single_ending:
                end = seg.last_end(current)
                if end is not None and end > time_offset:
                    s.seek = round(end * FRAMES_PER_SECOND)

    def add_words(
        self, encoded, windows: list[list[dict[str, Any]]], sizes: list[int], states, options
    ) -> None:
        """Forced alignment of every window's text in one batch, then faster-whisper's word rules.

        windows: per encoded row, its segment dicts (they get "words"); sizes: content frames per row; states:
        per row an object whose `last_speech_timestamp` is read and advanced (a channel, in order).
        """
        from asr_assets.asr.timing import add_word_timestamps, find_alignment

        eot = self.tokenizer.eot
        rows, texts = [], []
        for row, current in enumerate(windows):
            text = [t for d in current for t in d["tokens"] if t < eot]
            if text:
                rows.append(row)
                texts.append(text)
        alignments: dict[int, list] = {}
        if rows:
            aligned = self.runtime.align(
                self.runtime.select(encoded, rows), texts, sot_sequence=self.tokenizer.sot_sequence
            )
            for row, text, (attention, token_probs) in zip(rows, texts, aligned, strict=True):
                alignments[row] = find_alignment(self.tokenizer, text, attention, token_probs, sizes[row])
        for row, current in enumerate(windows):
            if not current:
                continue
            state = states[row]
            add_word_timestamps(
                [current],
                [alignments.get(row, [])],
                self.tokenizer,
                options.prepend_punctuations,
                options.append_punctuations,
                state.last_speech_timestamp,
            )
            end = seg.last_end(current)
            if end is not None:
                state.last_speech_timestamp = end

    def generate_options(self, options: TranscriptionOptions, temperature: float, without_timestamps: bool):
        from asr_assets.asr.decoding_types import GenerateOptions

        return GenerateOptions(
            beam_size=options.beam_size,
            patience=options.patience,
            length_penalty=options.length_penalty,
            temperature=temperature,
            best_of=options.best_of,
            max_new_tokens=options.max_new_tokens or MAX_LENGTH // 2,
            suppress_tokens=seg.suppressed_tokens(self.tokenizer, options.suppress_tokens),
            suppress_blank=options.suppress_blank,
            without_timestamps=without_timestamps,
            max_initial_timestamp_index=round(options.max_initial_timestamp / TIME_PRECISION),
        )

    def _generate_with_fallback(self, encoder_out, prompts: list[list[int]], options: TranscriptionOptions):
        """faster-whisper's `generate_with_fallback` for a batch: rows that fail the compression-ratio or
        log-prob threshold are decoded again at the next temperature; the others keep their result.

        Returns per row (GenerationResult, avg_logprob, temperature, compression_ratio).
        """
        n = len(prompts)
        final: list[Any] = [None] * n
        tried: list[list[tuple]] = [[] for _ in range(n)]
        below_ratio: list[list[tuple]] = [[] for _ in range(n)]
        todo = list(range(n))
        temperature = options.temperatures[0]
        for temperature in options.temperatures:
            if not todo:
                break
            gen = self.generate_options(options, temperature, options.without_timestamps)
            enc = encoder_out if len(todo) == n else self.runtime.select(encoder_out, todo)
            results = self.runtime.generate(enc, [prompts[i] for i in todo], gen)
            self.stats.decoded_rows += len(todo)
            failed = []
            for i, result in zip(todo, results, strict=True):
                ratio = seg.compression_ratio(self.tokenizer.decode(result.tokens).strip())
                entry = (result, result.avg_logprob, temperature, ratio)
                tried[i].append(entry)
                needs_fallback = False
                if options.compression_ratio_threshold is not None:
                    if ratio > options.compression_ratio_threshold:
                        needs_fallback = True  # too repetitive
                    else:
                        below_ratio[i].append(entry)
                low_logprob = (
                    options.log_prob_threshold is not None and result.avg_logprob < options.log_prob_threshold
                )
                if low_logprob:
                    needs_fallback = True
                if (
                    options.no_speech_threshold is not None
                    and result.no_speech_prob > options.no_speech_threshold
                    and low_logprob
                ):
                    needs_fallback = False  # silence: the no-speech skip handles it
                if needs_fallback:
                    failed.append(i)
                else:
                    final[i] = entry
            todo = failed
        for i in todo:  # every temperature failed: best avg_logprob, preferring non-repetitive results
            best = max(below_ratio[i] or tried[i], key=lambda e: e[1])
            final[i] = (best[0], best[1], temperature, best[3])
        return final


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


def restore_times(segment: Segment, speech_map: SpeechMap, clip: bool = False) -> Segment:
    """Map a segment found in speech-only audio back to the recording's timeline (restore_speech_timestamps).

    clip: keep each word inside the speech region of its midpoint. Without it (faster-whisper), a word that
    DTW stretched across a splice point ends inside the silence that was cut, and talk time grows by the overhang.
    """
    from dataclasses import replace

    if segment.words:
        words = []
        for w in segment.words:
            chunk = speech_map.chunk_index((w.start + w.end) / 2)  # both ends in the same chunk
            start = speech_map.original_time(w.start, chunk)
            end = speech_map.original_time(w.end, chunk)
            if clip:
                low, high = speech_map.region_s(chunk)
                start = round(min(max(start, low), high), 2)
                end = round(min(max(end, start), high), 2)
            words.append(replace(w, start=start, end=end))
        return replace(segment, start=words[0].start, end=words[-1].end, words=tuple(words))
    return replace(
        segment,
        start=speech_map.original_time(segment.start),
        end=speech_map.original_time(segment.end, is_end=True),
    )
