"""A backlog: 10,000 small recordings landed at once and registered by the real landing sensor in the real
dagster-daemon with the default budget (400 new files hashed per tick; batches of at most 200 calls or 4 h of
channel audio), through two kill -9 of the daemon and its code server in the middle of a tick: once while the tick
hashes, once while it holds the registry lock with its writes not committed.

The instance lets no run start (max_concurrent_runs 0): each run the sensor requests stays QUEUED, so the test
counts them and nothing is transcribed. Once every file is registered, the per-tick registry statements are
EXPLAINed with real parameters (the plans are in docs/dagster-ingest.md, "Backlog").

The figures (ticks, evaluation and whole-tick times, registration time) are printed: `pytest -s` shows them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import signal
import statistics
import time
import wave
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import numpy as np
import psycopg2
import pytest
import yaml

from asr_assets import settings
from asr_assets.defs.resources import DEFAULT_MAX_FILES_PER_TICK
from asr_assets.local.daemon import start_daemon, stop_daemon_tree
from asr_assets.platform.discovery import list_landing
from asr_assets.platform.sql import read_sql
from asr_assets.platform.sql.migrate import migrate
from asr_assets_tests.conftest import private_temp_dir, query_rows, throwaway_database

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

N_FILES = 10_000
FILES_PER_TICK = DEFAULT_MAX_FILES_PER_TICK  # the default budget: not set here
BATCH_MAX_FILES = 200  # the default batch bounds
BATCH_MAX_AUDIO_S = 4 * 3600
EVALUATION_LIMIT_S = 20.0  # ours for the sensor's evaluation; Dagster cancels it after 60 s
TICK_LIMIT_S = 60.0  # a whole tick: the evaluation, then the daemon adds the partitions and creates the runs
SAMPLE_RATE = 8000
# Where each kill -9 lands, and after how many registered files: while a tick hashes (its connection idle in the
# transaction that select_unseen_objects opened), and while it holds the registry lock (lock_registry.sql).
KILLS = (("hashing", N_FILES // 4), ("registry writes", N_FILES // 2))
HASHING_SQL = (
    "select pid from pg_stat_activity where datname = current_database() and state = 'idle in transaction'"
    " and query like %(query)s"
)
REGISTRY_LOCK_SQL = (
    "select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1"
    " and classid::bigint = (hashtext('asr_raw.landed_files')::bigint >> 32) & 4294967295"
    " and objid::bigint = hashtext('asr_raw.landed_files')::bigint & 4294967295"
)
HISTORY_BATCHES = 20_000  # two years of batches at 2 M calls a year, for the ingest_batches plans
EVALUATION_LOG = re.compile(r"landing_sensor - landing zone: .*; tick ([0-9.]+) s")


@dataclass
class Backlog:
    dsn: str
    root: Path
    checksums: dict[str, str]  # source URI -> sha256 of the bytes written
    ticks: list = field(default_factory=list)  # the landing sensor's InstigatorTicks, oldest first
    evaluations_s: list[float] = field(default_factory=list)  # the sensor's own timing of each evaluation
    runs: list = field(default_factory=list)  # ingest_job DagsterRuns
    partitions: list[str] = field(default_factory=list)  # ingest_batches dynamic partitions
    kills: list[dict] = field(default_factory=list)  # what each kill -9 interrupted
    registration_s: float = 0.0  # first daemon start -> every file registered (restarts included)


def _wav_bytes(rng: np.random.Generator, seconds: float, channels: int) -> bytes:
    samples = rng.integers(-2000, 2000, size=(int(seconds * SAMPLE_RATE), channels), dtype=np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples.tobytes())
    return out.getvalue()


def land_backlog(root: Path, n: int) -> dict[str, str]:
    """n distinct 0.5-1 s PCM WAVs (every tenth stereo), a quarter at the top and the rest in site/day folders,
    written at once; returns source URI -> sha256."""
    rng = np.random.default_rng(19)
    checksums = {}
    for i in range(n):
        folder = root if i % 4 == 0 else root / f"site-{i % 3}" / f"2026-12-{1 + i % 5:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        data = _wav_bytes(rng, 0.5 + (i % 6) / 10, 2 if i % 10 == 0 else 1)
        path = folder / f"call-{i:05d}.wav"
        path.write_bytes(data)
        checksums[f"file://{path}"] = hashlib.sha256(data).hexdigest()
    assert len(set(checksums.values())) == n
    return checksums


def _registered(dsn: str) -> int:
    return query_rows(dsn, "select count(*) from asr_raw.landed_files")[0][0]


def _write_instance(dagster_home: Path) -> None:
    """Our local instance, except that no run may start: the sensor's runs stay QUEUED."""
    config = settings.instance_config(dagster_home)
    config["concurrency"]["runs"]["max_concurrent_runs"] = 0
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _daemon_env(home: Path, dsn: str, landing: Path) -> dict[str, str]:
    """This environment without our variables (so the batch bounds and the tick budget are the defaults), then the
    test's locations."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(settings.OUR_PREFIXES)}
    return env | {
        "ASR_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "ASR_DATABASE_URL": dsn,
        "ASR_LANDING_URL": str(landing),
        # as often as the daemon's loop allows (it evaluates a sensor at most every 5 s)
        "ASR_SENSOR_INTERVAL_S": "1",
    }


def _wait_for(condition, deadline_s: float, what: str, daemon=None) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        if daemon is not None and daemon.poll() is not None:
            raise AssertionError(f"dagster-daemon exited ({daemon.returncode}) while waiting for {what}")
        if time.monotonic() > end:
            raise AssertionError(f"no {what} within {deadline_s} s")
        time.sleep(0.5)


def _kill_mid_tick(dsn: str, daemon, phase: str, deadline_s: float) -> dict:
    """kill -9 the daemon's process group (the daemon and its code server, which evaluates the sensor) while a
    tick is in `phase`; returns what was committed before and after.

    Placed by events, not by timing: once the probe sees a tick in the phase, the group is stopped (SIGSTOP), and
    only if the same backend still holds the phase once nothing can move on is it killed; otherwise the group
    continues and the probe waits for the next tick. A slow machine changes how long this takes, not where the
    kill lands."""
    counts = (
        "select (select count(*) from asr_raw.landed_files), (select count(*) from asr_raw.landing_objects)"
    )
    probe, params = (
        (HASHING_SQL, {"query": read_sql("select_unseen_objects").split("\n")[0] + "%"})
        if phase == "hashing"
        else (REGISTRY_LOCK_SQL, None)
    )
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            end = time.monotonic() + deadline_s
            while time.monotonic() < end:
                cur.execute(probe, params)
                holder = cur.fetchone()
                if holder is None:
                    time.sleep(0.002)
                    continue
                os.killpg(daemon.pid, signal.SIGSTOP)
                cur.execute(counts)
                before = cur.fetchone()
                cur.execute(probe, params)  # after `before`: a commit in between would have ended the phase
                if cur.fetchone() != holder:
                    os.killpg(daemon.pid, signal.SIGCONT)
                    continue
                os.killpg(daemon.pid, signal.SIGKILL)
                killed_at = time.time()
                daemon.wait(30)
                for _ in range(200):  # the backend sees its client gone and rolls the transaction back
                    cur.execute("select count(*) from pg_stat_activity where pid = %s", holder)
                    if cur.fetchone()[0] == 0:
                        break
                    time.sleep(0.05)
                cur.execute(counts)
                after = cur.fetchone()
                return {"phase": phase, "at": killed_at, "before": before, "after": after}
    finally:
        conn.close()
    raise AssertionError(f"no tick reached {phase} within {deadline_s} s")


def _sensor_ticks(instance: dg.DagsterInstance, name: str = "landing_sensor") -> list:
    states = [s for s in instance.all_instigator_state() if s.name == name]
    assert len(states) == 1, states
    ticks = instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id, limit=100_000)
    return sorted(ticks, key=lambda t: t.timestamp)


def _quiet_tick_after(instance: dg.DagsterInstance, started: float) -> bool:
    """A tick that started after `started` has finished and requested nothing."""
    return any(
        t.timestamp > started and t.end_timestamp and t.status.value == "SKIPPED"
        for t in _sensor_ticks(instance)
    )


@pytest.fixture(scope="module")
def backlog_dsn(any_server_url: str):
    """A database of its own on TEST_DATABASE_URL's server when set, else on the embedded server."""
    for url in throwaway_database(any_server_url, prefix="asr_backlog"):
        yield settings.libpq_url(url)


