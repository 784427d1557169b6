"""Every environment's values against the Dagster chart's values schema and dagster's own instance schema, and
deployment/k8s/*.yaml against Kubernetes.

An environment is the base deployment/values.yaml alone ("base") or with one overlay of deployment/environments/
on top, merged as `helm -f values.yaml -f environments/<name>.yaml` does. The chart's schema and defaults are
vendored in deployment/chart-schema/ (see its README), so this runs in any clone, offline. Helm itself is not
available here: templates are not rendered. What the overlays may change is tested in test_environments.py.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.resources
import json
import tomllib
from functools import cache, reduce
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT = REPO / "deployment"
CHART = DEPLOYMENT / "chart-schema"
VALUES = DEPLOYMENT / "values.yaml"
OVERLAYS = sorted((DEPLOYMENT / "environments").glob("*.yaml"))
# environment -> the values files helm gets, in order
ENVIRONMENTS = {"base": [VALUES], **{path.stem: [VALUES, path] for path in OVERLAYS}}
# Variables that hold a secret: a Secret must give them, never a plain env entry or a ConfigMap.
SECRET_VARIABLES = {"ASR_DATABASE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DAGSTER_PG_PASSWORD"}
K8S_VERSION = "1.33"
# The chart's $refs point at v1.19.0 definitions; kubernetes-validate ships v1.25 as its oldest.
K8S_DEFS = "kubernetes-json-schema/v1.25.0-local/_definitions.json"
VENDORED_SHA256 = {
    "values.schema.json": "b9e0afe0fb0cf090ec6298cbc5b09bfd0bbe1118a3aba1da0dc4792aaa1c667b",
    "values.yaml": "6332c7f8093273d9382a533d7f81224439d6aa10d2bc56078d13a9a432e25175",
}


def helm_merge(base: dict, over: dict) -> dict:
    """Helm's values merge: maps merge, lists and scalars replace, null deletes the key."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = helm_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@cache
