"""`python -m benchmarks pg-volume`: what one ingest batch costs PostgreSQL as asr_raw.words grows to bank volume.

Two designs side by side, each in a database of its own on the server given: `current` (migrations 0001-0007,
plain tables) and `partitioned` (every migration: 0008 partitions words and segments by month of their batch).
At each table size the history is generated server-side, then one new batch (200 calls, 2 channels, 700 words per
channel: 280,000 words) goes through the project's own code paths, timed:

  load    raw_tables.load_partition of the new batch (COPY into temp tables, delete, insert, one transaction)
  reload  the same batch loaded again: its rows deleted and inserted
  erase   erasure.erase of one of its calls (every raw and dbt table, as `asr-assets erase`), then erasure.vacuum
          of the tables an erasure of a built call touches
  dbt     `dbt build` as a batch run calls it (models and data tests), only this batch pending; in the current
          design its data tests read whole tables, as every build's did before (`test_whole_tables`)
  scan    the delete the marts' former delete+insert strategy added to a build, on fct_words (rolled back)

The history: batches of the same shape made by generate_series (foreign-key triggers off, the rows are consistent
by construction), dated one a day from 2026-01-01, so the partitioned design holds them in past months as a
running platform does; every measured batch is dated 2027-02-01. Their marts rows are the first batch's, which dbt
built, with call ids and batch keys replaced: every generated call has the same words, so they are what dbt would
build. Tables are VACUUM ANALYZEd after each growth step (autovacuum's job in production).

One file of ~600 lines, past the style guide's ~500: the generated data (GENERATE_SQL, batch_artifacts) and the
measurements are one benchmark, and the data's two halves must stay identical (benchmarks_tests checks them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extensions

DESIGNS = ("current", "partitioned")
CURRENT_LAST_MIGRATION = 7  # the design before 0008: plain tables
HISTORY_START = "2026-01-01"  # history batch b is dated HISTORY_START + b days
MEASURED_DAY = "20270201"  # every measured batch: a month no history batch is in
MEASURED_BASE = 900_000  # measured batches are numbered from here, history from 0
# Generated words: no digits, so redaction (fct_utterances) has nothing to replace.
WORDS = ("hello", "account", "card", "balance", "thank", "you", "please", "the", "transfer", "okay")  # fmt: skip
DEFAULT_ROWS = 20_000_000
DBT_MART_SCHEMA = "asr_marts"
# Without its own function the current design's schema cannot take today's raw_tables (which creates the batch's
# month partitions first): a no-op stands in for it there.
CURRENT_SHIM = """
create function asr_raw.create_month_partitions(batch_key text) returns void language sql as 'select'
"""


@dataclass(frozen=True)
class Shape:
    """One generated batch: calls x channels x words, the words grouped in segments that alternate channels."""

    calls: int = 200  # ASR_BATCH_MAX_FILES
    words_per_channel: int = 700
    words_per_segment: int = 20
    channels: int = 2
    word_s: float = 0.25
    word_step_s: float = 0.35

    @property
    def words_per_batch(self) -> int:  # 280,000 by default
        return self.calls * self.channels * self.words_per_channel

    @property
    def segments_per_channel(self) -> int:
        return -(-self.words_per_channel // self.words_per_segment)

    @property
    def slot_s(self) -> float:
        """A segment's slot: its words, then the other channel's turn (> min_pause_s: a span ends with it)."""
        return self.words_per_segment * self.word_step_s

    @property
    def duration_s(self) -> float:
        return self.channels * self.segments_per_channel * self.slot_s + 2.0


def batch_key(batch: int) -> str:
    """History batches one a day from HISTORY_START; measured batches (>= MEASURED_BASE) on MEASURED_DAY."""
    if batch >= MEASURED_BASE:
        return f"{MEASURED_DAY}-{batch:06d}"
    day = date.fromisoformat(HISTORY_START) + timedelta(days=batch)
    return f"{day:%Y%m%d}-{batch:06d}"


def call_id(batch: int, call: int) -> str:
    """sha256 hex, as the platform's call ids; the same formula as GENERATE_SQL's."""
    return hashlib.sha256(f"call-{batch}-{call}".encode()).hexdigest()


# History batches [first, last]; the shape's numbers and the key list come as parameters. Time of word w of
# channel ch: its segment s = w / words_per_segment takes slot 2s + ch, so channels take turns segment by segment.
GENERATE_SQL = """
create temp table gen_batches on commit drop as
select b, k as partition_key from unnest(%(batches)s::int[], %(keys)s::text[]) as t (b, k);
create temp table gen_calls on commit drop as
select g.partition_key, encode(sha256(convert_to('call-' || g.b || '-' || c, 'UTF8')), 'hex') as call_id
from gen_batches as g, generate_series(0, %(calls)s - 1) as c;
select asr_raw.create_month_partitions(partition_key) from gen_batches;
insert into asr_raw.calls (
    call_id, file_name, source_uri, partition_key, duration_s, sample_rate, channels, source_format, size_bytes,
    checksum, model_version, transcribed_at, language, language_source, model_name, suspect_reasons
)
select
    call_id, 'call.wav', 'file:///bench/' || call_id || '.wav', partition_key, %(duration_s)s, 8000,
    %(channels)s, 'WAV/ULAW', 8000000, call_id, 'bench-model', now(), 'en', 'folder', 'tiny.en', '{}'
