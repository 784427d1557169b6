"""benchmarks/process.py and the report pieces built on it: settings' names, the run order, ratio math, the JSON
shape; the processes themselves faked (no model run), except one slow smoke test on a bundled sample."""

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from asr_assets.asr.evaluation import EvalItem
from benchmarks import process
from benchmarks.bench import compare, format_bench
from benchmarks.engines import GROUPS, EngineConfig
from benchmarks.process import command, measure, paired_ratio, schedule, summarize

SAMPLE = Path(__file__).resolve().parents[1] / "asr_assets" / "samples" / "calls" / "call_02_phone_update.wav"


def test_settings_names_and_command_lines():
    assert list(GROUPS) == [
        "ours-litert-int8-batched",
        "ours-litert-float32-batched",
        "ours-xla-float32-sequential",
        "ours-xla-float32-sequential-vad",
        "fw-int8-batched",
        "fw-float32",
    ]
    assert all(name == config.group for name, config in GROUPS.items())
    assert replace(GROUPS["ours-litert-int8-batched"], beam_size=1).label == "ours-litert-int8-batched-beam1"
    assert GROUPS["fw-int8-batched"].label == "fw-int8-batched-beam5"
    ours = command(replace(GROUPS["ours-litert-int8-batched"], beam_size=1), ["a.wav"])
    assert ours[:4] == [sys.executable, "-m", "asr_assets.cli", "transcribe"] and ours[-1] == "a.wav"
    assert ours[4:-1] == [
        "--compute-type",
        "int8",
        "--beam-size",
        "1",
        "--mode",
        "batched",
        "--engine",
        "litert",
    ]
    vad = command(GROUPS["ours-xla-float32-sequential-vad"], ["a.wav"])
    assert "--vad" in vad and vad[8:12] == ["--mode", "sequential", "--engine", "xla"]
    fw = command(replace(GROUPS["fw-int8-batched"], model_path="m"), ["a.wav", "b.wav"])
    assert fw == [
        *[sys.executable, "-m", "benchmarks", "_fw_transcribe"],
        *["--compute-type", "int8", "--beam-size", "5", "--model", "m", "--batched", "a.wav", "b.wav"],
    ]
    assert "--batched" not in command(GROUPS["fw-float32"], ["a.wav"])


def test_ours_options_follow_the_mode():
    from benchmarks.engines import OursEngine

    engine = OursEngine.__new__(OursEngine)  # no model: options() reads the config only
    engine.config = EngineConfig(runtime="litert", compute_type="int8", batched=True, beam_size=1)
    assert engine.options().batched and engine.options().beam_size == 1
    engine.config = GROUPS["ours-xla-float32-sequential-vad"]
    assert not engine.options().batched and engine.options().vad


def test_schedule_interleaves_ours_and_the_peer():
    groups = ["ours-litert-int8-batched", "ours-xla-float32-sequential", "fw-int8-batched", "fw-float32"]
    order = [(s["group"], s["beam_size"], s["repeat"], s["pair"]) for s in schedule(groups, [5, 1], 2)]
    block = [
        ("ours-litert-int8-batched", None),
        ("fw-int8-batched", "ours-litert-int8-batched"),
        ("ours-xla-float32-sequential", None),
        ("fw-int8-batched", "ours-xla-float32-sequential"),
        ("fw-float32", None),
    ]
    expected = [(g, b, r, p) for r in (0, 1) for b in (5, 1) for g, p in block]
    assert order == expected
    assert [s["group"] for s in schedule(["fw-int8-batched"], [5], 1)] == ["fw-int8-batched"]
    assert [s["pair"] for s in schedule(["ours-litert-int8-batched"], [5], 1)] == [None]  # no peer: no pairs


def _run(group, beam, wall, pair=None, load=1.0, rss=100.0):
    label = replace(GROUPS[group], beam_size=beam).label
    return {"group": group, "beam_size": beam, "repeat": 0, "pair": pair, "label": label, "wall_s": wall,
            "loadavg": load, "peak_rss_mb": rss, "audio_s": 60.0, "wer": 0.1}  # fmt: skip


def test_paired_ratio_is_the_peer_median_over_ours():
    ours, peer = "ours-litert-int8-batched", "fw-int8-batched"
    runs = [
        _run(ours, 5, 10.0, load=0.5),
        _run(peer, 5, 30.0, pair=ours, load=0.7),
        _run(ours, 5, 12.0),
        _run(peer, 5, 18.0, pair=ours),
        _run(ours, 5, 14.0),
        _run(peer, 5, 24.0, pair=ours),
        _run("ours-xla-float32-sequential", 5, 40.0),
        _run(peer, 5, 1000.0, pair="ours-xla-float32-sequential"),  # another setting's pair: not counted
        _run(ours, 1, 1.0),  # another beam size: not counted
    ]
    r = paired_ratio(runs, "ours-litert-int8-batched-beam5")
    assert r["ratio"] == pytest.approx(24.0 / 12.0)  # > 1: ours is faster
    assert (r["our_wall_s"], r["peer_wall_s"]) == (12.0, 24.0)
    assert r["our_loadavg"][0] == 0.5 and r["peer_loadavg"][0] == 0.7
    assert paired_ratio(runs, "ours-litert-int8-batched-beam1") is None  # no peer run next to it
    s = summarize(runs)
    assert s["fw-int8-batched-beam5"]["walls"] == [30.0, 18.0, 24.0, 1000.0]
    assert s["ours-litert-int8-batched-beam5"]["wall_s"] == 12.0
    assert s["ours-litert-int8-batched-beam5"]["speed"] == pytest.approx(5.0)


