"""`python -m benchmarks soak`: generated calls through the real platform, with faults, then an exact accounting.

The corpus (benchmarks.soak_corpus) is landed in waves by `asr-assets ingest WAVE_DIR` subprocesses into one
temp ASR_HOME (embedded PostgreSQL started here, the real dagster-daemon started by `ingest`). Faults, one wave
each: `kill-worker` (kill -9 of the run worker once a run's transcripts step started), `kill-daemon` (kill -9 of
the daemon once a run started); after either, `ingest` runs again on the same folder, which must finish the batch.
`hostile` adds the hostile files. The verdict (benchmarks.soak_accounting) is read from PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.soak_corpus import CorpusFile, write_corpus

REPO_ROOT = Path(__file__).resolve().parent.parent
FAULTS = ("kill-worker", "kill-daemon", "hostile")
KILL_FAULTS = ("kill-worker", "kill-daemon")
TRANSCRIBE_STEP = "transcripts"
POLL_S = 1.0


def soak_env(home: Path, batch_files: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ASR_DATABASE_URL", "ASR_LANDING_URL", "ASR_STORAGE_URL")
    }
    return env | {
        "ASR_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "ASR_BATCH_MAX_FILES": str(batch_files),
    }


def prepare_home(home: Path) -> str:
    """Start the embedded PostgreSQL of `home` (kept up across waves and kills) and write the instance config;
    returns the libpq URL."""
    from asr_assets import settings
    from asr_assets.platform import embedded_pg

    os.environ.update({"ASR_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")})
    settings.ensure_dagster_home()
    return settings.libpq_url(embedded_pg.start_embedded_postgres(home / "pgdata"))


def land_old_mtime_files(truth: list[CorpusFile], wave: int, home: Path) -> None:
    """Move the wave's old-mtime files into the landing folder keeping their mtime (as `mv` or `rsync -a` do):
    `ingest` then finds them landed already and waits for them."""
    from asr_assets.local.landing import safe_name

    landing = home / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    for f in truth:
        if f.wave == wave and f.kind == "old_mtime":
            shutil.copy2(f.path, landing / safe_name(Path(f.path).name))


def descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def cmdline(proc) -> str:
    import psutil

    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def started_transcribing(instance, run_id: str) -> bool:
    from dagster import DagsterEventType

    events = instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)
    return any(e.dagster_event and e.dagster_event.step_key == TRANSCRIBE_STEP for e in events)


def worker_pid_from_events(instance, run_id: str) -> int | None:
    """The run worker's pid from the run's last ENGINE_EVENT "Started process for run (pid: N)" (its `pid`
    metadata; the event's user_message is empty, Dagster reports it as a structured event), as the run-worker
    reaper reads it (asr_assets.platform.batch_runs._worker_pid)."""
    from asr_assets.platform.batch_runs import _worker_pid

    worker = _worker_pid(instance, run_id)
    return worker[0] if worker else None


def parent_pid(proc) -> int | None:
    import psutil

    try:
        return proc.ppid()
    except psutil.Error:
        return None


def is_run_worker(proc) -> bool:
    """A run worker by its command line: `dagster api execute_run`, or the multiprocessing child the code
    server's StartRun spawns (the DefaultRunLauncher's)."""
    line = cmdline(proc)
    return "execute_run" in line or "spawn_main" in line


def find_target(fault: str, instance, ingest_pid: int) -> dict | None:
    """The process to kill for `fault` now, or None when the wave is not there yet."""
    from dagster import DagsterRunStatus, RunsFilter

    running = instance.get_runs(RunsFilter(job_name="ingest_job", statuses=[DagsterRunStatus.STARTED]))
    if not running:
        return None
    run = running[0]
    tree = descendants(ingest_pid)
    if fault == "kill-daemon":
        daemons = [p for p in tree if "dagster-daemon" in cmdline(p) and " run" in cmdline(p)]
        return {"pid": daemons[0].pid, "run_id": run.run_id, "found_by": "psutil"} if daemons else None
    if not started_transcribing(instance, run.run_id):
        return None
    pid = worker_pid_from_events(instance, run.run_id)
    tree_pids = {p.pid for p in tree}
    if pid is not None and pid in tree_pids:
        return {"pid": pid, "run_id": run.run_id, "found_by": "engine_event"}
    workers = [p for p in tree if is_run_worker(p)]
    workers = [
        p for p in workers if parent_pid(p) not in {w.pid for w in workers}
    ]  # not a worker's own child
    if workers:
        return {"pid": workers[0].pid, "run_id": run.run_id, "found_by": "psutil", "event_pid": pid}
    return None


def run_ingest(
    wave_dir: Path, env: dict, timeout_s: float, log_path: Path, fault: str | None, instance_home: Path
) -> tuple[dict, dict | None]:
    """One `asr-assets ingest WAVE_DIR`; with `fault`, kill its target once it is there. Returns (ingest record,
    fault record or None)."""
    cmd = [sys.executable, "-m", "asr_assets.cli", "ingest", str(wave_dir), "--timeout", str(timeout_s)]
    started = time.monotonic()
    injected = None
    seen: set = set()
    instance = None
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            if time.monotonic() - started > timeout_s + 300:  # ingest's own timeout did not end it
                proc.kill()
                break
            seen.update(descendants(proc.pid))
            if fault and injected is None:
                instance = instance or _instance(instance_home)
                target = find_target(fault, instance, proc.pid)
                if target:
                    os.kill(target["pid"], signal.SIGKILL)
                    injected = {"fault": fault, "at_s": round(time.monotonic() - started, 1), **target}
                    print(
                        f"  injected {fault}: kill -9 {target['pid']} (run {target['run_id'][:8]})",
                        flush=True,
                    )
            time.sleep(POLL_S)
        rc = proc.wait()
    kill_leftovers(seen)
    record = {"dir": wave_dir.name, "rc": rc, "wall_s": round(time.monotonic() - started, 1)}
    if fault and injected is None:
        injected = {"fault": fault, "injected": False, "note": "no target seen while the ingest ran"}
    return record, injected


def kill_leftovers(processes: set) -> None:
    """Processes of our ingest's tree that outlived it (e.g. a code server orphaned by a killed daemon)."""
    import psutil

    for p in processes:
        try:
            if p.is_running():
                p.kill()
        except psutil.Error:
            pass


