"""A tiny partitioned job on `k8s_job_executor`, run by test_k8s_executor.py against the fake cluster.

Shaped like the real ingest path (a partitioned upstream asset that writes a file to shared storage, a downstream
asset that reads it, both with a RetryPolicy, the heavy one with a `dagster-k8s/config` op tag) but with no
TensorFlow or database, so each step process starts in ~3 s. The step processes import this module by name
(the fake kubelet puts this folder on PYTHONPATH, as an image would have the code installed).

Each asset writes a record of what its process saw (pid, attempt, the env vars the pod spec wired) to
$ASR_SMOKE_RECORD_DIR, which the test reads back. The values recorded are the test's fake secrets.
"""

# No `from __future__ import annotations`: dagster reads the `context` annotation at definition time.
import json
import os
import time
from pathlib import Path

import dagster as dg
from dagster_k8s import k8s_job_executor

from asr_assets.defs.transcripts import TRANSCRIBE_STEP_K8S_CONFIG

# The real transcribe step's container config (requests/limits), so the smoke job sizes its pod the same way.
TRANSCRIBE_K8S_CONFIG = TRANSCRIBE_STEP_K8S_CONFIG["dagster-k8s/config"]
# Env vars whose values the records keep, to show how the pod spec wired them.
SEEN_ENV = (
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_HOME",
    "DAGSTER_RUN_STEP_KEY",
    "ASR_DATABASE_URL",
    "ASR_LANDING_URL",
    "ASR_STORAGE_URL",
    "ASR_EXECUTOR",
    "HOSTNAME",
)
FAIL_FIRST_ATTEMPT_ENV = "ASR_SMOKE_FAIL_FIRST_ATTEMPT"  # comma-separated asset names that raise on attempt 0
HOLD_ENV = (
    "ASR_SMOKE_HOLD_S"  # smoke_audio keeps running this long (a step still in flight when a run is cancelled)
)

smoke_batches = dg.DynamicPartitionsDefinition(name="smoke_batches")
RETRY = dg.RetryPolicy(max_retries=1)


def _record(context: dg.AssetExecutionContext, asset: str) -> None:
    record = {
        "asset": asset,
        "pid": os.getpid(),
        "retry_number": context.retry_number,
        "partition": context.partition_key,
        "env": {name: os.environ.get(name) for name in SEEN_ENV},
    }
    path = Path(os.environ["ASR_SMOKE_RECORD_DIR"]) / f"{asset}-{context.retry_number}.json"
    path.write_text(json.dumps(record))


def _artifact(asset: str, partition_key: str) -> Path:
    return Path(os.environ["ASR_STORAGE_URL"]) / asset / f"{partition_key}.txt"


def _maybe_fail(context: dg.AssetExecutionContext, asset: str) -> None:
    if context.retry_number == 0 and asset in os.environ.get(FAIL_FIRST_ATTEMPT_ENV, "").split(","):
        raise RuntimeError(f"injected failure of {asset} on its first attempt")


@dg.asset(partitions_def=smoke_batches, retry_policy=RETRY)
def smoke_audio(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Stands for raw_audio: writes the batch's checked audio to shared storage."""
    _record(context, "smoke_audio")
    _maybe_fail(context, "smoke_audio")
    time.sleep(float(os.environ.get(HOLD_ENV, "0")))
    out = _artifact("smoke_audio", context.partition_key)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"audio of {context.partition_key}")
    return dg.MaterializeResult(metadata={"path": str(out)})


@dg.asset(
    partitions_def=smoke_batches,
    deps=[smoke_audio],
    retry_policy=RETRY,
    op_tags={"dagster-k8s/config": TRANSCRIBE_K8S_CONFIG},
)
def smoke_transcripts(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Stands for transcripts: reads what the upstream step pod wrote, in another pod."""
    _record(context, "smoke_transcripts")
    _maybe_fail(context, "smoke_transcripts")
    audio = _artifact("smoke_audio", context.partition_key).read_text()
    out = _artifact("smoke_transcripts", context.partition_key)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(audio.upper())
    return dg.MaterializeResult(metadata={"chars": len(audio)})


smoke_job = dg.define_asset_job(
    "smoke_job", selection=[smoke_audio, smoke_transcripts], executor_def=k8s_job_executor
)
defs = dg.Definitions(assets=[smoke_audio, smoke_transcripts], jobs=[smoke_job])


def get_smoke_job() -> dg.JobDefinition:
    """The target of `reconstructable`: step processes call it after importing this module."""
    return defs.resolve_job_def("smoke_job")
