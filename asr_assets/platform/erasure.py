"""Erasure on request: one customer's call removed everywhere the platform keeps it, and a record that proves it.

A call is its content: its id is the sha256 of the recording, so erasing a call erases that content wherever it
came in (every file name it was uploaded under). For each call, one transaction:

1. takes the erasure lock (partition loads hold it shared, so a load in flight cannot put the rows back) and the
   registry lock (the landing sensor cannot register the content again meanwhile);
2. removes the files: the landing copies under the configured landing zone (the platform owns that folder or
   prefix; a file is deleted only if its bytes still hash to the call), the checked copy in the artifact store,
   and the call's entries in the batch's manifest and transcripts, rewritten without it; the batch's report page
   and the local ones of `asr-assets report` (rebuilt on the next materialisation, or on demand);
3. deletes its rows from every asr_raw table, from every dbt table that has a `call_id` column (marts and the
   search index, at once rather than at the next build), and from the registry; records the batch's new load so
   the next dbt build rebuilds what aggregates over it;
4. writes the erasure record (asr_raw.erasures: who asked, who ran it, when, what was removed in numbers; no file
   name, no text) and commits.

Files go before rows: if the commit fails, the rows still name the call and erasing it again finishes the job.
Afterwards the touched tables are VACUUMed so the deleted rows' space is reclaimed. A later upload of the same
content is refused by the landing sensor (`registry.register`) unless the record's `reupload_allowed` is set.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
from psycopg2 import sql

from asr_assets import settings
from asr_assets.platform.artifacts import MANIFEST, REPORTS, TRANSCRIPTS_FILE, Artifacts
from asr_assets.platform.discovery import openable_uri
from asr_assets.platform.files import sha256_uri
from asr_assets.platform.raw_schema import SCHEMA, TABLES
from asr_assets.platform.sql import read_sql

CHECKSUM = re.compile(r"^[0-9a-f]{64}$")
DBT_SCHEMAS = ("asr_marts", "asr_staging")  # dbt's tables (staging is views today; a table there is covered)
# asr_raw tables by the column that names the content, children first (foreign keys).
CONTENT_TABLES: tuple[tuple[str, str], ...] = (
    *((table, "call_id") for table in reversed(TABLES) if table != "quarantine"),
    ("quarantine", "checksum"),
    ("landed_duplicates", "checksum"),
    ("landing_objects", "checksum"),
)


class ErasureError(Exception):
    """The request cannot be carried out as asked; the message says why and what to do."""


@dataclass
class Erasure:
    checksum: str
    erasure_id: int | None = None  # None: nothing was held any more (see `already`)
    erased_at: str | None = None
    executed_by: str | None = None
    partition_keys: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # "schema.table" -> rows deleted
    files: dict[str, int] = field(default_factory=dict)  # "landing" / "artifacts" / "rewritten" -> files
    already: list[int] = field(default_factory=list)  # earlier erasures of this content

    @property
    def removed(self) -> dict:
        return {"rows": self.rows, "files": self.files}


def resolve(conn, call_ids: list[str], source_uris: list[str]) -> list[str]:
    """The checksums to erase, in request order: call ids as given, source URIs (or local paths) looked up.

    Raises ErasureError naming every id or URI the platform has never held, before anything is erased."""
    found: list[str] = []
    unknown: list[str] = []
    with conn.cursor() as cur:
        for call_id in call_ids:
            checksum = call_id.strip().lower()
            if not CHECKSUM.match(checksum):
                raise ErasureError(
                    f"{call_id!r} is not a call id (the 64 hex digits of asr_raw.calls.call_id)"
                )
            if not (_held(cur, checksum) or _erased_before(cur, checksum)):
                unknown.append(call_id)
            found.append(checksum)
        for given in source_uris:
            cur.execute(read_sql("select_content_by_uri"), {"uri": _as_uri(given)})
            rows = [row[0] for row in cur.fetchall()]
            if not rows:
                unknown.append(given)
            found.extend(rows)
    conn.rollback()
    if unknown:
        raise ErasureError(
            "not known to the platform (never landed, or a typo): "
            + ", ".join(unknown)
            + "; nothing was erased. Call ids are asr_raw.calls.call_id; source URIs as in asr_raw.calls.source_uri"
        )
    return list(dict.fromkeys(found))


def erase(
    conn,
    checksum: str,
    *,
    requested_by: str,
    reason: str | None,
    landing_url: str,
    artifacts: Artifacts,
) -> Erasure:
    """Erase one content (call) in one transaction; see the module docstring. conn is committed here."""
    result = Erasure(checksum)
    try:
        with conn.cursor() as cur:
            cur.execute(read_sql("lock_erasures"))
            cur.execute(read_sql("lock_registry"))
            result.already = _erased_before(cur, checksum)
            cur.execute(read_sql("select_content_places"), {"checksum": checksum})
            places = cur.fetchall()
            result.partition_keys = sorted({key for key, _, _ in places if key is not None})
            cur.execute(read_sql("select_batches_in_flight"), {"partition_keys": result.partition_keys})
            busy = [row[0] for row in cur.fetchall()]
            if busy:
                raise ErasureError(
                    f"call {checksum}: batch {', '.join(busy)} has a run in progress that may write it again; "
                    "erase it again once the run has finished (`asr-assets ui` shows it)"
                )
            result.files = _remove_files(checksum, places, result.partition_keys, landing_url, artifacts)
            result.rows = _delete_rows(cur, checksum)
            for key in result.partition_keys:
                cur.execute(read_sql("upsert_batch_load"), {"partition_key": key})
            if places or any(result.rows.values()) or not result.already:
                cur.execute(
                    read_sql("insert_erasure"),
                    {
                        "checksum": checksum,
                        "partition_keys": result.partition_keys,
                        "requested_by": requested_by,
                        "reason": reason,
                        "removed": json.dumps(result.removed),
                    },
                )
                erasure_id, erased_at, executed_by = cur.fetchone()
                result.erasure_id, result.erased_at, result.executed_by = (
                    erasure_id,
                    str(erased_at),
                    executed_by,
                )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return result


def vacuum(dsn: str, tables: list[str]) -> None:
    """VACUUM the tables rows were deleted from, so the deleted rows' space is reclaimed (what a table file still
    holds until it is overwritten, WAL and backups are the documented limits). Its own connection: VACUUM cannot
    run inside a transaction. No ANALYZE: a call's rows change no statistic that matters, and ANALYZE samples
    30,000 pages of every table, of every month of a partitioned one (asr_raw.words, migration 0008), so its
    cost would grow with the archive. VACUUM skips the pages the visibility map marks all-visible: nearly all of
    a table that is mostly old batches (autovacuum analyzes)."""
    import psycopg2

    conn = psycopg2.connect(dsn, **settings.connect_options())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("set statement_timeout = 0")  # a large table's VACUUM outlasts the session's bound
            for name in tables:
                cur.execute(sql.SQL("vacuum {}").format(sql.Identifier(*name.split("."))))
    finally:
        conn.close()


def _held(cur, checksum: str) -> bool:
    cur.execute(read_sql("select_content_places"), {"checksum": checksum})
    return cur.fetchone() is not None


def _erased_before(cur, checksum: str) -> list[int]:
    cur.execute(
        "select erasure_id from asr_raw.erasures where checksum = %(c)s order by erasure_id", {"c": checksum}
    )
    return [row[0] for row in cur.fetchall()]


def _as_uri(given: str) -> str:
    """A source URI as the registry stores it; a plain path is made absolute (`file:///...`)."""
    if "://" in given:
        return given
    return f"file://{Path(given).expanduser().resolve()}"


def _delete_rows(cur, checksum: str) -> dict[str, int]:
    rows: dict[str, int] = {}
    cur.execute(read_sql("select_call_id_tables"), {"schemas": list(DBT_SCHEMAS)})
    dbt_tables = [(schema, table, "call_id") for schema, table in cur.fetchall()]
    for schema, table, column in [*dbt_tables, *((SCHEMA, t, c) for t, c in CONTENT_TABLES)]:
        cur.execute(
            sql.SQL(read_sql("delete_content_rows")).format(
                table=sql.Identifier(schema, table), column=sql.Identifier(column)
            ),
            {"checksum": checksum},
        )
        rows[f"{schema}.{table}"] = cur.rowcount
    cur.execute(read_sql("delete_landed_file"), {"checksum": checksum})
    rows[f"{SCHEMA}.landed_files"] = cur.rowcount
    return rows


def _remove_files(
    checksum: str,
    places: list[tuple],
    partition_keys: list[str],
    landing_url: str,
    artifacts: Artifacts,
) -> dict[str, int]:
    files: Counter[str] = Counter()
    for uri in dict.fromkeys(openable_uri(u, None if raw is None else bytes(raw)) for _, u, raw in places):
        if _owned_by_landing(uri, landing_url) and _delete_if_content(uri, checksum):
            files["landing"] += 1
    for key in partition_keys:
        fs, folder = fsspec.core.url_to_fs(artifacts.uri("raw_audio", key))
        for path in fs.glob(f"{folder}/{checksum}*"):
            fs.rm(path)
            files["artifacts"] += 1
        files["rewritten"] += _rewrite_manifest(artifacts, key, checksum)
        files["rewritten"] += _rewrite_transcripts(artifacts, key, checksum)
        files["reports"] += _remove_report(artifacts, key)
    files["reports"] += _remove_report(artifacts, "index")  # overall_report's page: rebuilt within the hour
    # Report pages written locally by `asr-assets report` list every batch's calls: removed, rebuilt on demand.
    for page in (settings.asr_home() / REPORTS).glob("*.html"):
        page.unlink()
        files["reports"] += 1
    return dict(files)


def _remove_report(artifacts: Artifacts, key: str) -> int:
    """The batch's report page lists its calls: removed (the batch's next materialisation writes it again)."""
    fs, path = fsspec.core.url_to_fs(artifacts.uri(REPORTS, f"{key}.html"))
    if not fs.exists(path):
        return 0
    fs.rm(path)
    return 1


def _owned_by_landing(uri: str, landing_url: str) -> bool:
    """True when uri is under the landing zone (the platform's folder or prefix), not someone's own folder."""
    landing_fs, root = fsspec.core.url_to_fs(landing_url)
    fs, path = fsspec.core.url_to_fs(uri)
    return type(fs) is type(landing_fs) and path.startswith(root.rstrip("/") + "/")


def _delete_if_content(uri: str, checksum: str) -> bool:
    """Delete the landing file if it still holds the erased content (a file replaced since is someone else's)."""
    try:
        if sha256_uri(uri) != checksum:
            return False
    except FileNotFoundError:
        return False
    fs, path = fsspec.core.url_to_fs(uri)
    fs.rm(path)
    return True


def _rewrite_manifest(artifacts: Artifacts, key: str, checksum: str) -> int:
    try:
        manifest = artifacts.read_json("raw_audio", key, MANIFEST)
    except FileNotFoundError:
        return 0
    kept = {
        part: [e for e in manifest.get(part, []) if e.get("checksum") != checksum]
        for part in ("calls", "quarantine")
    }
    if all(len(kept[p]) == len(manifest.get(p, [])) for p in kept):
        return 0
    artifacts.write_json({**manifest, **kept}, "raw_audio", key, MANIFEST)
    return 1


def _rewrite_transcripts(artifacts: Artifacts, key: str, checksum: str) -> int:
    try:
        lines = artifacts.read_bytes("transcripts", key, TRANSCRIPTS_FILE).decode().splitlines()
    except FileNotFoundError:
        return 0
    kept = [line for line in lines if line and json.loads(line).get("call_id") != checksum]
    if len(kept) == len([line for line in lines if line]):
        return 0
    artifacts.write_bytes(
        "".join(f"{line}\n" for line in kept).encode(), "transcripts", key, TRANSCRIPTS_FILE
    )
    return 1
