"""A fake Kubernetes API server and kubelet, enough to run dagster-k8s's `k8s_job_executor` on one machine.

It serves exactly the calls dagster-k8s 0.29 makes for step Jobs and run Jobs (docs/k8s-testing.md says which,
and why the executor is tested this way): create/read/list/delete Jobs, list/read/delete Pods and their logs, list Events, plus the
Secrets and ConfigMaps a test preloads. Every created Job gets one Pod whose container runs as a local subprocess,
with the environment Kubernetes would give it (`env`, `valueFrom.secretKeyRef`, `envFrom`), so the real
`dagster api execute_step` runs in its own process. Objects are kept as the JSON the client sent (camelCase).

What it does not model: scheduling, images, volumes (all pods share this machine's filesystem), resources,
RBAC, restarts and backoff (dagster sets backoffLimit 0), TTL. Every Job always finishes: a pod that cannot
start fails at once, and one that runs longer than `pod_timeout_s` is killed (exit 137).

This module is the API server: the objects, the calls served on them and the tests' queries. The kubelet, which
runs the pods, is fake_kubelet.py's `Kubelet`, mixed into `FakeKubernetes`.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml
from fake_kubelet import Kubelet, kill, now

JOBS = re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs(?:/(?P<name>[^/]+)(?P<status>/status)?)?$")
CORE = re.compile(
    r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<kind>pods|events|secrets|configmaps)"
    r"(?:/(?P<name>[^/]+)(?P<log>/log)?)?$"
)


def _status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _selector(query: dict[str, list[str]], key: str) -> dict[str, str]:
    """`a=b,c=d` (equality only, which is all dagster-k8s sends) as a dict."""
    out: dict[str, str] = {}
    for value in query.get(key, []):
        for term in value.split(","):
            name, _, want = term.partition("=")
            out[name.strip()] = want.strip().lstrip("=")
    return out


def _field(obj: dict, dotted: str) -> object:
    node: object = obj
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


class FakeKubernetes(Kubelet):
    """The API server, kubelet mixed in. Use as a context manager; `stop()` kills every pod still running."""

    def __init__(
        self,
        *,
        namespace: str,
        bin_dir: Path,
        workdir: Path,
        pythonpath: Sequence[Path] = (),
        extra_env: dict[str, str] | None = None,
        image_entrypoint: Sequence[str] = (),
        pod_timeout_s: float = 180.0,
        termination_grace_s: float = 10.0,
        fail_pod: Callable[[dict], int | None] | None = None,
    ):
        self.namespace = namespace
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.pythonpath = [str(p) for p in pythonpath]
        self.extra_env = dict(extra_env or {})
        # A container without `command` runs the image's ENTRYPOINT with `args`, as a container runtime does.
        self.image_entrypoint = list(image_entrypoint)
        self.pod_timeout_s = pod_timeout_s
        self.termination_grace_s = termination_grace_s  # capped by the pod's terminationGracePeriodSeconds
        # Called with the Job body before its pod starts: an exit code fails the pod without running it.
        self.fail_pod = fail_pod

        self.lock = threading.Lock()
        self.jobs: dict[str, dict] = {}
        self.pods: dict[str, dict] = {}
        self.secrets: dict[str, dict] = {}
        self.config_maps: dict[str, dict] = {}
        self.logs: dict[str, str] = {}  # pod name -> stdout+stderr
        self.pids: dict[str, int] = {}  # pod name -> pid of its container process
        self.created_jobs: list[dict] = []  # POST bodies exactly as the client sent them
        self.requests: list[tuple[str, str]] = []  # (method, path without query)
        self._procs: dict[str, subprocess.Popen] = {}
        self._threads: list[threading.Thread] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever, name="fake-kube-api", daemon=True
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeKubernetes:
        self._serve_thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        with self.lock:
            procs = list(self._procs.values())
        for proc in procs:
            kill(proc)
        for thread in self._threads:
            thread.join(timeout=10)
        self._server.shutdown()
        self._server.server_close()
        self._serve_thread.join(timeout=10)

    def write_kubeconfig(self, path: Path) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [
                {"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": self.namespace}}
            ],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # ------------------------------------------------------------------ preloaded objects

    def add_secret(self, name: str, data: dict[str, str]) -> None:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        self.secrets[name] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": self._meta(name),
            "data": encoded,
        }

    def add_config_map(self, name: str, data: dict[str, str]) -> None:
        self.config_maps[name] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self._meta(name),
            "data": data,
        }

    def _meta(self, name: str, labels: dict[str, str] | None = None) -> dict:
        return {
            "name": name,
            "namespace": self.namespace,
            "uid": str(uuid.uuid4()),
            "resourceVersion": "1",
            "creationTimestamp": now(),
            "labels": labels or {},
        }

    # ------------------------------------------------------------------ queries for tests

    def job_names(self) -> list[str]:
        return [body["metadata"]["name"] for body in self.created_jobs]

    def pod_log_of_job(self, job_name: str) -> str:
        with self.lock:
            return "\n".join(log for pod, log in self.logs.items() if pod.startswith(job_name + "-"))

    def kill_job_pods(self, job_name: str) -> None:
        """SIGKILL the container of the Job's pods, as an OOM kill or a lost node would (the pod ends with 137)."""
        with self.lock:
            procs = [proc for pod, proc in self._procs.items() if pod.startswith(job_name + "-")]
        for proc in procs:
            kill(proc)

    def running_pods(self) -> list[str]:
        """Pods whose container process is still alive."""
        with self.lock:
            return [name for name, proc in self._procs.items() if proc.poll() is None]

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Wait until every kubelet thread has finished its pod."""
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------ API

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: dict | None
    ) -> tuple[int, object]:
        with self.lock:
            self.requests.append((method, path))
        if m := JOBS.match(path):
            return self._jobs(method, m["name"], query, body)
        if m := CORE.match(path):
            return self._core(method, m["kind"], m["name"], bool(m["log"]), query)
        return 404, _status(404, "NotFound", f"the fake API server does not serve {method} {path}")

    def _jobs(self, method: str, name: str | None, query: dict, body: dict | None) -> tuple[int, object]:
        with self.lock:
            if method == "POST" and name is None and body is not None:
                job_name = body["metadata"]["name"]
                if job_name in self.jobs:
                    return 409, _status(409, "AlreadyExists", f'jobs.batch "{job_name}" already exists')
                self.created_jobs.append(copy.deepcopy(body))
                job = copy.deepcopy(body)
                job["metadata"] = {**self._meta(job_name), **job["metadata"], "namespace": self.namespace}
                job["status"] = {}
                self.jobs[job_name] = job
                thread = threading.Thread(target=self._kubelet, args=(job_name,), name=f"kubelet-{job_name}")
                self._threads.append(thread)
                thread.start()
                return 201, job
            if method == "GET" and name is None:
                wanted = _selector(query, "fieldSelector")
                items = [j for j in self.jobs.values() if all(_field(j, k) == v for k, v in wanted.items())]
                return 200, {"kind": "JobList", "apiVersion": "batch/v1", "metadata": {}, "items": items}
            if name is not None and name not in self.jobs:
                return 404, _status(404, "NotFound", f'jobs.batch "{name}" not found')
            if method == "GET" and name is not None:
                return 200, copy.deepcopy(self.jobs[name])
            if method == "DELETE" and name is not None:
                # Like the real API with the default propagation for batch/v1: the pods stay (dagster deletes them).
                del self.jobs[name]
                return 200, _status(200, "", f"job {name} deleted")
        return 405, _status(405, "MethodNotAllowed", f"{method} on jobs")

    def _core(self, method: str, kind: str, name: str | None, log: bool, query: dict) -> tuple[int, object]:
        with self.lock:
            if kind == "events":
                return 200, {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": []}
            store = {"pods": self.pods, "secrets": self.secrets, "configmaps": self.config_maps}[kind]
            if method == "GET" and name is None:
                labels = _selector(query, "labelSelector")
                items = [
                    o
                    for o in store.values()
                    if all(o["metadata"]["labels"].get(k) == v for k, v in labels.items())
                ]
                list_kind = {"pods": "PodList", "secrets": "SecretList", "configmaps": "ConfigMapList"}[kind]
                return 200, {"kind": list_kind, "apiVersion": "v1", "metadata": {}, "items": items}
            if name not in store:
                return 404, _status(404, "NotFound", f'{kind} "{name}" not found')
            if method == "GET" and log:
                return 200, self.logs.get(name, "")
            if method == "GET":
                return 200, copy.deepcopy(store[name])
            if method == "DELETE" and kind == "pods":
                pod = store.pop(name)
                proc = self._procs.get(name)
                if proc is not None:
                    # As a kubelet does: SIGTERM now, SIGKILL after the grace period; the API answers at once.
                    grace = min(
                        self.termination_grace_s, pod["spec"].get("terminationGracePeriodSeconds", 30)
                    )
                    killer = threading.Thread(target=kill, args=(proc, grace), name=f"terminate-{name}")
                    self._threads.append(killer)
                    killer.start()
                return 200, pod
        return 405, _status(405, "MethodNotAllowed", f"{method} on {kind}")


def _handler(fake: FakeKubernetes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            body = None
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                body = json.loads(self.rfile.read(length))
            try:
                code, payload = fake.handle(method, parts.path, parse_qs(parts.query), body)
            except Exception:
                code, payload = 500, _status(500, "InternalError", traceback.format_exc())
            if isinstance(payload, str):
                data, content_type = payload.encode(), "text/plain"
            else:
                data, content_type = json.dumps(payload).encode(), "application/json"
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_DELETE(self) -> None:  # noqa: N802
            self._serve("DELETE")

        def log_message(self, format: str, *args: object) -> None:  # keep pytest's output clean
            pass

    return Handler
