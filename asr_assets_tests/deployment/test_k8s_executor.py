"""The real `k8s_job_executor` against a fake Kubernetes API server whose kubelet runs pods as local processes.

The test process is the run worker (as the run pod would be): `execute_job` on a job whose executor is
`k8s_job_executor`, on an instance with `K8sRunLauncher` pointed at the fake through a kubeconfig. Every step becomes
a Kubernetes Job that the fake runs as `dagster api execute_step` in its own process, with the env the pod spec
wires from the fake's Secrets and ConfigMaps. The launcher config is taken from deployment/values.yaml
(k8s_cluster.py, with the helpers that read a run back).

Why a fake API server, and what it emulates: docs/k8s-testing.md. What this proves and what it does not:
deployment/README.md, "What the offline tests prove".
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import kubernetes_validate
import psycopg2
import pytest
from dagster import DagsterEventType
from dagster._core.launcher import WorkerStatus
from dagster._core.test_utils import instance_for_test
from fake_kube import FakeKubernetes
from k8s_cluster import (
    CONFIG_MAP,
    DEPLOYMENT,
    ENV_SECRET,
    FAKE_DATABASE_URL,
    FAKE_PG_PASSWORD,
    HERE,
    IMAGE,
    K8S_VERSION,
    LAUNCHER,
    MONITORING,
    NAMESPACE,
    PG_SECRET,
    REPO,
    STEP_JOB,
    Cluster,
    error_text,
    failure_text,
    image_entrypoint,
    job_container,
    launcher_config,
    run_events,
    step_job_name,
    step_pod_timings,
    wait_until_finished,
)
from k8s_real_defs import get_ingest_job
from k8s_smoke_defs import (
    FAIL_FIRST_ATTEMPT_ENV,
    HOLD_ENV,
    TRANSCRIBE_K8S_CONFIG,
    get_smoke_job,
    smoke_batches,
)

from asr_assets import settings


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """The fake cluster, and an instance configured as the chart renders it from deployment/values.yaml."""
    # The run worker polls the event log every 0.2 s instead of 1 s. The health check stays at dagster's 20 s.
    monkeypatch.setenv("DAGSTER_STEP_DELEGATING_EXECUTOR_SLEEP_SECONDS", "0.2")
    for name in (
        "ASR_DATABASE_URL",
        "ASR_STORAGE_URL",
        "ASR_LANDING_URL",
        "ASR_EXECUTOR",
        "DAGSTER_PG_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)  # pods must get these from the fake's objects, nothing else
    dirs = {name: tmp_path / name for name in ("kubelet", "records", "storage", "landing", "dagster_home")}
    for path in dirs.values():
        path.mkdir()
    fake = FakeKubernetes(
        namespace=NAMESPACE,
        bin_dir=Path(sys.executable).parent,  # `dagster` of this venv, as the image's PATH would have it
        workdir=dirs["kubelet"],
        # The code as the image has it: the project root (installed editable there) and the test job's module.
        pythonpath=[HERE, REPO],
        image_entrypoint=image_entrypoint(),
        pod_timeout_s=300,  # generous: on a shared 2-core machine a run pod with two steps can take a minute
        # The image's ENV: its model cache, baked at build time (`make bake` builds the same one here).
        extra_env={"ASR_MODEL_CACHE": str(settings.current().model_cache)},
    )
    with fake:
        fake.add_secret(PG_SECRET, {"postgresql-password": FAKE_PG_PASSWORD})
        fake.add_secret(ENV_SECRET, {"ASR_DATABASE_URL": FAKE_DATABASE_URL})
        fake.add_config_map(
            CONFIG_MAP, {"ASR_LANDING_URL": str(dirs["landing"]), "ASR_STORAGE_URL": str(dirs["storage"])}
        )
        kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        overrides = {
            "run_launcher": launcher_config(dirs["dagster_home"], kubeconfig),
            # `dagster job launch` hands the run straight to the launcher (no daemon in these tests).
            "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "DefaultRunCoordinator"},
            # As the chart renders dagsterDaemon.runMonitoring (the run worker reads it: will a crash be resumed?).
            "run_monitoring": {
                "enabled": MONITORING["enabled"],
                "start_timeout_seconds": MONITORING["startTimeoutSeconds"],
                "max_resume_run_attempts": MONITORING["maxResumeRunAttempts"],
                "poll_interval_seconds": MONITORING["pollIntervalSeconds"],
                "max_runtime_seconds": MONITORING["maxRuntimeSeconds"],
            },
        }
        with instance_for_test(temp_dir=str(dirs["dagster_home"]), overrides=overrides) as instance:
            yield Cluster(fake, instance, dirs["records"], dirs["storage"], dirs["landing"])
        fake.wait_idle()


def _run_smoke(cluster: Cluster, partition: str, fail_first_attempt: tuple[str, ...] = ()) -> dg.DagsterRun:
    cluster.instance.add_dynamic_partitions(smoke_batches.name, [partition])
    env_vars = [f"ASR_SMOKE_RECORD_DIR={cluster.records}"]
    if fail_first_attempt:
        env_vars.append(f"{FAIL_FIRST_ATTEMPT_ENV}={','.join(fail_first_attempt)}")
    run_config = {
        "execution": {"config": {"job_namespace": NAMESPACE, "env_vars": env_vars, "max_concurrent": 2}}
    }
    result = dg.execute_job(
        dg.reconstructable(get_smoke_job),
        instance=cluster.instance,
        run_config=run_config,
        tags={"dagster/partition": partition},
    )
    run = cluster.instance.get_run_by_id(result.run_id)
    assert run is not None
    return run


def _common_job_checks(body: dict) -> dict:
    """What every Job dagster-k8s creates from our values must satisfy; returns its container."""
    # The exact JSON the client POSTed is a valid, strictly-typed batch/v1 Job.
    kubernetes_validate.validate(body, K8S_VERSION, strict=True)
    spec, pod = body["spec"], body["spec"]["template"]["spec"]
    assert spec["backoffLimit"] == 0  # retries are dagster's, not the Job controller's
    assert (
        spec["ttlSecondsAfterFinished"]
        == LAUNCHER["runK8sConfig"]["jobSpecConfig"]["ttlSecondsAfterFinished"]
    )
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"] == LAUNCHER["runK8sConfig"]["podSpecConfig"]["securityContext"]
    assert body["metadata"]["labels"]["app.kubernetes.io/part-of"] == "asr-assets"
    container = job_container(body)
    assert container["image"] == IMAGE
    assert "command" not in container  # so the image must not have an ENTRYPOINT that eats the args
    assert container["securityContext"] == LAUNCHER["securityContext"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": PG_SECRET, "key": "postgresql-password"}
    }
    assert env["ASR_EXECUTOR"]["value"] == "k8s"
    assert {"secretRef": {"name": ENV_SECRET}} in container["envFrom"]
    assert {"configMapRef": {"name": CONFIG_MAP}} in container["envFrom"]
    # No secret value travels in a Job spec: only references to Secrets.
    assert FAKE_PG_PASSWORD not in json.dumps(body)
    assert FAKE_DATABASE_URL not in json.dumps(body)
    return container


def _launch(cluster: Cluster, partition: str, cwd: Path, extra_env_vars: tuple[str, ...] = ()) -> str:
    """`dagster job launch` of the smoke job for one partition, as the daemon would submit it; returns the run id."""
    cluster.instance.add_dynamic_partitions(smoke_batches.name, [partition])
    env_vars = [f"ASR_SMOKE_RECORD_DIR={cluster.records}", *extra_env_vars]
    run_config = {"execution": {"config": {"env_vars": env_vars}}}
    launch = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "job", "launch", "-m", "k8s_smoke_defs", "-j", "smoke_job",
         "--tags", json.dumps({"dagster/partition": partition}), "--config-json", json.dumps(run_config)],
        env={**os.environ, "DAGSTER_HOME": str(cluster.instance.root_directory), "PYTHONPATH": f"{HERE}:{REPO}"},
        cwd=cwd, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert launch.returncode == 0, launch.stdout + launch.stderr
    (record,) = cluster.instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": partition}))
    return record.dagster_run.run_id


@pytest.mark.timeout(400)
@pytest.mark.slow  # half a minute of fake-cluster pods (make test runs it; make test-fast leaves it out)
def test_run_launcher_starts_a_run_pod_that_launches_the_step_jobs(cluster: Cluster, tmp_path: Path):
    """The production hop: `dagster job launch` -> K8sRunLauncher -> run pod (`dagster api execute_run`), whose
    k8s_job_executor launches the step Jobs. Both kinds of Job are checked as manifests."""
    partition = "batch-0002"
    run_id = _launch(cluster, partition, tmp_path)
    run = wait_until_finished(cluster, run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS, failure_text(cluster, run_id)

    # The run monitoring daemon's view of the run pod: its Job succeeded.
    assert cluster.instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.SUCCESS

    run_job, *step_jobs = cluster.fake.created_jobs
    assert run_job["metadata"]["name"] == f"dagster-run-{run_id}"
    container = _common_job_checks(run_job)
    assert run_job["metadata"]["labels"]["app.kubernetes.io/component"] == "run_worker"
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    assert container["resources"] == DEPLOYMENT["resources"]

    bodies = {b["metadata"]["labels"]["dagster/op"]: b for b in step_jobs}
    assert set(bodies) == {"smoke_audio", "smoke_transcripts"}
    for op, body in bodies.items():
        assert body["metadata"]["name"] == step_job_name(run_id, op)
        container = _common_job_checks(body)
        labels = body["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "step_worker"
        assert labels["dagster/run-id"] == run_id
        assert labels["dagster/code-location"]  # runs launched from a code location carry its name
        assert container["args"] == ["dagster", "api", "execute_step"]
        env = {e["name"]: e for e in container["env"]}
        assert "DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS" in env
        assert env["DAGSTER_RUN_STEP_KEY"]["value"] == op
    # The op tag sets the transcripts step's resources; other steps get the code location's default.
    tagged = TRANSCRIBE_K8S_CONFIG["container_config"]["resources"]
    assert job_container(bodies["smoke_transcripts"])["resources"] == tagged
    assert job_container(bodies["smoke_audio"])["resources"] == DEPLOYMENT["resources"]

    # Nothing but Jobs was asked of the API server (create, and status reads by the health checks).
    assert {m for m, p in cluster.fake.requests} <= {"POST", "GET"}
    assert all(p.startswith(f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs") for _, p in cluster.fake.requests)

    # Three processes, none of them this one: the run worker in the run pod, and one per step pod.
    audio, transcripts = cluster.record("smoke_audio", 0), cluster.record("smoke_transcripts", 0)
    assert audio and transcripts
    run_pod_pids = {pid for pod, pid in cluster.fake.pids.items() if pod.startswith(f"dagster-run-{run_id}-")}
    assert len(run_pod_pids) == 1
    assert set(cluster.fake.pids.values()) == run_pod_pids | {audio["pid"], transcripts["pid"]}
    assert len(set(cluster.fake.pids.values())) == 3 and os.getpid() not in cluster.fake.pids.values()
    # The downstream pod read what the upstream pod wrote to shared storage.
    handed_over = (cluster.storage / "smoke_transcripts" / f"{partition}.txt").read_text()
    assert handed_over == f"audio of {partition}".upper()

    # Env wiring: the Postgres password from the chart's Secret, ASR_* from the location's Secret/ConfigMap/env.
    for record in (audio, transcripts):
        env = record["env"]
        assert env["DAGSTER_PG_PASSWORD"] == FAKE_PG_PASSWORD
        assert env["ASR_DATABASE_URL"] == FAKE_DATABASE_URL
        assert env["ASR_STORAGE_URL"] == str(cluster.storage)
        assert env["ASR_EXECUTOR"] == "k8s"
        assert env["DAGSTER_RUN_STEP_KEY"] == record["asset"]
        assert env["HOSTNAME"].startswith(step_job_name(run_id, record["asset"]) + "-")
        assert record["partition"] == partition
    assert cluster.instance.get_materialized_partitions(dg.AssetKey("smoke_transcripts")) == {partition}


@pytest.mark.timeout(400)
@pytest.mark.slow  # half a minute of fake-cluster pods (make test runs it; make test-fast leaves it out)
def test_pod_failure_and_app_failure_are_retried(cluster: Cluster):
    # (a) The first Job of smoke_audio dies before its process starts (OOM-kill, node lost): only the executor's
    # health check (every 20 s) can see it. (b) smoke_transcripts raises on its first attempt: the step process
    # itself reports the retry.
    def kill_first_audio_job(job: dict) -> int | None:
        first = STEP_JOB.match(job["metadata"]["name"])
        return 137 if first and job["metadata"]["labels"]["dagster/op"] == "smoke_audio" else None

    cluster.fake.fail_pod = kill_first_audio_job
    run = _run_smoke(cluster, "batch-0003", fail_first_attempt=("smoke_transcripts",))
    assert run.status == dg.DagsterRunStatus.SUCCESS, failure_text(cluster, run.run_id)

    audio, transcripts = (step_job_name(run.run_id, s) for s in ("smoke_audio", "smoke_transcripts"))
    assert cluster.fake.job_names() == [audio, f"{audio}-1", transcripts, f"{transcripts}-1"]
    assert "injected exit code 137" in cluster.fake.pod_log_of_job(audio)
    assert "injected failure of smoke_transcripts" in cluster.fake.pod_log_of_job(transcripts)

    retried = {
        e.step_key for e in run_events(cluster.instance, run.run_id, DagsterEventType.STEP_UP_FOR_RETRY)
    }
    assert retried == {"smoke_audio", "smoke_transcripts"}
    reasons = {
        e.step_key: error_text(e.event_specific_data.error)
        for e in run_events(cluster.instance, run.run_id, DagsterEventType.STEP_UP_FOR_RETRY)
    }
    assert f"Discovered failed Kubernetes job {audio} " in reasons["smoke_audio"]
    assert "injected failure of smoke_transcripts" in reasons["smoke_transcripts"]

    # smoke_audio's first attempt never ran; its retry did. smoke_transcripts ran twice, in two processes.
    assert cluster.record("smoke_audio", 0) is None
    assert cluster.record("smoke_audio", 1) is not None
    first, second = cluster.record("smoke_transcripts", 0), cluster.record("smoke_transcripts", 1)
    assert first and second and first["pid"] != second["pid"]
    assert cluster.instance.get_materialized_partitions(dg.AssetKey("smoke_transcripts")) == {"batch-0003"}


@pytest.fixture
def k8s_database_url(embedded_server_url: str) -> Iterator[str]:
    """A database of its own on the session's embedded PostgreSQL (the batch registry starts empty)."""
    from asr_assets_tests.conftest import throwaway_database

    yield from throwaway_database(embedded_server_url, prefix="asr_k8s")


