"""Signs that a transcript was made up: what Whisper does on silence and on repeated phrases.

Whisper writes fluent text where nobody speaks ("Thank you for watching", on hold music or a silent channel) and
can lock into a loop that repeats a phrase to the end of the window; faster-whisper's tracker has long threads
about both. None of these signs proves a hallucination, so a call is flagged for an analyst to filter or review,
never dropped. The codes, each a reason in asr_raw.calls.suspect_reasons and fct_calls.suspect_reason:

- `compression_ratio`: a segment whose text compresses more than COMPRESSION_RATIO_LIMIT (zlib): Whisper's own
  repetition test (its fallback threshold, 2.4);
- `repetition_loop`: a channel's words repeat one n-gram (1 to LOOP_MAX_N words) at least LOOP_MIN_REPEATS times
  in a row, over LOOP_MIN_WORDS words or more (a card number read as "zero zero zero zero" is not a loop);
- `words_in_silence`: at least SILENCE_MIN_WORDS words whose middle lies where the energy detector hears no speech,
  even with SILENCE_PAD_S of margin either side;
- `text_on_silent_channel`: words on a channel whose peak level is digital silence;
- `language_uncertain`: the language was identified below the configured confidence (defs/languages.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from asr_assets.asr.segments import compression_ratio

COMPRESSION_RATIO_LIMIT = 2.4
LOOP_MAX_N = 8
LOOP_MIN_REPEATS = 4
LOOP_MIN_WORDS = 8
SILENCE_PAD_S = 0.5
SILENCE_MIN_WORDS = 3
# short segments compress badly whatever they say: zlib's header alone is most of a few-word text
MIN_TEXT_CHARS = 40

_WORD = re.compile(r"\w+")


def _tokens(words: Iterable[str]) -> list[str]:
    return [t for w in words for t in _WORD.findall(w.lower())]


def repetition_loop(words: Sequence[str]) -> str | None:
    """The n-gram a word sequence loops on (see the module docstring), None when there is no loop."""
    tokens = _tokens(words)
    for n in range(1, LOOP_MAX_N + 1):
        repeats_needed = max(LOOP_MIN_REPEATS, -(-LOOP_MIN_WORDS // n))
        for start in range(len(tokens) - n * repeats_needed + 1):
            gram = tokens[start : start + n]
            repeats = 1
            while tokens[start + repeats * n : start + (repeats + 1) * n] == gram:
                repeats += 1
            if repeats >= repeats_needed:
                return " ".join(gram)
    return None


def words_outside(words: Sequence[tuple[float, float]], regions_s: Sequence[tuple[float, float]]) -> int:
    """How many (start, end) words have their middle outside every region widened by SILENCE_PAD_S."""
    if not words:
        return 0
    if not regions_s:
        return len(words)
    starts = np.array([s - SILENCE_PAD_S for s, _ in regions_s])
    ends = np.array([e + SILENCE_PAD_S for _, e in regions_s])
    middles = np.array([(s + e) / 2 for s, e in words])
    inside = ((middles[:, None] >= starts[None]) & (middles[:, None] <= ends[None])).any(axis=1)
    return int((~inside).sum())


def channel_reasons(
    segments: Sequence[dict], peak_dbfs: float | None, speech_regions_s: Sequence[tuple[float, float]] | None
) -> list[str]:
    """The reason codes one channel's segments (as stored: dicts with text, words, compression_ratio) show.

    speech_regions_s: where the energy detector hears speech on the channel (seconds); None = not checked.
    """
    reasons = []
    words = [w for s in segments for w in s["words"]]
    if any(
        len(s["text"]) >= MIN_TEXT_CHARS and compression_ratio(s["text"]) > COMPRESSION_RATIO_LIMIT
        for s in segments
    ):
        reasons.append("compression_ratio")
    if repetition_loop([w["word"] for w in words]) is not None:
        reasons.append("repetition_loop")
    if speech_regions_s is not None:
        outside = words_outside([(w["start"], w["end"]) for w in words], speech_regions_s)
        if outside >= SILENCE_MIN_WORDS:
            reasons.append("words_in_silence")
    if peak_dbfs is None and words:
        reasons.append("text_on_silent_channel")
    return reasons


def call_reasons(per_channel: Iterable[list[str]], language_uncertain: bool) -> list[str]:
    """A call's reason codes: its channels' together, each once, in the module docstring's order."""
    found = {r for reasons in per_channel for r in reasons}
    if language_uncertain:
        found.add("language_uncertain")
    order = (
        "compression_ratio",
        "repetition_loop",
        "words_in_silence",
        "text_on_silent_channel",
        "language_uncertain",
    )
    return [r for r in order if r in found]