from gen_calls;
insert into asr_raw.channels (call_id, channel, partition_key, duration_s, peak_dbfs, segment_count, word_count)
select call_id, ch, partition_key, %(duration_s)s, -3.0, %(segments)s, %(words)s
from gen_calls, generate_series(0, %(channels)s - 1) as ch;
insert into asr_raw.segments (
    call_id, channel, segment_index, partition_key, start_s, end_s, text, avg_logprob, no_speech_prob,
    compression_ratio, temperature
)
select
    call_id, ch, s, partition_key, (%(channels)s * s + ch) * %(slot_s)s,
    (%(channels)s * s + ch) * %(slot_s)s + (%(per_segment)s - 1) * %(step_s)s + %(word_s)s, 'generated words',
    -0.3, 0.01, 1.2, 0.0
from gen_calls, generate_series(0, %(channels)s - 1) as ch, generate_series(0, %(segments)s - 1) as s;
insert into asr_raw.words (
    call_id, channel, word_index, segment_index, partition_key, word, start_s, end_s, probability
)
select
    call_id, ch, w, w / %(per_segment)s, partition_key, ' ' || (%(vocabulary)s::text[])[1 + w %% %(n_words)s],
    (%(channels)s * (w / %(per_segment)s) + ch) * %(slot_s)s + (w %% %(per_segment)s) * %(step_s)s,
    (%(channels)s * (w / %(per_segment)s) + ch) * %(slot_s)s + (w %% %(per_segment)s) * %(step_s)s
        + %(word_s)s,
    0.5 + (w %% 50) / 100.0
from gen_calls, generate_series(0, %(channels)s - 1) as ch, generate_series(0, %(words)s - 1) as w;
insert into asr_raw.batch_loads (partition_key, loaded_at, call_count, quarantine_count)
select partition_key, now(), %(calls)s, 0 from gen_batches;
"""


def batch_artifacts(batch: int, shape: Shape) -> tuple[dict, list[dict]]:
    """raw_audio's manifest and the transcripts' records of one batch, with GENERATE_SQL's words."""
    calls, records = [], []
    for c in range(shape.calls):
        cid = call_id(batch, c)
        calls.append(
            {
                "call_id": cid, "checksum": cid, "file_name": "call.wav", "source_uri": f"file:///bench/{cid}.wav",
                "size_bytes": 8_000_000, "duration_s": shape.duration_s, "sample_rate": 8000,
                "channels": shape.channels, "source_format": "WAV/ULAW", "peak_dbfs": [-3.0] * shape.channels,
            }
        )  # fmt: skip
        segments = []
        for ch in range(shape.channels):
            for s in range(shape.segments_per_channel):
                start = (shape.channels * s + ch) * shape.slot_s
                first = s * shape.words_per_segment
                words = [  # rounded as PostgreSQL's numeric arithmetic in GENERATE_SQL leaves them
                    {
                        "word": f" {WORDS[w % len(WORDS)]}",
                        "start": round(start + (w - first) * shape.word_step_s, 6),
                        "end": round(start + (w - first) * shape.word_step_s + shape.word_s, 6),
                        "probability": round(0.5 + (w % 50) / 100.0, 6),
                    }
                    for w in range(first, min(first + shape.words_per_segment, shape.words_per_channel))
                ]
                segments.append(
                    {
                        "channel": ch, "start": start, "end": words[-1]["end"], "text": "generated words",
                        "words": words, "avg_logprob": -0.3, "no_speech_prob": 0.01, "compression_ratio": 1.2,
                        "temperature": 0.0,
                    }
                )  # fmt: skip
        records.append(
            {
                "call_id": cid, "model_version": "bench-model", "transcribed_at": "2027-02-01T00:00:00+00:00",
                "language": "en", "language_source": "folder", "model_name": "tiny.en", "segments": segments,
            }
        )  # fmt: skip
    return {"calls": calls, "quarantine": []}, records


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