@pytest.fixture(scope="module")
def backlog(backlog_dsn: str):
    """10,000 files landed at once, registered by the daemon, which is killed -9 twice mid-tick."""
    from asr_assets.defs.dbt import prepare_dbt_project

    base = private_temp_dir("asr-test-backlog-")
    home, landing = base / "home", base / "landing"
    landing.mkdir(parents=True)
    started = time.monotonic()
    result = Backlog(backlog_dsn, landing, land_backlog(landing, N_FILES))
    print(f"\nbacklog: {N_FILES} files written in {time.monotonic() - started:.1f} s")
    _write_instance(home / "dagster")
    env = _daemon_env(home, backlog_dsn, landing)
    migrate(backlog_dsn)
    prepare_dbt_project()  # the code server imports the dbt assets: the manifest must exist (as `ingest` does)
    daemon = None
    try:
        started = time.monotonic()
        for phase, after_files in KILLS:
            # A kill that lands just after the phase ended (seen, then over before the signal) interrupts
            # nothing in it: then once more, a few ticks later.
            for attempt in range(3):
                daemon = start_daemon(env, home / "logs" / f"daemon-{len(result.kills)}.log")
                target = after_files + attempt * 3 * FILES_PER_TICK
                _wait_for(lambda t=target: _registered(backlog_dsn) >= t, 900, f"{target} registered", daemon)
                result.kills.append(_kill_mid_tick(backlog_dsn, daemon, phase, 300))
                daemon = None
                if result.kills[-1]["after"] == result.kills[-1]["before"]:
                    break
        daemon = start_daemon(env, home / "logs" / "daemon-last.log")
        _wait_for(lambda: _registered(backlog_dsn) == N_FILES, 1200, "complete registration", daemon)
        result.registration_s = time.monotonic() - started
        unrequested = (
            "select count(*) from asr_raw.ingest_batches where status <> 'requested' and file_count > 0"
        )
        _wait_for(
            lambda: query_rows(backlog_dsn, unrequested) == [(0,)], 120, "request for every batch", daemon
        )
        with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
            requested_at = time.time()
            _wait_for(lambda: _quiet_tick_after(instance, requested_at), 300, "tick with nothing new", daemon)
            stop_daemon_tree(daemon)
            daemon = None
            result.ticks = _sensor_ticks(instance)
            result.runs = [
                r.dagster_run for r in instance.get_run_records(dg.RunsFilter(job_name="ingest_job"))
            ]
            result.partitions = list(instance.get_dynamic_partitions("ingest_batches"))
        for log in sorted((home / "logs").glob("daemon-*.log")):
            result.evaluations_s += [
                float(s) for s in EVALUATION_LOG.findall(log.read_text(errors="replace"))
            ]
        yield result
    finally:
        if daemon is not None:
            stop_daemon_tree(daemon)
        shutil.rmtree(base, ignore_errors=True)


