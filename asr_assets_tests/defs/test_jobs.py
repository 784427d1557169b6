"""ingest_job, the whole graph, on a real batch: landing sensor -> raw_audio -> transcripts (real engine and
model) -> asr_raw.*, against real PostgreSQL on both database paths (the marts are marts_job's: tests/dbt)."""

import os
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from psycopg2 import sql

from asr_assets.definitions import defs
from asr_assets.defs.partitions import ingest_batches
from asr_assets.defs.resources import LandingZoneResource, PostgresResource
from asr_assets.defs.sensors import landing_sensor
from asr_assets.platform.raw_schema import BATCH_LOADS, TABLES
from asr_assets_tests.conftest import query_rows as _query

pytestmark = [
    pytest.mark.slow,
]
ODD_NAME = 'it\'s a "quoted" call ..wav'
EXPECTED_QUARANTINE = {
    "empty.wav": "empty",
    "random bytes.wav": "undecodable",
    "truncated.wav": "undecodable",
    "zero seconds.wav": "undecodable",
    "silence.wav": "silent",
}


def _land_batch(landing: Path, sample_calls: list[Path], write_tone, tmp_path: Path) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sample_calls[0], landing / ODD_NAME)
    shutil.copyfile(sample_calls[3], landing / sample_calls[3].name)  # mono PCM16: both layouts in one batch
    (landing / "empty.wav").write_bytes(b"")
    (landing / "random bytes.wav").write_bytes(np.random.default_rng(1).bytes(30_000))
    full = write_tone(tmp_path / "full.wav", 3.0).read_bytes()
    (landing / "truncated.wav").write_bytes(full[: len(full) // 2])
    write_tone(landing / "zero seconds.wav", 0.0)
    write_tone(landing / "silence.wav", 2.0, amplitude=0.0)


def _partition_counts(database_url: str, key: str) -> dict[str, int]:
    count = "select count(*) from {table} where partition_key = %(key)s"
    return {
        table: _query(
            database_url, sql.SQL(count).format(table=sql.Identifier("asr_raw", table)), {"key": key}
        )[0][0]
        for table in TABLES
    }


def test_ingest_job_transcribes_the_good_files_and_quarantines_the_bad(
    asr_home, database_url, sample_calls, write_tone, tmp_path, monkeypatch
):
    monkeypatch.setenv("ASR_DATABASE_URL", database_url)
    _land_batch(asr_home / "landing", sample_calls, write_tone, tmp_path)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"landing": LandingZoneResource(), "postgres": PostgresResource()}
        )
        tick = landing_sensor(context)
        (key,) = [k for r in tick.dynamic_partitions_requests for k in r.partition_keys]
        instance.add_dynamic_partitions(ingest_batches.name, [key])
        job = defs.resolve_job_def("ingest_job")

        result = job.execute_in_process(partition_key=key, instance=instance)
        assert result.success
        counts = _partition_counts(database_url, key)
        raw_meta = result.asset_materializations_for_node("raw_audio")[0].metadata
        assert raw_meta["files"].value == 7 and raw_meta["quarantined"].value == 5
        tx_meta = result.asset_materializations_for_node("transcripts")[0].metadata
        assert tx_meta["words"].value == counts["words"] > 20
        assert 0 < tx_meta["mean_word_probability"].value <= 1 and 0 < tx_meta["real_time_factor"].value < 5

        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert checks["every_file_accounted_once"].passed and checks["rows_consistent"].passed
        assert checks["transcription_speed"].passed and checks["no_suspect_transcripts"].passed
        # 5 of 7 files quarantined: the batch is not green
        share = checks["quarantine_share"]
        assert not share.passed and share.severity == dg.AssetCheckSeverity.WARN
        assert share.metadata["quarantine_pct"].value == 71.4

        # the marts: marts_sensor asks for one build of the loaded batch, whose run then writes its report page
        from asr_assets.defs.marts import marts_sensor

        marts_context = dg.build_sensor_context(
            instance=instance, resources={"landing": LandingZoneResource(), "postgres": PostgresResource()}
        )
        request = marts_sensor(marts_context)
        assert isinstance(request, dg.RunRequest), request
        built = defs.resolve_job_def("marts_job").execute_in_process(
            run_config=request.run_config, instance=instance, tags=request.tags
        )
        assert built.success
        assert isinstance(marts_sensor(marts_context), dg.SkipReason)  # nothing left to build
        # the batch's report page, in the artifact store beside plotly.js, linked from its partition's metadata
        (event,) = [
            e.materialization
            for e in built.all_events
            if e.is_step_materialization and e.materialization.asset_key == dg.AssetKey("batch_report")
        ]
        assert event.partition == key
        report = event.metadata
        page = Path(report["report"].value.removeprefix("file://"))
        assert page.name == f"{key}.html" and (page.parent / "plotly.min.js").is_file()
        assert report["calls"].value == 2 and report["quarantined"].value == 5
        assert "Talk time per call" in page.read_text()
        # the overall page: not in the batch's run (hourly, report_job_schedule), materialised on its own
        assert not result.asset_materializations_for_node("overall_report")
        from asr_assets.defs.batch_report import overall_report
        from asr_assets.defs.resources import ArtifactStoreResource

        overall = dg.materialize(
            [overall_report], instance=instance,
            resources={"postgres": PostgresResource(), "artifacts": ArtifactStoreResource()},
        )  # fmt: skip
        index = Path(overall.asset_materializations_for_node("overall_report")[0].metadata["report"].value)
        assert index.name == "index.html" and "Latest ingest batches" in index.read_text()

        # reloading the partition replaces its rows (idempotent), it never duplicates them
        again = job.execute_in_process(
            partition_key=key,
            instance=instance,
            asset_selection=[dg.AssetKey(["asr_raw", t]) for t in (*TABLES, BATCH_LOADS)],
        )
        assert again.success
        assert _partition_counts(database_url, key) == counts

    calls = _query(
        database_url, "select file_name, channels, sample_rate, duration_s, model_version from asr_raw.calls"
    )
    assert sorted(c[0] for c in calls) == sorted([ODD_NAME, sample_calls[3].name])
    assert {(c[1], c[2]) for c in calls} == {(2, 8000), (1, 8000)}
    assert all(c[3] > 5 and len(c[4]) == 64 for c in calls)
    quarantine = dict(_query(database_url, "select file_name, reason_code from asr_raw.quarantine"))
    assert quarantine == EXPECTED_QUARANTINE
    # the batched mode writes one segment per VAD chunk: at least one per channel with speech
    assert counts["channels"] == 3 and counts["segments"] >= 3
    # words lie inside their call and their segment, probabilities are probabilities
    bad = _query(
        database_url,
        """
        select count(*) from asr_raw.words w
        join asr_raw.calls c using (call_id)
        join asr_raw.segments s using (call_id, channel, segment_index)
        where w.start_s < 0 or w.end_s > c.duration_s + 0.5 or w.start_s > w.end_s
           or w.probability not between 0 and 1 or w.start_s < s.start_s - 0.5 or w.end_s > s.end_s + 0.5
        """,
    )
    assert bad == [(0,)]
    # the bytes the engine read are in the artifact store, under the partition
    stored = sorted(os.listdir(asr_home / "artifacts" / "raw_audio" / key))
    assert "manifest.json" in stored and len(stored) == 3


