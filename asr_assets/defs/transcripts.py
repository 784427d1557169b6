"""transcripts: the batch's checked recordings through the Whisper engine, per channel, batched.

No model code here: `asr_assets.asr.transcribe.Transcriber` does the work; this asset feeds it files from the
artifact store and writes one JSON line per call back there. The engine is loaded inside the step (through the
whisper resource), never when the code location loads; in the default batched mode it runs LiteRT programs baked
into the image and imports no TensorFlow.
"""

import json
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import fsspec

from asr_assets.defs.partitions import ingest_batches
from asr_assets.defs.raw_audio import MANIFEST, raw_audio
from asr_assets.defs.resources import ArtifactStoreResource, WhisperModelResource

TRANSCRIPTS_FILE = "transcripts.jsonl"
# Files per transcribe_batch call: windows are batched across these files and their channels; bounds the decoded
# audio held in memory (16 files of 10 min stereo ≈ 1.2 GB float32 at 16 kHz).
FILES_PER_CHUNK = 16
PROGRESS_LOG_S = 30.0


def call_record(call: dict[str, Any], segments: list[Any], model_version: str, transcribed_at: str) -> dict:
    """One call's transcript as stored: the manifest entry plus segments (with their words) in time order."""
    return {
        "call_id": call["call_id"],
        "model_version": model_version,
        "transcribed_at": transcribed_at,
        "segments": [asdict(s) for s in sorted(segments, key=lambda s: (s.channel, s.start, s.end))],
    }


class ProgressLog:
    """Logs the share of channel-audio transcribed at most every PROGRESS_LOG_S (the engine reports seconds done)."""

    def __init__(self, context: dg.AssetExecutionContext, total_s: float):
        self.context, self.total_s, self.done_s = context, max(total_s, 1e-9), 0.0
        self.last_log = time.monotonic()

    def __call__(self, seconds: float) -> None:
        self.done_s += seconds
        if time.monotonic() - self.last_log >= PROGRESS_LOG_S:
            self.last_log = time.monotonic()
            self.context.log.info(
                f"transcribed {self.done_s:.0f} of {self.total_s:.0f} s of channel audio "
                f"({100 * self.done_s / self.total_s:.0f}%)"
            )


def _local_paths(artifacts: ArtifactStoreResource, key: str, calls: list[dict], tmp: Path) -> list[str]:
    """Paths the engine can open: the artifact files themselves when the store is local, else copies in tmp."""
    paths = []
    for call in calls:
        uri = artifacts.uri("raw_audio", key, call["artifact"])
        fs, path = fsspec.core.url_to_fs(uri)
        if "file" in fs.protocol or "local" in fs.protocol:
            paths.append(path)
        else:
            local = tmp / call["artifact"]
            local.write_bytes(artifacts.read_bytes("raw_audio", key, call["artifact"]))
            paths.append(str(local))
    return paths


# With ASR_EXECUTOR=k8s this step is its own pod: it loads the model's programs and uses every core it gets.
# Requests/limits as checked against the chart deployment (deployment/README.md); other executors ignore the tag.
TRANSCRIBE_STEP_K8S_CONFIG = {
    "dagster-k8s/config": {
        "container_config": {
            "resources": {"requests": {"cpu": "2", "memory": "3Gi"}, "limits": {"memory": "4Gi"}}
        }
    }
}


@dg.asset(
    partitions_def=ingest_batches,
    deps=[raw_audio],
    group_name="ingest",
    kinds={"tensorflow"},
    op_tags=TRANSCRIBE_STEP_K8S_CONFIG,
)
def transcripts(
    context: dg.AssetExecutionContext, whisper: WhisperModelResource, artifacts: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Word-level transcripts ({word, start, end, probability} per channel, plus segments and the model version)
    of the batch's accepted calls, as transcripts/<partition>/transcripts.jsonl in the artifact store."""
    key = context.partition_key
    calls = artifacts.read_json("raw_audio", key, MANIFEST)["calls"]
    records: list[dict] = []
    model_version = ""
    started = time.perf_counter()
    if calls:
        transcriber = whisper.transcriber()
        options = whisper.transcription_options()
        model_version = transcriber.model_version
        progress = ProgressLog(context, sum(c["duration_s"] * c["channels"] for c in calls))
        with tempfile.TemporaryDirectory(prefix="asr-transcripts-") as tmp:
            paths = _local_paths(artifacts, key, calls, Path(tmp))
            for i in range(0, len(calls), FILES_PER_CHUNK):
                chunk = slice(i, i + FILES_PER_CHUNK)
                results = transcriber.transcribe_batch(paths[chunk], options, progress=progress)
                now = datetime.now(UTC).isoformat()
                records += [
                    call_record(call, segments, model_version, now)
                    for call, segments in zip(calls[chunk], results, strict=True)
                ]
                context.log.info(f"transcribed {min(i + FILES_PER_CHUNK, len(calls))}/{len(calls)} calls")
    elapsed = time.perf_counter() - started
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    artifacts.write_bytes(body.encode(), "transcripts", key, TRANSCRIPTS_FILE)
    audio_s = sum(c["duration_s"] for c in calls)
    probabilities = [w["probability"] for r in records for s in r["segments"] for w in s["words"]]
    return dg.MaterializeResult(
        metadata={
            "calls": len(records),
            "audio_minutes": round(audio_s / 60, 2),
            "transcribe_seconds": round(elapsed, 2),
            # processing time / audio time: below 1 is faster than real time
            "real_time_factor": round(elapsed / audio_s, 4) if audio_s else 0.0,
            "words": len(probabilities),
            "mean_word_probability": round(sum(probabilities) / len(probabilities), 4)
            if probabilities
            else 0.0,
            "model_version": model_version,
            # how the batch was decoded: the mode's rules and the weights' precision change the words
            "decoding": f"{whisper.mode}, {whisper.compute_type if whisper.mode == 'batched' else 'float32'}, "
            f"beam {options.beam_size}"
            if calls
            else "",
        }
    )
