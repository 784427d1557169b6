"""transcripts: the batch's checked recordings through the Whisper engine, per channel, batched.

No model code here: `asr_assets.asr.transcribe.Transcriber` does the work; this asset feeds it files from the
artifact store and writes one JSON line per call back there. The engine is loaded inside the step (through the
whisper resource), never when the code location loads; in the default batched mode it runs LiteRT programs baked
into the image and imports no TensorFlow.
"""

import json
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import fsspec

from asr_assets import settings
from asr_assets.asr.hallucination import call_reasons, channel_reasons
from asr_assets.defs.models import model_location, promoted_models
from asr_assets.defs.partitions import OWNERS, ingest_batches
from asr_assets.defs.raw_audio import raw_audio
from asr_assets.defs.resources import ArtifactStoreResource, PostgresResource, WhisperModelResource
from asr_assets.platform.artifacts import MANIFEST, TRANSCRIPTS_FILE
from asr_assets.platform.languages import AUTO, LanguageDecision, decide_language, model_for_language
from asr_assets.platform.text import one_line

SUSPECT_CHECK = "no_suspect_transcripts"
SPEED_CHECK = "transcription_speed"
# Files per transcribe_batch call: windows are batched across these files and their channels. The decoded audio of
# one call held in memory is what the step's memory grows with, so a call is also bounded by channel-seconds: the
# step's peak depends on this bound, not on the batch's size (a batch of 200 long calls peaks like one of 16;
# measured in deployment/README.md, "Step resources", at 14,400 channel-seconds).
FILES_PER_CHUNK = 16
CHUNK_MAX_CHANNEL_S = 14_400
PROGRESS_LOG_S = 30.0


@dataclass(frozen=True)
class Route:
    """Where one call goes: its language and the model (name or path, None = the primary) that transcribes it."""

    decision: LanguageDecision
    model: str | None
    model_name: str = ""
    model_version: str = ""
    decoding: dict[str, Any] = field(default_factory=dict)


def call_record(
    call: dict[str, Any], segments: list[Any], route: Route, transcribed_at: str
) -> dict[str, Any]:
    """One call's transcript as stored: its language, the model and options that made it, and segments (with
    their words) in time order."""
    return {
        "call_id": call["call_id"],
        "language": route.decision.language,
        "language_source": route.decision.source,
        "language_probability": route.decision.probability,
        "model_name": route.model_name,
        "model_version": route.model_version,
        "decoding": route.decoding,
        "transcribed_at": transcribed_at,
        "segments": [asdict(s) for s in sorted(segments, key=lambda s: (s.channel, s.start, s.end))],
    }


def route_calls(
    log,
    whisper: WhisperModelResource,
    calls: list[dict],
    paths: list[str],
    promoted: dict[str, tuple[str, str]] | None = None,
) -> list[Route]:
    """Each call's language (given, defaulted or identified) and the model for it (platform/languages.py)."""
    from asr_assets.asr.audio import load_audio
    from asr_assets.asr.language import detect_language

    primary = whisper.transcriber()
    speaks = (
        set(primary.checkpoint_tokenizer.language_tokens) if primary.checkpoint.is_multilingual else {"en"}
    )
    detector = None if whisper.language != AUTO else primary if primary.checkpoint.is_multilingual else None
    routes = []
    for call, path in zip(calls, paths, strict=True):

        def identify(path=path):
            nonlocal detector
            detector = detector or whisper.transcriber(whisper.multilingual_model_path)
            return detect_language(detector, load_audio(path))

        decision = decide_language(
            call.get("language"), call.get("language_source"), whisper.language, identify,
            whisper.min_language_probability,
        )  # fmt: skip
        if decision.uncertain:
            log.warning(
                f"{call['file_name']}: language uncertain ({decision.language} at {decision.probability:.2f} < "
                f"{whisper.min_language_probability}); transcribed by the multilingual model and flagged"
            )
        model = model_for_language(
            decision.language,
            {lang: location for lang, (location, _) in (promoted or {}).items()},
            whisper.model_path,
            speaks,
            whisper.multilingual_model_path,
        )
        if decision.uncertain:
            model = whisper.multilingual_model_path
        routes.append(Route(decision, model))
    return routes


def suspect_reasons(call: dict[str, Any], path: str, record: dict[str, Any], uncertain: bool) -> list[str]:
    """The hallucination signs of one transcribed call (asr/hallucination.py), per channel, with the energy
    detector's speech regions of the audio itself (not the regions the engine decoded)."""
    from asr_assets.asr.audio import SAMPLE_RATE, load_audio
    from asr_assets.asr.vad import energy_speech_regions

    audio = load_audio(path)
    per_channel = []
    for channel, samples in enumerate(audio.channels):
        regions = [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in energy_speech_regions(samples)]
        segments = [s for s in record["segments"] if s["channel"] == channel]
        peak = call["peak_dbfs"][channel] if channel < len(call["peak_dbfs"]) else None
        per_channel.append(channel_reasons(segments, peak, regions))
    return call_reasons(per_channel, uncertain)


