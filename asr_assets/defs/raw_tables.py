"""asr_raw.calls / channels / segments / words / quarantine, loaded per partition.

Each table's rows for the batch are COPYed into a temp table first (a bad row fails before anything is deleted),
then, in the same transaction, the partition's old rows are deleted and the new ones inserted. A rerun or a retry
therefore replaces the batch's rows and never duplicates them, and a step that dies half-way leaves nothing
behind. The same transaction records the load in asr_raw.batch_loads, which the marts follow (an emptied batch
included), and drops the rows of content erased on request (asr_raw.erasures), so an old artifact or a retried
run cannot bring an erased call back. Tables are created by the migrations in platform/sql/migrations, never here.
"""

import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg
from psycopg2 import sql

from asr_assets import settings
from asr_assets.defs.partitions import OWNERS, ingest_batches
from asr_assets.defs.raw_audio import raw_audio
from asr_assets.defs.resources import ArtifactStoreResource, PostgresResource
from asr_assets.defs.transcripts import transcripts
from asr_assets.platform import ingest_checks
from asr_assets.platform.artifacts import MANIFEST, TRANSCRIPTS_FILE
from asr_assets.platform.raw_schema import BATCH_LOADS, COLUMNS, SCHEMA, TABLES
from asr_assets.platform.sql import read_sql

# The PostgreSQL types of raw_schema.COLUMNS (the migrations' DDL), for the column schema the UI shows on each asset.
COLUMN_TYPES = {
    "call_id": "text", "file_name": "text", "source_uri": "text", "partition_key": "text",
    "duration_s": "double precision", "sample_rate": "integer", "channels": "smallint", "source_format": "text",
    "size_bytes": "bigint", "checksum": "text", "model_version": "text", "transcribed_at": "timestamptz",
    "language": "text", "language_source": "text", "language_probability": "double precision",
    "model_name": "text", "decoding": "jsonb", "suspect_reasons": "text[]", "channel": "smallint",
    "peak_dbfs": "double precision", "segment_count": "integer", "word_count": "integer",
    "segment_index": "integer", "start_s": "double precision", "end_s": "double precision", "text": "text",
    "avg_logprob": "double precision", "no_speech_prob": "double precision",
    "compression_ratio": "double precision", "temperature": "double precision", "word_index": "integer",
    "word": "text", "probability": "double precision", "reason_code": "text", "reason": "text",
}  # fmt: skip
CONTENT_COLUMN = {table: "checksum" if table == "quarantine" else "call_id" for table in TABLES}  # = sha256
Rows = dict[str, list[tuple[Any, ...]]]


def build_rows(partition_key: str, manifest: dict, records: Iterable[dict]) -> Rows:
    """Rows of every table for one partition, from raw_audio's manifest and the transcripts' JSON lines."""
    rows: Rows = {table: [] for table in TABLES}
    by_id = {r["call_id"]: r for r in records}
    for call in manifest["calls"]:
        record = by_id[call["call_id"]]
        rows["calls"].append(
            (
                call["call_id"], call["file_name"], call["source_uri"], partition_key, call["duration_s"],
                call["sample_rate"], call["channels"], call["source_format"], call["size_bytes"],
                call["checksum"], record["model_version"], record["transcribed_at"], record.get("language"),
                record.get("language_source"), record.get("language_probability"), record.get("model_name"),
                json.dumps(record["decoding"]) if record.get("decoding") else None,
                pg_text_array(record.get("suspect_reasons", [])),
            )
        )  # fmt: skip
        for channel in range(call["channels"]):
            segments = [s for s in record["segments"] if s["channel"] == channel]
            n_words = 0
            for seg_index, s in enumerate(segments):
                rows["segments"].append(
                    (
                        call["call_id"], channel, seg_index, partition_key, s["start"], s["end"], s["text"],
                        s["avg_logprob"], s["no_speech_prob"], s.get("compression_ratio"), s.get("temperature"),
                    )
                )  # fmt: skip
                for w in s["words"]:
                    rows["words"].append(
                        (
                            call["call_id"], channel, n_words, seg_index, partition_key, w["word"], w["start"],
                            w["end"], w["probability"],
                        )
                    )  # fmt: skip
                    n_words += 1
            peak = call["peak_dbfs"][channel] if channel < len(call["peak_dbfs"]) else None
            rows["channels"].append(
                (call["call_id"], channel, partition_key, call["duration_s"], peak, len(segments), n_words)
            )
    for q in manifest["quarantine"]:
        rows["quarantine"].append(
            (
                q["checksum"], q["file_name"], q["source_uri"], partition_key, q["reason_code"], q["reason"],
                q["size_bytes"],
            )
        )  # fmt: skip
    return rows


def pg_text_array(codes: Sequence[str]) -> str:
    """A text[] literal of reason codes (identifiers from asr/hallucination.py: nothing to quote)."""
    if any(not c.isidentifier() for c in codes):
        raise ValueError(f"reason codes must be identifiers: {codes}")
    return "{" + ",".join(codes) + "}"


