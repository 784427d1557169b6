"""`python -m benchmarks tick-time`: what a landing-sensor tick costs over a landing folder that already holds N
registered files, for each N (default 1,000 and 1,000,000), side by side.

For each size: a folder of N small files (sharded 1,000 a sub-folder, as dated folders are), each already in the
registry (asr_raw.landing_objects, outcome registered, with the size and time a listing reports: seeded with COPY,
nothing hashed), then the real `landing_sensor` evaluated as the daemon does (its cursor kept):
    first          the process's first tick: no events yet, so the whole folder is listed and compared
    events         10 new calls renamed into place, one tick: the files the events named (the steady state)
    idle           a tick with nothing new
    reconcile      a tick of the reconciliation pass: one slice (ASR_RECONCILE_SLICE entries) compared
The database is ASR_DATABASE_URL's server (a scratch database per size) or a temp embedded one.
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

SHARD = 1000
NEW_CALLS = 10


def make_folder(root: Path, count: int) -> list[tuple[str, int, float]]:
    """`count` 1-byte files under root/<shard>/; returns (uri, size, modified) of each as a listing reports it."""
    rows = []
    for i in range(count):
        shard = root / f"{i // SHARD:05d}"
        if i % SHARD == 0:
            shard.mkdir(parents=True, exist_ok=True)
        path = shard / f"call_{i:08d}.wav"
        with open(path, "wb") as f:
            f.write(b"\0")
        rows.append((f"file://{path}", 1, os.lstat(path).st_mtime))
    return rows


def seed_registry(dsn: str, rows: list[tuple[str, int, float]]) -> None:
    import psycopg2

    buffer = io.StringIO()
    for uri, size, modified in rows:
        buffer.write(f"{uri}\t{size}\t{modified!r}\tregistered\n")
    buffer.seek(0)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.copy_expert(
            "copy asr_raw.landing_objects (source_uri, size_bytes, modified, outcome) from stdin", buffer
        )
        cur.execute("analyze asr_raw.landing_objects")
    conn.close()


def timed_tick(instance, resources, cursor: str | None) -> tuple[float, str | None]:
    import dagster as dg

    from asr_assets.defs.sensors import landing_sensor

    started = time.perf_counter()
    result = landing_sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
    return time.perf_counter() - started, result.cursor


def measure(size: int, server_url: str, work: Path, sample: Path, slice_size: int) -> dict[str, float]:
    import dagster as dg
    import psycopg2

    from asr_assets import settings
    from asr_assets.defs.resources import LandingZoneResource, PostgresResource
    from asr_assets.platform.folder_events import folder_events
    from asr_assets.platform.landing_watch import ReconcileState
    from asr_assets.platform.sql.migrate import migrate

    name = f"asr_tick_{size}"
    admin = psycopg2.connect(settings.libpq_url(server_url))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{name}"')  # noqa: S608 (our own fixed name)
        cur.execute(f'create database "{name}"')
    admin.close()
    from sqlalchemy.engine import make_url

    dsn = settings.libpq_url(make_url(server_url).set(database=name).render_as_string(hide_password=False))
    migrate(dsn)
    root = work / f"landing-{size}"
    started = time.perf_counter()
    seed_registry(dsn, make_folder(root, size))
    print(f"  {size:,} registered files made in {time.perf_counter() - started:.0f} s", flush=True)
    zone = LandingZoneResource(url=str(root), reconcile_interval_s=3600, reconcile_slice=slice_size)
    resources = {"landing": zone, "postgres": PostgresResource(database_url=dsn)}
    times: dict[str, float] = {}
    with dg.instance_for_test() as instance:
        times["first"], cursor = timed_tick(instance, resources, None)
        for i in range(NEW_CALLS):
            data = bytearray(sample.read_bytes())
            data[-1] ^= (i + 1) & 0xFF  # content of its own
            temp = root / f".new_{i}.wav.part"
            temp.write_bytes(bytes(data))
            os.replace(temp, root / f"new_{i}.wav")
        deadline = time.monotonic() + 30  # the observer thread delivers the events a moment later
        feed = folder_events(str(root))
        pending: set[str] = set()
        while len({p for p in pending if "/new_" in p}) < NEW_CALLS and time.monotonic() < deadline:
            pending |= feed.drain() or set()
            time.sleep(0.05)
        feed.requeue(sorted(pending))
        times["events"], cursor = timed_tick(instance, resources, cursor)
        idle = []
        for _ in range(3):
            seconds, cursor = timed_tick(instance, resources, cursor)
            idle.append(seconds)
        times["idle"] = statistics.median(idle)
        due = ReconcileState("", 0.0).to_cursor()  # a pass due now: its first slice
        times["reconcile"], _ = timed_tick(instance, resources, due)
        feed.stop()
    shutil.rmtree(root, ignore_errors=True)
    return times


def cmd_tick_time(args) -> int:
    from asr_assets import settings
    from asr_assets.platform import embedded_pg
    from asr_assets.samples import CALLS_DIR

    work = Path(tempfile.mkdtemp(prefix="asr-tick-"))
    server_url = settings.current().database_url
    started_pg = server_url is None
    if started_pg:
        server_url = embedded_pg.start_embedded_postgres(work / "pgdata")
    sample = sorted(CALLS_DIR.glob("*.wav"))[0]
    results = {}
    try:
        for size in args.sizes:
            print(f"landing folder of {size:,} registered files:", flush=True)
            results[size] = measure(size, server_url, work, sample, args.slice)
            print("  " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in results[size].items()), flush=True)
    finally:
        if started_pg:
            embedded_pg.stop_embedded_postgres(work / "pgdata")
        shutil.rmtree(work, ignore_errors=True)
    sizes = list(results)
    if len(sizes) > 1:
        small, large = results[sizes[0]], results[sizes[-1]]
        print(
            f"tick time at {sizes[-1]:,} over {sizes[0]:,}: "
            + ", ".join(f"{k} {large[k] / small[k]:.2f}x" for k in small)
        )
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "tick-time",
        help="landing-sensor tick time over folders of N already-registered files (events, idle, reconciliation)",
        description="Makes a landing folder of N registered files for each size, then times the real landing "
        "sensor's ticks: the first (a whole listing), one with 10 new calls named by events, an idle one, and one "
        "reconciliation slice.",
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 1_000_000], help="folder sizes to compare")
    p.add_argument("--slice", type=int, default=5000, help="reconciliation slice (ASR_RECONCILE_SLICE)")
