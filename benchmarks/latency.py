"""`python -m benchmarks latency`: calls dropped one at a time at a steady rate into a warm local platform, and how
long each takes from landing to `asr_marts.fct_calls`, with where the time went.

The platform is the one `asr-assets ingest` / `asr-assets ui` run: a temp ASR_HOME, its embedded PostgreSQL (or
ASR_DATABASE_URL), the real dagster-daemon with the code location, the model caches of the machine (ASR_MODEL_CACHE,
so the LiteRT programs are baked once, not per benchmark). One warm-up call goes through first and is not counted:
what is measured is the steady state an operator sees once the platform runs.

The calls are the bundled two-channel sample calls, each copy made unique by one changed sample (a call is its
content: an identical copy would be a duplicate and never transcribed), landed as a writer should (a temp name, then
a rename). Each call's phases:
    discovery   landed -> registered in asr_raw.landed_files (the sensor's tick)
    queue       registered -> its batch's run started (batch close, run queue, launch of the run worker)
    run         run started -> its batch loaded into asr_raw (raw_audio, transcripts, the raw tables)
    marts       loaded -> its row in asr_marts.fct_calls (dbt)
and each step's mean duration from the runs' event logs.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CALLS = REPO_ROOT / "asr_assets" / "samples" / "calls"
POLL_S = 0.25
WARMUP_TIMEOUT_S = 900


@dataclass
class CallLatency:
    file_name: str
    landed: float  # epoch seconds
    registered: float | None = None
    run_started: float | None = None
    loaded: float | None = None
    in_marts: float | None = None

    @property
    def total_s(self) -> float | None:
        return None if self.in_marts is None else self.in_marts - self.landed

    def phases(self) -> dict[str, float | None]:
        marks = [self.landed, self.registered, self.run_started, self.loaded, self.in_marts]
        names = ("discovery", "queue", "run", "marts")
        return {
            name: (b - a if a is not None and b is not None else None)
            for name, a, b in zip(names, marks, marks[1:], strict=False)
        }


def two_channel_samples() -> list[Path]:
    return [p for p in sorted(SAMPLE_CALLS.glob("*.wav")) if sf.info(str(p)).channels == 2]


def write_calls(folder: Path, count: int, seconds: float, tag: str) -> list[Path]:
    """`count` unique two-channel calls of `seconds` each, cycling over the sample calls: PCM16 at the sample's
    rate, one sample changed per copy so every copy has its own content."""
    folder.mkdir(parents=True, exist_ok=True)
    samples = [sf.read(str(p), dtype="int16", always_2d=True) + (p.stem,) for p in two_channel_samples()]
    paths = []
    for i in range(count):
        audio, rate, stem = samples[i % len(samples)]
        frames = int(seconds * rate)
        call = np.zeros((frames, 2), dtype=np.int16)
        call[: min(frames, len(audio))] = audio[:frames]
        call[-1 - i % frames, i % 2] ^= 1  # one bit of one sample, its own place per copy: its own content
        path = folder / f"{tag}_{i:04d}_{stem}.wav"
        sf.write(str(path), call, rate, subtype="PCM_16")
        paths.append(path)
    return paths


def land(path: Path, landing: Path) -> float:
    """Copy under a temp name, rename into place (what the sensor asks of writers); returns the landing time."""
    temp = landing / f".{path.name}.part"
    temp.write_bytes(path.read_bytes())
    os.replace(temp, landing / path.name)
    return time.time()


def fill_from_database(dsn: str, calls: dict[str, CallLatency]) -> dict[str, str]:
    """Fill registered and loaded times of the calls that have them (the registry's and the load's clocks);
    returns each registered call's batch (partition key)."""
    import psycopg2

    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            """
            select f.file_name, extract(epoch from f.registered_at), f.partition_key,
                   extract(epoch from b.loaded_at)
            from asr_raw.landed_files f
            left join asr_raw.batch_loads b on b.partition_key = f.partition_key
            where f.file_name = any(%(names)s)
            """,
            {"names": list(calls)},
        )
        keys = {}
        for name, registered, key, loaded in cur.fetchall():
            calls[name].registered = float(registered)
            calls[name].loaded = float(loaded) if loaded is not None else None
            keys[name] = key
    conn.close()
    return keys


