"""The platform as a discrete-event simulation (simpy): batches, not calls, flow from the landing sensor through the
run queue, the step pods and the shared resources into the marts. `benchmarks/scaling.py` runs it over scenarios
and worker counts; docs/scaling.md says what is modelled and what is not.

Every duration comes from `Figures` (benchmarks/scaling_inputs.json, each figure with its source) and every knob
from `Config`, both read by scaling_inputs.py; nothing here is a number of its own except the bookkeeping. The
shared resources:

- the landing sensor: one tick at a time, at most every `sensor_interval_s`; a tick lists the whole landing zone
  (its cost grows with what is listed), hashes at most `max_files_per_tick` unseen files within its byte and time
  budgets, registers them into batches, closes due batches and requests up to `max_requests_per_tick` runs; a tick
  longer than Dagster's sensor timeout fails and registers nothing;
- the run queue: `maxConcurrentRuns` slots (a run holds one from launch to its end, pool waits included);
- the workers: K transcription slots of `worker_cores` cores each (the transcripts step pods);
- the `dbt` pool (limit 1): one dbt step at a time across runs (or a scheduled dbt job);
- PostgreSQL: `pg_cores` cores shared by the COPY loads (one core each) and the dbt builds (`dbt_threads` cores
  each), processor-sharing, with a penalty when more work than cores is asked at once; `pg_max_connections`
  (less the reserved ones) shared by the runs, `connections_per_run` each;
- the shared volume (ReadWriteMany): `storage_mb_s` shared by the sensor's hashing, raw_audio (read the landed
  file, write its checked copy) and transcripts (read the copy), each pod at most `storage_client_mb_s`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import simpy

from benchmarks.scaling_inputs import Config, Figures
from benchmarks.scaling_resources import SharedServer, TrackedResource, Tracker

MB = 1e6
TICK_SETTLE_LIMIT = 500  # batch_runs.settle_requested looks at 10 x MAX_BATCHES_PER_TICK requested batches


@dataclass(eq=False)
class Batch:
    """One ingest batch (one partition, one run): its calls, audio and the times it passed each stage."""

    index: int
    opened: float
    first_file: int  # index of its first file in the supply's order (files are registered oldest first)
    calls: int = 0
    call_s: float = 0.0  # call-seconds (recording duration) of all its calls
    rows: float = 0.0  # word rows
    times: dict[str, float] = field(default_factory=dict)


class Supply:
    """Landed files, oldest first: how many the sensor can see at a given time, and their call-seconds.

    `constant_call_s` set: every file lasts that long (the archive: batches, not calls, are simulated);
    else `take` returns each file's duration."""

    constant_call_s: float | None = None

    def available(self, now: float) -> int:
        """Files landed by `now` and not registered yet."""
        raise NotImplementedError

    def take(self, n: int) -> np.ndarray | None:
        """Register the next n files; their call-seconds (None with constant_call_s)."""
        raise NotImplementedError

    def next_landing(self, now: float) -> float | None:
        """When the next file lands after `now` (None: no more)."""
        raise NotImplementedError


