"""benchmarks.pg_volume on a tiny scale: every figure of both designs, and the designs are the migrations' own."""

import uuid

import pytest

from asr_assets import settings
from asr_assets.defs.raw_tables import build_rows
from asr_assets.platform.sql.migrate import migrate
from asr_assets_tests.conftest import query_rows
from benchmarks.pg_volume import run_pg_volume, sizes_for
from benchmarks.pg_volume_data import Shape, batch_artifacts, batch_key, generate_history
from benchmarks.pg_volume_designs import DESIGNS, drop_database, named_database_url
from benchmarks.pg_volume_report import RATIO_FIGURES

TINY = Shape(calls=2, words_per_channel=30, words_per_segment=10)  # 120 words a batch


def _partitioning(dsn: str) -> dict[str, str]:
    """Partitioned asr_raw tables and their partition key, e.g. {'words': 'RANGE (partition_key)'}."""
    rows = query_rows(
        dsn,
        "select c.relname, pg_get_partkeydef(c.oid) from pg_class as c"
        " where c.relnamespace = 'asr_raw'::regnamespace and c.relkind = 'p'",
    )
    return dict(rows)


def test_sizes_default_to_a_quarter_a_half_and_all():
    assert sizes_for(20_000_000) == [0, 5_000_000, 10_000_000, 20_000_000]


def test_history_batches_are_dated_a_day_apart_and_measured_ones_in_their_own_month():
    assert [batch_key(b) for b in (0, 1, 31)] == ["20260101-000000", "20260102-000001", "20260201-000031"]
    assert batch_key(900_002) == "20270201-900002"


def test_generated_batches_are_the_batches_the_load_path_builds(database_url):
    # The history made in SQL and a measured batch made by build_rows hold the same rows (but their keys), so the
    # marts copied from the first batch are what dbt would build.
    dsn = settings.libpq_url(database_url)
    migrate(dsn)
    generate_history(dsn, 7, 1, TINY)
    rows = build_rows(batch_key(7), *batch_artifacts(7, TINY))
    generated = query_rows(
        dsn,
        "select call_id, channel, word_index, segment_index, partition_key, word, start_s, end_s, probability"
        " from asr_raw.words where partition_key = %s order by 1, 2, 3",
        (batch_key(7),),
    )
    assert len(generated) == TINY.words_per_batch == len(rows["words"])
    assert generated == sorted(rows["words"])
    segments = query_rows(
        dsn, "select count(*) from asr_raw.segments where partition_key = %s", (batch_key(7),)
    )
    assert segments[0][0] == len(rows["segments"])


@pytest.mark.slow  # a minute of real work (make test runs it; make test-fast leaves it out)
def test_both_designs_are_measured_at_every_size(any_server_url):
    prefix = f"asr_pgv_test_{uuid.uuid4().hex[:8]}"
    try:
        report = run_pg_volume(
            any_server_url, sizes=[0, 500], shape=TINY, prefix=prefix, keep=True, progress=lambda _: None
        )
        for design in DESIGNS:
            stages = report["designs"][design]
            # the template batch, then history grown past 500 (measured batches stay, less an erased call)
            assert stages[0]["table_words"] == 120 and stages[1]["table_words"] >= 500
            for figures in stages:
                assert figures["load"]["s"] > 0 and figures["load"]["words_per_s"] > 0
                assert figures["reload"]["s"] > 0 and figures["erase"]["s"] > 0
                assert figures["erase"]["rows"] > 0 and figures["erase"]["vacuum_s"] > 0
                assert (
                    figures["dbt"]["s"] > 0
                    and figures["dbt"]["models_s"] > 0
                    and figures["dbt"]["tests_s"] > 0
                )
            assert set(report["ratios"][design]) == set(RATIO_FIGURES)
        # The partitioned design is what the migrations make of a new database, and of the current design's
        # database when they upgrade it (every row kept).
        partitioned = named_database_url(any_server_url, f"{prefix}_partitioned")
        upgraded = named_database_url(any_server_url, f"{prefix}_current")
        expected = {"words": "RANGE (partition_key)", "segments": "RANGE (partition_key)"}
        assert _partitioning(partitioned) == expected
        assert 8 in report["upgrade"]["migrations"]
        assert _partitioning(upgraded) == expected
        assert (
            query_rows(upgraded, "select count(*) from asr_raw.words")[0][0]
            == report["upgrade"]["table_words"]
        )
        months = {r[0] for r in query_rows(upgraded, "select tableoid::regclass::text from asr_raw.words")}
        assert months == {"asr_raw.words_202601", "asr_raw.words_202702"}
    finally:
        for design in DESIGNS:
            drop_database(any_server_url, f"{prefix}_{design}")
