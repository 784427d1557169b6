"""raw_audio: check every landed file of a batch; keep the good ones for transcription, quarantine the rest.

A bad file (empty, corrupt, truncated, unsupported, silent, too long, gone) never fails the batch: it gets a
quarantine record with a reason and the batch goes on. Anything else (storage or database unavailable, a bug)
fails the step, so Dagster retries it and no file is silently dropped.

Limits are checked from the header (no decoding) before the file is decoded: size (`too_large`), channels
(`too_many_channels`), sample rate (`bad_sample_rate`), decoded size at 16 kHz (`too_large`), duration (`too_long`,
`too_short`). NaN/Inf samples get their own code, `non_finite` (the file decodes; its exporter is broken). Any other
exception while checking one file (MemoryError included) quarantines that file as `internal_error`; writing the
artifact store or the manifest still fails the step. Reasons are one line: control characters in file names are
escaped, so a name cannot inject log lines.
"""

import hashlib
import io
import math
import os
import re
from dataclasses import asdict, dataclass, replace

import dagster as dg
import soundfile as sf

from asr_assets.asr.audio import SAMPLE_RATE, NonFiniteAudioError, is_silent, load_audio_bytes, peak_dbfs
from asr_assets.asr.errors import AudioDecodeError, UnsupportedAudioError
from asr_assets.defs.partitions import OWNERS, ingest_batches
from asr_assets.defs.resources import ArtifactStoreResource, LandingZoneResource, PostgresResource
from asr_assets.platform.artifacts import MANIFEST
from asr_assets.platform.discovery import openable_uri
from asr_assets.platform.files import open_uri
from asr_assets.platform.languages import LanguageHintError, language_hint
from asr_assets.platform.sql import read_sql
from asr_assets.platform.text import one_line

SAFE_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


class RawAudioConfig(dg.Config):
    max_duration_s: float = 4 * 3600.0  # longer recordings are quarantined (split them upstream)
    silence_threshold_dbfs: float = -60.0  # every channel peaking below this = silent (≈0.001 of full scale)
    min_duration_s: float = 0.5  # shorter files hold no utterance Whisper can transcribe (one sample, clicks)
    max_size_bytes: int = 2 * 1024**3  # the file is read whole today: bounded by the step's 2 GiB pod limit
    max_channels: int = 8  # calls have 1-2; a header claiming 256 channels is an amplification bomb
    min_sample_rate: int = 4000  # below telephony's 8 kHz is not speech (a 1 Hz header claims hours in 2 KB)
    max_sample_rate: int = 384000  # the highest rate studio converters produce
    # float32 at 16 kHz the transcripts step holds: ≈ 3.5 h of stereo; a FLAC of silence can claim much more
    max_decoded_bytes: int = 3 * 1024**3 // 2


@dataclass(frozen=True)
class LandedFile:
    checksum: str
    file_name: str
    source_uri: str  # readable form (a name that is not UTF-8 has its bytes as \xNN)
    size_bytes: int
    source_uri_bytes: bytes | None = None  # the real path's bytes when the name is not UTF-8

    @property
    def open_uri(self) -> str:
        return openable_uri(self.source_uri, self.source_uri_bytes)


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
    # What came with the file (platform/languages.py): its sidecar's or folder's language; None = identified later
    language: str | None = None
    language_source: str | None = None


@dataclass(frozen=True)
class Quarantined:
    checksum: str
    file_name: str
    source_uri: str
    reason_code: str
    reason: str
    size_bytes: int | None


def artifact_name(landed: LandedFile) -> str:
    """The checked copy's name under raw_audio/<partition>/: its checksum plus a safe extension."""
    ext = os.path.splitext(landed.file_name)[1].lower()
    return f"{landed.checksum}{ext if SAFE_EXTENSION.match(ext) else '.audio'}"


