import psycopg2

from asr_assets import settings
from asr_assets.defs.raw_tables import TABLES, build_rows, copy_text, load_partition
from asr_assets.platform.sql.migrate import migrate

# The shape raw_audio's manifest and transcripts' JSON lines have (see test_graph.py for the real ones).
MANIFEST = {
    "calls": [
        {
            "call_id": "c1", "checksum": "c1", "file_name": "a 'b'\t\"c\".wav", "source_uri": "file:///l/a.wav",
            "artifact": "c1.wav", "size_bytes": 10, "duration_s": 4.0, "sample_rate": 8000, "channels": 2,
            "source_format": "WAV/ULAW", "peak_dbfs": [-3.0, None],
        }
    ],
    "quarantine": [
        {
            "checksum": "q1", "file_name": "bad.wav", "source_uri": "file:///l/bad.wav", "reason_code": "empty",
            "reason": "bad.wav: empty file (0 bytes)\\nnext", "size_bytes": 0,
        }
    ],
}  # fmt: skip
WORD = {"word": " hello\\", "start": 0.5, "end": 0.9, "probability": 0.9}
SEGMENT = {
    "start": 0.0, "end": 2.0, "text": " hello\nthere", "words": [WORD, WORD], "channel": 0, "avg_logprob": -0.2,
    "no_speech_prob": 0.01, "compression_ratio": 1.1, "temperature": 0.0,
}  # fmt: skip
RECORDS = [
    {
        "call_id": "c1", "model_version": "v1", "transcribed_at": "2026-11-25T00:00:00+00:00",
        "segments": [SEGMENT, SEGMENT | {"start": 2.5, "end": 3.0}],
    }
]  # fmt: skip


def _counts(dsn: str, key: str) -> dict[str, int]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            out = {}
            for table in TABLES:
                cur.execute(f"select count(*) from asr_raw.{table} where partition_key = %s", (key,))  # noqa: S608
                out[table] = cur.fetchone()[0]
            return out
    finally:
        conn.close()


def test_build_rows_numbers_words_per_channel():
    rows = build_rows("p", MANIFEST, RECORDS)
    assert [len(rows[t]) for t in TABLES] == [1, 2, 2, 4, 1]
    assert [w[2] for w in rows["words"]] == [0, 1, 2, 3] and [w[3] for w in rows["words"]] == [0, 0, 1, 1]
    assert [(c[1], c[5], c[6]) for c in rows["channels"]] == [(0, 2, 4), (1, 0, 0)]


def test_copy_text_escapes_separators():
    assert copy_text([("a\tb", None, "c\\d\ne")]).getvalue() == "a\\tb\t\\N\tc\\\\d\\ne\n"


def test_loading_a_partition_twice_replaces_its_rows(database_url):
    dsn = settings.libpq_url(database_url)
    migrate(dsn)
    rows = build_rows("load-test", MANIFEST, RECORDS)
    for _ in range(2):
        conn = psycopg2.connect(dsn)
        with conn:
            load_partition(conn, "load-test", rows)
        conn.close()
    assert _counts(dsn, "load-test") == {
        "calls": 1,
        "channels": 2,
        "segments": 2,
        "words": 4,
        "quarantine": 1,
    }
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("select file_name from asr_raw.calls where call_id = 'c1'")
        assert cur.fetchone()[0] == MANIFEST["calls"][0]["file_name"]  # quotes and tabs survive COPY
        cur.execute("select text from asr_raw.segments where call_id = 'c1' order by segment_index limit 1")
        assert cur.fetchone()[0] == " hello\nthere"
        cur.execute("select word from asr_raw.words where call_id = 'c1' limit 1")
        assert cur.fetchone()[0] == " hello\\"
    conn.close()


def test_a_failed_load_leaves_the_previous_rows(database_url):
    dsn = settings.libpq_url(database_url)
    migrate(dsn)
    manifest = {"calls": [MANIFEST["calls"][0] | {"call_id": "c2", "checksum": "c2"}], "quarantine": []}
    records = [RECORDS[0] | {"call_id": "c2"}]
    good = build_rows("atomic-test", manifest, records)
    conn = psycopg2.connect(dsn)
    with conn:
        load_partition(conn, "atomic-test", good)
    bad = build_rows("atomic-test", manifest, records)
    bad["words"].append(bad["words"][0])  # duplicate primary key: the insert fails after the deletes
    try:
        with conn:
            load_partition(conn, "atomic-test", bad)
    except psycopg2.IntegrityError:
        pass
    conn.close()
    assert _counts(dsn, "atomic-test")["words"] == 4


def test_two_loads_of_one_partition_at_once_both_succeed_and_keep_one_copy(database_url):
    """Two runs of one batch that overlap (a UI materialisation beside the sensor's run, in a deployment without
    the tag limit): the second load waits for the first and replaces its rows. Without the partition lock it
    failed with a unique violation on calls (its delete could not see the first load's rows)."""
    import threading

    dsn = settings.libpq_url(database_url)
    migrate(dsn)
    manifest = {"calls": [MANIFEST["calls"][0] | {"call_id": "c3", "checksum": "c3"}], "quarantine": []}
    rows = build_rows("overlap-test", manifest, [RECORDS[0] | {"call_id": "c3"}])
    first, second = psycopg2.connect(dsn), psycopg2.connect(dsn)
    errors: list[Exception] = []

    def load_second() -> None:
        try:
            with second:
                load_partition(second, "overlap-test", rows)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    try:
        load_partition(first, "overlap-test", rows)  # not committed yet: the other run loads meanwhile
        other = threading.Thread(target=load_second)
        other.start()
        other.join(timeout=2)
        assert other.is_alive()  # waiting for the first load
        first.commit()
        other.join(timeout=30)
    finally:
        first.close()
        second.close()
    assert errors == []
    assert _counts(dsn, "overlap-test") == {
        "calls": 1, "channels": 2, "segments": 2, "words": 4, "quarantine": 0
    }  # fmt: skip