def _copy_field(value: Any) -> str:
    """One field of COPY's text format: \\N for NULL, backslash escapes for the separators."""
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_text(rows: Sequence[tuple[Any, ...]]) -> io.StringIO:
    return io.StringIO("".join("\t".join(_copy_field(v) for v in row) + "\n" for row in rows))


def load_partition(conn, partition_key: str, rows: Rows) -> None:
    """Replace the partition's rows in every table, in the caller's transaction (conn is not committed here)."""
    names = {
        table: {
            "table": sql.Identifier(SCHEMA, table),
            "temp": sql.Identifier(f"load_{table}"),
            "columns": sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table])),
        }
        for table in TABLES
    }
    with conn.cursor() as cur:
        cur.execute(read_sql("lock_partition_load"), {"partition_key": partition_key})
        cur.execute(read_sql("create_month_partitions"), {"partition_key": partition_key})
        for table in TABLES:
            cur.execute(sql.SQL(read_sql("create_temp_table")).format(**names[table]))
            cur.copy_expert(
                sql.SQL(read_sql("copy_into_temp")).format(**names[table]).as_string(cur),
                copy_text(rows[table]),
            )
        cur.execute(read_sql("lock_erasures_shared"))  # an erasure committing meanwhile is seen below
        for table in TABLES:
            cur.execute(
                sql.SQL(read_sql("drop_erased_from_temp")).format(
                    temp=names[table]["temp"], column=sql.Identifier(CONTENT_COLUMN[table])
                )
            )
        for table in reversed(TABLES):
            cur.execute(
                sql.SQL(read_sql("delete_partition")).format(table=sql.Identifier(SCHEMA, table)),
                {"partition_key": partition_key},
            )
        for table in TABLES:
            cur.execute(sql.SQL(read_sql("insert_from_temp")).format(**names[table]))
        cur.execute(read_sql("upsert_batch_load"), {"partition_key": partition_key})


@dg.multi_asset(
    specs=[
        *(
            dg.AssetSpec(
                [SCHEMA, table],
                deps=[raw_audio if table == "quarantine" else transcripts],
                description=f"{SCHEMA}.{table} in PostgreSQL; rows of each ingest batch replaced as a unit.",
                kinds={"postgres"},
                group_name="ingest",
                owners=OWNERS,
                tags={"layer": "raw"},
                metadata={
                    "dagster/table_name": f"{SCHEMA}.{table}",
                    "dagster/column_schema": dg.TableSchema(
                        columns=[dg.TableColumn(c, COLUMN_TYPES[c]) for c in COLUMNS[table]]
                    ),
                },
            )
            for table in TABLES
        ),
        dg.AssetSpec(
            [SCHEMA, BATCH_LOADS],
            deps=[raw_audio, transcripts],
            description=f"{SCHEMA}.{BATCH_LOADS}: one row per ingest batch, its last load (time, calls, "
            "quarantined files); the marts rebuild or empty a batch when it changes.",
            kinds={"postgres"},
            group_name="ingest",
        ),
    ],
    partitions_def=ingest_batches,
    name="raw_tables",
    check_specs=ingest_checks.check_specs(
        dg.AssetKey([SCHEMA, "calls"]), dg.AssetKey([SCHEMA, "quarantine"]), dg.AssetKey([SCHEMA, "words"])
    ),
)
def raw_tables(
    context: dg.AssetExecutionContext, postgres: PostgresResource, artifacts: ArtifactStoreResource
) -> Iterable[dg.MaterializeResult | dg.AssetCheckResult]:
    """Load the batch into asr_raw.* with COPY, replacing its rows in one transaction."""
    key = context.partition_key
    manifest = artifacts.read_json("raw_audio", key, MANIFEST)
    lines = artifacts.read_bytes("transcripts", key, TRANSCRIPTS_FILE).decode().splitlines()
    records = [json.loads(line) for line in lines if line]
    rows = build_rows(key, manifest, records)
    with postgres.connect() as conn:
        load_partition(conn, key, rows)
    context.log.info(", ".join(f"{SCHEMA}.{t}: {len(rows[t])} rows" for t in TABLES))
    for table in TABLES:
        yield dg.MaterializeResult(
            asset_key=[SCHEMA, table], metadata={"dagster/row_count": len(rows[table])}
        )
    yield dg.MaterializeResult(
        asset_key=[SCHEMA, BATCH_LOADS],
        metadata={"calls": len(rows["calls"]), "quarantined": len(rows["quarantine"])},
    )
    # Evaluated on what was committed (another transaction), so they see what the marts will read.
    artifact_words = {r["call_id"]: sum(len(s["words"]) for s in r["segments"]) for r in records}
    files = len(manifest["calls"]) + len(manifest["quarantine"])
    quarantined = [(q["file_name"], q["reason_code"]) for q in manifest["quarantine"]]
    with postgres.connect() as conn, conn.cursor() as cur:
        yield ingest_checks.accounted(cur, dg.AssetKey([SCHEMA, "calls"]), key)
        yield ingest_checks.quarantine_share(
            dg.AssetKey([SCHEMA, "quarantine"]), files, quarantined, settings.current().max_quarantine_pct
        )
        yield ingest_checks.consistent(cur, dg.AssetKey([SCHEMA, "words"]), key, artifact_words)
