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
from asr_assets.local.daemon import (
    child_env,
    daemon_alive,
    start_daemon,
    start_dev,
    stop_daemon_tree,
    stop_process,
)
from asr_assets.local.ingest_summary import mart_rows, print_marts, print_report, report_rows
from asr_assets.local.landing import AUDIO_EXTENSIONS, land_files
from asr_assets.local.runs import abandon_runs, batch_keys, wait_for_marts, wait_for_runs
from asr_assets.local.sql import read_sql
from asr_assets.platform import embedded_pg
from asr_assets.platform.batch_runs import step_failures
from asr_assets.platform.landing_watch import local_root


def _prepare() -> bool:
    """Instance folder, database (embedded server started if needed), migrations, dbt manifest.

    Returns True when this process started the embedded PostgreSQL (and so should stop it).
    """
    from asr_assets.defs.dbt import prepare_dbt_project
    from asr_assets.platform.sql.migrate import migrate

    settings.asr_home().mkdir(parents=True, exist_ok=True)
    settings.ensure_dagster_home()
    settings.export_locations()
    started = settings.current().database_url is None and not embedded_pg.embedded_postgres_running()
    migrate(settings.libpq_url(embedded_pg.ensure_database_url()))
    prepare_dbt_project()  # the daemon's code server and run workers import the dbt assets: the manifest must exist
    return started


def _erased_content(dsn: str) -> dict[str, int]:
    """Checksum -> erasure id of content erased on request (refused at landing; the sensor refuses it too)."""
    import psycopg2

    conn = psycopg2.connect(dsn, **settings.connect_options())
    try:
        with conn.cursor() as cur:
            cur.execute(read_sql("erased_content"))
            return dict(cur.fetchall())
    finally:
        conn.close()


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
    erased = _erased_content(dsn)
    landed, refused = land_files(audio, Path(str(landing_dir).removeprefix("file://")), erased.__contains__)
    print(f"database: {settings.redact_url(settings.libpq_url(dsn))}")
    print(
        f"landed {len(landed)} file(s) in {landing_dir}"
        + (f"; skipped {', '.join(skipped)}" if skipped else "")
    )
    for item in refused:
        print(
            f"refused {item.name}: its content was erased on request (asr_raw.erasures {erased[item.checksum]}); "
            "not landed"
        )
    if not landed:
        if started_pg:
            embedded_pg.stop_embedded_postgres()
        return 0
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
        deadline = time.monotonic() + args.timeout
        statuses = wait_for_runs(instance, dsn, checksums, deadline, daemon, runs)
        succeeded = sorted(key for key, (status, _, _) in statuses.items() if status == "succeeded")
        marts_error = wait_for_marts(instance, dsn, succeeded, deadline, daemon)
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
    if marts_error:
        print(f"the marts build failed: {marts_error}", file=sys.stderr)
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
    return 1 if failed or marts_error else 0


def erase(args: argparse.Namespace) -> int:
    """Erase the calls named by args.call_id / args.source_uri everywhere (asr_assets.platform.erasure)."""
    from asr_assets.defs.resources import ArtifactStoreResource, PostgresResource
    from asr_assets.platform import erasure

    if not (args.call_id or args.source_uri):
        print("asr-assets erase: name the calls with --call-id or --source-uri", file=sys.stderr)
        return 2
    settings.asr_home().mkdir(parents=True, exist_ok=True)
    started_pg = settings.current().database_url is None and not embedded_pg.embedded_postgres_running()
    artifacts = ArtifactStoreResource()
    done: list[erasure.Erasure] = []
    postgres = PostgresResource()
    try:
        with postgres.connect() as conn:
            for checksum in erasure.resolve(conn, args.call_id, args.source_uri):
                result = erasure.erase(
                    conn,
                    checksum,
                    requested_by=args.requested_by,
                    reason=args.reason,
                    landing_url=settings.landing_url(),
                    artifacts=artifacts,
                )
                done.append(result)
                print(_erasure_line(result), flush=True)
        touched = sorted({table for r in done for table, n in r.rows.items() if n})
        if touched and not args.no_vacuum:
            erasure.vacuum(postgres.dsn, touched)
            print(f"vacuumed {len(touched)} table(s)")
    except erasure.ErasureError as e:
        print(f"asr-assets erase: {e}", file=sys.stderr)
        return 1
    finally:
        if started_pg:
            embedded_pg.stop_embedded_postgres()
    return 0


def _erasure_line(result) -> str:
    if result.erasure_id is None:
        return (
            f"call {result.checksum}: already erased (asr_raw.erasures {', '.join(map(str, result.already))})"
        )
    rows = sum(result.rows.values())
    files = ", ".join(f"{kind} {n}" for kind, n in sorted(result.files.items())) or "none"
    return (
        f"call {result.checksum}: erased (asr_raw.erasures {result.erasure_id}, {result.erased_at}); "
        f"{rows} row(s) deleted, files: {files}"
    )


def ui(args: argparse.Namespace) -> int:
    """`dagster dev` on args.port, on the same workspace and instance as `ingest`."""
    started_pg = _prepare()
    landing = settings.landing_url()
    folder = local_root(landing)
    if folder is not None:  # a folder: there must be somewhere to drop a call
        Path(folder).mkdir(parents=True, exist_ok=True)
    proc = start_dev(args.port, args.host, "info" if getattr(args, "verbose", False) else "warning")
    shown = "localhost" if args.host in ("127.0.0.1", "0.0.0.0") else args.host
    print(
        f"Dagster UI at http://{shown}:{args.port} (webserver + daemon). Ctrl-C or SIGTERM stops everything. "
        f"-v: Dagster's INFO log.\nDrop recordings into {landing}: the landing sensor picks them up within seconds "
        "(write under a temp name such as .<name>.part and rename, or copy them whole).",
        flush=True,
    )
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return stop_process(proc) or 130
    finally:
        stop_process(proc)
        if started_pg:
            embedded_pg.stop_embedded_postgres()