def execute(dsn: str, statement: str, params: dict | None = None, autocommit: bool = False) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    conn.autocommit = autocommit
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else []
        if not autocommit:
            conn.commit()
        return rows
    finally:
        conn.close()


def generate_history(dsn: str, first: int, count: int, shape: Shape) -> None:
    """History batches [first, first + count) in one transaction; foreign-key triggers off where the role may."""
    batches = list(range(first, first + count))
    params = {
        "batches": batches, "keys": [batch_key(b) for b in batches], "calls": shape.calls,
        "channels": shape.channels, "words": shape.words_per_channel, "segments": shape.segments_per_channel,
        "per_segment": shape.words_per_segment, "slot_s": shape.slot_s, "step_s": shape.word_step_s,
        "word_s": shape.word_s, "duration_s": shape.duration_s, "vocabulary": list(WORDS), "n_words": len(WORDS),
    }  # fmt: skip
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select rolsuper from pg_roles where rolname = current_user")
            if cur.fetchone()[0]:
                cur.execute("set local session_replication_role = replica")
            cur.execute(GENERATE_SQL, params)
    finally:
        conn.close()


def replicate_marts(dsn: str, template: int, batches: list[int], shape: Shape) -> None:
    """The batches' rows in every incremental mart: the template batch's rows with call ids (and ids made of
    them) and batch keys replaced, batch_loaded_at the batch's load (so dbt finds them built)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "create temp table gen_map (template_id text, call_id text, partition_key text) on commit drop"
            )
            cur.executemany(
                "insert into gen_map values (%s, %s, %s)",
                [
                    (call_id(template, c), call_id(b, c), batch_key(b))
                    for b in batches
                    for c in range(shape.calls)
                ],
            )
            cur.execute(
                "select c.table_name, array_agg(c.column_name::text order by c.ordinal_position),"
                " array_agg(c.data_type::text order by c.ordinal_position)"
                " from information_schema.columns as c"
                " inner join information_schema.tables as t using (table_schema, table_name)"
                " where c.table_schema = %s and t.table_type = 'BASE TABLE'"
                " group by c.table_name having bool_or(c.column_name = 'batch_loaded_at')",
                (DBT_MART_SCHEMA,),
            )
            for table, columns, types in cur.fetchall():
                values = [_replicated(column, kind) for column, kind in zip(columns, types, strict=True)]
                cur.execute(
                    f"insert into {DBT_MART_SCHEMA}.{table} ({', '.join(columns)})"  # noqa: S608 - catalog names
                    f" select {', '.join(values)} from {DBT_MART_SCHEMA}.{table} as t"
                    " inner join gen_map as m on m.template_id = t.call_id"
                    " inner join asr_raw.batch_loads as l on l.partition_key = m.partition_key"
                )
    finally:
        conn.close()


def _replicated(column: str, kind: str) -> str:
    if column == "partition_key":
        return "m.partition_key"
    if column == "batch_loaded_at":
        return "l.loaded_at"
    if column == "call_id":
        return "m.call_id"
    if column.endswith("_id") and kind == "text":  # word_id, utterance_id, talk_span_id: call_id:...
        return f"replace(t.{column}, m.template_id, m.call_id)"
    return f"t.{column}"


def vacuum_analyze(dsn: str) -> None:
    execute(dsn, "vacuum (analyze)", autocommit=True)


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


@contextmanager
def scratch_home() -> Iterator[Path]:
    """ASR_HOME and the artifact store in a temp folder: an erasure removes report pages there, not the user's."""
    from asr_assets import settings

    home = Path(tempfile.mkdtemp(prefix="pg-volume-"))
    try:
        with settings.environ_overrides({"ASR_HOME": str(home), "ASR_STORAGE_URL": str(home / "artifacts")}):
            yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """A fresh database `name` on the server (dropped first if it exists); its libpq URL."""
    from asr_assets import settings

    admin = settings.libpq_url(server_url)
    execute(admin, f'drop database if exists "{name}" with (force)', autocommit=True)
    execute(admin, f'create database "{name}"', autocommit=True)
    return named_database_url(server_url, name)


