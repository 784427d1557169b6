"""The dagster-daemon (or `dagster dev`) that `ingest` and `ui` run: workspace, child environment, start, stop."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

from asr_assets import settings

REPO_WORKSPACE = Path(__file__).resolve().parent.parent.parent / "workspace.yaml"
LOCATION_NAME = "asr_assets"  # must match workspace.yaml: the sensor cursor is keyed by it
HEARTBEAT_TOLERANCE_S = (
    60  # a daemon whose last heartbeat is older is dead (Dagster's default, 1800 s, is not)
)


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
    return settings.child_env()


def _bin(name: str) -> str:
    """A console script of this environment (next to the running interpreter), else from PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def daemon_process_running(dagster_home: str) -> bool:
    """A `dagster-daemon run` process of this Dagster home exists on this machine. The heartbeat alone is not
    enough: a daemon killed seconds ago still has a fresh one, and `ingest` would wait for a daemon that is gone."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if not any(part.endswith("dagster-daemon") for part in cmd[:2]) or "run" not in cmd:
            continue
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("DAGSTER_HOME") == dagster_home:
                return True
    return False


def daemon_alive(env: dict[str, str]) -> bool:
    if not daemon_process_running(env["DAGSTER_HOME"]):
        return False
    out = subprocess.run(
        [_bin("dagster-daemon"), "liveness-check"],
        env=env | {"DAGSTER_DAEMON_HEARTBEAT_TOLERANCE": str(HEARTBEAT_TOLERANCE_S)},
        capture_output=True,
        text=True,
    )
    return out.returncode == 0 and "Daemon live" in out.stdout


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


def start_dev(port: int, host: str = "127.0.0.1", log_level: str = "warning") -> subprocess.Popen:
    """`dagster dev` (webserver + daemon) on our workspace and instance. At INFO its daemon logs every sensor tick
    (every 5 s locally); warnings and errors still show, and the run's own logs are in the UI."""
    cmd = [_bin("dagster"), "dev", "-w", str(workspace_file()), "--port", str(port), "--host", host]
    cmd += ["--log-level", log_level]
    # dagster dev copies SIGINT's disposition onto SIGTERM: make sure SIGINT is not ignored in the child.
    return subprocess.Popen(
        cmd, env=child_env(), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
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


def daemon_hint(daemon: subprocess.Popen | None) -> str:
    return "" if daemon is None else f" ({' '.join(map(str, daemon.args))})"
