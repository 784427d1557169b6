"""The fake kubelet of fake_kube.py: each created Job gets one Pod whose container runs as a local subprocess.

The container gets the environment Kubernetes would give it (`env`, `valueFrom.secretKeyRef`/`configMapKeyRef`,
`fieldRef`, `envFrom`), runs in its own process group in the fake's workdir (PYTHONPATH as the test gives it, so a
step process imports the test's job modules by name), and its exit code becomes the pod's and the Job's status.
Every Job finishes: a pod that cannot start fails at once (CreateContainerConfigError when a Secret, ConfigMap or
key is missing), and one that runs longer than `pod_timeout_s` is killed (exit 137).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import os
import secrets
import signal
import subprocess
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

EXIT_KILLED = 137  # what a SIGKILLed container reports (128 + 9)
EXIT_CONFIG_ERROR = 1
# an env var's valueFrom key references, in the order they are looked for, and the kind of object each reads
KEY_REF_KINDS = {"secretKeyRef": "Secret", "configMapKeyRef": "ConfigMap"}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PodConfigError(Exception):
    """What Kubernetes reports as CreateContainerConfigError: a referenced Secret/ConfigMap/key is missing."""


class Kubelet:
    """The kubelet half of FakeKubernetes, mixed into it: runs the Job's pod and finishes pod and Job. It works on
    the API server's objects under its lock (`jobs`, `pods`, `secrets`, `config_maps`, `logs`, `_meta`), which
    FakeKubernetes sets up with the attributes below."""

    namespace: str
    bin_dir: Path
    workdir: Path
    pythonpath: list[str]
    extra_env: dict[str, str]
    image_entrypoint: list[str]
    pod_timeout_s: float
    fail_pod: Callable[[dict], int | None] | None
    lock: threading.Lock
    jobs: dict[str, dict]
    pods: dict[str, dict]
    secrets: dict[str, dict]
    config_maps: dict[str, dict]
    logs: dict[str, str]
    pids: dict[str, int]
    _procs: dict[str, subprocess.Popen]

    def _kubelet(self, job_name: str) -> None:
        """Create the Job's pod, run its container as a subprocess, then finish pod and Job. Never raises."""
        with self.lock:
            job = copy.deepcopy(self.jobs[job_name])
        template = job["spec"]["template"]
        pod_name = f"{job_name}-{secrets.token_hex(3)[:5]}"
        labels = {
            **template.get("metadata", {}).get("labels", {}),
            "job-name": job_name,
            "batch.kubernetes.io/job-name": job_name,
            "controller-uid": job["metadata"]["uid"],
        }
        container = template["spec"]["containers"][0]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": self._meta(pod_name, labels),
            "spec": copy.deepcopy(template["spec"]),
            "status": {"phase": "Pending"},
        }
        started = now()
        with self.lock:
            self.pods[pod_name] = pod
            self._set_job_status(job_name, {"active": 1, "startTime": started})

        exit_code, reason, log = EXIT_KILLED, "Error", ""
        try:
            injected = self.fail_pod(job) if self.fail_pod else None
            if injected is not None:
                exit_code, reason = injected, "Error"
                log = (
                    f"fake kubelet: pod failed before its container started (injected exit code {injected})\n"
                )
            else:
                exit_code, reason, log = self._run_container(pod_name, container)
        except PodConfigError as e:
            exit_code, reason, log = EXIT_CONFIG_ERROR, "CreateContainerConfigError", f"fake kubelet: {e}\n"
        except Exception:
            exit_code, reason, log = EXIT_CONFIG_ERROR, "StartError", traceback.format_exc()
        finally:
            self._finish(job_name, pod_name, container, started, exit_code, reason, log)

    def _run_container(self, pod_name: str, container: dict) -> tuple[int, str, str]:
        argv = list(container.get("command") or self.image_entrypoint) + list(container.get("args") or [])
        if not argv:
            raise PodConfigError("container has neither command/args nor an image entrypoint")
        env = self._container_env(pod_name, container)
        log_path = self.workdir / f"{pod_name}.log"
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so a kill takes its children too
            )
            with self.lock:
                self._procs[pod_name] = proc
                self.pids[pod_name] = proc.pid
                if pod_name in self.pods:
                    self.pods[pod_name]["status"] = {
                        "phase": "Running",
                        "containerStatuses": [
                            self._container_status(container, {"running": {"startedAt": now()}})
                        ],
                    }
            try:
                exit_code = proc.wait(timeout=self.pod_timeout_s)
                reason = "Completed" if exit_code == 0 else "Error"
            except subprocess.TimeoutExpired:
                kill(proc)
                exit_code, reason = EXIT_KILLED, "DeadlineExceeded"
            finally:
                with self.lock:
                    self._procs.pop(pod_name, None)
        if exit_code < 0:  # killed by a signal (pod deleted): report it as the container runtime does
            exit_code = 128 - exit_code
        return exit_code, reason, log_path.read_text(errors="replace")

    def _container_env(self, pod_name: str, container: dict) -> dict[str, str]:
        """The process environment: a minimal image environment, then envFrom, then env (env wins, as in k8s)."""
        env = {
            "PATH": f"{self.bin_dir}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            "HOSTNAME": pod_name,
            **self.extra_env,
        }
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(self.pythonpath)
        for source in container.get("envFrom") or []:
            ref = source["secretRef"] if "secretRef" in source else source["configMapRef"]
            kind = "Secret" if "secretRef" in source else "ConfigMap"
            data = self._object_data(kind, ref["name"], ref.get("optional"))
            env.update({source.get("prefix", "") + k: v for k, v in data.items()})
        for var in container.get("env") or []:
            value_from = var.get("valueFrom") or {}
            if "value" in var:
                env[var["name"]] = var["value"] or ""
            elif key_ref := next((f for f in KEY_REF_KINDS if value_from.get(f)), None):
                ref, kind = value_from[key_ref], KEY_REF_KINDS[key_ref]
                value = self._object_data(kind, ref["name"], ref.get("optional")).get(ref["key"])
                if value is None and not ref.get("optional"):
                    raise PodConfigError(
                        f"couldn't find key {ref['key']} in {kind} {self.namespace}/{ref['name']}"
                    )
                if value is not None:
                    env[var["name"]] = value
            elif ref := value_from.get("fieldRef"):
                env[var["name"]] = {"metadata.name": pod_name, "metadata.namespace": self.namespace}.get(
                    ref["fieldPath"], ""
                )
            else:
                env[var["name"]] = ""
        return env

    def _object_data(self, kind: str, name: str, optional: bool | None) -> dict[str, str]:
        """The data of the Secret or ConfigMap `name` (a Secret's decoded); {} when it is missing and optional."""
        with self.lock:
            found = (self.secrets if kind == "Secret" else self.config_maps).get(name)
        if found is None:
            if optional:
                return {}
            raise PodConfigError(f'{kind.lower()} "{name}" not found')
        data = found.get("data", {})
        return {k: base64.b64decode(v).decode() for k, v in data.items()} if kind == "Secret" else dict(data)

    @staticmethod
    def _container_status(container: dict, state: dict) -> dict:
        return {
            "name": container["name"],
            "image": container.get("image", ""),
            "imageID": "",
            "ready": "running" in state,
            "restartCount": 0,
            "state": state,
        }

    def _finish(
        self,
        job_name: str,
        pod_name: str,
        container: dict,
        started: str,
        exit_code: int,
        reason: str,
        log: str,
    ) -> None:
        finished = now()
        terminated = {"exitCode": exit_code, "reason": reason, "startedAt": started, "finishedAt": finished}
        with self.lock:
            self.logs[pod_name] = log
            if pod_name in self.pods:
                self.pods[pod_name]["status"] = {
                    "phase": "Succeeded" if exit_code == 0 else "Failed",
                    "containerStatuses": [self._container_status(container, {"terminated": terminated})],
                }
            if exit_code == 0:
                status = {
                    "succeeded": 1,
                    "startTime": started,
                    "completionTime": finished,
                    "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": finished}],
                }
            else:
                status = {
                    "failed": 1,
                    "startTime": started,
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "reason": "BackoffLimitExceeded",
                            "message": "Job has reached the specified backoff limit",
                            "lastTransitionTime": finished,
                        }
                    ],
                }
            self._set_job_status(job_name, status)

    def _set_job_status(self, job_name: str, status: dict) -> None:
        job = self.jobs.get(job_name)  # gone when deleted meanwhile
        if job is not None:
            job["status"] = status


def kill(proc: subprocess.Popen, grace_s: float = 0.0) -> None:
    """SIGTERM the container's process group, then SIGKILL what is left after grace_s (at once when 0)."""
    if grace_s > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
