"""Pure helpers of long-form decoding, ported from faster-whisper 1.2.1 `WhisperModel` (transcribe.py):
`get_prompt`, `_split_segments_by_timestamps`, `get_compression_ratio`, `get_suppressed_tokens`,
`utils.get_end` and `restore_speech_timestamps` (`restore_times`). Kept free of the model so they can be tested on
token lists.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from asr_assets.asr.constants import MAX_LENGTH, TIME_PRECISION
from asr_assets.asr.types import Segment
from asr_assets.asr.vad import SpeechMap

INPUT_STRIDE = 2  # mel frames per encoder position (conv2 stride)

MAX_PROMPT_HISTORY = MAX_LENGTH // 2 - 1  # 223 previous tokens at most


def get_prompt(tokenizer: Any, previous_tokens: Sequence[int], without_timestamps: bool = False) -> list[int]:
    """[sot_prev, last 223 previous tokens] (if any) + sot_sequence (+ no_timestamps)."""
    prompt: list[int] = []
    if previous_tokens:
        prompt.append(tokenizer.sot_prev)
        prompt.extend(previous_tokens[-MAX_PROMPT_HISTORY:])
    prompt.extend(tokenizer.sot_sequence)
    if without_timestamps:
        prompt.append(tokenizer.no_timestamps)
    return prompt


def compression_ratio(text: str) -> float:
    """UTF-8 bytes over zlib-compressed bytes: > 2.4 flags a repetition loop."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data))


def suppressed_tokens(tokenizer: Any, suppress_tokens: Sequence[int]) -> tuple[int, ...]:
    """faster-whisper's `get_suppressed_tokens`: -1 expands to the non-speech tokens; the task/special tokens
    that must never be generated are always added."""
    tokens = [t for t in suppress_tokens if t >= 0]
    if -1 in suppress_tokens:
        tokens.extend(tokenizer.non_speech_tokens)
    tokens.extend(
        [
            tokenizer.transcribe,
            tokenizer.translate,
            tokenizer.sot,
            tokenizer.sot_prev,
            tokenizer.sot_lm,
            tokenizer.no_speech,
        ]
    )
    return tuple(sorted(set(tokens)))


def split_segments_by_timestamps(
    timestamp_begin: int,
    tokens: list[int],
    time_offset: float,
    segment_size: int,
    segment_duration: float,
    seek: int,
) -> tuple[list[dict[str, Any]], int, bool]:
    """Cut a window's tokens into segments at consecutive timestamp pairs and compute the next seek.

    Returns (segments as dicts with seek/start/end/tokens, new seek in frames, single_timestamp_ending).
    """
    segments: list[dict[str, Any]] = []
    single_timestamp_ending = len(tokens) >= 2 and tokens[-2] < timestamp_begin <= tokens[-1]
    consecutive = [
        i for i in range(1, len(tokens)) if tokens[i] >= timestamp_begin and tokens[i - 1] >= timestamp_begin
    ]
    if consecutive:
        slices = list(consecutive)
        if single_timestamp_ending:
            slices.append(len(tokens))
        last_slice = 0
        for current in slices:
            sliced = tokens[last_slice:current]
            start = time_offset + (sliced[0] - timestamp_begin) * TIME_PRECISION
            end = time_offset + (sliced[-1] - timestamp_begin) * TIME_PRECISION
            segments.append({"seek": seek, "start": start, "end": end, "tokens": sliced})
            last_slice = current
        if single_timestamp_ending:
            # a single timestamp at the end means no speech after it: the whole window is consumed
            seek += segment_size
        else:
            # the last segment is unfinished: ignore it and restart the next window at its opening timestamp
            seek += (tokens[last_slice - 1] - timestamp_begin) * INPUT_STRIDE
    else:
        duration = segment_duration
        timestamps = [t for t in tokens if t >= timestamp_begin]
        if timestamps and timestamps[-1] != timestamp_begin:
            duration = (timestamps[-1] - timestamp_begin) * TIME_PRECISION
        segments.append({"seek": seek, "start": time_offset, "end": time_offset + duration, "tokens": tokens})
        seek += segment_size
    return segments, seek, single_timestamp_ending


def last_end(segments: list[dict[str, Any]]) -> float | None:
    """End of the last word of the window's segments, else the last segment's end (faster-whisper get_end)."""
    return next(
        (w["end"] for s in reversed(segments) for w in reversed(s.get("words") or [])),
        segments[-1]["end"] if segments else None,
    )


def restore_times(segment: Segment, speech_map: SpeechMap, clip: bool = False) -> Segment:
    """Map a segment found in speech-only audio back to the recording's timeline (restore_speech_timestamps).

    clip: keep each word inside the speech region of its midpoint. Without it (faster-whisper), a word that
    DTW stretched across a splice point ends inside the silence that was cut, and talk time grows by the overhang.
    """
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
