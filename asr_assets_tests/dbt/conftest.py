"""dbt_transcripts against a real PostgreSQL: a database of its own per server, migrated, with raw rows of
known timing loaded the way raw_tables loads them (one transaction per batch, replacing the batch's rows).

No __init__.py in this folder on purpose: it would make `dbt` a package of the test tree and shadow dbt-core.
"""

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster_dbt import DbtCliResource

from asr_assets import settings
from asr_assets.defs import dbt as dbt_defs
from asr_assets.defs.dbt import DBT_PROJECT_DIR, dbt_connection, dbt_executable
from asr_assets.defs.resources import PostgresResource
from asr_assets.platform.sql import read_sql
from asr_assets.platform.sql.migrate import migrate
from asr_assets_tests.conftest import DATABASE_PARAMS, database_server, query_rows, throwaway_database

SPOKEN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class RawCall:
    """A call as the raw tables hold it; words are (channel, word, start_s, end_s, probability)."""

    call_id: str
    duration_s: float
    channels: int
    words: tuple[tuple[int, str, float, float, float], ...] = ()
    model_version: str = "m-tiny"
    file_name: str = field(default="")


def spoken(digits: str, channel: int, start_s: float, word_s: float = 0.3, gap_s: float = 0.05):
    """Words of a number read out digit by digit ("four," "five," ...), as Whisper writes it."""
    words = []
    for i, d in enumerate(digits):
        begin = round(start_s + i * (word_s + gap_s), 3)
        words.append((channel, f" {SPOKEN_DIGITS[int(d)]},", begin, round(begin + word_s, 3), 0.9))
    return words


def timed(channel: int, text: str, start_s: float, word_s: float, probability: float = 0.9):
    """Back-to-back words of one phrase, each word_s long."""
    return [
        (channel, f" {w}", round(start_s + i * word_s, 3), round(start_s + (i + 1) * word_s, 3), probability)
        for i, w in enumerate(text.split())
    ]


# Call A, two channels, 21 s. Agent (0) spans 0.5-1.9, 9.1-9.6, 13.0-14.3 = 3.2 s; customer (1) 2.5-9.35 (a
# card number read out) and 15.0-16.6 = 8.45 s; both speak 9.1-9.35 = 0.25 s; anyone speaks 11.4 s, so
# silence is 9.6 s and the longest silence the 4.4 s after the last word. Turns: A, C, A, A (after a 3.4 s
# hold), C = 5.
CALL_A = RawCall(
    "call-a",
    21.0,
    2,
    tuple(
        timed(0, "Hello, how can I help?", 0.5, 0.28)
        + timed(1, "My card number is", 2.5, 0.3)[:3]
        + [(1, " is", 3.4, 3.6, 0.9)]
        + spoken("4532015112830366", 1, 3.8)
        + [(0, " Thank", 9.1, 9.3, 0.9), (0, " you.", 9.3, 9.6, 0.4)]
        + timed(0, "I have cancelled it.", 13.0, 0.325)
        + [
            (1, " Thanks,", 15.0, 15.4, 0.9),
            (1, " it's", 15.4, 15.6, 0.2),
            (1, " jane.doe@example.com", 15.6, 16.6, 0.3),
        ]
    ),
)
# Call B, mono, 12 s: "Please call me on plus four four two zero ..." then, after 2.5 s, "thanks."
# Talk 0.5-5.5 and 8.0-8.5 = 5.5 s, all agent; no customer, no overlap; silence 6.5 s, longest 3.5 s; 2 turns.
CALL_B = RawCall(
    "call-b",
    12.0,
    1,
    tuple(
        timed(0, "Please call me on", 0.5, 0.25)
        + [(0, " plus", 1.6, 1.9, 0.9)]
        + spoken("442079460958", 0, 1.95, word_s=0.25)
        + [(0, " thanks.", 8.0, 8.5, 0.9)]
    ),
)
# Call C: two channels, 5 s, nothing said.
CALL_C = RawCall("call-c", 5.0, 2, (), model_version="m-base")
# Call D (a later batch): the customer wants to cancel a mortgage.
CALL_D = RawCall(
    "call-d",
    8.0,
    2,
    tuple(timed(1, "I want to cancel my mortgage.", 0.5, 0.4) + timed(0, "Of course.", 3.5, 0.4)),
)
EXPECTED = {
    "call-a": {"agent_talk_s": 3.2, "customer_talk_s": 8.45, "overlap_s": 0.25, "silence_s": 9.6,
               "longest_silence_s": 4.4, "count_turns": 5, "count_words": 34},
    "call-b": {"agent_talk_s": 5.5, "customer_talk_s": 0.0, "overlap_s": 0.0, "silence_s": 6.5,
               "longest_silence_s": 3.5, "count_turns": 2, "count_words": 18},
    "call-c": {"agent_talk_s": 0.0, "customer_talk_s": 0.0, "overlap_s": 0.0, "silence_s": 5.0,
               "longest_silence_s": 5.0, "count_turns": 0, "count_words": 0},
}  # fmt: skip


