"""bench.py's pure parts: file selection, scoring and engine parity on hand-made results."""

import pytest

from asr_assets.asr.bench import format_bench, parity, score, select_items
from asr_assets.asr.evaluation import EvalItem


def _result(*channels: list[tuple[str, float, float]]) -> dict:
    return {
        "file": "x.wav",
        "duration": 3.0,
        "model_version": "v",
        "channels": [
            {
                "channel": c,
                "text": "".join(w for w, _, _ in words).strip(),
                "words": [{"word": w, "start": s, "end": e, "probability": 0.9} for w, s, e in words],
            }
            for c, words in enumerate(channels)
        ],
    }


def test_parity_matches_words_and_measures_timing():
    ours = [_result([(" Hello", 0.0, 0.5), (" there.", 0.5, 1.0)]), _result([(" A", 0.0, 0.2)])]
    theirs = [_result([(" hello", 0.02, 0.5), (" there", 0.5, 1.1)]), _result([(" B", 0.0, 0.2)])]
    p = parity(ours, theirs)
    assert p["identical_text_pct"] == 50.0
    assert p["matched_words"] == 2
    assert p["median_abs_start_diff_s"] == pytest.approx(0.01)
    assert p["median_abs_end_diff_s"] == pytest.approx(0.05)


def test_score_per_set_and_select_spread(tmp_path):
    items = [EvalItem("a", tmp_path / "1.wav", "hello world"), EvalItem("b", tmp_path / "2.wav", None)]
    scored = score(items, [_result([(" hello", 0, 1), (" word", 1, 2)]), _result([(" x", 0, 1)])])
    assert scored["wer"] == 0.5 and scored["sets"]["a"]["wer"] == 0.5 and scored["sets"]["b"]["wer"] is None
    for name in "abcdef":
        (tmp_path / name).mkdir()
        (tmp_path / name / "durations.tsv").write_text("1.wav\t1\n2.wav\t1\n")
    picked = select_items(tmp_path, 6)
    assert len(picked) == 6 and len({i.set_name for i in picked}) == 6
    with pytest.raises(FileNotFoundError):
        select_items(tmp_path / "missing", None)


def test_format_bench_shows_ratios():
    setting = {"speed": 40.0, "wer": 0.1, "load_s": 1.0, "warmup_s": 2.0, "peak_rss_mb": 500, "wall_s": 10.0}
    report = {
        "root": "r",
        "files": 1,
        "audio_s": 400.0,
        "settings": {
            "tf-beam5": {**setting, "stage_s": {"encoder": 5.0, "decoder": 4.0}},
            "fw-int8-batched-beam5": {**setting, "speed": 20.0, "stage_s": {}},
        },
        "comparisons": [{"beam_size": 5, "ratio_vs_fw-int8-batched": 2.0}],
    }
    text = format_bench(report)
    assert "ours/fw-int8-batched 2.00x" in text and "encoder 50%" in text
