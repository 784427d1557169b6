"""What the environment overlays (deployment/environments/*.yaml) change, and what must hold in every environment.

test_values.py validates each merged environment against the chart's and dagster's schemas; this file checks the
policy: N transcription slots that the runs can fill, run-queue limits, overlays that change only what differs.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from test_values import (
    ENVIRONMENTS,
    OVERLAYS,
    REPO,
    VALUES,
    code_location,
    code_location_env,
    merged_values,
    values_files,
)

from asr_assets.asr.audio import SAMPLE_RATE
from asr_assets.defs.pool_limits import TRANSCRIPTION_POOL, wanted_pool_limits
from asr_assets.defs.raw_audio import RawAudioConfig
from asr_assets.defs.resources import DEFAULT_BATCH_MAX_AUDIO_S
from asr_assets.defs.transcripts import CHUNK_MAX_CHANNEL_S, TRANSCRIBE_STEP_K8S_CONFIG

# Keys of the code location's entry an overlay may set differently from the base (Helm replaces the list whole, so
# an overlay restates the entry; everything else in it must stay as the base has it).
MAY_DIFFER = {"image", "env", "envConfigMaps", "envSecrets", "volumes", "volumeMounts", "resources"}
# Peak RSS (KiB, /usr/bin/time -v, 2026-12-06; deployment/README.md "Step resources") of the transcripts step's own
# code path (route_calls + transcribe_calls: tiny.en, the multilingual base identifying each call's language, LiteRT
# int8, model cache warm as in the image), by the channel-seconds of audio in one engine chunk (16 stereo files):
MEASURED_PEAK_KIB = {3_840: 1_816_196, 14_400: 2_604_664}  # English calls
MEASURED_BASE_PEAK_KIB = {3_840: 2_219_880}  # French and Spanish calls: base transcribes them
MEASURED_UP_TO_S = max(MEASURED_PEAK_KIB)
HEADROOM = 1.15
BINARY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
# fsspec protocol of a landing/storage URL -> the package that implements it
PROTOCOL_PACKAGES = {"s3": "s3fs", "s3a": "s3fs"}


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


def estimated_peak_bytes(audio_s: float) -> float:
    """Peak RSS for a chunk of `audio_s` channel-seconds: the English line through the two largest measurements
    (memory grows with the decoded audio, ~75 KiB per channel-second), plus what base transcribing costs."""
    (a, peak_a), (b, peak_b) = sorted(MEASURED_PEAK_KIB.items())[-2:]
    english = peak_b + (peak_b - peak_a) / (b - a) * (audio_s - b)
    base_extra = MEASURED_BASE_PEAK_KIB[a] - peak_a
    return (english + base_extra) * 1024


def _bytes(quantity: str) -> int:
    unit = quantity[-2:]
    return int(float(quantity[:-2]) * BINARY_UNITS[unit]) if unit in BINARY_UNITS else int(quantity)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_transcription_pod_is_sized_for_the_largest_batch_the_environment_allows(environment: str):
    """The op tag (one size for every environment) from the measurements: the request holds the largest engine
    batch (the step transcribes a batch in engine batches of at most CHUNK_MAX_CHANNEL_S, whatever the batch's
    size) in any language with headroom, the limit one recording as large as raw_audio lets through. A larger
    engine batch than measured needs a new measurement."""
    env = {name: value for name, (value, _) in code_location_env(environment).items()}
    assert CHUNK_MAX_CHANNEL_S <= MEASURED_UP_TO_S, (
        f"engine batches up to {CHUNK_MAX_CHANNEL_S} s, measured only up to {MEASURED_UP_TO_S} s"
    )
    cap = min(int(env.get("ASR_BATCH_MAX_AUDIO_S") or DEFAULT_BATCH_MAX_AUDIO_S), CHUNK_MAX_CHANNEL_S)
    largest_recording_s = RawAudioConfig().max_decoded_bytes / (SAMPLE_RATE * 4)  # float32 at 16 kHz
    resources = TRANSCRIBE_STEP_K8S_CONFIG["dagster-k8s/config"]["container_config"]["resources"]
    request, limit = _bytes(resources["requests"]["memory"]), _bytes(resources["limits"]["memory"])
    assert request >= HEADROOM * estimated_peak_bytes(cap), (
        "the memory request leaves no headroom over a full batch"
    )
    assert limit >= HEADROOM * estimated_peak_bytes(max(cap, largest_recording_s)), (
        "the largest recording OOMs"
    )
    assert float(resources["requests"]["cpu"]) >= 2  # the LiteRT interpreters run two threads
    assert "cpu" not in resources["limits"]  # no CPU throttling of a step that may use more


def test_the_peak_estimate_matches_the_measurements():
    for audio_s, kib in MEASURED_PEAK_KIB.items():
        english = (
            estimated_peak_bytes(audio_s) - (MEASURED_BASE_PEAK_KIB[3_840] - MEASURED_PEAK_KIB[3_840]) * 1024
        )
        assert english == pytest.approx(kib * 1024)
    assert estimated_peak_bytes(3_840) == pytest.approx(MEASURED_BASE_PEAK_KIB[3_840] * 1024)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_image_installs_the_object_store_an_environment_uses(environment: str):
    """docker/Dockerfile installs uv.lock without the dev group: a backend only in dev would pass here and fail in
    the cluster."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    (project,) = [p for p in lock["package"] if p["name"] == "asr-assets"]
    runtime = {d["name"] for d in project["dependencies"]}
    env = code_location_env(environment)
    for variable in ("ASR_LANDING_URL", "ASR_STORAGE_URL"):
        url = env[variable][0]
        if "://" in url:
            package = PROTOCOL_PACKAGES[url.split("://", 1)[0]]
            assert package in runtime, f"{environment}: {variable} needs {package}, not a runtime dependency"
