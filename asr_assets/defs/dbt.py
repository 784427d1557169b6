"""dbt_transcripts as assets: one per model, downstream of the asr_raw load assets; dbt tests as asset checks.

The models stay unpartitioned. They are built by marts_job (defs/marts.py), which marts_sensor requests when loaded
batches are missing from the marts: each incremental mart then picks up exactly the batches it lacks, however many
batch runs loaded them since the last build, so a build costs what is new. The "dbt" pool keeps two builds from
running at once (the instance's default pool limit, 1). See docs/dagster-ingest.md, "Marts: coalesced builds".

The manifest must exist wherever these definitions load (code server, run workers, step pods): `ingest` calls
`prepare_dbt_project()` before it starts the daemon, the image build runs it, and importing this module runs it
when target/manifest.json is missing or older than the project's files. `dbt parse` needs no database.
"""

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from asr_assets import settings
from asr_assets.defs.resources import PostgresResource

DBT_PROJECT_DIR = settings.current().dbt_project_dir
DBT_POOL = "dbt"
DBT_GROUP = "dbt_transcripts"
# dbt scrubs the values of DBT_ENV_SECRET_* variables from its logs; profiles.yml reads the password from it.
PASSWORD_ENV = "DBT_ENV_SECRET_ASR_DBT_PASSWORD"
DEFAULT_PORT = 5432
# Files whose change means the manifest must be parsed again.
PROJECT_GLOBS = (
    "dbt_project.yml",
    "profiles.yml",
    "models/**/*",
    "macros/**/*",
    "tests/**/*",
    "analyses/**/*",
)
# Unit tests check the SQL logic on fixed rows; they run in the test suite, not in every batch's build.
BUILD_ARGS = ("build", "--exclude-resource-type", "unit_test")
PARTIAL_PARSE_FILE = "partial_parse.msgpack"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The `dbt` installed next to this interpreter (the venv's bin), so it is found without PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else shutil.which("dbt") or "dbt"


@dataclass(frozen=True)
class DbtConnection:
    host: str  # a host name, or the Unix socket directory of the embedded server
    port: int
    user: str
    password: str = ""
    dbname: str = "postgres"

    def env(self) -> dict[str, str]:
        """The variables profiles.yml reads. Holds the password: never log it."""
        return {
            "ASR_DBT_HOST": self.host,
            "ASR_DBT_PORT": str(self.port),
            "ASR_DBT_USER": self.user,
            "ASR_DBT_DBNAME": self.dbname,
            PASSWORD_ENV: self.password,
        }


def dbt_connection(url: str) -> DbtConnection:
    """Split a PostgreSQL URL (postgresql[+psycopg2]://user:pw@host:port/db, or the embedded server's
    postgresql://postgres:@/db?host=/socket/dir) into the fields a dbt profile takes."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)

    def query(name: str) -> str | None:
        value = parsed.query.get(name)
        return value[0] if isinstance(value, tuple) else value

    port = parsed.port or query("port")
    return DbtConnection(
        host=parsed.host or query("host") or "localhost",
        port=int(port) if port else DEFAULT_PORT,
        user=parsed.username or query("user") or "postgres",
        password=parsed.password or query("password") or "",
        dbname=parsed.database or query("dbname") or "postgres",
    )


@contextmanager
def dbt_connection_env(url: str) -> Iterator[None]:
    """Set the profile's variables in the environment while dbt starts (DbtCliResource copies it into the
    subprocess) and restore them afterwards."""
    with settings.environ_overrides(dbt_connection(url).env()):
        yield


def _manifest_is_stale(project: DbtProject = dbt_project) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(
        path.is_file() and path.stat().st_mtime > built
        for pattern in PROJECT_GLOBS
        for path in project.project_dir.glob(pattern)
    )


def _known_database_url() -> str | None:
    """The database later builds will use, when it is known without starting anything: ASR_DATABASE_URL, or
    the embedded server if it is already up."""
    from asr_assets.platform import embedded_pg

    configured = settings.current().database_url
    if configured:
        return settings.sqlalchemy_url(configured)
    if embedded_pg.embedded_postgres_running():
        return embedded_pg.start_embedded_postgres()  # attaches: reads the running server's socket
    return None


def prepare_dbt_project(project: DbtProject = dbt_project, database_url: str | None = None) -> Path:
    """Write target/manifest.json with `dbt parse` (no connection is made); returns its path.

    The profile is filled from database_url (default: the configured database if known) because dbt keeps its
    partial-parse state only while host, port, user and database stay the same: with it, each batch's build
    skips most of the parse. dbt parses into a private folder and the files are moved into place, so
    processes that load the definitions at the same moment never read half a file.
    """
    url = database_url or _known_database_url()
    target = project.project_dir / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix="parse-") as scratch:
        env = settings.child_env(
            **(dbt_connection(url).env() if url else {}),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DBT_LOG_PATH=scratch,
        )
        result = subprocess.run(
            [
                dbt_executable(), "parse", "--quiet", "--project-dir", str(project.project_dir),
                "--profiles-dir", str(project.profiles_dir), "--target-path", scratch,
            ],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"`dbt parse` failed in {project.project_dir} (exit {result.returncode}); fix the project "
                f"and rerun:\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )
        # partial_parse.msgpack lets every later dbt invocation skip most of the parse (dagster-dbt copies
        # it from here into each run's target folder).
        for name in (PARTIAL_PARSE_FILE, "manifest.json"):
            if (Path(scratch) / name).exists():
                os.replace(Path(scratch) / name, target / name)
    return project.manifest_path


if _manifest_is_stale():
    prepare_dbt_project()


class TranscriptsTranslator(DagsterDbtTranslator):
    """Keys say where the data lives: [schema, table]. Sources thus become ["asr_raw", <table>], the keys of
    the load assets (raw_tables.py), so each source is the same node as the asset that loads it."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec.replace_attributes(key=dg.AssetKey([props["schema"], props["name"]]))
        return spec.replace_attributes(
            key=dg.AssetKey([props["schema"], props["name"]]), group_name=DBT_GROUP
        ).merge_attributes(kinds={"postgres"})


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=TranscriptsTranslator(),
    pool=DBT_POOL,
    name="dbt_transcripts",
)
def dbt_transcripts(context: dg.AssetExecutionContext, dbt: DbtCliResource, postgres: PostgresResource):
    """Staging views and analyst marts (fct_calls, fct_utterances, call_search, ...) built by `dbt build`."""
    postgres.migrate()  # the marts' grants need the analyst role (migration 0002)
    # A throwaway target folder: dagster-dbt's default keeps one folder (~1 MB) per run under target/,
    # which at a build every few seconds would grow without bound.
    with tempfile.TemporaryDirectory(prefix="dbt-build-") as target:
        with dbt_connection_env(postgres.url):
            invocation = dbt.cli(list(BUILD_ARGS), context=context, target_path=Path(target))
        yield from invocation.stream()


class InstalledDbtCliResource(DbtCliResource):
    """DbtCliResource that reads the dbt version from the installed dbt-core package instead of running
    `dbt --version`: that subprocess cost ~4 s of every marts build's ~8 s before dbt started (each run is a fresh
    process, so dagster-dbt's cached property never helped). The executable is this environment's own dbt
    (`dbt_executable`), so the package's version is the CLI's."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[dbt_transcripts],
        resources={"dbt": InstalledDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())},
    )
