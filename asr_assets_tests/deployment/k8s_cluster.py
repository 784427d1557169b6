"""The fake cluster of test_k8s_executor.py as deployment/values.yaml configures it, and what the tests read back.

The chart's settings (namespace, image, Secrets, ConfigMap, launcher and run monitoring), the K8sRunLauncher config
rendered from them, the image's ENTRYPOINT, `Cluster` (the fake, the instance and the shared folders), and reading
a run: dagster-k8s's Job names, a run's events and errors, a Job's container, a failed run's pod logs, the wait
for a run to finish, the step pods' start-up times. Imported by the test process only: the pods import the job
modules (k8s_smoke_defs, k8s_real_defs), never this one.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import yaml
from dagster import DagsterEventType, DagsterInstance
from fake_kube import FakeKubernetes

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VALUES = yaml.safe_load((REPO / "deployment" / "values.yaml").read_text())
DEPLOYMENT = VALUES["dagster-user-deployments"]["deployments"][0]
LAUNCHER = VALUES["runLauncher"]["config"]["k8sRunLauncher"]
MONITORING = VALUES["dagsterDaemon"]["runMonitoring"]

NAMESPACE = "asr"
IMAGE = f"{DEPLOYMENT['image']['repository']}:{DEPLOYMENT['image']['tag']}"
PG_SECRET = VALUES["global"]["postgresqlSecretName"]
ENV_SECRET = DEPLOYMENT["envSecrets"][0]["name"]
CONFIG_MAP = DEPLOYMENT["envConfigMaps"][0]["name"]
FAKE_PG_PASSWORD = "fake-pg-password-for-tests"
FAKE_DATABASE_URL = "postgresql://asr:fake-password@db.invalid:5432/asr"
K8S_VERSION = "1.33"
STEP_JOB = re.compile(r"^dagster-step-[0-9a-f]{32}$")


def image_entrypoint() -> list[str]:
    """The ENTRYPOINT of docker/Dockerfile (exec form), which a pod without `command` runs with its `args`."""
    dockerfile = REPO / "docker" / "Dockerfile"
    if not dockerfile.exists():
        return []
    for line in dockerfile.read_text().splitlines():
        if line.strip().upper().startswith("ENTRYPOINT "):
            return json.loads(line.strip()[len("ENTRYPOINT ") :])
    return []


def launcher_config(home: Path, kubeconfig: Path) -> dict:
    """K8sRunLauncher config as the chart renders it from deployment/values.yaml.

    The code location's layer (includeConfigInLaunchedRuns: env, envSecrets, envConfigMaps, resources) reaches
    runs through their code-location origin, which a test run has none of, so it goes on the launcher here.
    """
    return {
        "module": "dagster_k8s",
        "class": "K8sRunLauncher",
        "config": {
            "load_incluster_config": False,
            "kubeconfig_file": str(kubeconfig),
            "job_namespace": NAMESPACE,
            "job_image": IMAGE,
            "image_pull_policy": LAUNCHER["imagePullPolicy"],
            "service_account_name": "asr-dagster",
            "instance_config_map": "asr-dagster-instance",
            "postgres_password_secret": PG_SECRET,
            "dagster_home": str(home),
            "labels": LAUNCHER["labels"],
            "security_context": LAUNCHER["securityContext"],
            # The chart renames runK8sConfig's top-level keys and passes what is inside as written (camelCase).
            "run_k8s_config": {
                "pod_spec_config": LAUNCHER["runK8sConfig"]["podSpecConfig"],
                "job_spec_config": LAUNCHER["runK8sConfig"]["jobSpecConfig"],
            },
            "env_secrets": [s["name"] for s in DEPLOYMENT["envSecrets"]],
            "env_config_maps": [c["name"] for c in DEPLOYMENT["envConfigMaps"]],
            "env_vars": [f"{e['name']}={e['value']}" for e in DEPLOYMENT["env"]],
            "resources": DEPLOYMENT["resources"],
        },
    }


@dataclass
class Cluster:
    fake: FakeKubernetes
    instance: DagsterInstance
    records: Path
    storage: Path
    landing: Path

    def record(self, asset: str, attempt: int) -> dict | None:
        path = self.records / f"{asset}-{attempt}.json"
        return json.loads(path.read_text()) if path.exists() else None


def step_job_name(run_id: str, step_key: str, attempt: int = 0) -> str:
    """dagster-k8s's naming: md5 of run id + step key, `-<attempt>` for retries."""
    name = "dagster-step-" + hashlib.md5((run_id + step_key).encode()).hexdigest()
    return f"{name}-{attempt}" if attempt else name


def run_events(instance: DagsterInstance, run_id: str, event_type: DagsterEventType) -> list:
    return [
        e.dagster_event
        for e in instance.all_logs(run_id)
        if e.dagster_event is not None and e.dagster_event.event_type == event_type
    ]


def error_text(error: object) -> str:
    """A SerializableErrorInfo's message with those of its causes and contexts."""
    texts = []
    while error is not None:
        texts.append(error.message)  # type: ignore[attr-defined]
        error = error.cause or error.context  # type: ignore[attr-defined]
    return "\n".join(texts)


def job_container(body: dict) -> dict:
    (container,) = body["spec"]["template"]["spec"]["containers"]
    return container


def failure_text(cluster: Cluster, run_id: str) -> str:
    """What to show when a run failed: its failure events and the fake pods' logs."""
    failures = [
        str(e.event_specific_data)
        for e in run_events(cluster.instance, run_id, DagsterEventType.STEP_FAILURE)
    ]
    logs = [f"--- {name}\n{cluster.fake.pod_log_of_job(name)[-3000:]}" for name in cluster.fake.job_names()]
    return "\n".join(failures + logs)


def wait_until_finished(cluster: Cluster, run_id: str, timeout_s: float = 300) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout_s
    while not (run := cluster.instance.get_run_by_id(run_id)).is_finished and time.monotonic() < deadline:
        time.sleep(0.5)
    cluster.fake.wait_idle(timeout_s=120)  # a cancelled run's pods take a grace period to go
    return run


def step_pod_timings(instance: DagsterInstance, run_id: str) -> dict[str, dict]:
    """Per step of a k8s_job_executor run, from its event log: pod start-up = from STEP_WORKER_STARTING ("Executing
    step ... in Kubernetes job": the Job POSTed) to STEP_START (the pod's `dagster api execute_step` has imported the
    code location and loaded the instance), work = STEP_START to STEP_SUCCESS; for transcripts also the engine's
    start-up (model and programs loaded from the model cache, which the image bakes), from its metadata."""
    launched: dict[str, float] = {}
    started: dict[str, float] = {}
    finished: dict[str, float] = {}
    engine: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_WORKER_STARTING:
            launched.setdefault(event.step_key, entry.timestamp)
        elif event.event_type == DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            finished[event.step_key] = entry.timestamp
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.event_specific_data.materialization.metadata
            if "startup_seconds" in metadata:
                engine[event.step_key] = metadata["startup_seconds"].value
    return {
        step: {
            "pod_startup_s": round(started[step] - launched[step], 2),
            "work_s": round(finished[step] - started[step], 2),
            "engine_startup_s": engine.get(step),
        }
        for step in launched
    }