def test_a_batch_of_only_bad_files_is_not_green(asr_home, embedded_database_url, write_tone, monkeypatch):
    """Every file quarantined: the run succeeds (nothing is lost: each file is in asr_raw.quarantine with its
    reason) but the quarantine_share check fails, so the batch shows as failed in the UI, not green."""
    monkeypatch.setenv("ASR_DATABASE_URL", embedded_database_url)
    landing = asr_home / "landing"
    landing.mkdir()
    rng = np.random.default_rng()
    (landing / "noise.wav").write_bytes(rng.bytes(20_000))  # content no other test lands
    write_tone(landing / "quiet.wav", 1.0 + rng.random(), amplitude=0.0)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"landing": LandingZoneResource(), "postgres": PostgresResource()}
        )
        (key,) = {k for r in landing_sensor(context).dynamic_partitions_requests for k in r.partition_keys}
        instance.add_dynamic_partitions(ingest_batches.name, [key])
        result = defs.resolve_job_def("ingest_job").execute_in_process(
            partition_key=key,
            instance=instance,
            asset_selection=[dg.AssetKey("raw_audio"), dg.AssetKey("transcripts")]
            + [dg.AssetKey(["asr_raw", t]) for t in (*TABLES, BATCH_LOADS)],
        )
        assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["every_file_accounted_once"].passed
    assert (
        not checks["quarantine_share"].passed
        and checks["quarantine_share"].metadata["quarantine_pct"].value == 100
    )
    assert "transcribe_seconds" not in result.asset_materializations_for_node("transcripts")[0].metadata
