"""Apply the versioned SQL files in migrations/ (NNNN_name.sql) in order, once each.

Every process that touches the database calls `migrate` first (PostgresResource does it once per process), so a
fresh database, a new deployment or a new migration needs no manual step. A transaction-scoped advisory lock
serialises concurrent starters (the CLI, the daemon's code server, run workers); each migration runs in the same
transaction as its row in asr_raw.schema_migrations, so a failed migration leaves nothing half-applied.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# pg_advisory_xact_lock key: any constant shared by every process of this project ("asr_" as an int).
ADVISORY_LOCK_KEY = int.from_bytes(b"asr_", "big")
BOOTSTRAP_SQL = """
create schema if not exists asr_raw;
create table if not exists asr_raw.schema_migrations (
    version integer primary key,
    name text not null,
    sha256 text not null,
    applied_at timestamptz not null default now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def list_migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in version order; a stray or duplicate-numbered .sql file is an error, not silently skipped."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise ValueError(f"{path}: migration files are named NNNN_lowercase_name.sql; rename it")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"{path}: version {version} is already used by {found[version].path.name}")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def migrate(dsn: str, folder: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations to the database at dsn (libpq URL); returns the versions applied now."""
    applied_now: list[int] = []
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            cur.execute(BOOTSTRAP_SQL)
            cur.execute("select version, sha256 from asr_raw.schema_migrations")
            done = dict(cur.fetchall())
            for migration in list_migrations(folder):
                if migration.version in done:
                    if done[migration.version] != migration.sha256:
                        logger.warning(
                            "migration %s was edited after it was applied; add a new migration instead",
                            migration.path.name,
                        )
                    continue
                logger.info("applying migration %s", migration.path.name)
                cur.execute(migration.sql)
                cur.execute(
                    "insert into asr_raw.schema_migrations (version, name, sha256) values (%s, %s, %s)",
                    (migration.version, migration.name, migration.sha256),
                )
                applied_now.append(migration.version)
    finally:
        conn.close()
    return applied_now