def test_every_file_is_registered_exactly_once_in_bounded_batches(backlog: Backlog):
    files = query_rows(backlog.dsn, "select source_uri, checksum from asr_raw.landed_files")
    assert len(files) == N_FILES
    assert dict(files) == backlog.checksums  # each file once, under its own URI, by its content
    assert query_rows(backlog.dsn, "select count(*) from asr_raw.landed_duplicates") == [(0,)]
    seen = query_rows(backlog.dsn, "select source_uri, checksum, outcome from asr_raw.landing_objects")
    # every listed entry accounted for and hashed once: one hashed again after a restart would be 'known'
    assert {uri: (checksum, outcome) for uri, checksum, outcome in seen} == {
        uri: (checksum, "registered") for uri, checksum in backlog.checksums.items()
    }
    batches = query_rows(
        backlog.dsn,
        "select b.file_count, b.audio_s, count(f.checksum), b.status, b.attempts"
        " from asr_raw.ingest_batches b left join asr_raw.landed_files f using (batch_id)"
        " group by b.batch_id order by b.batch_id",
    )
    assert [row for row in batches if row[0] != row[2]] == []  # the counts agree with the files
    assert max(row[1] for row in batches) <= BATCH_MAX_AUDIO_S
    # each tick's files fill whole batches and close them: a killed tick left no half-filled batch behind
    assert [(count, status, attempts) for count, _, _, status, attempts in batches] == [
        (BATCH_MAX_FILES, "requested", 1)
    ] * (N_FILES // BATCH_MAX_FILES)


def test_both_kills_landed_mid_tick_and_left_nothing_behind(backlog: Backlog):
    landed = [kill for kill in backlog.kills if kill["after"] == kill["before"]]
    assert [kill["phase"] for kill in landed] == [phase for phase, _ in KILLS]
    for kill in landed:
        # nothing of the interrupted tick was committed: whole ticks only (each entry recorded)
        assert kill["before"][0] % FILES_PER_TICK == 0 and kill["before"][0] == kill["before"][1]

    def interrupted_by(kills: list[dict]) -> list:
        return [
            t for t in backlog.ticks if any(t.timestamp < k["at"] < (t.end_timestamp or 2e9) for k in kills)
        ]

    # The daemon started again found each interrupted tick dangling: it closed it as skipped, or, when the kill came
    # after the tick's evaluation had stored its run requests, resumed it and submitted exactly those (Dagster's
    # sensor daemon, _get_evaluation_tick); each run key is requested by one tick only (checked below).
    interrupted = interrupted_by(backlog.kills)
    assert len(interrupted) == len(backlog.kills)
    assert {t.status.value for t in interrupted} <= {"SKIPPED", "SUCCESS"}
    assert all(t.tick_data.run_keys for t in interrupted if t.status.value == "SUCCESS")


def test_every_tick_ends_well_inside_the_sensor_limit(backlog: Backlog):
    interrupted = {
        t.tick_id
        for t in backlog.ticks
        if any(t.timestamp < k["at"] < (t.end_timestamp or 2e9) for k in backlog.kills)
    }
    ticks = [t for t in backlog.ticks if t.tick_id not in interrupted]
    whole = [t.end_timestamp - t.timestamp for t in ticks]
    evaluations = backlog.evaluations_s
    statuses = Counter(t.status.value for t in backlog.ticks)
    p90 = sorted(evaluations)[int(0.9 * len(evaluations))]
    print(
        f"\nbacklog: {N_FILES} files in {len(backlog.ticks)} ticks {dict(statuses)}, {len(backlog.kills)} kill -9 "
        f"mid-tick; the sensor's evaluation (listing {N_FILES} entries included): max {max(evaluations):.2f} s, "
        f"median {statistics.median(evaluations):.2f} s, p90 {p90:.2f} s over {len(evaluations)} ticks; the "
        f"whole tick (the daemon adds the partition and creates the run): max {max(whole):.2f} s, median "
        f"{statistics.median(whole):.2f} s; registration {backlog.registration_s:.0f} s (restarts included); "
        f"evaluation median over the first 10 ticks {statistics.median(evaluations[:10]):.2f} s, the last 10 "
        f"{statistics.median(evaluations[-10:]):.2f} s (with ~{len(evaluations) - 10} batches waiting for runs)"
    )
    assert statuses.get("FAILURE", 0) == 0, [t.error for t in backlog.ticks if t.error]
    assert None not in [t.end_timestamp for t in ticks]
    # every registering tick logged its time; the killed ones and the last quiet tick did not (a kill retried
    # because it landed just after a commit may have cut a registering tick short of its log line)
    missed = sum(kill["after"] != kill["before"] for kill in backlog.kills)
    assert N_FILES // FILES_PER_TICK - missed <= len(evaluations) <= N_FILES // FILES_PER_TICK
    assert max(evaluations) < EVALUATION_LIMIT_S
    assert max(whole) < TICK_LIMIT_S


def test_each_batch_got_one_partition_and_one_run_request_across_the_restarts(backlog: Backlog):
    keys = [
        key
        for (key,) in query_rows(backlog.dsn, "select partition_key from asr_raw.ingest_batches order by 1")
    ]
    assert sorted(backlog.partitions) == keys
    results = [r for t in backlog.ticks for r in t.tick_data.dynamic_partitions_request_results]
    assert sorted(k for r in results for k in r.added_partitions) == keys  # each added by exactly one tick
    requested = [k for t in backlog.ticks for k in t.tick_data.run_keys]
    assert sorted(requested) == [f"{key}:1" for key in keys]  # each run key requested by exactly one tick
    assert Counter(run.tags["dagster/partition"] for run in backlog.runs) == Counter(keys)
    assert {run.status for run in backlog.runs} == {dg.DagsterRunStatus.QUEUED}


# ---- EXPLAIN: the statements a tick runs, on the registered backlog ----


def _tick_statements(dsn: str, root: Path) -> dict[str, dict]:
    """Every statement a landing-sensor tick runs (registry.py, batch_runs.py) -> real parameters: the whole
    listing, the last batch's checksums, a registered URI, the zone."""
    listing = list_landing(str(root)).objects
    zone, batch_id, key = query_rows(
        dsn,
        "select landing_url, batch_id, partition_key from asr_raw.ingest_batches order by batch_id desc limit 1",
    )[0]
    files = query_rows(
        dsn, "select checksum, source_uri from asr_raw.landed_files where batch_id = %(b)s", {"b": batch_id}
    )
    checksums = [checksum for checksum, _ in files]
    new = [hashlib.sha256(c.encode()).hexdigest() for c in checksums]  # contents not registered yet
    rows = [(c, "new.wav", f"file:///new/{c}.wav", None, 16044, 1.0, batch_id, key) for c in new]
    return {  # in the order a tick runs them
        "select_unseen_objects": {
            "uris": [o.uri for o in listing], "sizes": [o.size_bytes for o in listing],
            "modified": [o.modified for o in listing],
        },
        "select_erasures": {"checksums": new},
        "select_landed_files": {"checksums": checksums[:100] + new[:100]},
        "select_open_batch": {"landing_url": zone},
        "open_batch": {"landing_url": zone},
        "close_batch": {"batch_id": batch_id},
        "insert_landed_files": {"rows": rows},
        "insert_landed_duplicate": {"source_uri": "file:///new/copy.wav", "checksum": checksums[0], "file_name": "copy.wav"},
        "add_to_batch": {"batch_id": batch_id, "files": 200, "audio_s": 150.0},
        "upsert_landing_object": {
            "source_uri": files[0][1], "size_bytes": 16044, "modified": 1.0, "checksum": checksums[0],
            "outcome": "registered", "reason": None,
        },
        "close_due_batches": {"landing_url": zone, "max_files": 200, "max_audio_s": 14400, "max_wait_s": 0,
                              "max_in_flight": 2},
        "select_requested_batches": {"landing_url": zone, "limit": 500},
        "count_unsettled_files": {"partition_key": key},
        "mark_batch_outcome": {"batch_id": batch_id, "status": "succeeded", "run_id": None, "error": None, "retry_in_s": 0},
        "select_given_up_batches": {"landing_url": zone, "limit": 500},
        "select_batches_to_request": {"landing_url": zone, "limit": 50},
        "mark_batch_requested": {"batch_id": batch_id, "landing_url": zone},
    }  # fmt: skip


def _explain(cur, name: str, params: dict) -> dict:
    """EXPLAIN (ANALYZE, FORMAT JSON) of the statement in the caller's transaction (rolled back by the caller)."""
    sql = read_sql(name)
    if name == "insert_landed_files":  # execute_values' VALUES %s, filled as it fills it
        rows = b",".join(cur.mogrify("(%s,%s,%s,%s,%s,%s,%s,%s)", row) for row in params["rows"])
        sql, params = sql.replace("values %s", f"values {rows.decode()}"), None
    cur.execute(f"explain (analyze, format json) {sql}", params)
    return cur.fetchone()[0][0]


def _scans(node: dict) -> list[str]:
    """'<node type> on <table>[ using <index>]' for every read of a table or an index in the plan tree."""
    found = []
    if node["Node Type"] != "ModifyTable" and ("Relation Name" in node or "Index Name" in node):
        table = f" on {node['Relation Name']}" if "Relation Name" in node else ""
        index = f" using {node['Index Name']}" if "Index Name" in node else ""
        found.append(f"{node['Node Type']}{table}{index}")
    for child in node.get("Plans", []):
        found += _scans(child)
    return found


def test_every_statement_of_a_tick_uses_an_index_on_the_backlog(backlog: Backlog):
    """On the registered backlog (10,000 rows in landed_files and landing_objects, analyzed) plus two years of
    batches (20,000 succeeded ones in ingest_batches), no statement a tick runs reads a registry table from end to
    end: each reaches its rows through an index. All in one transaction, rolled back: the backlog stays as it was."""
    statements = _tick_statements(backlog.dsn, backlog.root)
    conn = psycopg2.connect(backlog.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "insert into asr_raw.ingest_batches (partition_key, opened_at, closed_at, file_count, audio_s,"
                " landing_url, status, attempts) select 'history-' || g, now() - interval '2 years',"
                " now() - interval '2 years', 200, 36000, zone.url, 'succeeded', 1 from generate_series(1, %(n)s) g,"
                " (select landing_url as url from asr_raw.ingest_batches limit 1) as zone",
                {"n": HISTORY_BATCHES},
            )
            # ANALYZE counts this transaction's own rows; its statistics are rolled back with them
            cur.execute(
                "analyze asr_raw.landed_files; analyze asr_raw.landing_objects; analyze asr_raw.ingest_batches"
            )
            plans = {name: _explain(cur, name, params) for name, params in statements.items()}
    finally:
        conn.rollback()
        conn.close()
    scans = {name: _scans(plan["Plan"]) for name, plan in plans.items()}
    for name, plan in plans.items():
        print(
            f"{name}: {'; '.join(scans[name]) or plan['Plan']['Node Type']} ({plan['Execution Time']:.2f} ms)"
        )
    registry = ("landed_files", "landing_objects", "ingest_batches")
    full_passes = {
        name: [s for s in found if s.startswith("Seq Scan") and s.split()[-1] in registry]
        for name, found in scans.items()
    }
    assert full_passes == {name: [] for name in scans}
    # the listing's 10,000 entries are compared with the registry by one primary-key probe each
    assert scans["select_unseen_objects"] == ["Index Scan on landing_objects using landing_objects_pkey"]
    assert scans["select_landed_files"] == ["Index Scan on landed_files using landed_files_pkey"]
    assert scans["select_open_batch"][0].endswith("on ingest_batches using ingest_batches_open_idx")