def in_marts(dsn: str, names: list[str]) -> set[str]:
    import psycopg2

    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('asr_marts.fct_calls')")
        if cur.fetchone()[0] is None:
            return set()
        cur.execute(
            "select file_name from asr_marts.fct_calls where file_name = any(%(names)s)", {"names": names}
        )
        found = {row[0] for row in cur.fetchall()}
    conn.close()
    return found


def step_durations(instance, run_ids: list[str]) -> dict[str, list[float]]:
    """Each step's durations (STEP_START -> STEP_SUCCESS / STEP_FAILURE) over the runs, and each run's launch
    (run start -> first step start) as `launch`."""
    import dagster as dg

    durations: dict[str, list[float]] = {}
    for run_id in run_ids:
        record = instance.get_run_record_by_id(run_id)
        starts: dict[str, float] = {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[event.step_key] = entry.timestamp
            elif event.step_key in starts and event.event_type in (
                dg.DagsterEventType.STEP_SUCCESS,
                dg.DagsterEventType.STEP_FAILURE,
            ):
                durations.setdefault(event.step_key, []).append(entry.timestamp - starts[event.step_key])
        if record is not None and record.start_time and starts:
            durations.setdefault("launch", []).append(min(starts.values()) - record.start_time)
    return durations


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def summarise(calls: list[CallLatency], steps: dict[str, list[float]], interval_s: float) -> dict:
    totals = [c.total_s for c in calls if c.total_s is not None]
    third = max(1, len(totals) // 3)
    phases = {
        name: statistics.mean(v)
        for name in ("discovery", "queue", "run", "marts")
        if (v := [p for c in calls if (p := c.phases()[name]) is not None])
    }
    return {
        "interval_s": interval_s,
        "calls": len(calls),
        "reached_marts": len(totals),
        "p50_s": percentile(totals, 50),
        "p95_s": percentile(totals, 95),
        "max_s": max(totals) if totals else float("nan"),
        # growth: the last third's mean wait against the first third's (1.0: none)
        "first_third_mean_s": statistics.mean(totals[:third]) if totals else float("nan"),
        "last_third_mean_s": statistics.mean(totals[-third:]) if totals else float("nan"),
        "phase_mean_s": phases,
        "step_mean_s": {k: statistics.mean(v) for k, v in sorted(steps.items())},
        "runs_per_step": {k: len(v) for k, v in sorted(steps.items())},
    }


def print_summary(summary: dict, calls: list[CallLatency]) -> None:
    print(
        f"{summary['reached_marts']}/{summary['calls']} calls, one every {summary['interval_s']:g} s: "
        f"landed -> fct_calls p50 {summary['p50_s']:.1f} s, p95 {summary['p95_s']:.1f} s, "
        f"max {summary['max_s']:.1f} s; first third {summary['first_third_mean_s']:.1f} s, "
        f"last third {summary['last_third_mean_s']:.1f} s"
    )
    print("where the time went (mean per call): " + ", ".join(
        f"{k} {v:.1f} s" for k, v in summary["phase_mean_s"].items()
    ))  # fmt: skip
    print("steps (mean per run, runs): " + ", ".join(
        f"{k} {v:.1f} s ({summary['runs_per_step'][k]})" for k, v in summary["step_mean_s"].items()
    ))  # fmt: skip
    for c in calls:
        phases = " ".join(f"{k}={v:.1f}" if v is not None else f"{k}=-" for k, v in c.phases().items())
        total = f"{c.total_s:.1f}" if c.total_s is not None else "not in marts"
        print(f"  {c.file_name}: {total} s ({phases})")


def wait_until_in_marts(dsn: str, calls: dict[str, CallLatency], deadline: float) -> None:
    pending = [name for name, c in calls.items() if c.in_marts is None]
    while pending and time.monotonic() < deadline:
        for name in in_marts(dsn, pending):
            calls[name].in_marts = time.time()
        pending = [name for name, c in calls.items() if c.in_marts is None]
        time.sleep(POLL_S)


def run_latency(
    interval_s: float,
    count: int,
    seconds: float,
    home: Path | None,
    timeout_s: float,
    extra_env: dict[str, str],
) -> tuple[dict, list[CallLatency]]:
    from dagster import DagsterInstance

    from asr_assets import settings
    from asr_assets.local.commands import _prepare
    from asr_assets.local.daemon import child_env, start_daemon, stop_process
    from asr_assets.platform import embedded_pg
    from asr_assets.platform.marts import MARTS_JOB

    model_cache = settings.current().model_cache  # the machine's baked programs, before ASR_HOME moves it
    root = Path(tempfile.mkdtemp(prefix="asr-latency-")) if home is None else home
    os.environ.update(
        {"ASR_HOME": str(root), "DAGSTER_HOME": str(root / "dagster"), "ASR_MODEL_CACHE": str(model_cache)}
        | extra_env
    )
    for name in ("ASR_LANDING_URL", "ASR_STORAGE_URL"):
        os.environ.pop(name, None)
    started_pg = _prepare()
    dsn = settings.libpq_url(embedded_pg.ensure_database_url())
    landing = Path(settings.landing_url())
    landing.mkdir(parents=True, exist_ok=True)
    warmup, *sources = write_calls(root / "source", count + 1, seconds, "call")  # call_0000 warms up
    daemon = start_daemon(child_env(), root / "logs" / "daemon.log")
    instance = DagsterInstance.get()
    try:
        first = {warmup.name: CallLatency(warmup.name, land(warmup, landing))}
        wait_until_in_marts(dsn, first, time.monotonic() + WARMUP_TIMEOUT_S)
        if first[warmup.name].in_marts is None:
            raise TimeoutError(
                f"the warm-up call did not reach the marts in {WARMUP_TIMEOUT_S} s: {root}/logs"
            )
        print(f"warm: the first call took {first[warmup.name].total_s:.1f} s (not counted)", flush=True)
        calls: dict[str, CallLatency] = {}
        start = time.monotonic()
        for i, path in enumerate(sources):
            while time.monotonic() < start + i * interval_s:
                wait_until_in_marts(dsn, calls, min(start + i * interval_s, time.monotonic() + POLL_S))
                time.sleep(0.05)
            calls[path.name] = CallLatency(path.name, land(path, landing))
        wait_until_in_marts(dsn, calls, time.monotonic() + timeout_s)
        keys = fill_from_database(dsn, calls)
        run_ids = []
        import dagster as dg

        for key in sorted(set(keys.values())):
            records = instance.get_run_records(
                dg.RunsFilter(job_name="ingest_job", tags={"dagster/partition": key}), limit=1
            )
            if records:
                run_ids.append(records[0].dagster_run.run_id)
                for name, k in keys.items():
                    if k == key and records[0].start_time:
                        calls[name].run_started = records[0].start_time
        first_landed = datetime.fromtimestamp(min(c.landed for c in calls.values()), UTC)
        marts_runs = instance.get_run_records(dg.RunsFilter(job_name=MARTS_JOB, created_after=first_landed))
        run_ids += [r.dagster_run.run_id for r in marts_runs]
        ordered = sorted(calls.values(), key=lambda c: c.landed)
        return summarise(ordered, step_durations(instance, run_ids), interval_s), ordered
    finally:
        stop_process(daemon)
        if started_pg:
            embedded_pg.stop_embedded_postgres()


def cmd_latency(args) -> int:
    extra = dict(item.split("=", 1) for item in args.env or [])
    summary, calls = run_latency(
        args.interval, args.calls, args.seconds, Path(args.home) if args.home else None, args.timeout, extra
    )
    print_summary(summary, calls)
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps({"summary": summary, "calls": [asdict(c) for c in calls]}, indent=2)
        )
    return 0 if summary["reached_marts"] == summary["calls"] else 1


def add_parser(sub) -> None:
    p = sub.add_parser(
        "latency",
        help="landed -> fct_calls latency on a warm local platform, calls landing at a steady rate",
        description="Starts a local platform in a temp ASR_HOME (embedded PostgreSQL unless ASR_DATABASE_URL is "
        "set, the real dagster-daemon), sends one warm-up call through, then lands --calls calls one every "
        "--interval seconds and prints p50 / p95 / max landed -> asr_marts.fct_calls and where the time went.",
    )
    p.add_argument("--interval", type=float, default=5.0, help="seconds between two calls (default 5)")
    p.add_argument("--calls", type=int, default=24, help="how many calls to land (default 24)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each call (default 30)")
    p.add_argument("--timeout", type=float, default=900.0, help="how long to wait for the last call")
    p.add_argument("--home", default=None, help="ASR_HOME to use (default: a new temp folder)")
    p.add_argument(
        "--env", action="append", metavar="NAME=VALUE", help="an ASR_* setting for the platform (repeatable)"
    )
    p.add_argument(
        "--json", dest="json_out", default=None, metavar="OUT", help="write every call's times here"
    )