def transcribe_calls(
    whisper: WhisperModelResource,
    calls: list[dict],
    paths: list[str],
    log,
    progress=None,
    promoted: dict[str, tuple[str, str]] | None = None,
    timing: dict[str, float] | None = None,
) -> tuple[list[dict], list[Route]]:
    """The calls' records (call_record plus their suspect reasons), each by the model of its language, in groups
    of one model and language, in engine batches of FILES_PER_CHUNK files and CHUNK_MAX_CHANNEL_S of audio at most;
    and the route each call took.

    promoted: language -> (model location, version) in force (models.py); a promoted version that is not the
    checkpoint found at its location fails the step rather than transcribe with an unevaluated model."""
    routes = route_calls(log, whisper, calls, paths, promoted)
    wanted = {location: version for location, version in (promoted or {}).values()}
    groups: dict[tuple[str | None, str], list[int]] = {}
    for i, route in enumerate(routes):
        groups.setdefault((route.model, route.decision.language), []).append(i)
    records: list[dict] = []
    for (model, language), members in groups.items():
        transcriber = whisper.transcriber(model)
        if model in wanted and transcriber.model_version != wanted[model]:
            raise dg.Failure(
                f"{model} holds version {transcriber.model_version[:12]}, but {wanted[model][:12]} is the version "
                f"promoted for {language}; restore that checkpoint, or evaluate and promote this one "
                "(promote_model_job)"
            )
        options = whisper.transcription_options(language)
        for i in members:
            routes[i] = replace(
                routes[i],
                model_name=model or whisper.primary_model,
                model_version=transcriber.model_version,
                decoding=whisper.decoding(options),
            )
        for chunk in engine_chunks(members, [calls[i]["duration_s"] * calls[i]["channels"] for i in members]):
            batch_started = time.perf_counter()
            results = transcriber.transcribe_batch([paths[i] for i in chunk], options, progress=progress)
            if timing is not None:  # transcription alone: model loads and identification stay out of it
                timing["transcribe_s"] = timing.get("transcribe_s", 0.0) + time.perf_counter() - batch_started
            now = datetime.now(UTC).isoformat()
            for i, segments in zip(chunk, results, strict=True):
                record = call_record(calls[i], segments, routes[i], now)
                record["suspect_reasons"] = suspect_reasons(
                    calls[i], paths[i], record, routes[i].decision.uncertain
                )
                records.append(record)
            log.info(
                f"transcribed {len(records)}/{len(calls)} calls ({language}, {model_label(transcriber)})"
            )
    return records, routes


def engine_chunks(members: list[int], channel_s: list[float]) -> list[list[int]]:
    """`members` in order, cut into engine batches of at most FILES_PER_CHUNK calls and CHUNK_MAX_CHANNEL_S of
    audio (a call longer than that alone: raw_audio's size limits bound it)."""
    chunks: list[list[int]] = []
    audio = 0.0
    for member, seconds in zip(members, channel_s, strict=True):
        if not chunks or len(chunks[-1]) >= FILES_PER_CHUNK or audio + seconds > CHUNK_MAX_CHANNEL_S:
            chunks.append([])
            audio = 0.0
        chunks[-1].append(member)
        audio += seconds
    return chunks


def _in_order(calls: list[dict], records: list[dict]) -> list[dict]:
    """The records in the manifest's order (transcribe_calls groups them by model and language)."""
    by_id = {r["call_id"]: r for r in records}
    return [by_id[c["call_id"]] for c in calls]


def model_label(transcriber) -> str:
    """A readable model name: the checkpoint's folder (tiny.en's is its package's) and its short version."""
    return f"{transcriber.checkpoint.path.name} {transcriber.model_version[:12]}"


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
# Memory from measured peaks (deployment/README.md, "Step resources"): a batch at the audio cap, 2.5 GiB, ~2.9 GiB
# when base transcribes it; limit: one recording at max_decoded_bytes, ~3.6 GiB. Other executors ignore the tag.
TRANSCRIBE_STEP_K8S_CONFIG = {
    "dagster-k8s/config": {
        "container_config": {
            "resources": {"requests": {"cpu": "2", "memory": "3584Mi"}, "limits": {"memory": "5Gi"}}
        }
    }
}


