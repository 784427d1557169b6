"""`python -m benchmarks scaling`: throughput and latency of the platform from 1 to 100 workers, from the
discrete-event model in scaling_model.py fed by the figures of scaling_inputs.json (docs/scaling.md).

Two scenarios, each under every configuration of the inputs file and every worker count:

- archive backfill: a multi-year archive available at t=0, landed into the landing zone as fast as the sensor
  takes it (`backlog_files` waiting at any time). The archive is simulated in `segments` windows at evenly spaced
  positions (the marts' size and the landing listing grow as it goes); each window runs enough batches to reach a
  steady state and its throughput is measured between the first quarter of its completions and the last
  `maxConcurrentRuns` (the drain). The wall time is the sum over segments of their audio / their throughput.
- daily arrival: calls landing on business days by an hourly profile (Poisson counts per hour, uniform inside the
  hour, lognormal durations), simulated until every call reached the marts: latency from landing to marts per
  call, and whether the backlog is empty every morning.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.scaling_inputs import Config, Figures, config_from, figures_from
from benchmarks.scaling_model import TICK_SETTLE_LIMIT, Platform, Supply

INPUTS = Path(__file__).with_name("scaling_inputs.json")
DAY_S = 86_400.0
SHARED = ("sensor", "dbt_pool", "postgres_cpu", "connections", "storage")
SATURATED = 0.95  # a shared resource busier than this is named as a bottleneck
NEAR = 0.8  # the busiest shared resource is named "near" from here


@dataclass(frozen=True)
class Inputs:
    figures: Figures
    configs: dict[str, Config]
    scenarios: dict[str, dict[str, Any]]
    workers: tuple[int, ...]
    raw: dict[str, Any]


def load_inputs(path: str | Path = INPUTS) -> Inputs:
    raw = json.loads(Path(path).read_text())
    return inputs_from(raw)


def inputs_from(raw: dict[str, Any]) -> Inputs:
    configs = {name: config_from(raw["configs"], name) for name in raw["configs"]}
    return Inputs(figures_from(raw["figures"]), configs, raw["scenarios"], tuple(raw["workers"]), raw)


# --- supplies -----------------------------------------------------------------------------------------------------


class ArchiveSupply(Supply):
    """`files` files of `call_s` each, at most `backlog` of them waiting in the landing zone at once."""

    def __init__(self, files: int, call_s: float, backlog: int) -> None:
        self.left = files
        self.constant_call_s = call_s
        self.backlog = backlog

    def available(self, now: float) -> int:
        return min(self.left, self.backlog)

    def take(self, n: int) -> None:
        self.left -= n
        return None

    def next_landing(self, now: float) -> float | None:
        return None


class ArrivalSupply(Supply):
    """Files landing at given times (sorted), each with its call-seconds."""

    def __init__(self, arrivals: np.ndarray, durations: np.ndarray) -> None:
        self.arrivals, self.durations, self.taken = arrivals, durations, 0

    def available(self, now: float) -> int:
        return int(np.searchsorted(self.arrivals, now, side="right")) - self.taken

    def take(self, n: int) -> np.ndarray:
        out = self.durations[self.taken : self.taken + n]
        self.taken += n
        return out

    def next_landing(self, now: float) -> float | None:
        i = int(np.searchsorted(self.arrivals, now, side="right"))
        return float(self.arrivals[i]) if i < len(self.arrivals) else None


def daily_arrivals(scenario: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Landing times (s from the first day's midnight) and call-seconds of `days` business days of calls."""
    rng = np.random.default_rng(seed)
    profile = np.asarray(scenario["hourly_profile"], dtype=float)
    per_day = scenario["calls_per_year"] / scenario["business_days_per_year"]
    times = []
    for day in range(scenario["days"]):
        counts = rng.poisson(per_day * profile / profile.sum())
        for hour, n in enumerate(counts):
            times.append(day * DAY_S + 3600.0 * (hour + rng.random(n)))
    arrivals = np.sort(np.concatenate(times))
    return arrivals, lognormal(rng, scenario["call_s"], scenario["call_s_cv"], len(arrivals))


def lognormal(rng: np.random.Generator, mean: float, cv: float, n: int) -> np.ndarray:
    sigma = math.sqrt(math.log(1 + cv * cv))
    return rng.lognormal(math.log(mean) - sigma * sigma / 2, sigma, n)


