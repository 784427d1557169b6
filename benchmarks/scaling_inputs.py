"""The scaling model's inputs (benchmarks/scaling_inputs.json): the measured `Figures`, each entry checked for its
value, unit, source, command and date, and the deployments' `Config`s, a named one merged over the one it names as
its base. scaling_model.py runs the platform on them; scaling.py loads the file."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Figures:
    """Measured (or provisional) figures, one per entry of scaling_inputs.json's "figures"."""

    engine_x_realtime: float  # stereo call-seconds transcribed per wall second by one engine on engine_cores
    engine_cores: int  # cores the engine figure was measured on (= threads the engine uses)
    engine_startup_s: float  # load the programs + the first run at a batch's largest shape
    engine_whole_process_s: float  # one whole `asr-assets transcribe` process on the bench's calls (a check)
    engine_whole_process_audio_s: float  # the call-seconds of that process
    langid_startup_s: float  # load the multilingual model's programs for language identification
    langid_s_per_call: float  # identify one call's language (first 30 s)
    raw_audio_s_per_call: float  # decode, check, checksum one call in the raw_audio step (CPU)
    pod_startup_s: float  # create a Job until its process runs the step (image cached), per run or step pod
    words_per_call_s: float  # word rows per call-second (both channels)
    segments_per_call_s: float  # segment rows per call-second
    copy_rows_per_s: float  # rows/s of one batch's load (COPY to temp, delete, insert), one core
    load_fixed_s: float  # per load: migrations check, delete the partition, batch_loads, checks
    dbt_fixed_s: float  # a dbt build with nothing pending: process start, parse, compile, model round trips
    dbt_core_s_per_k_rows: float  # PostgreSQL core-seconds per 1,000 new word rows built into the marts
    dbt_test_core_s_per_m_rows: float  # core-seconds of the tests per million word rows they scan
    report_s: float  # the batch report step's work
    sensor_tick_base_s: float  # a tick with nothing to list or hash: gRPC, connections, queries
    listing_s_per_file: float  # a tick's cost per entry in the landing zone (listing + the unseen query)
    hash_mb_s: float  # the sensor's sha256 of landed files, one stream
    header_s_per_file: float  # reading a file's header for its duration
    settle_s_per_batch: float  # a tick's look-up of one requested batch's run
    sensor_timeout_s: float  # Dagster fails a sensor evaluation that takes longer
    pg_overload_penalty: float  # capacity lost per 100 % of asked-for cores beyond the server's cores
    storage_client_mb_s: float  # one pod's read or write rate on the shared volume
    wal_bytes_per_row: float  # WAL written per loaded row (heap + indexes)


@dataclass(frozen=True)
class Config:
    """A deployment's settings (scaling_inputs.json "configs"); worker-relative ones scale with K."""

    description: str
    batch_max_files: int  # ASR_BATCH_MAX_FILES
    batch_max_audio_s: float  # ASR_BATCH_MAX_AUDIO_S, channel-seconds
    batch_max_wait_s: float  # ASR_BATCH_MAX_WAIT_S (0: a batch closes at the end of its tick)
    sensor_interval_s: float  # ASR_SENSOR_INTERVAL_S
    max_files_per_tick: int  # ASR_MAX_FILES_PER_TICK
    max_bytes_per_tick: float  # the tick's byte budget
    max_tick_s: float  # the tick's hashing time budget
    max_requests_per_tick: int  # batch_runs.MAX_BATCHES_PER_TICK
    landing_retention: str  # "keep": landed files stay (no retention configured); "expire": deleted after
    landing_retention_s: (
        float  # ... this long after landing (an S3 lifecycle rule or a CronJob, deployment/README.md)
    )
    runs_per_worker: float  # maxConcurrentRuns = ceil(K x this)
    dequeue_interval_s: float  # the run queue's dequeueIntervalSeconds
    backfill_tag_limit: int  # tagConcurrencyLimits dagster/backfill (applies to runs tagged as a backfill)
    max_runtime_s: float  # runMonitoring.maxRuntimeSeconds (runs past it are counted, not failed)
    worker_cores: int  # CPU request of the transcripts step pod
    dbt_mode: str  # "per_run", "per_run_skip_built" (shipped), "scheduled" (not built)
    dbt_interval_s: float  # scheduled: a dbt job at most this often, when batches are pending
    dbt_tests: str  # "full": the tests scan the whole marts; "pending": only the built batches (shipped)
    dbt_threads: int  # ASR_DBT_THREADS
    pg_cores: int
    pg_max_connections: int
    pg_reserved_connections: int  # webserver, daemon, code server, analysts
    connections_per_run: int  # run pod + step pod to Dagster's database + the step's to asr
    storage_mb_s: float  # the shared volume's aggregate bandwidth

    DBT_MODES = ("per_run", "per_run_skip_built", "scheduled")

    def __post_init__(self) -> None:
        if self.dbt_mode not in self.DBT_MODES:
            raise ValueError(f"dbt_mode {self.dbt_mode!r}: one of {self.DBT_MODES}")
        if self.dbt_tests not in ("full", "pending"):
            raise ValueError(f"dbt_tests {self.dbt_tests!r}: full or pending")
        if self.landing_retention not in ("keep", "expire"):
            raise ValueError(f"landing_retention {self.landing_retention!r}: keep or expire")
        if self.landing_retention == "expire" and self.landing_retention_s <= 0:
            raise ValueError("landing_retention expire needs landing_retention_s > 0")

    def max_concurrent_runs(self, workers: int) -> int:
        return max(1, math.ceil(workers * self.runs_per_worker))

    def connection_slots(self) -> int:
        return max(1, (self.pg_max_connections - self.pg_reserved_connections) // self.connections_per_run)


def figures_from(raw: dict[str, Any]) -> Figures:
    """Figures from the file's "figures": every one must be there with value, unit, source, command and date."""
    missing = [f.name for f in fields(Figures) if f.name not in raw]
    if missing:
        raise ValueError(f"scaling inputs: figures missing: {', '.join(missing)}")
    for name, entry in raw.items():
        absent = [k for k in ("value", "unit", "source", "command", "date") if k not in entry]
        if absent:
            raise ValueError(f"scaling inputs: figure {name} lacks {', '.join(absent)}")
    return Figures(**{f.name: raw[f.name]["value"] for f in fields(Figures)})


def config_from(configs: dict[str, Any], name: str) -> Config:
    """A named configuration; "base" names the one it overrides."""
    entry = dict(configs[name])
    base = entry.pop("base", None)
    merged = {**(_config_dict(configs, base) if base else {}), **entry}
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ValueError(f"scaling inputs: config {name}: unknown settings {unknown}")
    return Config(**merged)


def _config_dict(configs: dict[str, Any], name: str) -> dict[str, Any]:
    entry = dict(configs[name])
    base = entry.pop("base", None)
    return {**(_config_dict(configs, base) if base else {}), **entry}