@dg.asset(
    partitions_def=ingest_batches,
    deps=[raw_audio],
    group_name="ingest",
    kinds={"tensorflow"},
    owners=OWNERS,
    tags={"layer": "transcription"},
    code_version="3",  # languages, routing, suspect reasons
    op_tags=TRANSCRIBE_STEP_K8S_CONFIG,
    pool="transcription",  # at most ASR_TRANSCRIPTION_SLOTS at once across all runs (defs/pool_limits.py)
    check_specs=[
        dg.AssetCheckSpec(
            SPEED_CHECK,
            asset="transcripts",
            description="Transcription (model loading and language identification left out) ran at least "
            "ASR_MIN_SPEED_X times faster than real time (audio seconds per second, default 1).",
        ),
        dg.AssetCheckSpec(
            SUSPECT_CHECK,
            asset="transcripts",
            description="No call of the batch shows a sign of a hallucinated transcript (asr/hallucination.py: "
            "compression ratio, a looping phrase, words over silence, text on a silent channel, an uncertain "
            "language); a warning lists the calls and why. They stay loaded, flagged in fct_calls.is_suspect.",
        ),
    ],
)
def transcripts(
    context: dg.AssetExecutionContext,
    whisper: WhisperModelResource,
    artifacts: ArtifactStoreResource,
    postgres: PostgresResource,
) -> dg.MaterializeResult:
    """Word-level transcripts ({word, start, end, probability} per channel, plus segments and the model version)
    of the batch's accepted calls, as `transcripts/{partition}/transcripts.jsonl` in the artifact store."""
    key = context.partition_key
    calls = artifacts.read_json("raw_audio", key, MANIFEST)["calls"]
    records: list[dict] = []
    routes: list[Route] = []
    started = time.perf_counter()
    timing: dict[str, float] = {}
    if calls:
        progress = ProgressLog(context, sum(c["duration_s"] * c["channels"] for c in calls))
        with tempfile.TemporaryDirectory(prefix="asr-transcripts-") as tmp:
            paths = _local_paths(artifacts, key, calls, Path(tmp))
            promoted = {
                lang: (model_location(name), version)
                for lang, (name, version) in promoted_models(postgres).items()
            }
            records, routes = transcribe_calls(whisper, calls, paths, context.log, progress, promoted, timing)
    elapsed = time.perf_counter() - started
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    artifacts.write_bytes(body.encode(), "transcripts", key, TRANSCRIPTS_FILE)
    audio_s = sum(c["duration_s"] for c in calls)
    probabilities = [w["probability"] for r in records for s in r["segments"] for w in s["words"]]
    languages = Counter(f"{r.decision.language} ({r.decision.source})" for r in routes)
    models = sorted({(r.model_name, r.model_version) for r in routes})
    decodings = sorted({json.dumps(r.decoding, sort_keys=True) for r in routes})
    suspect = [
        (c["file_name"], r["suspect_reasons"])
        for c, r in zip(calls, _in_order(calls, records), strict=True)
        if r["suspect_reasons"]
    ]
    check = dg.AssetCheckResult(
        check_name=SUSPECT_CHECK,
        passed=not suspect,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "suspect_calls": len(suspect),
            "calls": dg.MetadataValue.md(
                "\n".join(
                    [
                        "| file | reasons |",
                        "|---|---|",
                        *(f"| {one_line(n)} | {', '.join(r)} |" for n, r in suspect[:50]),
                    ]
                )
                if suspect
                else "none"
            ),
        },
    )
    transcribe_s = timing.get("transcribe_s", 0.0)
    speed = {}
    if audio_s and transcribe_s:
        speed = {
            "transcribe_seconds": round(transcribe_s, 2),
            # start-up apart: loading the models' programs and identifying languages (once per step process)
            "startup_seconds": round(elapsed - transcribe_s, 2),
            # transcription time / audio time: below 1 is faster than real time
            "real_time_factor": round(transcribe_s / audio_s, 4),
        }
    floor = settings.current().min_speed_x
    speed_check = dg.AssetCheckResult(
        check_name=SPEED_CHECK,
        passed=not speed or audio_s / transcribe_s >= floor,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            **({"speed_x_real_time": round(audio_s / transcribe_s, 2)} if speed else {}),
            "floor_x_real_time": floor,
        },
    )
    return dg.MaterializeResult(
        check_results=[check, speed_check],
        metadata={
            "calls": len(records),
            "audio_minutes": round(audio_s / 60, 2),
            **speed,
            "words": len(probabilities),
            # no value where none exists (an empty batch, a batch with no word): a 0 would drag the plots down
            **(
                {"mean_word_probability": round(sum(probabilities) / len(probabilities), 4)}
                if probabilities
                else {}
            ),
            "suspect_calls": sum(1 for r in records if r["suspect_reasons"]),
            # e.g. "whisper tiny.en (litert int8) 1a5afae06a4d": the name, the runtime and precision, the version
            "model": ", ".join(
                sorted(
                    {
                        f"whisper {r.model_name} ({r.decoding['engine']} {r.decoding['compute_type']}) "
                        f"{r.model_version[:12]}"
                        for r in routes
                    }
                )
            ),
            "model_version": ", ".join(v for _, v in models),
            "models": dg.MetadataValue.md("\n".join(f"- {n}: `{v}`" for n, v in models) or "none"),
            "languages": dg.MetadataValue.json(dict(languages)),
            # how the batch was decoded: the mode's rules and the weights' precision change the words
            "decoding": "; ".join(decodings),
        },
    )
