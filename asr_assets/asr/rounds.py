"""One decoding round over a batch of 30 s windows, with faster-whisper 1.2.1's temperature fallback.

`WindowDecoder` holds what a round needs (the runtime, the batch's tokenizer, the stats it adds time to) and does
the per-window work both modes share: GenerateOptions from TranscriptionOptions, generation with fallback, and word
timestamps (one forced pass for the batch, then faster-whisper's word rules). `decode_round` is the sequential
mode's round over the current window of each live `Stream` (transcribe.py schedules them): encoder, decoder with
fallback, the no-speech skip, segments cut at timestamp pairs, words and the word-based seek rule. batched.py runs
its own round (no timestamps, no fallback) with the same pieces.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asr_assets.asr import segments as seg
from asr_assets.asr.constants import FRAMES_PER_SECOND, MAX_LENGTH, N_FRAMES, TIME_PRECISION
from asr_assets.asr.decoding_types import GenerateOptions, GenerationResult
from asr_assets.asr.features import pad_or_trim
from asr_assets.asr.runtime import Encoded, WhisperRuntime
from asr_assets.asr.timing import add_word_timestamps, find_alignment
from asr_assets.asr.tokenizer import Tokenizer
from asr_assets.asr.types import Segment, TranscriptionOptions, TranscriptionStats, Word
from asr_assets.asr.vad import SpeechMap

# Per window: (result kept, its avg_logprob, the temperature it was decoded at, its compression ratio)
Decoded = tuple[GenerationResult, float, float, float]


@dataclass
class Stream:
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


@dataclass
class WindowDecoder:
    """Decodes batches of windows on `runtime`, in `tokenizer`'s language, adding its time to `stats`."""

    runtime: WhisperRuntime
    tokenizer: Tokenizer
    stats: TranscriptionStats

    # --- the sequential mode's round ----------------------------------------------------------------------

    def decode_round(self, live: list[Stream], options: TranscriptionOptions) -> None:
        """Decode the current window of every stream in `live` and advance each stream past it."""
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
        decoded = self.generate_with_fallback(encoder_out, prompts, options)
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
            self._add_words_and_seek(encoder_out, live, sizes, windows, options)
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

    def _add_words_and_seek(
        self,
        encoder_out: Encoded,
        live: list[Stream],
        sizes: list[int],
        windows: list[tuple[int, list[dict[str, Any]], bool]],
        options: TranscriptionOptions,
    ) -> None:
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

    # --- shared by both modes -----------------------------------------------------------------------------

    def add_words(
        self, encoded: Encoded, windows: list[list[dict[str, Any]]], sizes: list[int], states, options
    ) -> None:
        """Forced alignment of every window's text in one batch, then faster-whisper's word rules.

        windows: per encoded row, its segment dicts (they get "words"); sizes: content frames per row; states:
        per row an object whose `last_speech_timestamp` is read and advanced (a channel, in order).
        """
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

    def generate_options(
        self, options: TranscriptionOptions, temperature: float, without_timestamps: bool
    ) -> GenerateOptions:
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

    def generate_with_fallback(
        self, encoder_out: Encoded, prompts: list[list[int]], options: TranscriptionOptions
    ) -> list[Decoded]:
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