# --- the scenarios ------------------------------------------------------------------------------------------------


def platform_for(
    inputs: Inputs, config: Config, workers: int, supply: Supply, scenario: dict[str, Any], **kw
):
    return Platform(
        inputs.figures,
        config,
        workers,
        supply,
        call_s=scenario["call_s"],
        channels=scenario["channels"],
        bytes_per_call_s=scenario["bytes_per_call_s"],
        langid_share=scenario["langid_share"],
        tag_backfill=scenario.get("tag_backfill", False),
        **kw,
    )


def backfill_window(
    inputs: Inputs, config: Config, workers: int, position: float, seed: int
) -> dict[str, Any]:
    """One window of the archive at `position` (0..1 of it already ingested): its steady throughput and the
    shared resources' utilisation."""
    s, f = inputs.scenarios["archive_backfill"], inputs.figures
    cap = max(1, min(config.batch_max_files, int(config.batch_max_audio_s // (s["call_s"] * s["channels"]))))
    runs = config.max_concurrent_runs(workers)
    n_batches = max(s["window_min_batches"], s["window_batches_per_worker"] * workers, 4 * runs)
    done_before = position * s["calls"]
    supply = ArchiveSupply(n_batches * cap, s["call_s"], s["backlog_files"])
    platform = platform_for(
        inputs,
        config,
        workers,
        supply,
        s,
        marts_rows_at_start=done_before * s["call_s"] * f.words_per_call_s,
        listed_at_start=int(done_before),
        batch_audio_cv=s["call_s_cv"],
        seed=seed,
    )
    engine_s = n_batches * cap * s["call_s"] / platform.engine_rate
    platform.run(until=50 * engine_s / workers + 30 * DAY_S)
    done = sorted(platform.done, key=lambda b: b.times["done"])
    n0, n1 = len(done) // 4, len(done) - runs - 1
    if config.landing_retention == "keep":
        listed = platform.listed(min(supply.backlog, s["calls"]))
    else:  # the mean listing of the window's ticks
        ticks = [n for t, n in platform.tick_listing if t >= done[n0].times["done"]] if done[n0:] else []
        ticks = ticks or [n for _, n in platform.tick_listing] or [0]
        listed = int(np.mean(ticks))
    result: dict[str, Any] = {
        "position": position,
        "batches": n_batches,
        "calls_per_batch": platform.registered_files / max(1, len(platform.batches)),
        "listed_files": listed,
        "marts_word_rows": platform.marts_rows,
        "failed_ticks": platform.failed_ticks,
        "over_max_runtime": platform.over_max_runtime,
        "dbt_builds": platform.dbt_builds,
    }
    if platform.stalled or len(done) < n1 or n1 <= n0:
        result.update(stalled=True, throughput=0.0, utilisation={}, queues={}, sensor_capacity_files_s=0.0)
        result["bottleneck"] = f"sensor: ticks time out listing {listed:,} files"
        return result
    t0, t1 = done[n0].times["done"], done[n1].times["done"]
    # call-seconds per second = audio-hours per hour
    throughput = transcription_rate(platform.batches, t0, t1)
    utilisation = platform.utilisation(t0, t1)
    capacity = platform.sensor_capacity(listed, platform.requested)
    demand = (n1 - n0) * cap / (t1 - t0)
    utilisation["sensor"] = float(min(1.0, demand / capacity)) if capacity else 1.0
    lags = [b.times["built"] - b.times["loaded"] for b in done[n0 : n1 + 1] if "built" in b.times]
    result.update(
        stalled=False,
        throughput=throughput,
        marts_lag_p95_s=float(np.percentile(lags, 95)) if lags else math.inf,
        utilisation=utilisation,
        queues=platform.queues(t0, t1),
        sensor_capacity_files_s=capacity,
        peak_postgres_cores=platform.postgres.demand.peak(t0, t1) * config.pg_cores,
        peak_connections=platform.connections.users.peak(t0, t1) * config.connections_per_run,
    )
    result["bottleneck"] = name_bottleneck(utilisation)
    return result


def transcription_rate(batches, t0: float, t1: float) -> float:
    """Call-seconds per second transcribed in [t0, t1], each batch's audio spread evenly over its time on a
    worker. Counting completions instead is biased when the workers finish in waves (they start together)."""
    audio = 0.0
    for b in batches:
        start, end = b.times.get("transcribing"), b.times.get("transcribed")
        if start is None or end is None or end <= t0 or start >= t1:
            continue
        audio += b.call_s * (min(end, t1) - max(start, t0)) / (end - start)
    return audio / (t1 - t0)


def name_bottleneck(utilisation: dict[str, float]) -> str:
    """The shared resources at saturation, busiest first; else the busiest if near it; else the run slots when
    they hold the workers back; else the workers themselves (linear)."""
    busy = sorted(((utilisation[k], k) for k in SHARED if k in utilisation), reverse=True)
    saturated = [k for u, k in busy if u >= SATURATED]
    if saturated:
        return ", ".join(saturated)
    if busy and busy[0][0] >= NEAR:
        return f"{busy[0][1]} (near)"
    if utilisation.get("run_slots", 0) >= SATURATED and utilisation.get("workers", 1) < 0.9:
        return "run_slots"
    return "workers"


def backfill(inputs: Inputs, config_name: str, workers: int, seed: int = 1) -> dict[str, Any]:
    """The archive under one configuration and worker count: throughput, wall time and the binding segment.
    Windows past the point where the sensor's ticks time out are stalled; the throughput is then the one before
    that point, and the archive is never finished."""
    s, config = inputs.scenarios["archive_backfill"], inputs.configs[config_name]
    segments = s["segments"]
    windows = [
        backfill_window(inputs, config, workers, (i + 0.5) / segments, seed + i) for i in range(segments)
    ]
    running = [w for w in windows if not w["stalled"]]
    audio = s["calls"] * s["call_s"]
    segment_wall_s = [audio / segments / w["throughput"] for w in running]
    throughput = len(running) * audio / segments / sum(segment_wall_s) if running else 0.0
    binding = min(windows, key=lambda w: w["throughput"]) if len(running) == len(windows) else None
    binding = binding or (min(running, key=lambda w: w["throughput"]) if running else windows[0])
    limit = listing_limit(inputs, config, s)
    f = inputs.figures
    retention_cap = None  # audio-h/h at which the files landed within the retention reach the limit
    bottleneck, utilisation = binding["bottleneck"], dict(binding["utilisation"])
    if config.landing_retention == "expire":
        retention_cap = max(0, limit - s["backlog_files"]) / config.landing_retention_s * s["call_s"]
        if throughput > retention_cap:
            # Fed at r files/s, the landing zone lists r x retention files: past the limit the ticks time out,
            # so in a steady state ingestion runs at most at the cap (a window shorter than the retention can
            # finish on files registered before the listing grew: the bound, not the window, holds).
            scale = retention_cap / throughput
            for key in utilisation:
                utilisation[key] *= scale
            utilisation["sensor"] = 1.0
            throughput = retention_cap
            segment_wall_s = [audio / throughput] if running else []
            bottleneck = (
                f"sensor: {config.landing_retention_s / DAY_S:g}-day retention lists > {limit:,} files"
            )
    return {
        "config": config_name,
        "workers": workers,
        "max_concurrent_runs": config.max_concurrent_runs(workers),
        "throughput": throughput,
        "wall_days": sum(segment_wall_s) / DAY_S if len(running) == len(windows) else math.inf,
        "stalls_at": stall_position(limit, s) if config.landing_retention == "keep" else None,
        "retention_cap": retention_cap,
        "listing_limit_files": limit,
        "calls_per_batch": windows[0]["calls_per_batch"],
        "partitions": math.ceil(s["calls"] / windows[0]["calls_per_batch"]),  # incl. end-of-tick batches
        "bottleneck": bottleneck,
        "binding_position": binding["position"],
        "utilisation": utilisation,
        "queues": binding["queues"],
        "marts_lag_p95_s": max((w.get("marts_lag_p95_s", 0.0) for w in running), default=math.inf),
        "windows": windows,
        "wal_mb_s": throughput * (f.words_per_call_s + f.segments_per_call_s) * f.wal_bytes_per_row / 1e6,
    }


def stall_position(limit: int | None, scenario: dict[str, Any]) -> float | None:
    """How far into the archive (0..1) the listing reaches `limit` (None: never)."""
    if limit is None:
        return None
    position = max(0.0, (limit - scenario["backlog_files"]) / scenario["calls"])
    return position if position < 1 else None


def listing_limit(inputs: Inputs, config: Config, scenario: dict[str, Any]) -> int:
    """The landing zone's size at which a full tick passes Dagster's sensor timeout."""
    probe = platform_for(inputs, config, 1, ArchiveSupply(0, scenario["call_s"], 0), scenario)
    f = inputs.figures
    spare = f.sensor_timeout_s - probe.tick_seconds(0, probe.per_tick_files(), TICK_SETTLE_LIMIT)
    return max(0, int(spare / f.listing_s_per_file))


def daily(inputs: Inputs, config_name: str, workers: int, seed: int = 1) -> dict[str, Any]:
    """`days` business days of arrivals under one configuration and worker count, run until every call is in the
    marts (or `drain_days` after the last day): latency per call and the morning backlog."""
    s, config, f = inputs.scenarios["daily_arrival"], inputs.configs[config_name], inputs.figures
    arrivals, durations = daily_arrivals(s, seed)
    before = s["operating_days_before"] * s["calls_per_year"] / s["business_days_per_year"]
    platform = platform_for(
        inputs,
        config,
        workers,
        ArrivalSupply(arrivals, durations),
        s,
        marts_rows_at_start=before * s["call_s"] * f.words_per_call_s,
        listed_at_start=int(before),
        prior_rate_files_s=s["calls_per_year"] / (365 * DAY_S),
        seed=seed,
    )
    horizon = (s["days"] + s["drain_days"]) * DAY_S
    platform.run(until=horizon)
    built = np.full(len(arrivals), np.inf)
    parts = {k: np.zeros(len(arrivals)) for k in STAGES}
    for b in platform.batches:
        if "built" not in b.times:
            continue
        sl = slice(b.first_file, b.first_file + b.calls)
        built[sl] = b.times["built"]
        previous = arrivals[sl]
        for stage, key in STAGES.items():
            parts[stage][sl] = b.times[key] - previous
            previous = b.times[key]
    latency = built - arrivals
    in_marts = np.isfinite(latency)
    mornings = [(d + 1) * DAY_S + s["morning_h"] * 3600.0 for d in range(s["days"])]
    backlog = [int(np.sum((arrivals < t) & (built > t))) for t in mornings]
    first, last = float(arrivals[0]), float(arrivals[-1])
    utilisation = platform.utilisation(first, last)
    profile = np.asarray(s["hourly_profile"], dtype=float)
    peak_files_s = s["calls_per_year"] / s["business_days_per_year"] * profile.max() / profile.sum() / 3600.0
    if config.landing_retention == "keep":
        listed = platform.listed(0) + int(peak_files_s * 3600)
    else:
        listed = max((n for _, n in platform.tick_listing), default=0)
    capacity = platform.sensor_capacity(listed)
    utilisation["sensor"] = float(min(1.0, peak_files_s / capacity)) if capacity else 1.0
    components = {k: float(np.mean(v[in_marts])) if in_marts.any() else math.inf for k, v in parts.items()}
    return {
        "config": config_name,
        "workers": workers,
        "max_concurrent_runs": config.max_concurrent_runs(workers),
        "calls": len(arrivals),
        "in_marts": int(in_marts.sum()),
        "p50_s": float(np.percentile(latency, 50, method="inverted_cdf")),
        "p95_s": float(np.percentile(latency, 95, method="inverted_cdf")),
        "max_s": float(latency.max()),
        "morning_backlog": max(backlog),
        "keeps_up": max(backlog) == 0 and bool(in_marts.all()),
        "batches_per_day": len(platform.batches) / s["days"],
        "partitions_per_year": len(platform.batches) / s["days"] * s["business_days_per_year"],
        "latency_parts_s": components,
        "dominant_wait": max(components, key=components.get),
        "utilisation": utilisation,
        "bottleneck": name_bottleneck(utilisation),
        "failed_ticks": platform.failed_ticks,
        "over_max_runtime": platform.over_max_runtime,
        "dbt_builds": platform.dbt_builds,
    }


# per call: landing -> closed -> run started -> transcription started -> transcribed -> loaded -> in the marts
STAGES = {
    "sensor_and_batch": "closed",
    "run_queue": "started",
    "raw_audio_and_worker_wait": "transcribing",
    "transcription": "transcribed",
    "load": "loaded",
    "dbt": "built",
}


def backfill_curve(inputs: Inputs, config_name: str, workers: list[int]) -> list[dict[str, Any]]:
    """backfill() at each worker count, with efficiency = throughput(k) / (k x throughput(first k) / first k)."""
    rows = [backfill(inputs, config_name, k) for k in workers]
    base = rows[0]["throughput"] / rows[0]["workers"] if rows and rows[0]["throughput"] else 0.0
    for row in rows:
        row["efficiency"] = row["throughput"] / (row["workers"] * base) if base else 0.0
    return rows


def ablation(inputs: Inputs, tuned: str, default: str, workers: int) -> list[dict[str, Any]]:
    """The tuned configuration with one setting at a time put back to the default's value: efficiency at
    `workers` (against 1 worker of the same configuration) and the bottleneck, i.e. what each setting buys."""
    raw_configs = inputs.raw["configs"]
    default_values = asdict(inputs.configs[default])
    tuned_values = asdict(inputs.configs[tuned])
    changed = [k for k in tuned_values if k != "description" and tuned_values[k] != default_values[k]]
    rows = []
    for setting in changed:
        if default_values[setting] == asdict(inputs.configs[tuned])[setting]:
            continue
        name = f"{tuned} but {setting}"
        variant = {**raw_configs, name: {"base": tuned, setting: default_values[setting]}}
        trial = inputs_from({**inputs.raw, "configs": variant})
        curve = backfill_curve(trial, name, [1, workers])
        rows.append(
            {
                "setting": setting,
                "value": default_values[setting],
                "tuned_value": asdict(inputs.configs[tuned])[setting],
                "efficiency": curve[-1]["efficiency"],
                "throughput": curve[-1]["throughput"],
                "stalls_at": curve[-1]["stalls_at"],
                "marts_lag_p95_s": curve[-1]["marts_lag_p95_s"],
                "partitions": curve[-1]["partitions"],
                "bottleneck": curve[-1]["bottleneck"],
            }
        )
    return rows


def run_scaling(
    inputs: Inputs,
    configs: list[str] | None = None,
    workers: list[int] | None = None,
    ablate: tuple[tuple[str, str], ...] = (("recommended", "default"), ("recommended", "prod")),
) -> dict[str, Any]:
    """Both scenarios under each configuration and worker count, and each ablation (a tuned configuration against
    another) at the largest worker count, when both configurations are among `configs`."""
    configs = configs or list(inputs.configs)
    workers = workers or list(inputs.workers)
    started = time.perf_counter()
    report: dict[str, Any] = {"configs": {}, "inputs": inputs.raw, "workers": workers}
    for name in configs:
        report["configs"][name] = {
            "description": inputs.configs[name].description,
            "backfill": backfill_curve(inputs, name, workers),
            "daily": [daily(inputs, name, k) for k in workers],
        }
    report["ablations"] = [
        {
            "tuned": tuned,
            "default": default,
            "workers": max(workers),
            "rows": ablation(inputs, tuned, default, max(workers)),
        }
        for tuned, default in ablate
        if tuned in configs and default in configs
    ]
    report["elapsed_s"] = time.perf_counter() - started
    return report


# --- local figures ------------------------------------------------------------------------------------------------


def measure_local_figures(files: int = 20, call_s: float = 300.0) -> dict[str, float]:
    """The sensor's per-file work on this machine: sha256 of a landed file (MB/s) and its header read (s), the
    registry's own functions on `files` 8 kHz 16-bit stereo WAVs of `call_s` (page cache warm: the shared volume
    of a cluster is slower)."""
    import soundfile as sf

    from asr_assets.platform.files import header_length, sha256_uri

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        paths = []
        for i in range(files):
            path = Path(tmp) / f"call_{i}.wav"
            sf.write(path, rng.integers(-3000, 3000, (int(call_s * 8000), 2), dtype=np.int16), 8000)
            paths.append(path)
        size = sum(p.stat().st_size for p in paths)
        for p in paths:  # warm the page cache
            hashlib.sha256(p.read_bytes())
        start = time.perf_counter()
        for p in paths:
            sha256_uri(str(p))
        hash_s = time.perf_counter() - start
        start = time.perf_counter()
        for p in paths:
            header_length(str(p))
        header_s = time.perf_counter() - start
    return {
        "hash_mb_s": size / 1e6 / hash_s,
        "header_s_per_file": header_s / files,
        "file_mb": size / 1e6 / files,
    }
