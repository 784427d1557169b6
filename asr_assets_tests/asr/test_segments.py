"""segments.py: faster-whisper's long-form rules on hand-made token lists."""

from types import SimpleNamespace

from asr_assets.asr.segments import (
    compression_ratio,
    get_prompt,
    last_end,
    split_segments_by_timestamps,
    suppressed_tokens,
)

TS = 50363  # <|0.00|> for tiny.en
TOK = SimpleNamespace(
    sot=50257, sot_prev=50360, sot_lm=50359, no_speech=50361, no_timestamps=50362, transcribe=50358,
    translate=50357, sot_sequence=(50257,), non_speech_tokens=(1, 2, 7),
)  # fmt: skip


def test_prompt_keeps_last_223_previous_tokens():
    assert get_prompt(TOK, []) == [50257]
    assert get_prompt(TOK, [], without_timestamps=True) == [50257, 50362]
    prompt = get_prompt(TOK, list(range(300)))
    assert prompt[0] == 50360 and prompt[1:-1] == list(range(77, 300)) and prompt[-1] == 50257


def test_pairs_split_and_unfinished_last_segment_sets_seek():
    # <0.00> a b <2.00><2.00> c d <5.00><5.00> e   (ends in text: the last segment is unfinished)
    tokens = [TS, 1, 2, TS + 100, TS + 100, 3, 4, TS + 250, TS + 250, 5]
    segs, seek, single = split_segments_by_timestamps(TS, tokens, 10.0, 3000, 30.0, 1000)
    assert [(s["start"], s["end"]) for s in segs] == [(10.0, 12.0), (12.0, 15.0)]
    assert segs[0]["tokens"] == [TS, 1, 2, TS + 100] and not single
    assert seek == 1000 + 250 * 2


def test_single_timestamp_ending_consumes_window():
    tokens = [TS, 1, 2, TS + 100, TS + 100, 3, TS + 200]
    segs, seek, single = split_segments_by_timestamps(TS, tokens, 0.0, 2500, 25.0, 0)
    assert single and seek == 2500 and segs[-1]["end"] == 4.0


def test_no_pairs_one_segment_to_last_timestamp():
    segs, seek, _ = split_segments_by_timestamps(TS, [TS, 1, 2, TS + 150], 0.0, 1100, 11.0, 0)
    assert len(segs) == 1 and segs[0]["end"] == 3.0 and seek == 1100
    segs, _, _ = split_segments_by_timestamps(TS, [1, 2], 0.0, 1100, 11.0, 0)
    assert segs[0]["end"] == 11.0


def test_compression_ratio_flags_repetition():
    assert compression_ratio("ask not what your country can do for you") < 2.4
    assert compression_ratio("thank you " * 30) > 2.4


def test_suppressed_tokens_expand_minus_one():
    assert suppressed_tokens(TOK, (-1,)) == (1, 2, 7, 50257, 50357, 50358, 50359, 50360, 50361)
    assert suppressed_tokens(TOK, ()) == (50257, 50357, 50358, 50359, 50360, 50361)


def test_last_end_prefers_words():
    segs = [{"end": 3.0, "words": [{"end": 2.5}]}, {"end": 5.0, "words": []}]
    assert last_end(segs) == 2.5
    assert last_end([{"end": 5.0, "words": []}]) == 5.0
    assert last_end([]) is None
