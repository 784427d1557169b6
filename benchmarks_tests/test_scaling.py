"""The scaling model (benchmarks/scaling*.py) on small inputs: it conserves calls and audio, one worker runs at the
engine's rate less its overheads, a serialised step is named and caps the throughput, the recommended
configuration scales (and the default does not), a landing retention caps it, and `python -m benchmarks scaling` runs on the checked-in inputs."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import scaling
from benchmarks.scaling import ArchiveSupply, ArrivalSupply, inputs_from, platform_for
from benchmarks.scaling_resources import SharedServer, Tracker

REPO = Path(__file__).resolve().parents[1]
RAW = json.loads(scaling.INPUTS.read_text())


def small(**figures) -> scaling.Inputs:
    """The checked-in inputs with scenarios cut to seconds of simulation; `figures` overrides figure values."""
    raw = copy.deepcopy(RAW)
    raw["scenarios"]["archive_backfill"].update(
        calls=400_000, segments=2, window_min_batches=12, window_batches_per_worker=4, call_s_cv=0.0
    )
    raw["scenarios"]["daily_arrival"].update(calls_per_year=250_000, drain_days=4)
    for name, value in figures.items():
        raw["figures"][name]["value"] = value
    return inputs_from(raw)


def variant(inputs: scaling.Inputs, name: str, base: str, **settings) -> scaling.Inputs:
    raw = copy.deepcopy(inputs.raw)
    raw["configs"][name] = {"base": base, "description": name, **settings}
    return inputs_from(raw)


def test_inputs_file_gives_every_figure_a_source_and_marks_the_provisional_ones():
    inputs = scaling.load_inputs()
    assert {"default", "prod", "recommended"} <= set(inputs.configs)
    for name, figure in RAW["figures"].items():
        assert {"value", "unit", "source", "command", "date"} <= set(figure), name
        if figure["source"].startswith("provisional:"):
            assert "replaced by" in figure["source"], name
        elif figure["source"].startswith("assumption:"):
            pass  # stated as one in docs/scaling.md
        elif "by hand" in figure["source"]:
            assert figure["date"], f"{name}: a measurement by hand needs its date"
        else:
            assert figure["command"] and figure["date"], (
                f"{name}: a measured figure needs its command and date"
            )
    assert RAW["figures"]["engine_x_realtime"]["value"] == 21.7  # BENCHMARKS.md, beam 5, calls


def test_engine_figures_agree_with_the_measured_whole_process():
    """The model's transcription time (audio / rate + start-up) against the measured whole `asr-assets
    transcribe` process on the same calls: within 10 % (the rest is the interpreter and imports)."""
    f = scaling.load_inputs().figures
    modelled = f.engine_whole_process_audio_s / f.engine_x_realtime + f.engine_startup_s
    assert modelled == pytest.approx(f.engine_whole_process_s, rel=0.1)
    assert modelled < f.engine_whole_process_s


def test_shared_server_splits_capacity_and_caps_each_job():
    env_inputs = small()
    platform = platform_for(
        env_inputs,
        env_inputs.configs["recommended"],
        1,
        ArchiveSupply(0, 300, 0),
        env_inputs.scenarios["archive_backfill"],
    )
    env = platform.env
    server = SharedServer(env, capacity=4.0)
    finished = {}

    def job(name, work, max_rate):
        yield server.serve(work, max_rate)
        finished[name] = env.now

    env.process(job("a", 4.0, 1.0))  # capped at 1/s: 4 s
    env.process(job("b", 12.0, 10.0))  # gets the other 3/s: 4 s, then 4/s alone
    env.run()
    assert finished["a"] == pytest.approx(4.0)
    assert finished["b"] == pytest.approx(4.0)
    tracker = Tracker(env)
    assert tracker.mean(0, 1) == 0.0


def test_every_batch_is_transcribed_once_and_audio_is_conserved():
    inputs = small()
    s = inputs.scenarios["daily_arrival"]
    arrivals, durations = scaling.daily_arrivals(s, seed=3)
    for config in ("default", "recommended"):
        platform = platform_for(inputs, inputs.configs[config], 3, ArrivalSupply(arrivals, durations), s)
        platform.run(until=(s["days"] + s["drain_days"]) * scaling.DAY_S)
        assert platform.finished(), config
        batches = platform.batches
        assert len(platform.done) == len(batches) == len({id(b) for b in platform.done})
        # every file in exactly one batch, in landing order
        starts = [b.first_file for b in batches]
        assert starts == sorted(starts) and starts[0] == 0
        assert [a.first_file + a.calls for a in batches[:-1]] == starts[1:]
        assert sum(b.calls for b in batches) == len(arrivals)
        assert sum(b.call_s for b in batches) == pytest.approx(durations.sum())
        for b in batches:
            t = b.times
            assert t["requested"] <= t["started"] <= t["transcribing"] < t["transcribed"] <= t["loaded"]
            assert t["loaded"] <= t["built"]
            assert b.calls <= platform.c.batch_max_files
            assert b.calls == 1 or b.call_s * 2 <= platform.c.batch_max_audio_s
    # archive: files of constant length, batches filled to the cap
    supply = ArchiveSupply(1000, 300, 200)
    platform = platform_for(
        inputs, inputs.configs["recommended"], 2, supply, inputs.scenarios["archive_backfill"]
    )
    platform.run(until=1e7)
    assert sum(b.calls for b in platform.done) == 1000 and len(platform.done) == 5
    assert sum(b.call_s for b in platform.done) == pytest.approx(1000 * 300)


def test_one_worker_runs_at_the_engine_rate_less_its_overheads():
    """recommended gives 1 worker 2 run slots, so the worker never waits: throughput = audio per batch / the time the
    batch holds the worker (pod, engine and language-id start-up, reading the audio, transcribing)."""
    inputs = small()
    f, s = inputs.figures, inputs.scenarios["archive_backfill"]
    result = scaling.backfill(inputs, "recommended", 1)
    audio = 200 * s["call_s"]
    hold = (
        f.pod_startup_s
        + f.engine_startup_s
        + f.langid_startup_s
        + audio * s["bytes_per_call_s"] / 1e6 / f.storage_client_mb_s
        + audio / f.engine_x_realtime
        + 200 * s["langid_share"] * f.langid_s_per_call
    )
    assert result["throughput"] == pytest.approx(audio / hold, rel=0.01)
    assert result["throughput"] < f.engine_x_realtime
    assert result["bottleneck"] == "workers"
    # default: one run at a time, so every step's time counts against the worker
    default = scaling.backfill(inputs, "default", 1)
    assert default["throughput"] < 0.8 * result["throughput"]
    assert default["utilisation"]["workers"] < 0.85


def test_a_serialised_dbt_step_is_named_and_caps_the_throughput():
    slow_dbt = 600.0
    inputs = variant(small(dbt_fixed_s=slow_dbt), "serial", "recommended", dbt_mode="per_run")
    result = scaling.backfill(inputs, "serial", 10)
    assert result["bottleneck"] == "dbt_pool"
    assert result["utilisation"]["dbt_pool"] > 0.95
    # at most one batch per dbt hold (pod start-up + the build) can leave the pool
    f = inputs.figures
    cap = 200 * inputs.scenarios["archive_backfill"]["call_s"] / (f.pod_startup_s + slow_dbt)
    assert result["throughput"] <= cap * 1.02
    assert result["throughput"] < 0.5 * 10 * scaling.backfill(inputs, "serial", 1)["throughput"]
    # the same step, fast: the workers are the limit again
    fast = variant(small(dbt_fixed_s=1.0), "serial", "recommended", dbt_mode="per_run")
    assert scaling.backfill(fast, "serial", 10)["bottleneck"] == "workers"


def test_connections_and_the_sensor_are_named_when_they_bind():
    inputs = variant(
        small(), "few-connections", "recommended", pg_max_connections=30
    )  # (30 - 15) // 3 = 5 runs
    result = scaling.backfill(inputs, "few-connections", 10)
    assert result["bottleneck"].startswith("connections")
    assert result["throughput"] < 0.6 * 10 * scaling.backfill(inputs, "few-connections", 1)["throughput"]
    slow_sensor = variant(small(), "slow-sensor", "recommended", max_files_per_tick=10, sensor_interval_s=60)
    assert scaling.backfill(slow_sensor, "slow-sensor", 20)["bottleneck"].startswith("sensor")


def test_a_landing_zone_that_keeps_every_file_stalls_the_sensor():
    inputs = small(listing_s_per_file=2e-4)  # a tick passes 60 s at ~230k files listed
    result = scaling.backfill(inputs, "default", 2)
    assert 0.3 < result["stalls_at"] < 0.75 and result["wall_days"] == float("inf")
    assert any(w["stalled"] and w["bottleneck"].startswith("sensor") for w in result["windows"])
    assert result["listing_limit_files"] < inputs.scenarios["archive_backfill"]["calls"]
    assert scaling.backfill(inputs, "recommended", 2)["stalls_at"] is None  # ingested files leave the zone


def test_a_landing_retention_caps_ingestion_at_what_the_sensor_can_list():
    """Files expiring R after landing: fed at r files/s the zone lists r x R; past the listing limit ticks time
    out, so the throughput stays under limit / R (a short retention lifts the cap)."""
    inputs = small(listing_s_per_file=2e-4)  # the limit: ~100k files
    long = variant(inputs, "long", "recommended", landing_retention_s=14 * scaling.DAY_S)
    result = scaling.backfill(long, "long", 20)
    assert result["retention_cap"] < 0.5 * 20 * scaling.backfill(long, "long", 1)["throughput"]
    assert result["throughput"] <= result["retention_cap"] * 1.001
    assert result["bottleneck"].startswith("sensor") and result["stalls_at"] is None
    short = scaling.backfill_curve(inputs, "recommended", [1, 20])  # 1 day
    assert short[-1]["efficiency"] >= 0.9 and short[-1]["retention_cap"] > short[-1]["throughput"]


def test_recommended_scales_at_least_90_percent_linear_and_default_does_not():
    inputs = small()
    tuned = scaling.backfill_curve(inputs, "recommended", [1, 20])
    default = scaling.backfill_curve(inputs, "default", [1, 50])
    assert tuned[-1]["efficiency"] >= 0.9
    assert default[-1]["efficiency"] < 0.9
    assert default[-1]["bottleneck"] != "workers"


def test_daily_arrival_latency_and_keeping_up():
    inputs = small()
    one = scaling.daily(inputs, "recommended", 1)
    many = scaling.daily(inputs, "recommended", 10)
    assert many["keeps_up"] and many["in_marts"] == many["calls"]
    assert many["p50_s"] <= many["p95_s"] <= many["max_s"]
    assert one["p95_s"] >= many["p95_s"]
    # the latency is made of its stages
    parts = sum(many["latency_parts_s"].values())
    latency_mean = np.mean([many["p50_s"], many["p95_s"]])
    assert 0.3 * latency_mean < parts < 3 * latency_mean


def test_cli_runs_on_the_checked_in_inputs(tmp_path):
    out = tmp_path / "scaling.json"
    run = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "scaling", "--configs", "recommended", "--workers", "1,2",
            "--markdown", "--json", str(out),
        ],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "### Archive backfill" in run.stdout and "### Daily arrival" in run.stdout
    assert "`engine_x_realtime` | 21.7" in run.stdout
    report = json.loads(out.read_text())
    rows = report["configs"]["recommended"]["backfill"]
    assert [r["workers"] for r in rows] == [1, 2] and rows[1]["efficiency"] > 0.9
    bad = subprocess.run(
        [sys.executable, "-m", "benchmarks", "scaling", "--configs", "nope"],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "unknown configs" in bad.stdout


def test_docs_quote_the_inputs_file_as_it_is():
    """docs/scaling.md's generated tables come from the checked-in inputs: a figure changed without regenerating
    them (`python -m benchmarks scaling --markdown`) fails here."""
    from benchmarks.scaling_report import format_figures

    docs = (REPO / "docs" / "scaling.md").read_text()
    assert format_figures(RAW["figures"]) in docs
