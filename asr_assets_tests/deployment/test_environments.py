"""What the environment overlays (deployment/environments/*.yaml) change, and what must hold in every environment.

test_values.py validates each merged environment against the chart's and dagster's schemas; this file checks the
policy: N transcription slots that the runs can fill, run-queue limits, overlays that change only what differs.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_values import (
    ENVIRONMENTS,
    OVERLAYS,
    VALUES,
    code_location,
    code_location_env,
    merged_values,
    values_files,
)

from asr_assets.defs.pool_limits import TRANSCRIPTION_POOL, wanted_pool_limits

# Keys of the code location's entry an overlay may set differently from the base (Helm replaces the list whole, so
# an overlay restates the entry; everything else in it must stay as the base has it).
MAY_DIFFER = {"image", "env", "envConfigMaps", "envSecrets", "volumes", "volumeMounts", "resources"}


def runs(environment: str) -> dict:
    return merged_values(environment)["concurrency"]["runs"]


def transcription_slots(environment: str) -> int:
    """N as pool_limits_sensor reads it from the code server's environment."""
    env = {name: value for name, (value, _) in code_location_env(environment).items()}
    return wanted_pool_limits(env)[TRANSCRIPTION_POOL]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_transcription_slots_fit_the_run_queue(environment: str):
    """Each transcription step runs inside a run: N above maxConcurrentRuns could never be used."""
    slots, max_runs = transcription_slots(environment), runs(environment)["maxConcurrentRuns"]
    assert 1 <= slots <= max_runs, (
        f"{environment}: ASR_TRANSCRIPTION_SLOTS={slots}, maxConcurrentRuns={max_runs}"
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_run_queue_limits(environment: str):
    values = merged_values(environment)
    limits = runs(environment)["tagConcurrencyLimits"]
    backfill = [t["limit"] for t in limits if t["key"] == "dagster/backfill"]
    partition = [t for t in limits if t["key"] == "dagster/partition"]
    # a backfill never takes every run slot: live ingestion keeps some
    assert backfill and 1 <= backfill[0] < runs(environment)["maxConcurrentRuns"]
    # never two runs of one partition at once
    assert partition == [
        {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    # the dbt pool is the default one: one `dbt build` at a time across runs; slots are claimed per step
    assert values["concurrency"]["pools"] == {
        "defaultLimit": 1,
        "granularity": "op",
        "opGranularityRunBuffer": None,
    }


def test_environments_differ_where_they_should():
    slots = {env: transcription_slots(env) for env in ("dev", "prod")}
    assert slots["dev"] < slots["prod"]
    assert runs("dev")["maxConcurrentRuns"] < runs("prod")["maxConcurrentRuns"]
    tags = {env: code_location(merged_values(env))["image"]["tag"] for env in ("dev", "prod")}
    assert tags["dev"] != tags["prod"]
    prod_env = code_location_env("prod")
    assert prod_env["ASR_LANDING_URL"][0].startswith("s3://") and prod_env["ASR_STORAGE_URL"][0].startswith(
        "s3://"
    )
    assert not code_location(merged_values("prod"))[
        "volumes"
    ]  # no shared volume where the object store is used


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.stem)
def test_overlay_restates_the_code_location_without_drift(overlay):
    """Common settings of the code location (security contexts, probes, args, port) stay the base's."""
    base = code_location(merged_values("base"))
    ours = code_location(merged_values(overlay.stem))
    drift = sorted(k for k in base.keys() | ours.keys() if k not in MAY_DIFFER and base.get(k) != ours.get(k))
    assert not drift, f"{overlay.name} changes {drift} of the code location: change them in values.yaml"
    base_env = {e["name"] for e in base["env"]}
    assert base_env <= {e["name"] for e in ours["env"]}, f"{overlay.name} drops a variable the base sets"


def _restated(base: Any, over: Any, path: str = "") -> list[str]:
    """Paths where the overlay sets exactly what the base already has (lists count whole, as Helm replaces them)."""
    if isinstance(over, dict) and isinstance(base, dict):
        return [p for k, v in over.items() for p in _restated(base.get(k), v, f"{path}/{k}")]
    return [path] if over == base else []


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.stem)
def test_overlay_sets_only_what_differs(overlay):
    base, over = values_files("base")[0], values_files(overlay.stem)[1]
    assert ENVIRONMENTS[overlay.stem] == [VALUES, overlay]
    assert _restated(base, over) == []