def check_file(
    landed: LandedFile, data: bytes | None, config: RawAudioConfig
) -> tuple[CheckedCall | Quarantined, bytes | None]:
    """Validate and decode one file's bytes (None = gone from the landing zone).

    Never raises for a property of the file: any exception while checking it is an `internal_error` quarantine.
    """

    def quarantine(code: str, reason: str) -> tuple[Quarantined, None]:
        size = None if data is None else len(data)
        q = Quarantined(landed.checksum, landed.file_name, landed.source_uri, code, one_line(reason), size)
        return q, None

    name = landed.file_name
    if data is None:
        return quarantine(
            "missing",
            f"{name}: no longer in the landing zone ({landed.source_uri}) and no checked copy in the artifact "
            "store; landing the same content again does nothing (the registry knows it): restore the file to "
            f"{landed.source_uri} and re-materialise the partition",
        )
    if len(data) > config.max_size_bytes:  # read_landed stops one byte past the limit
        return quarantine(
            "too_large",
            f"{name}: more than max_size_bytes={config.max_size_bytes} bytes; split the recording or raise "
            "raw_audio's max_size_bytes",
        )
    if hashlib.sha256(data).hexdigest() != landed.checksum:
        return quarantine(
            "changed",
            f"{name}: content changed after it was registered; the new content is new content, so it gets its "
            "own batch when it is landed (nothing to do for this registration)",
        )
    try:
        return _check_content(landed, data, config, quarantine)
    except Exception as e:  # noqa: BLE001 - one file's failure must not fail its batch (MemoryError included)
        return quarantine(
            "internal_error",
            f"{name}: checking it raised {type(e).__name__}: {e}; the rest of the batch went on. Report it with "
            "the file",
        )