def named_database_url(server_url: str, name: str) -> str:
    """The libpq URL of database `name` on the server. The path is replaced, not cut at its last "/": the embedded
    server's URL names its socket folder in the query (?host=/tmp/...), which has slashes of its own."""
    from asr_assets import settings

    return urlunsplit(urlsplit(settings.libpq_url(server_url))._replace(path=f"/{name}"))


def drop_database(server_url: str, name: str) -> None:
    from asr_assets import settings

    execute(settings.libpq_url(server_url), f'drop database if exists "{name}" with (force)', autocommit=True)


def apply_design(dsn: str, design: str, scratch: Path) -> None:
    """The design's schema through the real migration runner: every migration, or those up to 0007."""
    from asr_assets.platform.sql.migrate import MIGRATIONS_DIR, list_migrations, migrate

    if design == "partitioned":
        migrate(dsn)
        return
    folder = scratch / "migrations_current"
    folder.mkdir(exist_ok=True)
    for migration in list_migrations():
        if migration.version <= CURRENT_LAST_MIGRATION:
            shutil.copy(MIGRATIONS_DIR / migration.path.name, folder / migration.path.name)
    migrate(dsn, folder)
    execute(dsn, CURRENT_SHIM)


def table_words(dsn: str) -> int:
    return execute(dsn, "select count(*) from asr_raw.words")[0][0]


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


def sizes_for(rows: int, steps: int = 4) -> list[int]:
    """0 and `steps - 1` sizes up to rows, evenly spaced (default 0, 5 M, 10 M, 20 M... of 20 M: 0, ¼, ½, all)."""
    return [0, *(rows >> (steps - 1 - i) for i in range(1, steps))] if steps > 1 else [rows]


