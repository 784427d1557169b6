"""Word timestamps from the cross-attention of the alignment heads, with DTW: faster-whisper's semantics.

The numbers follow CTranslate2's `WhisperReplica::align` (src/models/whisper.cc) and faster-whisper's
`find_alignment` / `add_word_timestamps` / `merge_punctuations` (faster_whisper/transcribe.py, 1.2.1), which differ
from openai/whisper's timing.py in two places: the softmax runs over the first num_frames // 2 encoder positions
only (OpenAI softmaxes over all 1500, then slices), and a word's probability is the mean of its tokens'
probabilities from the forced pass (not from decoding). All functions are pure except `merge_punctuations` and
`add_word_timestamps`, which mutate their arguments in place as faster-whisper's do.
"""

from dataclasses import dataclass

import numpy as np

from asr_assets.asr.features import FRAMES_PER_SECOND, TOKENS_PER_SECOND
from asr_assets.asr.tokenizer import Tokenizer

MEDIAN_FILTER_WIDTH = 7  # faster-whisper's default
SENTENCE_END_MARKS = ".。!！?？"
MAX_MEDIAN_WORD_S = 0.7  # word durations are capped at twice min(median, 0.7 s) around pauses


@dataclass
class WordTiming:
    """One word of a window; times in seconds from the window start (add_word_timestamps adds the offset)."""

    word: str
    tokens: list[int]
    start: float
    end: float
    probability: float


def median_filter(x: np.ndarray, width: int) -> np.ndarray:
    """Median over a sliding window of odd `width` along the last axis, reflect-padded (edge not repeated).

    Same as openai/whisper timing.median_filter (torch "reflect") and CTranslate2's MedianFilter op; that is
    scipy.ndimage.median_filter(..., size=(1, ..., width), mode="mirror"). Inputs no longer than width // 2 are
    returned unchanged, as both do. Width 7 (the default everywhere) uses a selection network on cache-sized
    blocks of rows: ~6x faster than np.partition on (8 heads, 224 tokens, 1500 positions).
    """
    if width % 2 != 1:
        raise ValueError(f"median_filter width must be odd, got {width}")
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    if width != 7:
        windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1)
        return np.partition(windows, pad, axis=-1)[..., pad]
    n = x.shape[-1]
    rows = padded.reshape(-1, n + 2 * pad)
    out = np.empty((rows.shape[0], n), dtype=padded.dtype)
    for start in range(0, rows.shape[0], _MEDIAN_BLOCK_ROWS):
        block = rows[start : start + _MEDIAN_BLOCK_ROWS]
        out[start : start + len(block)] = _median7([block[:, k : k + n] for k in range(7)])
    return out.reshape(x.shape)


# Devillard's opt_med7 ("Fast median search: an ANSI C implementation", 1998): 13 compare-exchanges leave the
# median of 7 values in slot 3.
_MEDIAN7_NETWORK = (
    (0, 5),
    (0, 3),
    (1, 6),
    (2, 4),
    (0, 1),
    (3, 5),
    (2, 6),
    (2, 3),
    (3, 6),
    (4, 5),
    (1, 4),
    (1, 3),
    (3, 4),
)
_MEDIAN_BLOCK_ROWS = 64  # 64 x 1500 float32 per slot keeps the 8 working arrays in cache


def _median7(columns: list[np.ndarray]) -> np.ndarray:
    p = [c.copy() for c in columns]
    tmp = np.empty_like(p[0])
    for a, b in _MEDIAN7_NETWORK:
        np.minimum(p[a], p[b], out=tmp)
        np.maximum(p[a], p[b], out=p[b])
        p[a], tmp = tmp, p[a]
    return p[3]


