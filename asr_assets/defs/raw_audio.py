"""raw_audio: check every landed file of a batch; keep the good ones for transcription, quarantine the rest.

A bad file (empty, corrupt, truncated, unsupported, silent, too long, gone) never fails the batch: it gets a
quarantine record with a reason and the batch goes on. Anything else (storage or database unavailable, a bug)
fails the step, so Dagster retries it and no file is silently dropped.
"""

import hashlib
import math
import os
import re
from dataclasses import asdict, dataclass

import dagster as dg

from asr_assets.asr.audio import is_silent, load_audio_bytes, peak_dbfs
from asr_assets.asr.errors import AudioDecodeError, UnsupportedAudioError
from asr_assets.defs.partitions import ingest_batches
from asr_assets.defs.resources import ArtifactStoreResource, PostgresResource, header_duration_s, read_uri
from asr_assets.defs.sql import read_sql

MANIFEST = "manifest.json"
SAFE_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


class RawAudioConfig(dg.Config):
    max_duration_s: float = 4 * 3600.0  # longer recordings are quarantined (split them upstream)
    silence_threshold_dbfs: float = -60.0  # every channel peaking below this = silent (≈0.001 of full scale)


@dataclass(frozen=True)
class LandedFile:
    checksum: str
    file_name: str
    source_uri: str
    size_bytes: int


@dataclass(frozen=True)
class CheckedCall:
    call_id: str
    checksum: str
    file_name: str
    source_uri: str
    artifact: str  # path under the artifact store
    size_bytes: int
    duration_s: float
    sample_rate: int
    channels: int
    source_format: str
    peak_dbfs: tuple[float | None, ...]  # per channel; None = digital silence


@dataclass(frozen=True)
class Quarantined:
    checksum: str
    file_name: str
    source_uri: str
    reason_code: str
    reason: str
    size_bytes: int | None


def check_file(
    landed: LandedFile, data: bytes | None, config: RawAudioConfig
) -> tuple[CheckedCall | Quarantined, bytes | None]:
    """Validate and decode one file's bytes (None = gone from the landing zone)."""

    def quarantine(code: str, reason: str) -> tuple[Quarantined, None]:
        size = None if data is None else len(data)
        return Quarantined(landed.checksum, landed.file_name, landed.source_uri, code, reason, size), None

    name = landed.file_name
    if data is None:
        return quarantine(
            "missing", f"{name}: no longer in the landing zone ({landed.source_uri}); land it again"
        )
    if hashlib.sha256(data).hexdigest() != landed.checksum:
        return quarantine(
            "changed", f"{name}: content changed after it was registered; land the new version again"
        )
    if not data:
        return quarantine("empty", f"{name}: empty file (0 bytes); re-export or re-upload the recording")
    header_s = header_duration_s(data)  # a 10-hour file is rejected before it is decoded into memory
    if header_s is not None and header_s > config.max_duration_s:
        return quarantine(
            "too_long",
            f"{name}: too long ({header_s:.0f} s > {config.max_duration_s:.0f} s); split the recording or raise "
            "raw_audio's max_duration_s",
        )
    try:
        audio = load_audio_bytes(data, name, max_duration_s=config.max_duration_s)
    except UnsupportedAudioError as e:
        return quarantine("unsupported_format", str(e))
    except AudioDecodeError as e:
        return quarantine("undecodable", str(e))
    if is_silent(audio, config.silence_threshold_dbfs):
        return quarantine(
            "silent",
            f"{name}: silent (every channel peaks below {config.silence_threshold_dbfs:g} dBFS); check the recorder",
        )
    ext = os.path.splitext(name)[1].lower()
    ext = ext if SAFE_EXTENSION.match(ext) else ".audio"
    call = CheckedCall(
        call_id=landed.checksum,
        checksum=landed.checksum,
        file_name=name,
        source_uri=landed.source_uri,
        artifact=f"{landed.checksum}{ext}",
        size_bytes=len(data),
        duration_s=audio.duration_s,
        sample_rate=audio.source_sample_rate,
        channels=audio.source_channels,
        source_format=audio.source_format,
        peak_dbfs=tuple(v if math.isfinite(v) else None for v in peak_dbfs(audio.channels)),
    )
    return call, data


def partition_files(postgres: PostgresResource, partition_key: str) -> list[LandedFile]:
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute(read_sql("select_partition_files"), {"partition_key": partition_key})
        return [LandedFile(*row) for row in cur.fetchall()]


def _read_or_none(uri: str) -> bytes | None:
    try:
        return read_uri(uri)
    except FileNotFoundError:
        return None


@dg.asset(
    partitions_def=ingest_batches,
    group_name="ingest",
    kinds={"python", "audio"},
)
def raw_audio(
    context: dg.AssetExecutionContext,
    config: RawAudioConfig,
    postgres: PostgresResource,
    artifacts: ArtifactStoreResource,
) -> dg.MaterializeResult:
    """The batch's recordings, validated and decoded (duration, sample rate, channels, checksum), copied to the
    artifact store under raw_audio/<partition>/ with a manifest; bad files are listed there with a reason and
    land in asr_raw.quarantine."""
    key = context.partition_key
    files = partition_files(postgres, key)
    calls: list[CheckedCall] = []
    quarantined: list[Quarantined] = []
    for landed in files:
        outcome, data = check_file(landed, _read_or_none(landed.source_uri), config)
        if isinstance(outcome, Quarantined):
            context.log.warning(f"quarantined {outcome.reason_code}: {outcome.reason}")
            quarantined.append(outcome)
            continue
        assert data is not None
        artifacts.write_bytes(data, "raw_audio", key, outcome.artifact)
        calls.append(outcome)
    manifest = {
        "partition_key": key,
        "calls": [asdict(c) for c in calls],
        "quarantine": [asdict(q) for q in quarantined],
    }
    artifacts.write_json(manifest, "raw_audio", key, MANIFEST)
    audio_s = sum(c.duration_s for c in calls)
    reasons = "\n".join(f"- `{q.reason_code}`: {q.reason}" for q in quarantined) or "none"
    return dg.MaterializeResult(
        metadata={
            "files": len(files),
            "accepted": len(calls),
            "quarantined": len(quarantined),
            "audio_minutes": round(audio_s / 60, 2),
            "quarantine_reasons": dg.MetadataValue.md(reasons),
        }
    )
