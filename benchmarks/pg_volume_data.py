"""The pg-volume benchmark's batches: their shape, keys and call ids, the history generated server-side
(GENERATE_SQL, generate_history), the marts rows copied for it (replicate_marts) and a measured batch's files as the
ingest steps write them (batch_artifacts).

GENERATE_SQL and batch_artifacts make the same rows (but their keys): the history stands for batches the load path
built, so the two halves are kept side by side here, and benchmarks_tests/test_pg_volume.py checks they match.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg2

HISTORY_START = "2026-01-01"  # history batch b is dated HISTORY_START + b days
MEASURED_DAY = "20270201"  # every measured batch: a month no history batch is in
MEASURED_BASE = 900_000  # measured batches are numbered from here, history from 0
# Generated words: no digits, so redaction (fct_utterances) has nothing to replace.
WORDS = ("hello", "account", "card", "balance", "thank", "you", "please", "the", "transfer", "okay")  # fmt: skip
DBT_MART_SCHEMA = "asr_marts"


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