def dtw(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost monotonic path through the cost matrix x (N, M): (row indices, column indices), both (L,).

    CTranslate2's `negative_dtw` (src/dtw.cc) on -x, which is openai/whisper's `dtw_cpu` on x: accumulated cost
    cost[i, j] = x[i-1, j-1] + c in float32, where c is the diagonal predecessor if strictly smallest, else the
    upper one if strictly smallest, else the left one (so ties go left, even a diagonal/up tie below the left
    cost). The backtrace forces the first row to go left and the first column to go up.

    The recurrence runs along anti-diagonals (every cell of diagonal d = i + j depends only on diagonals d-1 and
    d-2), so each step is five vector operations: ~N + M NumPy steps instead of N * M Python ones (225 x 1500
    in ~5 ms of CPU). The backtrace repeats the comparisons on the ~N + M cells of the path only. The arithmetic per cell is the reference's, so paths are identical, ties included.
    """
    x = np.asarray(x, dtype=np.float32)
    n, m = x.shape
    if n == 0 or m == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return _backtrace(_accumulated_cost(x), n, m)


def _accumulated_cost(x: np.ndarray) -> np.ndarray:
    """Accumulated float32 cost in a skewed layout over the padded (n + 1) x (m + 1) grid: diag[d, i] = cost[i, d - i].

    Rows of diag are contiguous, so the three predecessors of each cell of diagonal d are plain slices of
    diagonals d - 1 and d - 2, and each diagonal costs five vector operations.
    """
    n, m = x.shape
    n_diag = n + m + 1
    nan_safe = bool(np.isnan(x).any())
    diag = np.full((n_diag, n + 1), np.inf, dtype=np.float32)
    diag[0, 0] = 0.0
    xs = np.empty((n_diag, n + 1), dtype=np.float32)  # xs[i + j, i] = x[i - 1, j - 1]
    for i in range(1, n + 1):
        xs[i + 1 : i + 1 + m, i] = x[i - 1]
    best = np.empty(n, dtype=np.float32)
    ties = np.empty(n, dtype=bool)
    for d in range(2, n_diag):
        lo, hi = max(1, d - m), min(n, d - 1)  # rows i of diagonal d with 1 <= i <= n and 1 <= j = d - i <= m
        c0 = diag[d - 2, lo - 1 : hi]  # cost[i-1, j-1]
        c1 = diag[d - 1, lo - 1 : hi]  # cost[i-1, j]
        c2 = diag[d - 1, lo : hi + 1]  # cost[i, j-1]
        b, t = best[: hi - lo + 1], ties[: hi - lo + 1]
        if nan_safe:  # the reference's comparisons verbatim
            b[:] = np.where((c0 < c1) & (c0 < c2), c0, np.where((c1 < c0) & (c1 < c2), c1, c2))
        else:
            # "c0 if strictly smallest, elif c1 strictly smallest, else c2" is min(c0, c1, c2), except that
            # when c0 == c1 neither is strictly smallest and c2 is taken (ties do occur after the median filter).
            np.minimum(c0, c1, out=b)
            np.minimum(b, c2, out=b)
            np.equal(c0, c1, out=t)
            np.copyto(b, c2, where=t)
        np.add(xs[d, lo : hi + 1], b, out=diag[d, lo : hi + 1])
    return diag


def _backtrace(diag: np.ndarray, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Walk back from (n, m) to (0, 0), choosing each step with the reference's comparisons on the accumulated
    cost (only the ~n + m cells on the path are looked at); the first row goes left, the first column up."""
    width = diag.shape[1]
    cost = np.ascontiguousarray(diag).reshape(-1).data  # a memoryview: indexing gives Python floats, exactly
    path_i, path_j = [], []
    while i > 0 or j > 0:
        path_i.append(i - 1)
        path_j.append(j - 1)
        if i == 0:
            j -= 1
            continue
        if j == 0:
            i -= 1
            continue
        base = (i + j - 1) * width + i  # cost[i, j - 1] = diag[i + j - 1, i]
        c0, c1, c2 = cost[base - width - 1], cost[base - 1], cost[base]
        if c0 < c1 and c0 < c2:
            i -= 1
            j -= 1
        elif c1 < c0 and c1 < c2:
            i -= 1
        else:
            j -= 1
    return np.array(path_i[::-1], dtype=np.int64), np.array(path_j[::-1], dtype=np.int64)


def find_alignment(
    tokenizer: Tokenizer,
    text_tokens: list[int],
    attention: np.ndarray,
    token_probs: np.ndarray,
    num_frames: int,
    median_filter_width: int = MEDIAN_FILTER_WIDTH,
) -> list[WordTiming]:
    """Words of one window with start/end (seconds from the window start) and probability.

    tokenizer: asr_assets.asr.tokenizer.Tokenizer (uses sot_sequence, eot, split_to_word_tokens).
    text_tokens: the window's text tokens (ids < eot, timestamps removed), length T.
    attention: (n_alignment_heads, R >= len(sot_sequence) + T + 2, C >= num_frames // 2) float32 PRE-softmax
        cross-attention scores ((q . k) / sqrt(head_dim), the logits of the attention softmax) of the alignment
        heads, from one forced pass over the input [*sot_sequence, no_timestamps, *text_tokens, eot]:
        row r = the query at input position r. Rows past len(sot_sequence) + T + 2 (batch padding) and columns
        past num_frames // 2 are ignored. All real rows matter: the per-frame normalisation runs over them.
    token_probs: (>= T,) probability of text_tokens[k] at the position before it (softmax over ids < eot);
        a trailing eot entry is ignored.
    num_frames: mel frames of audio content in the window (segment_size, <= 3000).

    Steps (CT2 align): keep the first num_frames // 2 encoder positions and softmax over them; normalise each
    head and position over the token rows ((x - mean) / std, population std); median filter along positions;
    mean over heads; take rows len(sot_sequence) .. len(sot_sequence) + T (no_timestamps up to the last text
    token, T + 1 rows); DTW on the negative. Each text index's first position / 50 is its time, words come from
    split_to_word_tokens(text + [eot]), and a word's probability is the mean of its tokens' probabilities.
    """
    n_tokens = len(text_tokens)
    n_positions = num_frames // 2  # the encoder's second convolution has stride 2
    if n_tokens == 0 or n_positions == 0:
        return []
    n_sot = len(tokenizer.sot_sequence)
    n_rows = n_sot + n_tokens + 2
    if attention.ndim != 3 or attention.shape[1] < n_rows or attention.shape[2] < n_positions:
        raise ValueError(
            f"attention has shape {attention.shape}; expected (heads, >= {n_rows}, >= {n_positions}) for "
            f"{n_tokens} text tokens after a {n_sot}-token sot_sequence"
        )
    # Softmax over the content positions only (CT2), on a copy that the steps below update in place.
    weights = np.array(attention[:, :n_rows, :n_positions], dtype=np.float32)
    weights -= weights.max(axis=-1, keepdims=True)
    np.exp(weights, out=weights)
    weights /= weights.sum(axis=-1, keepdims=True)
    # CT2 LayerNorm over the token axis without gain or epsilon: var = E[x^2] - mean^2 (population), then
    # (x - mean) * rstd; only the rows DTW uses are normalised (and median-filtered: the filter is per row).
    mean = weights.mean(axis=-2, keepdims=True)
    var = np.square(weights).mean(axis=-2, keepdims=True)
    var -= np.square(mean)
    rows = weights[:, n_sot : n_sot + n_tokens + 1]
    rows -= mean
    # No epsilon, as CT2: a frame with equal weight on every token row (e.g. one row) gives inf * 0 = NaN there
    # too, and DTW then treats it the same way; numpy's warnings about it would only be noise in every log.
    with np.errstate(divide="ignore", invalid="ignore"):
        rstd = 1.0 / np.sqrt(np.maximum(var, 0.0, out=var))
        rows *= rstd
    matrix = median_filter(rows, median_filter_width).mean(axis=0)
    text_indices, time_indices = dtw(-matrix)

    words, word_tokens = tokenizer.split_to_word_tokens(list(text_tokens) + [tokenizer.eot])
    if len(word_tokens) <= 1:
        return []
    word_boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / TOKENS_PER_SECOND
    start_times = jump_times[word_boundaries[:-1]]
    end_times = jump_times[word_boundaries[1:]]
    probs = np.asarray(token_probs, dtype=np.float64)  # faster-whisper averages Python floats
    return [
        WordTiming(word, tokens, float(start), float(end), float(np.mean(probs[i:j])))
        for word, tokens, start, end, i, j in zip(
            words,
            word_tokens,
            start_times,
            end_times,
            word_boundaries[:-1],
            word_boundaries[1:],
            strict=False,
        )
    ]


def merge_punctuations(alignment: list[WordTiming], prepended: str, appended: str) -> None:
    """Attach opening punctuation to the next word and closing punctuation to the previous one, in place.

    The emptied entries stay in the list with word "" and no tokens; the merged word keeps its own times and
    probability. `in` is a substring test, as in faster-whisper.
    """
    i, j = len(alignment) - 2, len(alignment) - 1
    while i >= 0:
        previous, following = alignment[i], alignment[j]
        if previous.word.startswith(" ") and previous.word.strip() in prepended:
            following.word = previous.word + following.word
            following.tokens = previous.tokens + following.tokens
            previous.word, previous.tokens = "", []
        else:
            j = i
        i -= 1
    i, j = 0, 1
    while j < len(alignment):
        previous, following = alignment[i], alignment[j]
        if not previous.word.endswith(" ") and following.word in appended:
            previous.word = previous.word + following.word
            previous.tokens = previous.tokens + following.tokens
            following.word, following.tokens = "", []
        else:
            i = j
        j += 1


def add_word_timestamps(
    segments: list[list[dict]],
    alignments: list[list[WordTiming]],
    tokenizer: Tokenizer,
    prepend_punctuations: str,
    append_punctuations: str,
    last_speech_timestamp: float,
) -> float:
    """faster-whisper's add_word_timestamps with each window's alignment already computed; returns the new
    last_speech_timestamp.

    segments: per window, its sub-segments as dicts with "seek" (window start in mel frames; read from the
    first), "start", "end" (seconds) and "tokens"; each gets "words": [{"word", "start", "end", "probability"}]
    with absolute times rounded to 0.01 s, and its "start"/"end" moved to its words' (faster-whisper's rules).
    alignments: per window, find_alignment of the concatenated text tokens of its sub-segments (mutated by
    merge_punctuations).
    """
    if not segments:
        return last_speech_timestamp
    text_tokens_per_segment = [
        [[t for t in subsegment["tokens"] if t < tokenizer.eot] for subsegment in segment]
        for segment in segments
    ]
    median_max_durations = []
    for alignment in alignments:
        durations = np.array([w.end - w.start for w in alignment])
        durations = durations[durations.nonzero()]
        median_duration = min(MAX_MEDIAN_WORD_S, float(np.median(durations)) if len(durations) else 0.0)
        max_duration = median_duration * 2
        # Truncate long words at sentence boundaries (faster-whisper's "hack", kept for parity).
        if len(durations):
            for i in range(1, len(alignment)):
                if alignment[i].end - alignment[i].start > max_duration:
                    if alignment[i].word in SENTENCE_END_MARKS:
                        alignment[i].end = alignment[i].start + max_duration
                    elif alignment[i - 1].word in SENTENCE_END_MARKS:
                        alignment[i].start = alignment[i].end - max_duration
        merge_punctuations(alignment, prepend_punctuations, append_punctuations)
        median_max_durations.append((median_duration, max_duration))

    for segment_idx, segment in enumerate(segments):
        word_index = 0
        time_offset = segment[0]["seek"] / FRAMES_PER_SECOND
        median_duration, max_duration = median_max_durations[segment_idx]
        alignment = alignments[segment_idx]
        for subsegment_idx, subsegment in enumerate(segment):
            saved_tokens = 0
            words = []
            while word_index < len(alignment) and saved_tokens < len(
                text_tokens_per_segment[segment_idx][subsegment_idx]
            ):
                timing = alignment[word_index]
                if timing.word:
                    words.append(
                        {
                            "word": timing.word,
                            "start": round(time_offset + timing.start, 2),
                            "end": round(time_offset + timing.end, 2),
                            "probability": timing.probability,
                        }
                    )
                saved_tokens += len(timing.tokens)
                word_index += 1
            if words:
                last_speech_timestamp = _adjust_segment_edges(
                    subsegment, words, median_duration, max_duration, last_speech_timestamp
                )
            subsegment["words"] = words
    return last_speech_timestamp


def _adjust_segment_edges(
    subsegment: dict,
    words: list[dict],
    median_duration: float,
    max_duration: float,
    last_speech_timestamp: float,
) -> float:
    """faster-whisper's segment-boundary rules (in place); returns the sub-segment's end."""
    # The first (and second) word after a pause may not last more than twice the median word duration.
    if words[0]["end"] - last_speech_timestamp > median_duration * 4 and (
        words[0]["end"] - words[0]["start"] > max_duration
        or (len(words) > 1 and words[1]["end"] - words[0]["start"] > max_duration * 2)
    ):
        if len(words) > 1 and words[1]["end"] - words[1]["start"] > max_duration:
            boundary = max(words[1]["end"] / 2, words[1]["end"] - max_duration)
            words[0]["end"] = words[1]["start"] = boundary
        words[0]["start"] = max(0, words[0]["end"] - max_duration)
    # Prefer the segment-level start timestamp if the first word is too long.
    if subsegment["start"] < words[0]["end"] and subsegment["start"] - 0.5 > words[0]["start"]:
        words[0]["start"] = max(0, min(words[0]["end"] - median_duration, subsegment["start"]))
    else:
        subsegment["start"] = words[0]["start"]
    # Prefer the segment-level end timestamp if the last word is too long.
    if subsegment["end"] > words[-1]["start"] and subsegment["end"] + 0.5 < words[-1]["end"]:
        words[-1]["end"] = max(words[-1]["start"] + median_duration, subsegment["end"])
    else:
        subsegment["end"] = words[-1]["end"]
    return subsegment["end"]