def run_pg_volume(
    server_url: str,
    rows: int = DEFAULT_ROWS,
    sizes: list[int] | None = None,
    shape: Shape = Shape(),
    prefix: str = "asr_pg_volume",
    keep: bool = False,
    upgrade: bool = True,
    progress: Callable[[str], None] = print,
) -> dict:
    """Both designs at every size (interleaved: both measured at one size before either grows); see the module
    docstring. Returns the report (figures per design and size, ratios largest size / first)."""
    sizes = sorted(sizes if sizes is not None else sizes_for(rows))
    report: dict = {
        "shape": asdict(shape) | {"words_per_batch": shape.words_per_batch},
        "sizes": sizes,
        "load_1min_before": os.getloadavg()[0],
        "designs": {d: [] for d in DESIGNS},
        "setup_s": {},
    }
    names = {design: f"{prefix}_{design}" for design in DESIGNS}
    next_history = dict.fromkeys(DESIGNS, 0)
    with scratch_home() as scratch:
        dsns = {}
        for design in DESIGNS:
            start = time.perf_counter()
            dsns[design] = create_database(server_url, names[design])
            apply_design(dsns[design], design, scratch)
            # The template batch (number 0): its marts, built by dbt, are copied for every later history batch.
            generate_history(dsns[design], 0, 1, shape)
            run_dbt(dsns[design], scratch / f"target_{design}")
            next_history[design] = 1
            report["setup_s"][design] = round(time.perf_counter() - start, 1)
        try:
            for stage, size in enumerate(sizes):
                for design in DESIGNS:
                    dsn = dsns[design]
                    have = table_words(dsn)
                    count = max(0, -(-(size - have) // shape.words_per_batch))
                    start = time.perf_counter()
                    for first in range(next_history[design], next_history[design] + count, 8):
                        chunk = list(range(first, min(first + 8, next_history[design] + count)))
                        generate_history(dsn, chunk[0], len(chunk), shape)
                        replicate_marts(dsn, 0, chunk, shape)
                    next_history[design] += count
                    vacuum_analyze(dsn)
                    grow_s = time.perf_counter() - start
                    progress(
                        f"{design}: {table_words(dsn):,} words ({grow_s:.0f} s to grow); measuring a batch"
                    )
                    figures = measure_batch(
                        dsn, design, MEASURED_BASE + stage, shape, scratch, scratch / f"target_{design}"
                    )
                    figures["grow_s"] = round(grow_s, 1)
                    report["designs"][design].append(figures)
                    progress(format_figures(design, figures))
            if upgrade:
                start = time.perf_counter()
                from asr_assets.platform.sql.migrate import migrate

                execute(dsns["current"], "drop function asr_raw.create_month_partitions(text)")  # the shim
                applied = migrate(dsns["current"])
                report["upgrade"] = {
                    "migrations": applied,
                    "table_words": table_words(dsns["current"]),
                    "s": round(time.perf_counter() - start, 1),
                }
                progress(f"upgrade of the current design (migrations {applied}): {report['upgrade']['s']} s")
        finally:
            if not keep:
                for name in names.values():
                    drop_database(server_url, name)
    report["load_1min_after"] = os.getloadavg()[0]
    report["ratios"] = ratios(report)
    return report


RATIO_FIGURES = {
    "load_s": lambda f: f["load"]["s"],
    "reload_s": lambda f: f["reload"]["s"],
    "erase_s": lambda f: f["erase"]["s"],
    "erase_vacuum_s": lambda f: f["erase"]["vacuum_s"],
    "dbt_s": lambda f: f["dbt"]["s"],
    "dbt_models_s": lambda f: f["dbt"]["models_s"],
    "dbt_tests_s": lambda f: f["dbt"]["tests_s"],
    "mart_scan_delete_s": lambda f: f["mart_scan_delete_s"],
}


def ratios(report: dict) -> dict:
    """Each figure at the largest size / at the first, per design."""
    out = {}
    for design, stages in report["designs"].items():
        if len(stages) >= 2:
            first, last = stages[0], stages[-1]
            out[design] = {
                name: round(get(last) / get(first), 2) if get(first) else None
                for name, get in RATIO_FIGURES.items()
            }
    return out


def format_figures(design: str, f: dict) -> str:
    return (
        f"{design:>11} {f['table_words']:>12,} words: load {f['load']['s']:6.2f} s "
        f"({f['load']['words_per_s']:,} words/s), reload {f['reload']['s']:6.2f} s, erase {f['erase']['s']:5.2f} s "
        f"+ vacuum {f['erase']['vacuum_s']:5.2f} s, dbt build {f['dbt']['s']:6.1f} s (models "
        f"{f['dbt']['models_s']:.1f}, tests {f['dbt']['tests_s']:.1f}), scan delete {f['mart_scan_delete_s']:.2f} s;"
        f" load avg {f['load_1min']:.1f}"
    )


def format_report(report: dict) -> str:
    lines = [
        f"{'design':>11} {'words':>12} {'load s':>7} {'words/s':>9} {'reload s':>9} {'erase s':>8} "
        f"{'vacuum s':>9} {'dbt s':>7} {'models s':>9} {'tests s':>8} {'scan s':>7} {'load avg':>8}"
    ]
    for design, stages in report["designs"].items():
        for f in stages:
            lines.append(
                f"{design:>11} {f['table_words']:>12,} {f['load']['s']:>7.2f} {f['load']['words_per_s']:>9,} "
                f"{f['reload']['s']:>9.2f} {f['erase']['s']:>8.2f} {f['erase']['vacuum_s']:>9.2f} "
                f"{f['dbt']['s']:>7.1f} {f['dbt']['models_s']:>9.1f} {f['dbt']['tests_s']:>8.1f} "
                f"{f['mart_scan_delete_s']:>7.2f} {f['load_1min']:>8.1f}"
            )
    for design, r in report.get("ratios", {}).items():
        lines.append(f"{design}: largest / first size: " + ", ".join(f"{k} {v}" for k, v in r.items()))
    if "upgrade" in report:
        u = report["upgrade"]
        lines.append(f"upgrade (migrations {u['migrations']}) of {u['table_words']:,} words: {u['s']} s")
    return "\n".join(lines)