def load_batch(dsn: str, partition_key: str, calls: list[RawCall]) -> None:
    """Replace the batch's rows in asr_raw in one transaction, as raw_tables does (loaded_at = its start)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            for table in ("words", "segments", "channels", "calls"):
                cur.execute(f"delete from asr_raw.{table} where partition_key = %s", (partition_key,))  # noqa: S608
            for call in calls:
                cur.execute(
                    "insert into asr_raw.calls (call_id, file_name, source_uri, partition_key, duration_s,"
                    " sample_rate, channels, source_format, size_bytes, checksum, model_version, transcribed_at)"
                    " values (%s, %s, %s, %s, %s, 8000, %s, 'WAV/ULAW', 1000, %s, %s, now())",
                    (call.call_id, call.file_name or f"{call.call_id}.wav", f"file:///landing/{call.call_id}.wav",
                     partition_key, call.duration_s, call.channels, call.call_id, call.model_version),
                )  # fmt: skip
                for channel in range(call.channels):
                    words = sorted(w for w in call.words if w[0] == channel)
                    words.sort(key=lambda w: w[2])
                    cur.execute(
                        "insert into asr_raw.channels (call_id, channel, partition_key, duration_s, peak_dbfs,"
                        " segment_count, word_count) values (%s, %s, %s, %s, -3.0, %s, %s)",
                        (
                            call.call_id,
                            channel,
                            partition_key,
                            call.duration_s,
                            1 if words else 0,
                            len(words),
                        ),
                    )
                    if not words:
                        continue
                    cur.execute(
                        "insert into asr_raw.segments (call_id, channel, segment_index, partition_key, start_s,"
                        " end_s, text, avg_logprob, no_speech_prob) values (%s, %s, 0, %s, %s, %s, %s, -0.3, 0.01)",
                        (call.call_id, channel, partition_key, words[0][2], words[-1][3],
                         "".join(w[1] for w in words).strip()),
                    )  # fmt: skip
                    cur.executemany(
                        "insert into asr_raw.words (call_id, channel, word_index, segment_index, partition_key,"
                        " word, start_s, end_s, probability) values (%s, %s, %s, 0, %s, %s, %s, %s, %s)",
                        [(call.call_id, channel, i, partition_key, w[1], w[2], w[3], w[4]) for i, w in enumerate(words)],
                    )  # fmt: skip
            cur.execute(read_sql("upsert_batch_load"), {"partition_key": partition_key})
    finally:
        conn.close()


def _create_database(server_url: str) -> Iterator[str]:
    """A throwaway database (libpq URL) on the server."""
    for url in throwaway_database(server_url, prefix="asr_dbt_test"):
        yield settings.libpq_url(url)


@pytest.fixture(scope="session", params=DATABASE_PARAMS)
def dbt_server(request: pytest.FixtureRequest) -> str:
    """The embedded server, and TEST_DATABASE_URL's server when that is set."""
    return database_server(request, request.param)


@pytest.fixture(scope="session")
def dbt_database(dbt_server: str) -> Iterator[str]:
    """libpq URL of a migrated database of our own (asr_raw + the analyst role), shared by the session."""
    for url in _create_database(dbt_server):
        migrate(url)
        yield url


@pytest.fixture
def scratch_database(dbt_server: str) -> Iterator[str]:
    """A migrated database for one test that changes what it holds."""
    for url in _create_database(dbt_server):
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def run_dbt(tmp_path_factory: pytest.TempPathFactory):
    """run_dbt(url, *args) runs the venv's dbt on dbt_transcripts against url and returns its output; one
    target folder per session so dbt's partial parsing carries over between calls."""
    target = tmp_path_factory.mktemp("dbt_target")

    def run(url: str, *args: str) -> str:
        env = {
            **os.environ,
            **dbt_connection(url).env(),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_LOG_PATH": str(target / "logs"),
            "DBT_TARGET_PATH": str(target),
        }
        result = subprocess.run(
            [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
            env=env, capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        if result.returncode != 0:
            pytest.fail(
                f"dbt {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-6000:]}{result.stderr}"
            )
        return result.stdout

    return run


def materialize_dbt_assets(url: str) -> dg.ExecuteInProcessResult:
    """The @dbt_assets through Dagster, as a batch run builds them (dbt build: models and data tests as checks)."""
    return dg.materialize(
        [dbt_defs.dbt_transcripts],
        resources={
            "dbt": DbtCliResource(project_dir=dbt_defs.dbt_project, dbt_executable=dbt_defs.dbt_executable()),
            "postgres": PostgresResource(database_url=url),
        },
        raise_on_error=False,
    )


@pytest.fixture(scope="session")
def dbt_materialization(dbt_database: str) -> dg.ExecuteInProcessResult:
    """Batches b1 (calls A, B) and b2 (call C) loaded, then the dbt assets materialised once for the session."""
    load_batch(dbt_database, "b1", [CALL_A, CALL_B])
    load_batch(dbt_database, "b2", [CALL_C])
    return materialize_dbt_assets(dbt_database)


@pytest.fixture(scope="session")
def built_marts(dbt_database: str, dbt_materialization: dg.ExecuteInProcessResult) -> str:
    """URL of the session's database with the marts built (fails the dependent tests if the build failed)."""
    if not dbt_materialization.success:
        pytest.fail("materialising the dbt assets failed; see test_materialising_the_dbt_assets")
    return dbt_database


@pytest.fixture(scope="session")
def sql():
    """sql(url, statement, params=None, role=None) -> rows (the tests' one query helper)."""
    return query_rows


REPO = Path(__file__).resolve().parents[2]