def _land_one_call(cluster: Cluster, database_url: str, call: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point pods and the run worker at a real database and the shared folders, land one call, and let the real
    landing sensor register its batch (as the daemon would); returns the batch's partition key."""
    from asr_assets.defs.partitions import ingest_batches
    from asr_assets.defs.resources import LandingZoneResource, PostgresResource
    from asr_assets.defs.sensors import landing_sensor

    # The pods' view of the settings (what deployment/k8s puts in the Secret and the ConfigMap) ...
    cluster.fake.add_secret(ENV_SECRET, {"ASR_DATABASE_URL": database_url})
    # ... and the run worker's (the run pod gets the same env from the code location).
    monkeypatch.setenv("ASR_EXECUTOR", "k8s")
    monkeypatch.setenv("ASR_DATABASE_URL", database_url)
    monkeypatch.setenv("ASR_LANDING_URL", str(cluster.landing))
    monkeypatch.setenv("ASR_STORAGE_URL", str(cluster.storage))

    shutil.copyfile(call, cluster.landing / call.name)
    context = dg.build_sensor_context(
        instance=cluster.instance,
        resources={
            "landing": LandingZoneResource(url=str(cluster.landing)),
            "postgres": PostgresResource(database_url=database_url),
        },
    )
    tick = landing_sensor(context)
    (request,) = tick.run_requests
    for add in tick.dynamic_partitions_requests:
        cluster.instance.add_dynamic_partitions(ingest_batches.name, list(add.partition_keys))
    assert request.partition_key is not None
    return request.partition_key


@pytest.mark.timeout(400)
def test_real_raw_audio_step_runs_in_a_kubernetes_job(
    cluster: Cluster, k8s_database_url: str, sample_calls: list[Path], monkeypatch: pytest.MonkeyPatch
):
    """The project's own ingest_job, as the cluster runs it: the landing sensor registers a batch, then the
    raw_audio step runs in its own pod with the database URL and storage locations from the fake's objects."""
    partition_key = _land_one_call(cluster, k8s_database_url, sample_calls[0], monkeypatch)
    result = dg.execute_job(
        dg.reconstructable(get_ingest_job),
        instance=cluster.instance,
        tags={"dagster/partition": partition_key},
        asset_selection=[dg.AssetKey("raw_audio")],
    )
    run = cluster.instance.get_run_by_id(result.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS, failure_text(cluster, result.run_id)

    assert cluster.fake.job_names() == [step_job_name(run.run_id, "raw_audio")]
    (body,) = cluster.fake.created_jobs
    kubernetes_validate.validate(body, K8S_VERSION, strict=True)
    assert k8s_database_url not in json.dumps(body)  # the URL with its password only travels in the Secret

    (materialization,) = run_events(cluster.instance, run.run_id, DagsterEventType.ASSET_MATERIALIZATION)
    metadata = materialization.event_specific_data.materialization.metadata
    assert metadata["accepted"].value == 1 and metadata["quarantined"].value == 0
    # The pod wrote the checked audio where the next step pod (transcripts) will read it.
    written = [p for p in (cluster.storage / "raw_audio" / partition_key).iterdir() if p.suffix == ".wav"]
    assert len(written) == 1 and written[0].read_bytes() == sample_calls[0].read_bytes()


def _launch_and_cancel(
    cluster: Cluster, partition: str, cwd: Path, hold_s: int
) -> tuple[dg.DagsterRun, str, str]:
    """Launch the smoke job with smoke_audio held for hold_s, cancel it while that step runs (what the UI's
    Terminate does: K8sRunLauncher.terminate). Returns the finished run and the run and step Job names."""
    run_id = _launch(cluster, partition, cwd, extra_env_vars=(f"{HOLD_ENV}={hold_s}",))
    deadline = time.monotonic() + 300
    while cluster.record("smoke_audio", 0) is None and time.monotonic() < deadline:
        time.sleep(0.5)  # until the step pod's process is running the asset
    assert cluster.record("smoke_audio", 0) is not None, failure_text(cluster, run_id)
    assert cluster.instance.run_launcher.terminate(run_id)
    run = wait_until_finished(cluster, run_id)
    assert run.status == dg.DagsterRunStatus.CANCELED
    assert cluster.fake.running_pods() == [], "a container process outlived the test"
    return run, f"dagster-run-{run_id}", step_job_name(run_id, "smoke_audio")


@pytest.mark.timeout(400)
@pytest.mark.slow  # half a minute of fake-cluster pods (make test runs it; make test-fast leaves it out)
def test_cancelling_a_run_as_deployed_lets_its_running_step_finish(cluster: Cluster, tmp_path: Path):
    """With run monitoring resuming crashed run workers (values.yaml: maxResumeRunAttempts 2), the run worker
    cannot tell a cancel from a crash: on SIGTERM it leaves the steps in flight running, for the resumed worker.
    So a cancelled run's running step pods finish on their own; no further step starts."""
    run, run_job, step_job = _launch_and_cancel(cluster, "batch-0004", tmp_path, hold_s=8)
    deletes = [p.rsplit("/", 1)[-1] for m, p in cluster.fake.requests if m == "DELETE"]
    assert run_job in deletes and step_job not in deletes
    assert not any(p.startswith(step_job) for p in deletes)
    assert cluster.fake.jobs[step_job]["status"].get("succeeded") == 1  # it ran to its end
    assert cluster.fake.job_names() == [run_job, step_job]  # smoke_transcripts never started
    messages = [
        e.message or "" for e in run_events(cluster.instance, run.run_id, DagsterEventType.ENGINE_EVENT)
    ]
    assert any(
        m.startswith("Executor received termination signal, not forwarding to steps") for m in messages
    )


@pytest.mark.timeout(400)
@pytest.mark.slow  # half a minute of fake-cluster pods (make test runs it; make test-fast leaves it out)
def test_a_crashed_run_pod_is_resumed_and_the_run_completes(cluster: Cluster, tmp_path: Path):
    """values.yaml's maxResumeRunAttempts: the run pod dies mid-run (OOM kill, lost node); one pass of the daemon's
    run monitoring (`monitor_started_run`, what dagster-daemon calls every pollIntervalSeconds) sees its Job failed
    and launches `dagster-run-<id>-1` (`dagster api resume_run`), which adopts the step still in flight instead of
    starting it again, and finishes the run."""
    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    run_id = _launch(cluster, "batch-0006", tmp_path, extra_env_vars=(f"{HOLD_ENV}=10",))
    run_job = f"dagster-run-{run_id}"
    deadline = time.monotonic() + 300
    while cluster.record("smoke_audio", 0) is None and time.monotonic() < deadline:
        time.sleep(0.5)  # until the step pod's process is running the asset
    assert cluster.record("smoke_audio", 0) is not None, failure_text(cluster, run_id)

    cluster.fake.kill_job_pods(run_job)
    while not cluster.fake.jobs[run_job]["status"].get("failed") and time.monotonic() < deadline:
        time.sleep(0.2)
    (record,) = cluster.instance.get_run_records(dg.RunsFilter(run_ids=[run_id]))
    assert (
        record.dagster_run.status == dg.DagsterRunStatus.STARTED
    )  # nobody told dagster: only monitoring can see it
    monitor_started_run(cluster.instance, None, record, logging.getLogger(__name__))  # type: ignore[arg-type]

    run = wait_until_finished(cluster, run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS, failure_text(cluster, run_id)
    audio, transcripts = (step_job_name(run_id, s) for s in ("smoke_audio", "smoke_transcripts"))
    assert cluster.fake.job_names() == [run_job, audio, f"{run_job}-1", transcripts]
    assert cluster.record("smoke_audio", 1) is None  # the step in flight was adopted, not run again
    resumed = cluster.fake.created_jobs[2]
    kubernetes_validate.validate(resumed, K8S_VERSION, strict=True)
    assert job_container(resumed)["args"][:3] == ["dagster", "api", "resume_run"]


@pytest.mark.k8s_e2e
@pytest.mark.timeout(1200)
def test_whole_ingest_job_runs_step_by_step_in_kubernetes_jobs(
    cluster: Cluster, k8s_database_url: str, sample_calls: list[Path], monkeypatch: pytest.MonkeyPatch
):
    """`make test-k8s`: every step of the real ingest_job on one sample call, each in its own pod, the engine
    included (the marts are marts_job's), and the start-up of each step pod measured (written to $ASR_K8S_TIMINGS_JSON when set). About
    4 min on the shared 2-core machine: too long for every `make test` (which deselects the `k8s_e2e` marker)."""
    partition_key = _land_one_call(cluster, k8s_database_url, sample_calls[0], monkeypatch)
    result = dg.execute_job(
        dg.reconstructable(get_ingest_job),
        instance=cluster.instance,
        tags={"dagster/partition": partition_key},
    )
    run = cluster.instance.get_run_by_id(result.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS, failure_text(cluster, result.run_id)

    steps = [b["metadata"]["labels"]["dagster/op"] for b in cluster.fake.created_jobs]
    assert steps[:2] == ["raw_audio", "transcripts"] and len(steps) == len(set(steps)) >= 4
    for body in cluster.fake.created_jobs:
        kubernetes_validate.validate(body, K8S_VERSION, strict=True)
    conn = psycopg2.connect(settings.libpq_url(k8s_database_url))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select count(*) from asr_raw.words")
            (words,) = cur.fetchone()
    finally:
        conn.close()
    assert words > 0

    timings = step_pod_timings(cluster.instance, run.run_id)
    assert set(timings) == set(steps)
    for step, t in timings.items():
        assert 0 < t["pod_startup_s"] < 120 and t["work_s"] >= 0, (step, t)
    assert timings["transcripts"]["engine_startup_s"] is not None
    print("\nstep pod timings (launch -> step start in its own process; step start -> success):")
    for step, t in timings.items():
        print(f"  {step:40s} start-up {t['pod_startup_s']:6.2f} s  work {t['work_s']:7.2f} s", end="")
        print(f"  (engine start-up {t['engine_startup_s']} s)" if t["engine_startup_s"] is not None else "")
    if os.environ.get("ASR_K8S_TIMINGS_JSON"):
        Path(os.environ["ASR_K8S_TIMINGS_JSON"]).write_text(json.dumps(timings, indent=1))
