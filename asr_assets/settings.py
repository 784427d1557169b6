"""Where the platform keeps its state, and which database it talks to.

Everything has a working local default under one state folder, ASR_HOME (the Makefile exports
`$(CURDIR)/.asr_home`), and every location can be overridden by an environment variable for a deployment.
README.md ("Configuration") lists every variable with its default; `Settings` below has one field per variable.

The batch and tick limits are read where the resources are built (`dg.EnvVar`, so the UI shows the variable's
name); the others through `current()`.

With ASR_DATABASE_URL unset, `asr_assets.platform.embedded_pg.ensure_database_url()` starts an embedded PostgreSQL
with its data in $ASR_HOME/pgdata (`pgdata_dir()`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

PSYCOPG2_SCHEME = "postgresql+psycopg2"
DAGSTER_INSTANCE_FILE = "dagster.yaml"
# Dagster's default is 5 s; locally `ingest` waits on the queue, so dequeue faster.
RUN_DEQUEUE_INTERVAL_S = 1
DEFAULT_SENSOR_INTERVAL_S = 5
OUR_PREFIXES = ("ASR_", "DAGSTER_")
REPO_ROOT = Path(__file__).resolve().parent.parent
LANE_TAG = "asr/lane"  # which runs wait for each other locally (instance_config)


@dataclass(frozen=True)
class Settings:
    """Everything the platform reads from the environment, read in one place (this module is the only reader).

    Optional locations are None when unset, so callers can tell "the default" from "chosen by the operator"
    (a resource passes `dg.EnvVar(name)` only for variables that are set; see `is_set`).
    """

    home: Path
    dagster_home: Path
    dagster_home_from_env: bool
    landing_url: str
    storage_url: str
    database_url: str | None  # None: the embedded server
    executor: str  # "k8s" or "in_process"
    model_path: str | None  # None: the bundled tiny.en
    model_cache: Path
    sensor_interval_s: int
    dbt_project_dir: Path
    db_connect_timeout_s: int
    db_statement_timeout_s: int
    db_lock_timeout_s: int
    # models to evaluate and promote besides the catalog's (ASR_CANDIDATE_MODELS="name=folder,..."), and the
    # development evaluation audio asr_model_eval also scores on when it is present
    candidate_models: dict[str, str]
    shared_eval_dir: Path
    # the ingest checks' limits: quarantined share of a batch's files (percent), transcription speed (x real time)
    max_quarantine_pct: int
    min_speed_x: int
    marts_max_lag_s: int  # how long after a batch closed the marts may still lack it (marts_fresh)
    # every step of a batch run: retries, and the first wait between them in seconds (doubling; defs/jobs.py)
    step_max_retries: int
    step_retry_delay_s: float
    # ASR_TRANSCRIPTION_SLOTS as given ("" when unset): checked where it is applied, pool_limits_sensor's tick
    # (defs/pool_limits.py), so a bad value fails that tick with the variable's name and nothing else
    transcription_slots: str
    set_variables: frozenset[str] = field(repr=False)  # which of our variables are set, for `is_set`

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        home_env = env.get("ASR_HOME")
        if home_env:
            home = Path(home_env).expanduser().resolve()
        else:
            base = REPO_ROOT if (REPO_ROOT / "pyproject.toml").exists() else Path.cwd()
            home = base / ".asr_home"
        dagster_env = env.get("DAGSTER_HOME")
        if env.get("ASR_MODEL_CACHE"):
            model_cache = Path(env["ASR_MODEL_CACHE"])
        elif home_env:
            model_cache = Path(home_env) / "models"
        else:
            model_cache = Path.home() / ".cache" / "asr-assets" / "models"
        return cls(
            home=home,
            dagster_home=Path(dagster_env).expanduser().resolve() if dagster_env else home / "dagster",
            dagster_home_from_env=bool(dagster_env),
            landing_url=env.get("ASR_LANDING_URL") or str(home / "landing"),
            storage_url=env.get("ASR_STORAGE_URL") or str(home / "artifacts"),
            database_url=env.get("ASR_DATABASE_URL") or None,
            executor="k8s" if env.get("ASR_EXECUTOR", "").lower() == "k8s" else "in_process",
            model_path=env.get("ASR_MODEL_PATH") or None,
            model_cache=model_cache,
            sensor_interval_s=int(env.get("ASR_SENSOR_INTERVAL_S") or DEFAULT_SENSOR_INTERVAL_S),
            dbt_project_dir=Path(env.get("ASR_DBT_PROJECT_DIR") or REPO_ROOT / "dbt_transcripts"),
            db_connect_timeout_s=int(env.get("ASR_DB_CONNECT_TIMEOUT_S") or 10),
            db_statement_timeout_s=int(env.get("ASR_DB_STATEMENT_TIMEOUT_S") or 1800),
            db_lock_timeout_s=int(env.get("ASR_DB_LOCK_TIMEOUT_S") or 60),
            min_speed_x=int(env.get("ASR_MIN_SPEED_X") or 1),
            marts_max_lag_s=int(env.get("ASR_MARTS_MAX_LAG_S") or 3600),
            max_quarantine_pct=int(env.get("ASR_MAX_QUARANTINE_PCT") or 20),
            step_max_retries=int(env.get("ASR_STEP_MAX_RETRIES") or 3),
            step_retry_delay_s=float(env.get("ASR_STEP_RETRY_DELAY_S") or 10),
            transcription_slots=env.get("ASR_TRANSCRIPTION_SLOTS") or "",
            candidate_models=parse_candidate_models(env.get("ASR_CANDIDATE_MODELS") or ""),
            shared_eval_dir=Path(env.get("ASR_SHARED_EVAL_DIR") or REPO_ROOT.parent / "shared" / "eval"),
            set_variables=frozenset(
                name for name, value in env.items() if value and name.startswith(OUR_PREFIXES)
            ),
        )

    def is_set(self, name: str) -> bool:
        """True when our environment variable `name` (ASR_*, DAGSTER_*) is set to a non-empty value."""
        return name in self.set_variables


def parse_candidate_models(value: str) -> dict[str, str]:
    """ "name=folder,other=/models/x" (or a bare folder, named by its last part) -> {name: folder}."""
    models: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in value.split(","))):
        name, sep, location = entry.partition("=")
        if not sep:
            name, location = Path(entry).name, entry
        models[name.strip()] = location.strip()
    return models


def current() -> Settings:
    """The settings as the environment says now (not cached: tests and `ingest` change the environment)."""
    return Settings.from_env(os.environ)


def asr_home() -> Path:
    """The local state folder: $ASR_HOME, else .asr_home in the repository (or the working directory)."""
    return current().home


def dagster_home() -> Path:
    """$DAGSTER_HOME when set (a deployment's own instance), else $ASR_HOME/dagster with our dagster.yaml."""
    return current().dagster_home


def instance_config(home: Path) -> dict:
    """The local instance: SQLite storage under `home`, one run per lane at a time, a fast run queue.

    Lanes (the runs' `asr/lane` tag, defs/jobs.py): one engine run at a time (a batch's ingest or a model's
    evaluation loads TensorFlow and the model, ~600 MiB, and uses every core; two would only compete), and beside it
    one marts run (a coalesced `dbt build`, defs/marts.py), so the marts follow the batches while the next batch is
    transcribed. A cluster's instance (Helm chart) sets its own limits.
    """
    return {
        "storage": {"sqlite": {"base_dir": str(home / "storage")}},
        "concurrency": {
            "runs": {
                "max_concurrent_runs": 2,
                "tag_concurrency_limits": [
                    # never two runs of one partition at once (a UI materialisation beside the sensor's run)
                    {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
                    {"key": LANE_TAG, "value": "engine", "limit": 1},
                    {"key": LANE_TAG, "value": "marts", "limit": 1},
                ],
            }
        },
        # A failed run is re-executed once from the failed step (finished steps are kept); the landing sensor
        # retries it again later, with a backoff, if that fails too (asr_assets/platform/batch_runs.py).
        "run_retries": {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": True},
        "run_queue": {"dequeue_interval_seconds": RUN_DEQUEUE_INTERVAL_S},
        # a run whose worker never came up (e.g. the code location failed to load) fails instead of hanging
        "run_monitoring": {"enabled": True, "start_timeout_seconds": 300, "poll_interval_seconds": 30},
        "telemetry": {"enabled": False},
    }


def ensure_dagster_home() -> Path:
    """Create the Dagster home with our dagster.yaml (only when DAGSTER_HOME is not set by the user) and return it."""
    config = current()
    home = config.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / DAGSTER_INSTANCE_FILE
    if not config.dagster_home_from_env or not config_file.exists():
        text = yaml.safe_dump(instance_config(home), sort_keys=False)
        if not config_file.exists() or config_file.read_text() != text:
            config_file.write_text(text)
    return home


def landing_url() -> str:
    """Folder or fsspec URL the landing sensor watches."""
    return current().landing_url


def storage_url() -> str:
    """Folder or fsspec URL for artifacts passed between steps (checked audio, manifests, transcripts)."""
    return current().storage_url


def pgdata_dir() -> Path:
    return asr_home() / "pgdata"


class ConfigurationError(ValueError):
    """An ASR_* setting that cannot work; the message names it and the fix (never its secret)."""


def sqlalchemy_url(url: str) -> str:
    """The same URL with the psycopg2 driver: SQLAlchemy 2 maps a bare postgresql:// to psycopg3, which breaks
    dagster-postgres' event watching, and psycopg2 is what we install."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", PSYCOPG2_SCHEME):
        raise ConfigurationError(
            f"database URL scheme {parts.scheme!r} is not PostgreSQL (libpq key=value strings are not URLs); set "
            "ASR_DATABASE_URL to postgresql://user:password@host:5432/dbname"
        )
    return urlunsplit(parts._replace(scheme=PSYCOPG2_SCHEME))


def libpq_url(url: str) -> str:
    """The same URL for libpq / psycopg2.connect (no SQLAlchemy driver suffix)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


SECRET_WORDS = ("pass", "secret", "token", "key", "credential", "signature")


def _names_a_secret(name: str) -> bool:
    """A query parameter (or setting) whose name says it holds a secret: ?password=, sslpassword=, a token, a key."""
    return any(word in name.lower() for word in SECRET_WORDS)


KEY_VALUE_SECRET = re.compile(
    r"(\b\w*(?:pass|secret|token|key)\w*\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """The URL (or libpq "key=value" string) with every secret replaced by ***, for logs and messages: the userinfo
    password, and query parameters such as ?password=, sslpassword=, a token or a signature."""
    if "://" not in url:
        return KEY_VALUE_SECRET.sub(r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        host = netloc.rsplit("@", 1)[1]
        netloc = f"{parts.username or ''}:***@{host}"
    query = "&".join(
        f"{name}=***" if _names_a_secret(name) and sep else f"{name}{sep}{value}"
        for name, sep, value in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def checked_location(url: str, variable: str) -> str:
    """`url` (ASR_LANDING_URL or ASR_STORAGE_URL: a folder or an fsspec URL such as s3://bucket/prefix) when it
    carries no credentials; else a ConfigurationError naming the variable and the fix, with the secret redacted.

    Object-store credentials come from the environment only (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    AWS_ENDPOINT_URL for s3://, from a Kubernetes Secret in a cluster): a URL is logged, shown in the UI and stored
    with every landed file, so a key inside it would leak everywhere.
    """
    if "://" not in url:
        return url
    parts = urlsplit(url)
    secret_query = any(_names_a_secret(item.partition("=")[0]) for item in parts.query.split("&") if item)
    if parts.username or parts.password or secret_query:
        shown = (
            redact_url(url) if not parts.username else f"{parts.scheme}://***@{parts.hostname}{parts.path}"
        )
        raise ConfigurationError(
            f"{variable}={shown} carries credentials; set {variable} to "
            f"{parts.scheme}://{parts.hostname or ''}{parts.path} and give the credentials in the environment "
            "instead (for s3://: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for a non-AWS endpoint, "
            "AWS_ENDPOINT_URL; in Kubernetes from a Secret, deployment/README.md)"
        )
    return url


def connect_options() -> dict[str, object]:
    """psycopg2.connect keywords that bound every wait: a black-holed host, a stuck statement, a held lock.

    Statement and lock timeouts are server settings for the session (libpq `options`), so they also bound the
    registry's advisory lock. A COPY of a whole batch stays far below the statement timeout.
    """
    config = current()
    return {
        "connect_timeout": config.db_connect_timeout_s,
        "options": f"-c statement_timeout={config.db_statement_timeout_s * 1000} "
        f"-c lock_timeout={config.db_lock_timeout_s * 1000}",
    }


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment for a child process (daemon, `dagster dev`, dbt), with ASR_HOME and
    DAGSTER_HOME made explicit and `overrides` on top."""
    config = current()
    return {**os.environ, "ASR_HOME": str(config.home), "DAGSTER_HOME": str(config.dagster_home), **overrides}


def export_locations() -> None:
    """Make ASR_HOME and DAGSTER_HOME explicit in this process's environment (for the Dagster instance and the
    processes it starts)."""
    config = current()
    os.environ["DAGSTER_HOME"] = str(config.dagster_home)
    os.environ["ASR_HOME"] = str(config.home)


def quiet_tensorflow_logs() -> None:
    """Hide TensorFlow's C++ start-up lines (oneDNN, CPU features) from a terminal user, unless TF_CPP_MIN_LOG_LEVEL
    is already set; it must happen before TensorFlow is imported, which reads it once."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextmanager
def environ_overrides(values: Mapping[str, str]) -> Iterator[None]:
    """Set `values` in os.environ for the block (for libraries that copy os.environ into a subprocess, such as
    DbtCliResource) and restore the previous values afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