def _validator() -> jsonschema.Draft202012Validator:
    defs = json.loads((importlib.resources.files("kubernetes_validate") / K8S_DEFS).read_text())
    # The chart refers to "#/definitions/..." (yannh style); the package keeps them under "$defs": serve both.
    wrapped = {"definitions": defs["$defs"], "$defs": defs["$defs"]}

    def retrieve(uri: str) -> Resource:
        if uri.endswith("/_definitions.json"):
            return Resource.from_contents(wrapped, default_specification=DRAFT202012)
        raise LookupError(f"no offline copy of {uri}")

    schema = json.loads((CHART / "values.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, registry=Registry(retrieve=retrieve))


def _merged(*overrides: dict) -> dict:
    """The chart's defaults <- each values file in order, as helm merges them."""
    return reduce(helm_merge, overrides, yaml.safe_load((CHART / "values.yaml").read_text()))


def values_files(environment: str) -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in ENVIRONMENTS[environment]]


def merged_values(environment: str) -> dict:
    """What the chart renders from for `environment`: its defaults, the base, the overlay."""
    return _merged(*values_files(environment))


def _errors(values: dict) -> list[tuple[str, str]]:
    errors = sorted(_validator().iter_errors(values), key=lambda e: list(map(str, e.absolute_path)))
    return [("/".join(map(str, e.absolute_path)), e.message) for e in errors]


def _ours() -> dict:
    return yaml.safe_load(VALUES.read_text())


def code_location(values: dict) -> dict:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return deployment


def code_location_env(environment: str) -> dict[str, tuple[str, str]]:
    """The environment of the code location's pods (code server, run and step pods), as Kubernetes builds it from
    the example objects in deployment/k8s: variable -> (value, where it came from); `env` wins over envFrom."""
    deployment = code_location(merged_values(environment))
    objects = {(d["kind"], d["metadata"]["name"]): d for d in _manifests()}
    env: dict[str, tuple[str, str]] = {}
    for ref in deployment["envConfigMaps"]:
        env |= {k: (v, "ConfigMap") for k, v in objects[("ConfigMap", ref["name"])]["data"].items()}
    for ref in deployment["envSecrets"]:
        env |= {k: (v, "Secret") for k, v in objects[("Secret", ref["name"])]["stringData"].items()}
    env |= {e["name"]: (e["value"], "env") for e in deployment["env"]}
    return env


def _manifests() -> list[dict]:
    docs: list[dict] = []
    for path in sorted((DEPLOYMENT / "k8s").glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def test_vendored_chart_files_are_unmodified():
    for name, sha in VENDORED_SHA256.items():
        assert hashlib.sha256((CHART / name).read_bytes()).hexdigest() == sha, (
            f"deployment/chart-schema/{name} differs from the copy its README describes; replace it whole "
            "from one chart version and update the README's table"
        )


def test_there_is_a_base_and_at_least_two_environments():
    assert {"base", "dev", "prod"} <= ENVIRONMENTS.keys()


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_values_merged_over_chart_defaults_validate(environment: str):
    assert _errors(merged_values(environment)) == []


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (["runLauncher", "config", "k8sRunLauncher", "imagePullPolicyy"], "IfNotPresent"),
        (["dagster-user-deployments", "deployments", 0, "port"], "3030"),
        (["dagster-user-deployments", "deployments", 0, "includeConfigInLaunchedRuns"], True),
        # Checked by the Kubernetes definitions: proves the chart's remote $refs resolved offline.
        (["dagster-user-deployments", "deployments", 0, "envSecrets", 0, "name"], 123),
        (["concurrency", "runs", "maxConcurrentRun"], 5),
    ],
)
def test_schema_rejects_a_broken_override(path: list[Any], bad: Any):
    values = _ours()
    node = values
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    assert _errors(_merged(values)), f"a bad value at {path} was accepted: the check is not checking"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_code_location_matches_the_project_and_the_image(environment: str):
    deployment = code_location(merged_values(environment))
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    module = pyproject["tool"]["dagster"]["module_name"]
    assert deployment["codeServerArgs"] == ["-m", module]
    dockerfile = (
        (REPO / "docker" / "Dockerfile").read_text() if (REPO / "docker" / "Dockerfile").exists() else ""
    )
    if dockerfile:
        assert f"EXPOSE {deployment['port']}" in dockerfile
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert {"name": "ASR_EXECUTOR", "value": "k8s"} in deployment["env"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_run_limits_are_set_in_one_place_only(environment: str):
    # The chart fails to render when the same limit is in both the run coordinator and the concurrency block.
    values = merged_values(environment)
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    runs = values["concurrency"]["runs"]
    assert not (queued.get("maxConcurrentRuns") is not None and runs.get("maxConcurrentRuns") is not None)
    assert not (queued.get("tagConcurrencyLimits") and runs.get("tagConcurrencyLimits"))
    assert values["concurrency"]["enabled"] is True
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is True


def instance_settings(values: dict) -> dict:
    """The dagster.yaml blocks the chart renders from merged values (its configmap-instance.yaml mapping)."""
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    monitoring = daemon["runMonitoring"]
    concurrency = values["concurrency"]
    return {
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "dequeue_interval_seconds": queued["dequeueIntervalSeconds"],
                "dequeue_use_threads": queued["dequeueUseThreads"],
                "dequeue_num_workers": queued["dequeueNumWorkers"],
            },
        },
        "run_monitoring": {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "max_resume_run_attempts": monitoring["maxResumeRunAttempts"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
            "max_runtime_seconds": monitoring["maxRuntimeSeconds"],
            "free_slots_after_run_end_seconds": monitoring["freeSlotsAfterRunEndSeconds"],
        },
        "run_retries": {
            "enabled": daemon["runRetries"]["enabled"],
            "max_retries": daemon["runRetries"]["maxRetries"],
            "retry_on_asset_or_op_failure": daemon["runRetries"]["retryOnAssetOrOpFailure"],
        },
        "concurrency": {
            "pools": {
                "default_limit": concurrency["pools"]["defaultLimit"],
                "granularity": concurrency["pools"]["granularity"],
            },
            "runs": {
                "max_concurrent_runs": concurrency["runs"]["maxConcurrentRuns"],
                "tag_concurrency_limits": concurrency["runs"]["tagConcurrencyLimits"],
            },
        },
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_instance_settings_are_accepted_by_dagster(environment: str):
    """The dagster.yaml blocks the chart renders from each environment's values load in dagster 1.13.27."""
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config_schema, validate_concurrency_config
    from dagster_k8s import K8sRunLauncher

    values = merged_values(environment)
    instance = instance_settings(values)
    result = validate_config(dagster_instance_config_schema(), instance)
    assert result.success, [e.message for e in result.errors]
    validate_concurrency_config(instance)

    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    # The chart renames runK8sConfig's top-level keys and passes what is inside as written (camelCase).
    run_k8s_config = {
        "pod_spec_config": launcher["runK8sConfig"]["podSpecConfig"],
        "job_spec_config": launcher["runK8sConfig"]["jobSpecConfig"],
    }
    launcher_config = {
        "load_incluster_config": launcher["loadInclusterConfig"],
        "job_namespace": "asr",
        "image_pull_policy": launcher["imagePullPolicy"],
        "service_account_name": "asr-dagster",
        "dagster_home": "/opt/dagster/dagster_home",
        "instance_config_map": "asr-dagster-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
        "labels": launcher["labels"],
        "fail_pod_on_run_failure": launcher["failPodOnRunFailure"],
        "security_context": launcher["securityContext"],
        "run_k8s_config": run_k8s_config,
    }
    result = validate_config(K8sRunLauncher.config_type(), launcher_config)
    assert result.success, [e.message for e in result.errors]


@pytest.mark.parametrize("doc", _manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid_kubernetes(doc: dict):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_values_refer_to_the_objects_in_deployment_k8s(environment: str):
    values = merged_values(environment)
    deployment = code_location(values)
    objects = {(d["kind"], d["metadata"]["name"]): d for d in _manifests()}

    pg = objects[("Secret", values["global"]["postgresqlSecretName"])]
    assert "postgresql-password" in pg["stringData"]  # the key name dagster-k8s and the chart read
    for ref in deployment["envSecrets"]:
        assert ("Secret", ref["name"]) in objects, (
            f"{environment}: no example of Secret {ref['name']} in k8s/"
        )
    for ref in deployment["envConfigMaps"]:
        assert ("ConfigMap", ref["name"]) in objects, f"{environment}: no ConfigMap {ref['name']} in k8s/"
    for volume in deployment["volumes"]:
        claim = objects[("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])]
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # step pods may land on any node
    assert {v["name"] for v in deployment["volumes"]} == {m["name"] for m in deployment["volumeMounts"]}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_secrets_come_only_from_secrets(environment: str):
    env = code_location_env(environment)
    assert "ASR_DATABASE_URL" in env
    for name, (_, source) in env.items():
        if name in SECRET_VARIABLES or any(word in name for word in ("PASSWORD", "SECRET", "TOKEN")):
            assert source == "Secret", f"{environment}: {name} is set in a {source}, in the clear"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_landing_and_storage_are_shared_by_every_pod(environment: str):
    """Each step runs in its own pod, maybe on another node: both locations are on the ReadWriteMany volume or in
    an object store whose URL carries no credentials (the code's own check) and whose keys come from a Secret."""
    import fsspec

    from asr_assets.settings import checked_location

    env = code_location_env(environment)
    mounts = [m["mountPath"] for m in code_location(merged_values(environment))["volumeMounts"]]
    for variable in ("ASR_LANDING_URL", "ASR_STORAGE_URL"):
        url, _ = env[variable]
        assert checked_location(url, variable) == url
        if "://" not in url:
            assert any(url.startswith(m + "/") for m in mounts), (
                f"{environment}: {variable} is on no shared volume"
            )
            continue
        protocol = url.split("://", 1)[0]
        assert protocol in ("s3", "s3a"), f"{environment}: {variable}: only s3:// is installed and tested"
        fsspec.get_filesystem_class(protocol)  # s3fs is in the image (uv.lock)
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env.get(key, ("", ""))[1] == "Secret", (
                f"{environment}: {key} for {variable} from no Secret"
            )
