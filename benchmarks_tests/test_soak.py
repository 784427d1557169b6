"""The soak's corpus and verdict (the soak itself runs the real daemon: `make soak`)."""

import os
from collections import Counter

import psycopg2

from asr_assets import settings
from asr_assets.platform.sql.migrate import migrate
from benchmarks.soak_accounting import account
from benchmarks.soak_corpus import HOSTILE_KINDS, write_corpus


def test_the_corpus_has_distinct_calls_every_hostile_kind_and_a_non_utf8_name(tmp_path):
    truth = write_corpus(tmp_path, files=30, waves=3, seed=1)
    kinds = Counter(f.kind for f in truth)
    assert kinds["call"] == 30 and set(HOSTILE_KINDS) <= set(kinds)
    originals = [f for f in truth if f.duplicate_of is None]
    assert len({f.sha256 for f in originals}) == len(originals)
    assert all(os.path.exists(f.path) for f in truth)
    assert any(b"\xff" in os.fsencode(f.path) or not f.path.isascii() for f in truth)
    assert {f.wave for f in truth} == {1, 2, 3}


def test_the_verdict_counts_lost_and_duplicated_files(tmp_path, database_url):
    dsn = settings.libpq_url(database_url)
    migrate(dsn)
    truth = write_corpus(tmp_path, files=4, waves=1, seed=2, kinds=("empty",))
    good = [f for f in truth if f.kind == "call"]
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("truncate asr_raw.calls, asr_raw.quarantine cascade")
            for f in truth[:-1]:  # the last file is lost
                cur.execute(
                    "insert into asr_raw.quarantine (checksum, file_name, source_uri, partition_key, reason_code,"
                    " reason) values (%s, 'x', %s, 'k', 'empty', 'r')",
                    (f.sha256, f.path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")),
                )
            cur.execute(  # and one is in both tables
                "insert into asr_raw.quarantine (checksum, file_name, source_uri, partition_key, reason_code, reason)"
                " values (%s, 'x', 'other', 'k', 'empty', 'r')",
                (good[0].sha256,),
            )
        result = account(conn, truth)
    finally:
        conn.close()
    lost_expected = 0 if truth[-1].duplicate_of else 1
    assert result["lost"] == lost_expected and result["duplicated"] == 1