def header_limit_reason(name: str, info: sf._SoundFileInfo, size: int, config: RawAudioConfig):
    """(reason_code, reason) for the first limit the header breaks, or None; nothing is decoded."""
    sr, n_ch, frames = int(info.samplerate), int(info.channels), int(info.frames)
    if n_ch > config.max_channels:
        return "too_many_channels", (
            f"{name}: {n_ch} channels > max_channels={config.max_channels}; split the channels upstream or raise "
            "raw_audio's max_channels"
        )
    if not config.min_sample_rate <= sr <= config.max_sample_rate:
        return "bad_sample_rate", (
            f"{name}: sample rate {sr} Hz outside {config.min_sample_rate}-{config.max_sample_rate} Hz; re-export "
            "it at a real rate or change raw_audio's min_sample_rate/max_sample_rate"
        )
    decoded = 4 * n_ch * ((frames * SAMPLE_RATE + sr - 1) // sr)
    if decoded > config.max_decoded_bytes:
        return "too_large", (
            f"{name}: decodes to {decoded} bytes at 16 kHz > max_decoded_bytes={config.max_decoded_bytes}; split "
            "the recording or raise raw_audio's max_decoded_bytes"
        )
    if frames > 0 and frames / sr > config.max_duration_s:
        return "too_long", (
            f"{name}: too long ({frames / sr:.0f} s > {config.max_duration_s:.0f} s); split the recording or raise "
            "raw_audio's max_duration_s"
        )
    if 0 < frames / sr < config.min_duration_s:
        return "too_short", (
            f"{name}: too short ({frames / sr:.3f} s < min_duration_s={config.min_duration_s:g} s); nothing to "
            "transcribe, or lower raw_audio's min_duration_s"
        )
    return None


def _read_header(data: bytes):
    try:
        return sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        return None  # the decoder gives the precise reason


def _check_content(landed: LandedFile, data: bytes, config: RawAudioConfig, quarantine):
    name = landed.file_name
    if not data:
        return quarantine("empty", f"{name}: empty file (0 bytes); re-export or re-upload the recording")
    info = _read_header(data)  # limits from the header, before anything is decoded into memory
    broken = None if info is None else header_limit_reason(name, info, len(data), config)
    if broken is not None:
        return quarantine(*broken)
    try:
        audio = load_audio_bytes(data, name, max_duration_s=config.max_duration_s)
    except UnsupportedAudioError as e:
        return quarantine("unsupported_format", str(e))
    except NonFiniteAudioError as e:
        return quarantine("non_finite", str(e))
    except AudioDecodeError as e:
        return quarantine("undecodable", str(e))
    if audio.duration_s < config.min_duration_s:
        return quarantine(
            "too_short",
            f"{name}: too short ({audio.duration_s:.3f} s < min_duration_s={config.min_duration_s:g} s); "
            "nothing to transcribe, or lower raw_audio's min_duration_s",
        )
    if is_silent(audio, config.silence_threshold_dbfs):
        return quarantine(
            "silent",
            f"{name}: silent (every channel peaks below {config.silence_threshold_dbfs:g} dBFS); check the recorder",
        )
    call = CheckedCall(
        call_id=landed.checksum,
        checksum=landed.checksum,
        file_name=name,
        source_uri=landed.source_uri,
        artifact=artifact_name(landed),
        size_bytes=len(data),
        duration_s=audio.duration_s,
        sample_rate=audio.source_sample_rate,
        channels=audio.source_channels,
        source_format=audio.source_format,
        peak_dbfs=tuple(v if math.isfinite(v) else None for v in peak_dbfs(audio.channels)),
    )
    return call, data


FILE_TABLE = dg.TableSchema(
    columns=[
        dg.TableColumn("file", "string"),
        dg.TableColumn("duration_s", "float"),
        dg.TableColumn("channels", "int"),
        dg.TableColumn("language", "string", description="given with the file (empty: identified later)"),
        dg.TableColumn("status", "string"),
    ]
)


def with_language_hint(call: CheckedCall, landing_root: str) -> CheckedCall | Quarantined:
    """The call with the language its sidecar or folder gives; quarantined when the sidecar is unusable."""
    try:
        hint = language_hint(call.source_uri, landing_root)
    except LanguageHintError as e:
        return Quarantined(
            call.checksum,
            call.file_name,
            call.source_uri,
            "bad_language_hint",
            one_line(str(e)),
            call.size_bytes,
        )
    return call if hint is None else replace(call, language=hint.language, language_source=hint.source)


def partition_files(postgres: PostgresResource, partition_key: str) -> list[LandedFile]:
    """The batch's registered files; a partition key the landing sensor never registered is refused (a typo in a
    launched partition would otherwise be a green run that did nothing)."""
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute(read_sql("select_batch_registered"), {"partition_key": partition_key})
        if not cur.fetchone()[0]:
            raise dg.Failure(
                f"partition {partition_key!r} is not an ingest batch the landing sensor registered (no row in "
                "asr_raw.ingest_batches); materialise a partition the sensor created, or land the files and let "
                "it batch them"
            )
        cur.execute(read_sql("select_partition_files"), {"partition_key": partition_key})
        return [LandedFile(*row[:4], None if row[4] is None else bytes(row[4])) for row in cur.fetchall()]


def _read_or_none(uri: str, limit: int) -> bytes | None:
    """At most limit + 1 bytes of uri (a file over the limit is never held whole), None when it is gone."""
    try:
        with open_uri(uri) as fh:
            return fh.read(limit + 1)
    except FileNotFoundError:
        return None


def read_landed(
    artifacts: ArtifactStoreResource, key: str, landed: LandedFile, limit: int, log
) -> bytes | None:
    """The file's bytes from the landing zone, else the checked copy an earlier run of the partition kept (a
    re-run after the landing file was moved away or cleaned up must not turn transcripts into "missing")."""
    data = _read_or_none(landed.open_uri, limit)
    if data is None:
        data = _read_or_none(artifacts.uri("raw_audio", key, artifact_name(landed)), limit)
        if data is not None:
            log.info(f"{one_line(landed.file_name)}: gone from the landing zone; using its checked copy")
    return data


@dg.asset(
    partitions_def=ingest_batches,
    group_name="ingest",
    kinds={"python", "audio"},
    owners=OWNERS,
    tags={"layer": "landing"},
    code_version="2",  # bump when the checks change what is accepted: the UI then marks batches as code-stale
)
def raw_audio(
    context: dg.AssetExecutionContext,
    config: RawAudioConfig,
    postgres: PostgresResource,
    artifacts: ArtifactStoreResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """The batch's recordings, validated and decoded (duration, sample rate, channels, checksum), copied to the
    artifact store under `raw_audio/{partition}/` with a manifest; bad files are listed there with a reason and
    land in asr_raw.quarantine."""
    key = context.partition_key
    files = partition_files(postgres, key)
    calls: list[CheckedCall] = []
    quarantined: list[Quarantined] = []
    for landed in files:
        outcome, data = check_file(
            landed, read_landed(artifacts, key, landed, config.max_size_bytes, context.log), config
        )
        if isinstance(outcome, CheckedCall):
            outcome = with_language_hint(outcome, landing.resolved_url())
        if isinstance(outcome, Quarantined):
            context.log.warning(f"quarantined {outcome.reason_code}: {outcome.reason}")  # reason is one line
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
    file_rows = [
        dg.TableRecord({"file": c.file_name, "duration_s": round(c.duration_s, 2), "channels": c.channels,
                        "language": c.language or "", "status": "accepted"})
        for c in calls
    ] + [
        dg.TableRecord({"file": q.file_name, "duration_s": None, "channels": None, "language": "",
                        "status": f"quarantined: {q.reason_code}"})
        for q in quarantined
    ]  # fmt: skip
    return dg.MaterializeResult(
        metadata={
            "files": len(files),
            "accepted": len(calls),
            "quarantined": len(quarantined),
            "audio_minutes": round(audio_s / 60, 2),
            "quarantine_reasons": dg.MetadataValue.md(reasons),
            "batch_files": dg.MetadataValue.table(file_rows[:500], schema=FILE_TABLE),
        }
    )
