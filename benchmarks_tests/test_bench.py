"""benchmarks/bench.py's pure parts: report formatting, rescoring and engine parity on hand-made results."""

import pytest

from asr_assets.asr.evaluation import EvalItem, score
from benchmarks.bench import format_bench, parity, rescore


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


def test_format_bench_shows_ratios():
    setting = {"speed": 40.0, "wer": 0.1, "load_s": 1.0, "warmup_s": 2.0, "peak_rss_mb": 500, "wall_s": 10.0}
    report = {
        "root": "r",
        "files": 1,
        "audio_s": 400.0,
        "settings": {
            "ours-litert-int8-batched-beam5": {**setting, "stage_s": {"encoder": 5.0, "decoder": 4.0}},
            "fw-int8-batched-beam5": {**setting, "speed": 20.0, "stage_s": {}},
        },
        "comparisons": [
            {
                "beam_size": 5,
                "ours": "ours-litert-int8-batched-beam5",
                "steady_ratio_vs_fw-int8-batched": 2.0,
                "steady_loadavg": {"ours": 1.0, "fw-int8-batched": 1.5},
            }
        ],
    }
    text = format_bench(report)
    assert "ours-litert-int8-batched-beam5" in text and "2.00x" in text and "encoder 50%" in text
    assert "1.00/1.50" in text  # the load averages next to the figure


def test_stereo_file_is_scored_per_channel_and_reports_rescore(tmp_path):
    # Same speech on both channels (as the eval sets' stereo files): WER 0, not ~1 from doubled words.
    item = EvalItem("a", tmp_path / "1.wav", "hello there")
    both = _result([(" hello", 0, 1), (" there", 1, 2)], [(" hello", 0, 1), (" there", 1, 2)])
    both["file"] = str(item.path)
    assert score([item], [both])["wer"] == 0.0
    one_wrong = _result([(" hello", 0, 1), (" there", 1, 2)], [(" hello", 0, 1)])
    assert score([item], [one_wrong])["wer"] == 0.25  # 1 edit over 2 channels x 2 reference words

    setting = {"speed": 2.0, "beam_size": 5, "results": [both], "wer": 1.0, "sets": {}}
    report = {
        "settings": {
            "ours-litert-int8-batched-beam5": {**setting, "group": "ours-litert-int8-batched"},
            "fw-int8-batched-beam5": {**setting, "group": "fw-int8-batched", "speed": 4.0},
        }
    }
    again = rescore(report, [item])
    assert again["settings"]["ours-litert-int8-batched-beam5"]["wer"] == 0.0
    assert again["comparisons"][0]["steady_ratio_vs_fw-int8-batched"] == 0.5  # ours at half the peer's speed
    assert again["comparisons"][0]["parity_vs_fw-int8-batched"]["identical_text_pct"] == 100.0
    with pytest.raises(ValueError, match="files differ"):
        rescore(report, [EvalItem("a", tmp_path / "2.wav", "x")])


def test_worker_writes_one_run_per_beam_with_its_load_average(tmp_path, monkeypatch):
    import json
    from dataclasses import asdict, replace

    from benchmarks import bench
    from benchmarks.engines import GROUPS, EngineRun

    class FakeEngine:
        model_version = "v"

        def __init__(self, config):
            self.config = config

        def run(self, paths, progress=None):
            return EngineRun(
                [_result([(" hi", 0.0, 0.5)])] * len(paths), 2.0, 30.0 * len(paths), {"encoder": 1.0}
            )

    monkeypatch.setattr(bench, "load_engine", FakeEngine)
    configs = [asdict(replace(GROUPS["ours-litert-int8-batched"], beam_size=b)) for b in (5, 1)]
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps({"configs": configs, "files": ["a.wav", "b.wav"], "out": str(tmp_path / "o.json")})
    )
    bench.worker(spec)
    out = json.loads((tmp_path / "o.json").read_text())
    assert [r["label"] for r in out["runs"]] == [
        "ours-litert-int8-batched-beam5",
        "ours-litert-int8-batched-beam1",
    ]
    assert all(r["loadavg"] >= 0 and r["audio_s"] == 60.0 and r["channel_s"] == 6.0 for r in out["runs"])
    assert out["peak_rss_mb"] > 0 and out["model_version"] == "v"
