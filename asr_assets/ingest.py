"""`asr-assets ingest DIR` and `asr-assets ui`: the platform on a laptop, through the production path.

`ingest` lands the files of DIR in the landing zone and lets the real landing sensor, run queue and executor do
the rest, in a `dagster-daemon` (a running `asr-assets ui` provides one; otherwise a child daemon is started and
stopped). It returns when every batch holding one of its files has a finished run, and prints what Postgres holds
for each file. `ui` runs `dagster dev` (webserver + daemon) on the same workspace and instance.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from asr_assets import settings

REPO_WORKSPACE = Path(__file__).resolve().parent.parent / "workspace.yaml"
LOCATION_NAME = "asr_assets"  # must match workspace.yaml: the sensor cursor is keyed by it
JOB_NAME = "ingest_job"
# Extensions `ingest` lands (what libsndfile reads, and the containers we quarantine with a hint); other files in
# DIR (READMEs, ground truth JSON, licences) are listed as skipped. The sensor itself takes every landed file.
AUDIO_EXTENSIONS = {
    ".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf",
    ".w64", ".rf64", ".sph", ".voc", ".m4a", ".aac", ".mp4", ".wma", ".webm", ".amr",
}  # fmt: skip
HEARTBEAT_TOLERANCE_S = (
    60  # a daemon whose last heartbeat is older is dead (Dagster's default, 1800 s, is not)
)
POLL_S = 1.0
TEXT_PREVIEW_CHARS = 48
REASON_PREVIEW_CHARS = 100
UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:*?<>|]")


def safe_name(name: str) -> str:
    """A file name that stays inside the landing folder: no path separators, no leading dots, no control
    characters; spaces, quotes and non-ASCII letters are kept."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = UNSAFE_CHARS.sub("_", name).strip().lstrip(".-").strip()
    return name[:200] or "unnamed"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LandedCopy:
    source: Path
    name: str  # name in the landing folder
    checksum: str


def land_files(paths: list[Path], landing_dir: Path) -> list[LandedCopy]:
    """Copy each file to a hidden temp name, then rename it into place, so the sensor never hashes half a file.

    The copy gets a fresh modification time (the sensor's high-water mark). A different file already landed under
    the same name keeps its place; ours gets the first 8 hex digits of its sha256 appended.
    """
    landing_dir.mkdir(parents=True, exist_ok=True)
    landed = []
    for path in paths:
        checksum = sha256_file(path)
        name = safe_name(path.name)
        target = landing_dir / name
        if target.exists() and sha256_file(target) != checksum:
            stem, ext = os.path.splitext(name)
            name = f"{stem}-{checksum[:8]}{ext}"
            target = landing_dir / name
        if not target.exists():
            tmp = landing_dir / f".{name}.part"
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        landed.append(LandedCopy(path, name, checksum))
    return landed


def workspace_file() -> Path:
    """The repository's workspace.yaml, or (installed from a wheel) the same content under ASR_HOME."""
    if REPO_WORKSPACE.exists():
        return REPO_WORKSPACE
    path = settings.asr_home() / "workspace.yaml"
    path.write_text(
        "load_from:\n  - python_module:\n      module_name: asr_assets.definitions\n"
        f"      location_name: {LOCATION_NAME}\n"
    )
    return path


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ASR_HOME"] = str(settings.asr_home())
    env["DAGSTER_HOME"] = str(settings.dagster_home())
    return env


def prepare() -> bool:
    """Instance folder, database (embedded server started if needed), migrations, dbt manifest.

    Returns True when this process started the embedded PostgreSQL (and so should stop it).
    """
    from asr_assets.defs.sql.migrate import migrate

    settings.asr_home().mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(settings.ensure_dagster_home())
    os.environ["ASR_HOME"] = str(settings.asr_home())
    started = not os.environ.get("ASR_DATABASE_URL") and not settings.embedded_postgres_running()
    migrate(settings.libpq_url(settings.database_url()))
    try:
        from asr_assets.defs import dbt as dbt_defs
    except ImportError:
        dbt_defs = None
    prepare_dbt = getattr(dbt_defs, "prepare_dbt_project", None)
    if prepare_dbt is not None:
        prepare_dbt()  # the daemon's code server and run workers import the dbt assets: the manifest must exist
    return started