def test_comparisons_show_steady_and_whole_process_side_by_side():
    ours, peer = "ours-litert-int8-batched", "fw-int8-batched"
    result = {"file": "x.wav", "duration": 3.0, "model_version": "v", "channels": [{"channel": 0, "text": "hi",
              "words": [{"word": " hi", "start": 0.0, "end": 0.5, "probability": 0.9}]}]}  # fmt: skip
    steady = {
        f"{ours}-beam5": {"group": ours, "beam_size": 5, "speed": 60.0, "wer": 0.10, "loadavg": 1.1,
                          "results": [result]},
        f"{peer}-beam5": {"group": peer, "beam_size": 5, "speed": 40.0, "wer": 0.12, "loadavg": 1.2,
                          "results": [result]},
    }  # fmt: skip
    runs = [_run(ours, 5, 10.0, load=2.0), _run(peer, 5, 25.0, pair=ours, load=2.5)]
    whole = {"repeats": 1, "runs": runs, "settings": summarize(runs)}
    (row,) = compare(steady, [5], whole)
    assert row["ours"] == "ours-litert-int8-batched-beam5"
    assert row["steady_ratio_vs_fw-int8-batched"] == pytest.approx(1.5)
    assert row["steady_loadavg"] == {"ours": 1.1, "fw-int8-batched": 1.2}
    assert row["wer_diff_vs_fw-int8-batched"] == pytest.approx(-0.02)
    assert row["process_ratio_vs_fw-int8-batched"] == pytest.approx(2.5)
    assert row["process"]["our_loadavg"] == [2.0] and row["process"]["peer_loadavg"] == [2.5]
    assert row["parity_vs_fw-int8-batched"]["identical_text_pct"] == 100.0
    assert "parity_vs_fw-float32" not in row  # the batched mode is compared with the batched peer
    json.dumps(row)  # the report is JSON
    report = {"root": "r", "files": 1, "audio_s": 60.0, "settings": {}, "whole_process": whole,
              "comparisons": [row]}  # fmt: skip
    text = format_bench(report)
    assert "whole process" in text and "2.50x" in text and "2.00/2.50" in text
    # A whole-process-only report (no steady state) still compares.
    (only,) = compare({}, [5], whole)
    assert only["process_ratio_vs_fw-int8-batched"] == pytest.approx(2.5) and "steady_loadavg" not in only


def test_measure_times_a_process_and_parses_its_json_lines(tmp_path):
    code = "import json; x = bytearray(50 * 2**20); print('log line'); print(json.dumps({'file': 'a'}))"
    run = measure([sys.executable, "-c", code], cwd=tmp_path)
    assert run["returncode"] == 0 and run["results"] == [{"file": "a"}]
    assert run["wall_s"] > 0 and run["peak_rss_mb"] > 50 and run["loadavg"] >= 0


def test_whole_process_and_cold_start_with_fake_processes(tmp_path, monkeypatch):
    items = [EvalItem("set", SAMPLE, "hello telephone number")]
    walls = iter(float(w) for w in range(1, 100))
    spawned = []

    def fake_measure(cmd, cwd=None):
        spawned.append(cmd)
        files = [c for c in cmd if c.endswith(".wav")]
        result = {"file": files[0], "duration": 25.0, "model_version": "v",
                  "channels": [{"channel": 0, "text": "hello telephone number", "words": []}]}  # fmt: skip
        return {"wall_s": next(walls), "peak_rss_mb": 1.0, "loadavg": 0.5, "returncode": 0,
                "results": [result] * len(files), "stderr_tail": ""}  # fmt: skip

    monkeypatch.setattr(process, "measure", fake_measure)
    wp = process.run_whole_process(items, [5, 1], None, ["ours-litert-int8-batched", "fw-int8-batched"], 1)
    assert [r["label"] for r in wp["runs"]] == [
        "ours-litert-int8-batched-beam5",
        "fw-int8-batched-beam5",
        "ours-litert-int8-batched-beam1",
        "fw-int8-batched-beam1",
    ]
    assert wp["runs"][0]["wer"] == 0.0 and "results" not in wp["runs"][0]
    assert paired_ratio(wp["runs"], "ours-litert-int8-batched-beam5")["ratio"] == 2.0  # walls 1 then 2
    cold = process.run_cold_start(items, 5, None, 2)
    assert [r["label"] for r in cold["runs"]] == [
        "ours-litert-int8-batched-beam5",
        "fw-int8-batched-beam5",
    ] * 2
    assert len(cold["prime_wall_s"]) == 2  # one untimed pair first
    assert cold["comparison"]["ratio"] == pytest.approx(
        statistics_median([8, 10]) / statistics_median([7, 9])
    )
    assert spawned[-1][-1].endswith("cold-5s.wav")
    json.dumps({"whole_process": wp, "cold_start": cold})


def statistics_median(xs):
    import statistics

    return statistics.median(xs)


def test_cold_clip_is_the_first_five_seconds(tmp_path):
    import soundfile as sf

    clip = process.cold_clip(SAMPLE, tmp_path)
    info = sf.info(clip)
    assert info.samplerate == 16000 and info.duration == pytest.approx(5.0) and info.channels == 2


@pytest.mark.slow
def test_smoke_whole_process_on_one_sample():
    items = [EvalItem("calls", SAMPLE, None)]
    wp = process.run_whole_process(items, [1], None, ["ours-litert-int8-batched", "fw-int8-batched"], 1)
    ratio = paired_ratio(wp["runs"], "ours-litert-int8-batched-beam1")
    assert ratio["ratio"] > 0 and all(r["peak_rss_mb"] > 0 and r["audio_s"] > 25 for r in wp["runs"])
