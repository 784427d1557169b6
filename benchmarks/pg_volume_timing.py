"""The pg-volume benchmark's measurements of one new batch, each through the project's own code path: its load
and reloads (raw_tables.load_partition, time per kind of statement), the erasure of one of its calls and the
vacuum after it, `dbt build` as a batch run calls it, and the delete the marts' former strategy added."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg2
import psycopg2.extensions

from benchmarks.pg_volume_data import Shape, batch_artifacts, batch_key, call_id
from benchmarks.pg_volume_designs import table_words


class TimedCursor(psycopg2.extensions.cursor):
    """Adds each statement's wall time to `phases` by kind (copy, delete, insert, other)."""

    phases: dict[str, float] = defaultdict(float)

    def execute(self, query, vars=None):  # noqa: A002 - psycopg2's name
        start = time.perf_counter()
        try:
            return super().execute(query, vars)
        finally:
            TimedCursor.phases[_kind(query if isinstance(query, str) else query.as_string(self))] += (
                time.perf_counter() - start
            )

    def copy_expert(self, sql, file, size=8192):
        start = time.perf_counter()
        try:
            return super().copy_expert(sql, file, size)
        finally:
            TimedCursor.phases["copy"] += time.perf_counter() - start


def _kind(statement: str) -> str:
    """delete / insert when the statement changes an asr_raw table (not a temp table), else other."""
    code = [line for line in statement.splitlines() if line.strip() and not line.lstrip().startswith("--")]
    words = code[0].split() if code else []
    if (
        len(words) > 2
        and words[0].lower() in ("delete", "insert")
        and words[2].lstrip('"').startswith("asr_raw")
    ):
        return words[0].lower()
    return "other"


def timed_load(dsn: str, key: str, rows: dict) -> dict:
    """raw_tables.load_partition in its own transaction, committed: seconds and the phases'."""
    from asr_assets.defs.raw_tables import load_partition

    TimedCursor.phases.clear()
    conn = psycopg2.connect(dsn, cursor_factory=TimedCursor)
    try:
        start = time.perf_counter()
        with conn:
            load_partition(conn, key, rows)
        seconds = time.perf_counter() - start
    finally:
        conn.close()
    phases = {name: round(s, 3) for name, s in TimedCursor.phases.items()}
    phases["commit"] = round(seconds - sum(TimedCursor.phases.values()), 3)
    return {"s": round(seconds, 3), "words_per_s": round(len(rows["words"]) / seconds), "phases": phases}


@dataclass
class DbtRun:
    s: float
    models_s: float
    tests_s: float
    slowest: list[tuple[str, float]]


def run_dbt(dsn: str, target: Path, whole_tables: bool = False) -> DbtRun:
    """`dbt build` as a batch run calls it (asr_assets.defs.dbt.BUILD_ARGS), timed, with its nodes' times.
    whole_tables: its data tests read whole tables, as every build's did before issue 19."""
    from asr_assets.defs.dbt import BUILD_ARGS, DBT_PROJECT_DIR, dbt_connection, dbt_executable

    env = {
        **os.environ,
        **dbt_connection(dsn).env(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_LOG_PATH": str(target / "logs"),
        "DBT_TARGET_PATH": str(target),
    }
    command = [
        dbt_executable(), *BUILD_ARGS, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        *(["--vars", "{test_whole_tables: true}"] if whole_tables else []),
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"dbt build failed ({result.returncode}):\n{result.stdout[-6000:]}{result.stderr}")
    nodes = json.loads((target / "run_results.json").read_text())["results"]
    times = [(n["unique_id"], n["execution_time"]) for n in nodes]
    return DbtRun(
        s=round(seconds, 3),
        models_s=round(sum(t for uid, t in times if uid.startswith("model.")), 3),
        tests_s=round(sum(t for uid, t in times if uid.startswith("test.")), 3),
        slowest=[(uid.split(".")[2], round(t, 3)) for uid, t in sorted(times, key=lambda x: -x[1])[:5]],
    )


def timed_erase(dsn: str, checksum: str, scratch: Path) -> dict:
    """erasure.erase of one call, then erasure.vacuum of what an erasure of a built call touches."""
    from asr_assets.defs.resources import ArtifactStoreResource
    from asr_assets.platform import erasure
    from asr_assets.platform.sql import read_sql

    conn = psycopg2.connect(dsn)
    try:
        start = time.perf_counter()
        result = erasure.erase(
            conn, checksum, requested_by="pg-volume benchmark", reason=None,
            landing_url=(scratch / "landing").as_uri(), artifacts=ArtifactStoreResource(url=(scratch / "artifacts").as_uri()),
        )  # fmt: skip
        erase_s = time.perf_counter() - start
        with conn.cursor() as cur:
            cur.execute(read_sql("select_call_id_tables"), {"schemas": list(erasure.DBT_SCHEMAS)})
            dbt_tables = [f"{schema}.{table}" for schema, table in cur.fetchall()]
        conn.commit()
    finally:
        conn.close()
    touched = sorted({name for name, n in result.rows.items() if n} | set(dbt_tables))
    vacuumed = {}
    for table in touched:  # one at a time, as erasure.vacuum does them, to see which one costs
        start = time.perf_counter()
        erasure.vacuum(dsn, [table])
        vacuumed[table] = round(time.perf_counter() - start, 3)
    return {
        "s": round(erase_s, 3),
        "vacuum_s": round(sum(vacuumed.values()), 3),
        "rows": sum(result.rows.values()),
        "vacuumed": vacuumed,
    }


def measure_batch(dsn: str, design: str, batch: int, shape: Shape, scratch: Path, target: Path) -> dict:
    """Load, reload (twice: the faster counts, the machine is shared), erase one call of, and build the marts of
    one new batch; every figure timed. The current design's build tests whole tables, as before issue 19."""
    from asr_assets.defs.raw_tables import build_rows

    key = batch_key(batch)
    manifest, records = batch_artifacts(batch, shape)
    rows = build_rows(key, manifest, records)
    figures: dict = {"batch": key, "table_words": table_words(dsn), "load_1min": os.getloadavg()[0]}
    figures["load"] = timed_load(dsn, key, rows)
    reloads = [timed_load(dsn, key, rows) for _ in range(2)]
    figures["reload"] = min(reloads, key=lambda r: r["s"]) | {"runs_s": [r["s"] for r in reloads]}
    figures["erase"] = timed_erase(dsn, call_id(batch, 0), scratch)
    figures["dbt"] = asdict(run_dbt(dsn, target, whole_tables=design == "current"))
    figures["mart_scan_delete_s"] = timed_scan_delete(dsn, key)
    figures["load_1min_after"] = os.getloadavg()[0]
    return figures


def timed_scan_delete(dsn: str, key: str) -> float:
    """What the marts' former incremental strategy (delete+insert) added to a build, on the largest mart: its
    `delete ... where partition_key in (select distinct partition_key from <the new rows>)`, which PostgreSQL plans
    as a scan of the whole mart. Timed on a copy of the batch's fct_words rows, rolled back."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "create temp table new_rows on commit drop as"
                " select * from asr_marts.fct_words where partition_key = %s",
                (key,),
            )
            start = time.perf_counter()
            cur.execute(
                "delete from asr_marts.fct_words where (partition_key) in"
                " (select distinct partition_key from new_rows)"
            )
            seconds = time.perf_counter() - start
        conn.rollback()
    finally:
        conn.close()
    return round(seconds, 3)
