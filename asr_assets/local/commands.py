"""`asr-assets ingest DIR` and `asr-assets ui`: the platform on a laptop, through the production path.

`ingest` lands the files of DIR in the landing zone and lets the real landing sensor, run queue and executor do
the rest, in a `dagster-daemon` (a running `asr-assets ui` provides one; otherwise a child daemon is started and
stopped). It returns when every batch holding one of its files has a finished run, and prints what Postgres holds
for each file. `ui` runs `dagster dev` (webserver + daemon) on the same workspace and instance.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asr_assets import settings
from asr_assets.defs.batch_runs import step_failures
from asr_assets.local import embedded_pg
from asr_assets.local.daemon import (
    child_env,
    daemon_alive,
    start_daemon,
    start_dev,
    stop_daemon_tree,
    stop_process,
)
from asr_assets.local.landing import AUDIO_EXTENSIONS, land_files
from asr_assets.local.report import mart_rows, print_marts, print_report, report_rows
from asr_assets.local.runs import abandon_runs, batch_keys, wait_for_runs


def _prepare() -> bool:
    """Instance folder, database (embedded server started if needed), migrations, dbt manifest.

    Returns True when this process started the embedded PostgreSQL (and so should stop it).
    """
    from asr_assets.defs.dbt import prepare_dbt_project
    from asr_assets.defs.sql.migrate import migrate

    settings.asr_home().mkdir(parents=True, exist_ok=True)
    settings.ensure_dagster_home()
    settings.export_locations()
    started = settings.current().database_url is None and not embedded_pg.embedded_postgres_running()
    migrate(settings.libpq_url(embedded_pg.ensure_database_url()))
    prepare_dbt_project()  # the daemon's code server and run workers import the dbt assets: the manifest must exist
    return started


def ingest(args: argparse.Namespace) -> int:
    """Land the audio files of args.dir (every file with args.all), wait up to args.timeout s for their runs."""
    import psycopg2
    from dagster import DagsterInstance

    started_at = time.monotonic()
    source = Path(args.dir)
    if not source.is_dir():
        print(f"asr-assets ingest: {source} is not a folder", file=sys.stderr)
        return 2
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    audio = [p for p in files if args.all or p.suffix.lower() in AUDIO_EXTENSIONS]
    skipped = [p.name for p in files if p not in audio]
    if not audio:
        print(f"asr-assets ingest: no audio files in {source} (skipped: {', '.join(skipped) or 'none'})")
        return 2
    started_pg = _prepare()
    dsn = settings.libpq_url(embedded_pg.ensure_database_url())
    landing_dir = Path(settings.landing_url())
    if "://" in settings.landing_url() and not settings.landing_url().startswith("file://"):
        print("asr-assets ingest: ASR_LANDING_URL is remote; upload there with your tools", file=sys.stderr)
        return 2
    landed = land_files(audio, Path(str(landing_dir).removeprefix("file://")))
    print(f"database: {settings.redact_url(settings.libpq_url(dsn))}")
    print(
        f"landed {len(landed)} file(s) in {landing_dir}"
        + (f"; skipped {', '.join(skipped)}" if skipped else "")
    )
    env = child_env()
    daemon = None
    log_path = settings.asr_home() / "logs" / f"daemon-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    instance = DagsterInstance.get()
    runs: dict[str, Any] = {}
    try:
        if daemon_alive(env):
            print("using the running dagster-daemon")
        else:
            daemon = start_daemon(env, log_path)
            print(f"started dagster-daemon (pid {daemon.pid}, log {log_path})")
        checksums = [item.checksum for item in landed]
        print("waiting for the landing sensor and the runs ...", flush=True)
        statuses = wait_for_runs(instance, dsn, checksums, time.monotonic() + args.timeout, daemon, runs)
        conn = psycopg2.connect(dsn)
        try:
            keys = batch_keys(conn, checksums)
            rows = report_rows(conn, checksums)
            marts = mart_rows(conn, checksums)
        finally:
            conn.close()
    except (TimeoutError, RuntimeError, KeyboardInterrupt, psycopg2.OperationalError) as e:
        print(f"asr-assets ingest: {e or 'interrupted'}", file=sys.stderr)
        if daemon is not None:
            stop_daemon_tree(daemon)
            abandon_runs(instance, runs)
        return 1
    finally:
        if daemon is not None:
            stop_process(daemon)
        if started_pg:
            embedded_pg.stop_embedded_postgres()
    print()
    ok, quarantined, duplicates = print_report(landed, rows, keys)
    print_marts(landed, marts)
    failed = sorted(key for key, (status, _, _) in statuses.items() if status != "succeeded")
    print()
    print(
        f"{len(landed)} file(s): {ok} transcribed, {quarantined} quarantined"
        + (f", {duplicates} duplicate(s)" if duplicates else "")
        + f"; {len(statuses)} batch(es), {len(statuses) - len(failed)} succeeded; "
        f"{time.monotonic() - started_at:.0f} s"
    )
    for key in failed:
        status, attempts, error = statuses[key]
        print(
            f"batch {key}: {status} after {attempts} attempt(s); re-materialise it in `asr-assets ui` once fixed",
            file=sys.stderr,
        )
        print(f"  {error}", file=sys.stderr)
        if key in runs:
            for step, step_error in step_failures(instance, runs[key].dagster_run.run_id):
                print(f"  {step}: {step_error}", file=sys.stderr)
    return 1 if failed else 0


def ui(args: argparse.Namespace) -> int:
    """`dagster dev` on args.port, on the same workspace and instance as `ingest`."""
    started_pg = _prepare()
    proc = start_dev(args.port)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return stop_process(proc) or 130
    finally:
        stop_process(proc)
        if started_pg:
            embedded_pg.stop_embedded_postgres()