def daemon_alive(env: dict[str, str]) -> bool:
    out = subprocess.run(
        [_bin("dagster-daemon"), "liveness-check"],
        env=env | {"DAGSTER_DAEMON_HEARTBEAT_TOLERANCE": str(HEARTBEAT_TOLERANCE_S)},
        capture_output=True,
        text=True,
    )
    return out.returncode == 0 and "Daemon live" in out.stdout


def _bin(name: str) -> str:
    """A console script of this environment (next to the running interpreter), else from PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def start_daemon(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [_bin("dagster-daemon"), "run", "-w", str(workspace_file())],
            env=env,
            cwd=workspace_file().parent,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us; we stop the daemon in order
        )


def stop_process(proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def batch_keys(conn, checksums: list[str]) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(
            "select checksum, partition_key from asr_raw.landed_files where checksum = any(%(c)s)",
            {"c": checksums},
        )
        return dict(cur.fetchall())


def wait_for_runs(
    instance,
    dsn: str,
    checksums: list[str],
    deadline: float,
    daemon: subprocess.Popen | None,
    runs: dict[str, Any],
) -> dict[str, Any]:
    """Poll the registry until every file has a batch, then the instance until each batch's run is finished.

    `runs` (batch key -> latest RunRecord) is filled in place, so a caller that is interrupted knows them.
    """
    import psycopg2
    from dagster import RunsFilter

    keys: dict[str, str] = {}
    reported: dict[str, str] = {}
    while time.monotonic() < deadline:
        if daemon is not None and daemon.poll() is not None:
            raise RuntimeError(f"dagster-daemon exited with code {daemon.returncode}; see its log")
        if len(keys) < len(set(checksums)):
            conn = psycopg2.connect(dsn)
            try:
                keys = batch_keys(conn, checksums)
            finally:
                conn.close()
        for key in sorted(set(keys.values())):
            records = instance.get_run_records(
                RunsFilter(job_name=JOB_NAME, tags={"dagster/partition": key}), limit=1
            )
            if records:
                run = records[0].dagster_run
                runs[key] = records[0]
                if reported.get(key) != run.status.value:
                    reported[key] = run.status.value
                    print(f"  batch {key}: run {run.run_id[:8]} {run.status.value}", flush=True)
        done = len(keys) == len(set(checksums)) and all(
            key in runs and runs[key].dagster_run.is_finished for key in set(keys.values())
        )
        if done:
            return runs
        time.sleep(POLL_S)
    raise TimeoutError(
        f"no result within the timeout; the daemon's log has the details{_daemon_hint(daemon)}"
    )


def _daemon_hint(daemon: subprocess.Popen | None) -> str:
    return "" if daemon is None else f" ({' '.join(map(str, daemon.args))})"


def stop_daemon_tree(daemon: subprocess.Popen) -> None:
    """Stop our daemon and everything it started (code servers, run workers), by process id.

    The local run launcher runs each run in a child of the daemon's code server, which outlives the daemon while
    the run lasts; after a timeout or Ctrl-C that would leave an orphan transcribing. Processes are listed before
    the daemon stops, since they are re-parented away from it afterwards.
    """
    import psutil

    try:
        children = psutil.Process(daemon.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    stop_process(daemon)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=10)
    for child in alive:  # a run worker inside a long TensorFlow call does not get to its SIGTERM handler
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def abandon_runs(instance, runs: dict[str, Any]) -> None:
    """Mark our unfinished runs failed: locally nothing checks run-worker health, so a run whose worker is gone
    would stay STARTED forever."""
    for key, record in runs.items():
        run = instance.get_run_by_id(record.dagster_run.run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, message="asr-assets ingest stopped before the run finished")
            print(f"  batch {key}: run {run.run_id[:8]} marked FAILURE (re-execute it in `asr-assets ui`)")


def report_rows(conn, checksums: list[str]) -> dict[str, tuple]:
    """Per checksum: (status, duration_s, channels, words, mean probability, text preview or reason)."""
    rows: dict[str, tuple] = {}
    with conn.cursor() as cur:
        cur.execute(
            """
            select c.checksum, c.duration_s, c.channels,
                   (select count(*) from asr_raw.words w where w.call_id = c.call_id),
                   (select avg(w.probability) from asr_raw.words w where w.call_id = c.call_id),
                   (select string_agg(s.text, ' ' order by s.start_s, s.channel)
                      from asr_raw.segments s where s.call_id = c.call_id)
            from asr_raw.calls c where c.checksum = any(%(c)s)
            """,
            {"c": checksums},
        )
        for checksum, duration, channels, words, mean_p, text in cur.fetchall():
            rows[checksum] = ("ok", duration, channels, words, mean_p, " ".join((text or "").split()))
        cur.execute(
            "select checksum, reason_code, reason from asr_raw.quarantine where checksum = any(%(c)s)",
            {"c": checksums},
        )
        for checksum, code, reason in cur.fetchall():
            rows[checksum] = ("quarantined", None, None, None, None, f"{code}: {reason}")
    return rows


MART = "asr_marts.fct_calls"  # P2's dbt mart: one row per call
MART_COLUMNS = (
    "agent_talk_s",
    "customer_talk_s",
    "silence_s",
    "overlap_s",
    "count_turns",
    "words_per_minute",
)
MART_LABELS = ("agent s", "customer s", "silence s", "overlap s", "turns", "words/min")


def mart_rows(conn, checksums: list[str]) -> dict[str, tuple]:
    """Per call id: the talk-time columns of the fct_calls mart, or {} when dbt has not built it (yet)."""
    import psycopg2
    from psycopg2 import sql

    with conn.cursor() as cur:
        cur.execute("select to_regclass(%s)", (MART,))
        if cur.fetchone()[0] is None:
            return {}
        query = sql.SQL("select call_id, {columns} from {mart} where call_id = any(%(c)s)").format(
            columns=sql.SQL(", ").join(map(sql.Identifier, MART_COLUMNS)),
            mart=sql.Identifier(*MART.split(".")),
        )
        try:
            cur.execute(query, {"c": checksums})
        except psycopg2.Error:  # the mart's columns changed: the per-call table above still stands
            conn.rollback()
            return {}
        return {row[0]: row[1:] for row in cur.fetchall()}


def print_marts(landed: list[LandedCopy], marts: dict[str, tuple]) -> None:
    if not marts:
        return
    print()
    print(f"{MART} (dbt):")
    header = f"{'file':<32} " + " ".join(f"{label:>10}" for label in MART_LABELS)
    print(header)
    print("-" * len(header))
    seen = set()
    for item in landed:
        if item.checksum in marts and item.checksum not in seen:
            seen.add(item.checksum)
            values = " ".join(f"{_cell(v):>10}" for v in marts[item.checksum])
            print(f"{item.name[:32]:<32} {values}")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float | Decimal):
        return f"{value:.1f}"
    return str(value)


def print_report(
    landed: list[LandedCopy], rows: dict[str, tuple], keys: dict[str, str]
) -> tuple[int, int, int]:
    """One line per file of DIR; returns (transcribed, quarantined, duplicates)."""
    header = f"{'file':<32} {'batch':<16} {'dur s':>7} {'ch':>2} {'words':>5} {'mean p':>6}  text / status"
    print(header)
    print("-" * len(header))
    first_of: dict[str, str] = {}
    ok = quarantined = duplicates = 0
    for item in landed:
        status, duration, channels, words, mean_p, text = rows.get(item.checksum, ("missing",) + (None,) * 5)
        note = text or ""
        if item.checksum in first_of:
            note, status = f"duplicate of {first_of[item.checksum]}", "duplicate"
            duplicates += 1
        first_of.setdefault(item.checksum, item.name)
        ok += status == "ok"
        quarantined += status == "quarantined"
        if status == "missing":
            note = "not loaded (see the run's logs)"
        if status == "quarantined":
            code, _, reason = note.partition(": ")
            note = f"{code}: {reason.removeprefix(item.name + ': ')}"
        limit = TEXT_PREVIEW_CHARS if status == "ok" else REASON_PREVIEW_CHARS
        if len(note) > limit:  # the full reason is in asr_raw.quarantine
            note = note[: limit - 1] + "…"
        print(
            f"{item.name[:32]:<32} {keys.get(item.checksum, '-'):<16} "
            f"{'' if duration is None else f'{duration:.1f}':>7} {'' if channels is None else channels:>2} "
            f"{'' if words is None else words:>5} {'' if mean_p is None else f'{mean_p:.3f}':>6}  "
            f"{'QUARANTINED ' if status == 'quarantined' else ''}{note}"
        )
    return ok, quarantined, duplicates


def ingest(args: argparse.Namespace) -> int:
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
    started_pg = prepare()
    dsn = settings.libpq_url(settings.database_url())
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
        wait_for_runs(instance, dsn, checksums, time.monotonic() + args.timeout, daemon, runs)
        conn = psycopg2.connect(dsn)
        try:
            keys = batch_keys(conn, checksums)
            rows = report_rows(conn, checksums)
            marts = mart_rows(conn, checksums)
        finally:
            conn.close()
    except (TimeoutError, RuntimeError, KeyboardInterrupt) as e:
        print(f"asr-assets ingest: {e or 'interrupted'}", file=sys.stderr)
        if daemon is not None:
            stop_daemon_tree(daemon)
            abandon_runs(instance, runs)
        return 1
    finally:
        if daemon is not None:
            stop_process(daemon)
        if started_pg:
            settings.stop_embedded_postgres()
    print()
    ok, quarantined, duplicates = print_report(landed, rows, keys)
    print_marts(landed, marts)
    failed = [key for key, record in runs.items() if not record.dagster_run.is_success]
    print()
    print(
        f"{len(landed)} file(s): {ok} transcribed, {quarantined} quarantined"
        + (f", {duplicates} duplicate(s)" if duplicates else "")
        + f"; {len(runs)} batch run(s), "
        f"{len(runs) - len(failed)} succeeded; {time.monotonic() - started_at:.0f} s"
    )
    for key in failed:
        run = runs[key].dagster_run
        print(
            f"batch {key}: run {run.run_id} {run.status.value}; details in `asr-assets ui` -> Runs",
            file=sys.stderr,
        )
        for step, error in step_failures(instance, run.run_id):
            print(f"  {step}: {error}", file=sys.stderr)
    return 1 if failed else 0


def step_failures(instance, run_id: str, max_chars: int = 800) -> list[tuple[str, str]]:
    """(step, first part of the error) of each failed step of a run, for the summary."""
    from dagster import DagsterEventType

    failures = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        error = event.step_failure_data.error if event and event.step_failure_data else None
        message = (error.cause.message if error and error.cause else None) or (error.message if error else "")
        failures.append((event.step_key if event else "?", message.strip()[:max_chars]))
    return failures


def ui(args: argparse.Namespace) -> int:
    started_pg = prepare()
    cmd = [_bin("dagster"), "dev", "-w", str(workspace_file()), "--port", str(args.port)]
    # dagster dev copies SIGINT's disposition onto SIGTERM: make sure SIGINT is not ignored in the child.
    proc = subprocess.Popen(
        cmd, env=child_env(), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return stop_process(proc) or 130
    finally:
        stop_process(proc)
        if started_pg:
            settings.stop_embedded_postgres()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="asr-assets")
    sub = parser.add_subparsers(dest="command", required=True)
    p_ingest = sub.add_parser("ingest", help="land the audio files of DIR and wait until they are loaded")
    p_ingest.add_argument("dir", help="folder of recordings (WAV, FLAC, MP3, Ogg, ...)")
    p_ingest.add_argument("--all", action="store_true", help="land every file, not only audio extensions")
    p_ingest.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the runs")
    p_ui = sub.add_parser("ui", help="Dagster UI and daemon on the same instance (dagster dev)")
    p_ui.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    return ingest(args) if args.command == "ingest" else ui(args)