class Platform:
    """One deployment (config) with K workers, fed by a Supply, for one simulation."""

    def __init__(
        self,
        figures: Figures,
        config: Config,
        workers: int,
        supply: Supply,
        *,
        call_s: float,
        channels: int,
        bytes_per_call_s: float,
        langid_share: float,
        marts_rows_at_start: float = 0.0,
        listed_at_start: int = 0,
        prior_rate_files_s: float | None = None,
        tag_backfill: bool = False,
        batch_audio_cv: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.f, self.c, self.workers, self.supply = figures, config, workers, supply
        self.call_s, self.channels, self.bytes_per_call_s = call_s, channels, bytes_per_call_s
        self.langid_share = langid_share
        self.batch_audio_cv = batch_audio_cv
        self.rng = np.random.default_rng(seed)
        self.env = env = simpy.Environment()
        self.runs = TrackedResource(env, config.max_concurrent_runs(workers))
        self.backfill_slots = TrackedResource(env, config.backfill_tag_limit) if tag_backfill else None
        self.worker_slots = TrackedResource(env, workers)
        self.dbt_pool = TrackedResource(env, 1)
        self.connections = TrackedResource(env, config.connection_slots())
        engine_cores = min(config.worker_cores, figures.engine_cores)
        self.engine_rate = figures.engine_x_realtime * engine_cores / figures.engine_cores  # call-s per s
        self.postgres = SharedServer(env, config.pg_cores, figures.pg_overload_penalty)
        self.storage = SharedServer(env, config.storage_mb_s)
        self.sensor_busy = Tracker(env)
        self.marts_rows = marts_rows_at_start
        self.listed_at_start = listed_at_start
        self.prior_rate_files_s = prior_rate_files_s
        self.recent: deque[tuple[float, int]] = deque()  # (time, files) registered within the retention
        self.recent_files = 0
        self.tick_listing: list[tuple[float, int]] = []  # (tick start, entries listed)
        self.batches: list[Batch] = []
        self.open_batch: Batch | None = None
        self.closed: list[Batch] = []  # closed, no run requested yet
        self.loaded_unbuilt: list[Batch] = []
        self.registered_files = 0
        self.in_flight_files = 0  # registered, run not finished (what stays listed with retention)
        self.done: list[Batch] = []
        self.done_files = 0
        self.requested = 0  # runs requested and not finished (the tick settles each)
        self.ticks = 0
        self.failed_ticks = 0
        self.over_max_runtime = 0
        self.dbt_builds = 0
        self.stalled = False
        env.process(self._sensor())
        if config.dbt_mode == "scheduled":
            env.process(self._dbt_schedule())

    def run(self, until: float) -> None:
        self.env.run(until=until)

    def finished(self) -> bool:
        """Everything that will land has been registered, run and built into the marts."""
        return (
            self.supply.available(self.env.now) == 0
            and self.supply.next_landing(self.env.now) is None
            and self.open_batch is None
            and not self.closed
            and len(self.done) == len(self.batches)
            and not self.loaded_unbuilt
        )

    # --- the landing sensor -------------------------------------------------------------------------------------

    @property
    def file_mb(self) -> float:
        return self.call_s * self.bytes_per_call_s / MB

    @property
    def hash_rate(self) -> float:
        """MB/s of the sensor's hashing: sha256's own rate or the shared volume's per-client rate."""
        return min(self.f.hash_mb_s, self.f.storage_client_mb_s)

    def listed(self, unseen: int) -> int:
        """Entries a tick lists: everything ever landed (retention keep), or what landed within the retention
        (expire). Under expire, the `listed_at_start` files landed before the simulation are assumed to have landed
        at `prior_rate_files_s` (None: at the rate the platform has finished files so far, i.e. an archive fed at
        the pace it is ingested), and leave the listing as they reach the retention age."""
        if self.c.landing_retention == "keep":
            return self.listed_at_start + self.registered_files + unseen
        now, age = self.env.now, self.c.landing_retention_s
        while self.recent and self.recent[0][0] <= now - age:
            self.recent_files -= self.recent.popleft()[1]
        rate = self.prior_rate_files_s
        if rate is None:
            rate = self.done_files / max(now, 3600.0)
        prior = min(self.listed_at_start, rate * max(0.0, age - now))
        return int(prior) + self.recent_files + unseen

    def per_tick_files(self) -> int:
        """Files one tick can hash: the file, byte and time budgets (registry.hash_within_budget)."""
        per_file_s = self.file_mb / self.hash_rate + self.f.header_s_per_file
        by_bytes = int(self.c.max_bytes_per_tick // (self.file_mb * MB)) if self.file_mb else 10**9
        by_time = int(self.c.max_tick_s // per_file_s) + 1
        return max(1, min(self.c.max_files_per_tick, by_bytes, by_time))

    def tick_seconds(self, listed: int, hashed: int, requested: int = 0) -> float:
        """A tick's duration with an idle shared volume."""
        return (
            self.f.sensor_tick_base_s
            + listed * self.f.listing_s_per_file
            + hashed * (self.file_mb / self.hash_rate + self.f.header_s_per_file)
            + min(requested, TICK_SETTLE_LIMIT) * self.f.settle_s_per_batch
        )

    def sensor_capacity(self, listed: int, requested: int = 0) -> float:
        """Files per second the sensor can register at this listing size (0: its ticks time out)."""
        n = self.per_tick_files()
        tick = self.tick_seconds(listed, n, requested)
        if tick > self.f.sensor_timeout_s:
            return 0.0
        return n / max(self.c.sensor_interval_s, tick)

    def _batch_due(self, b: Batch) -> bool:
        """close_due_batches.sql: full by files or audio, or open for batch_max_wait_s."""
        return (
            b.calls >= self.c.batch_max_files
            or b.call_s * self.channels >= self.c.batch_max_audio_s
            or self.env.now - b.opened >= self.c.batch_max_wait_s
        )

    def _sensor_has_work(self) -> bool:
        due = self.open_batch is not None and self._batch_due(self.open_batch)
        return bool(self.supply.available(self.env.now) or self.closed or due)

    def _next_sensor_time(self) -> float | None:
        candidates = []
        landing = self.supply.next_landing(self.env.now)
        if landing is not None:
            candidates.append(landing)
        if self.open_batch is not None:
            candidates.append(self.open_batch.opened + self.c.batch_max_wait_s)
        return min(candidates) if candidates else None

    def _sensor(self):
        env, f, c = self.env, self.f, self.c
        while True:
            if not self._sensor_has_work():
                # A tick with nothing to do changes nothing: jump to the first tick after the next landing (or
                # the open batch's deadline); with neither, the sensor has nothing left to do.
                nxt = self._next_sensor_time()
                if nxt is None:
                    return
                grid = c.sensor_interval_s
                yield env.timeout(max(grid * math.ceil(nxt / grid) - env.now, 1e-6))
                continue
            start = env.now
            self.ticks += 1
            self.sensor_busy.set(1)
            unseen = self.supply.available(start)
            n = min(unseen, self.per_tick_files())
            listed = self.listed(unseen)
            self.tick_listing.append((start, listed))
            overhead = self.tick_seconds(listed, 0, self.requested) + n * f.header_s_per_file
            if overhead + n * self.file_mb / self.hash_rate > f.sensor_timeout_s:
                # Dagster gives up on the evaluation: nothing is registered, nothing requested.
                self.failed_ticks += 1
                yield env.timeout(f.sensor_timeout_s)
                self.sensor_busy.set(0)
                if self.in_flight_files == 0 and c.landing_retention == "keep":
                    self.stalled = True  # nothing will shrink the listing: ingestion has stopped
                    return
                yield env.timeout(max(0.0, start + c.sensor_interval_s - env.now))
                continue
            if n:
                yield self.storage.serve(n * self.file_mb, self.hash_rate)
            yield env.timeout(overhead)
            if n:
                self._register(n)
            if self.open_batch is not None and self._batch_due(self.open_batch):
                self._close(self.open_batch)
            self._request_due()
            self.sensor_busy.set(0)
            yield env.timeout(max(0.0, start + c.sensor_interval_s - env.now))

    def _open(self) -> Batch:
        b = self.open_batch = Batch(len(self.batches), self.env.now, first_file=self.registered_files)
        self.batches.append(b)
        return b

    def _register(self, n: int) -> None:
        """n files into batches as registry.register does: a batch closes when the next file would pass
        batch_max_files or batch_max_audio_s (channel-seconds)."""
        c, durations = self.c, self.supply.take(n)
        self.in_flight_files += n
        self.recent.append((self.env.now, n))
        self.recent_files += n
        if durations is None:  # every file lasts constant_call_s: fill batches arithmetically
            s = self.supply.constant_call_s
            cap = max(1, min(c.batch_max_files, int(c.batch_max_audio_s // (s * self.channels))))
            while n:
                b = self.open_batch
                if b is None or b.calls >= cap:
                    if b is not None:
                        self._close(b)
                    b = self._open()
                take = min(n, cap - b.calls)
                b.calls += take
                b.call_s += take * s
                self.registered_files += take
                n -= take
            return
        for s in durations.tolist():
            b = self.open_batch
            if b is None or (
                b.calls > 0
                and (b.calls + 1 > c.batch_max_files or (b.call_s + s) * self.channels > c.batch_max_audio_s)
            ):
                if b is not None:
                    self._close(b)
                b = self._open()
            b.calls += 1
            b.call_s += s
            self.registered_files += 1

    def _close(self, batch: Batch) -> None:
        if self.batch_audio_cv:  # the spread of a sum of `calls` call durations
            sd = self.batch_audio_cv / math.sqrt(batch.calls)
            batch.call_s *= float(np.clip(self.rng.normal(1.0, sd), 0.3, 3.0))
        batch.times["closed"] = self.env.now
        batch.rows = batch.call_s * self.f.words_per_call_s
        self.closed.append(batch)
        self.open_batch = None

    def _request_due(self) -> None:
        for batch in self.closed[: self.c.max_requests_per_tick]:
            batch.times["requested"] = self.env.now
            self.requested += 1
            self.env.process(self._run(batch))
        del self.closed[: self.c.max_requests_per_tick]

    # --- one run ------------------------------------------------------------------------------------------------

    def _run(self, batch: Batch):
        env, f, c = self.env, self.f, self.c
        run_slot = yield from self.runs.acquire()
        tag_slot = (yield from self.backfill_slots.acquire()) if self.backfill_slots else None
        connection = yield from self.connections.acquire()
        batch.times["started"] = env.now
        # dequeued, run pod up, then raw_audio's pod: read the landed file, write its checked copy, check it
        yield env.timeout(c.dequeue_interval_s / 2 + 2 * f.pod_startup_s)
        mb = batch.call_s * self.bytes_per_call_s / MB
        yield self.storage.serve(2 * mb, f.storage_client_mb_s)
        yield env.timeout(batch.calls * f.raw_audio_s_per_call)
        batch.times["checked"] = env.now
        # transcripts: one worker; its slot is claimed before the pod starts
        worker = yield from self.worker_slots.acquire()
        batch.times["transcribing"] = env.now
        startup = f.pod_startup_s + f.engine_startup_s + (f.langid_startup_s if self.langid_share else 0.0)
        yield env.timeout(startup)
        yield self.storage.serve(mb, f.storage_client_mb_s)
        yield env.timeout(
            batch.call_s / self.engine_rate + batch.calls * self.langid_share * f.langid_s_per_call
        )
        self.worker_slots.release(worker)
        batch.times["transcribed"] = env.now
        # asr_raw.*: one transaction per batch, one PostgreSQL core while it copies
        yield env.timeout(f.pod_startup_s + f.load_fixed_s)
        rows = batch.rows + batch.call_s * f.segments_per_call_s
        yield self.postgres.serve(rows / f.copy_rows_per_s, 1.0)
        batch.times["loaded"] = env.now
        self.loaded_unbuilt.append(batch)
        if c.dbt_mode != "scheduled":
            slot = yield from self.dbt_pool.acquire()
            yield env.timeout(f.pod_startup_s)  # the pool slot is claimed before the step pod starts
            if c.dbt_mode == "per_run_skip_built" and "built" in batch.times:
                yield env.timeout(f.load_fixed_s)  # stg_batch_loads vs the marts: nothing to build
            else:
                yield from self._dbt_build()
            self.dbt_pool.release(slot)
            yield env.timeout(f.pod_startup_s + f.report_s)  # batch_report
        self.connections.release(connection)
        if tag_slot is not None:
            self.backfill_slots.release(tag_slot)
        self.runs.release(run_slot)
        batch.times["done"] = env.now
        if env.now - batch.times["started"] > c.max_runtime_s:
            self.over_max_runtime += 1
        self.in_flight_files -= batch.calls
        self.done_files += batch.calls
        self.requested -= 1
        self.done.append(batch)

    def _dbt_build(self):
        """One `dbt build`: every batch loaded before it starts is pending and gets built (pending_batches)."""
        env, f, c = self.env, self.f, self.c
        pending, self.loaded_unbuilt = self.loaded_unbuilt, []
        self.dbt_builds += 1
        for b in pending:
            b.times["dbt_start"] = env.now
        new_rows = sum(b.rows for b in pending)
        tested = self.marts_rows + new_rows if c.dbt_tests == "full" else new_rows
        yield env.timeout(f.dbt_fixed_s)
        work = new_rows / 1e3 * f.dbt_core_s_per_k_rows + tested / 1e6 * f.dbt_test_core_s_per_m_rows
        yield self.postgres.serve(work, float(c.dbt_threads))
        self.marts_rows += new_rows
        for b in pending:
            b.times["built"] = env.now

    def _dbt_schedule(self):
        """dbt out of the ingest runs: a dbt job (run pod, dbt step pod, report step pod) whenever batches are
        pending, at most every dbt_interval_s. It goes first in the run queue (dagster/priority) and is not counted
        in the ingest runs' slots (one more slot for it)."""
        env, f, c = self.env, self.f, self.c
        while not self.finished() or self.loaded_unbuilt:
            started = env.now
            if self.loaded_unbuilt:
                connection = yield from self.connections.acquire()
                hold = yield from self.dbt_pool.acquire()
                yield env.timeout(c.dequeue_interval_s / 2 + 2 * f.pod_startup_s)
                reported = len(self.loaded_unbuilt)
                yield from self._dbt_build()
                self.dbt_pool.release(hold)
                yield env.timeout(f.pod_startup_s + reported * f.report_s)
                self.connections.release(connection)
            yield env.timeout(max(c.dbt_interval_s - (env.now - started), c.dequeue_interval_s))

    # --- results ------------------------------------------------------------------------------------------------

    def utilisation(self, t0: float, t1: float) -> dict[str, float]:
        """Each shared resource's busy share over [t0, t1]."""
        return {
            "workers": self.worker_slots.users.mean(t0, t1) / self.worker_slots.capacity,
            "run_slots": self.runs.users.mean(t0, t1) / self.runs.capacity,
            "dbt_pool": self.dbt_pool.users.mean(t0, t1),
            "postgres_cpu": self.postgres.demand.mean(t0, t1),
            "connections": self.connections.users.mean(t0, t1) / self.connections.capacity,
            "storage": self.storage.demand.mean(t0, t1),
            "sensor_busy": self.sensor_busy.mean(t0, t1),
        }

    def queues(self, t0: float, t1: float) -> dict[str, float]:
        """Mean number waiting for each resource over [t0, t1]."""
        return {
            "workers": self.worker_slots.queue.mean(t0, t1),
            "run_slots": self.runs.queue.mean(t0, t1),
            "dbt_pool": self.dbt_pool.queue.mean(t0, t1),
            "connections": self.connections.queue.mean(t0, t1),
            "postgres_cpu": self.postgres.in_service.mean(t0, t1),
            "storage": self.storage.in_service.mean(t0, t1),
        }