def _instance(home: Path):
    from dagster import DagsterInstance

    return DagsterInstance.get()


def runs_by_status() -> dict[str, int]:
    from dagster import DagsterInstance, RunsFilter

    runs = DagsterInstance.get().get_runs(RunsFilter(job_name="ingest_job"))
    return dict(Counter(r.status.value for r in runs))


def batch_count(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("select count(*) from asr_raw.ingest_batches")
        return cur.fetchone()[0]


def fault_plan(faults: list[str], waves: int) -> dict[int, str]:
    """Wave number -> kill fault: kill-worker in wave 2, kill-daemon in wave 3 (wave 1 stays clean), wrapping."""
    kills = [f for f in faults if f in KILL_FAULTS]
    return {(1 + i) % waves + 1: fault for i, fault in enumerate(kills)}


def run_soak(
    files: int,
    faults: list[str],
    seed: int,
    waves: int,
    batch_files: int,
    ingest_timeout_s: float,
    keep: bool,
) -> dict:
    import psycopg2

    from benchmarks.soak_accounting import account

    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="asr-soak-"))
    home, source = base / "home", base / "source"
    home.mkdir()
    kinds = None if "hostile" in faults else ()
    truth = write_corpus(source, files, waves, seed, **({} if kinds is None else {"kinds": kinds}))
    print(f"soak: {len(truth)} file(s) in {waves} wave(s) under {base}", flush=True)
    dsn = prepare_home(home)
    env = soak_env(home, batch_files)
    plan = fault_plan(faults, waves)
    ingests, injected = [], []
    try:
        for wave in range(1, waves + 1):
            wave_dir = source / f"wave-{wave}"
            land_old_mtime_files(truth, wave, home)
            fault = plan.get(wave)
            print(f"wave {wave}: ingest {wave_dir}" + (f" with {fault}" if fault else ""), flush=True)
            record, fault_record = run_ingest(
                wave_dir, env, ingest_timeout_s, base / "ingest.log", fault, home
            )
            ingests.append({"wave": wave, "attempt": 1, **record})
            if fault_record:
                injected.append({"wave": wave, **fault_record})
                record, _ = run_ingest(wave_dir, env, ingest_timeout_s, base / "ingest.log", None, home)
                ingests.append({"wave": wave, "attempt": 2, **record})
            print(f"  ingest exit codes: {[i['rc'] for i in ingests if i['wave'] == wave]}", flush=True)
        conn = psycopg2.connect(dsn)
        try:
            verdict = account(conn, truth)
            batches = batch_count(conn)
        finally:
            conn.close()
        statuses = runs_by_status()
    finally:
        from asr_assets.platform import embedded_pg

        embedded_pg.stop_embedded_postgres(home / "pgdata")
    if "hostile" in faults:
        injected.append(
            {"fault": "hostile", "kinds": dict(Counter(f.kind for f in truth if f.kind != "call"))}
        )
    report = {
        "files": len(truth),
        "good_calls": sum(f.kind == "call" for f in truth),
        "waves": waves,
        "batch_max_files": batch_files,
        "seed": seed,
        "faults": injected,
        "ingests": ingests,
        "batches": batches,
        "runs_by_status": statuses,
        **verdict,
        "wall_s": round(time.monotonic() - started, 1),
        "workdir": str(base) if keep else None,
        "ground_truth": [f.to_json() for f in truth],
    }
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
    return report


def format_summary(report: dict) -> str:
    lines = [
        f"files {report['files']} ({report['good_calls']} good calls), waves {report['waves']}, "
        f"batches {report['batches']}, runs {report['runs_by_status']}",
        *(f"fault: {json.dumps(f)}" for f in report["faults"]),
        f"ingests: {[(i['wave'], i['attempt'], i['rc']) for i in report['ingests']]}",
        f"accounted {report['accounted']}, lost {report['lost']}, duplicated {report['duplicated']}; "
        f"wall {report['wall_s']:.0f} s",
    ]
    if report["lost_files"]:
        lines.append(f"lost (first {len(report['lost_files'])}): {', '.join(report['lost_files'])}")
    return "\n".join(lines)
