import dagster as dg

from asr_assets import definitions
from asr_assets.definitions import defs

INGEST_KEYS = {
    dg.AssetKey(["raw_audio"]),
    dg.AssetKey(["transcripts"]),
    *(dg.AssetKey(["asr_raw", t]) for t in ("calls", "channels", "segments", "words", "quarantine")),
}


def test_definitions_load_the_ingest_assets_sensor_and_job():
    keys = set(defs.resolve_all_asset_keys())
    assert keys >= INGEST_KEYS
    job = defs.resolve_job_def("ingest_job")
    assert set(job.asset_layer.executable_asset_keys) >= INGEST_KEYS
    assert job.executor_def.name == "in_process"
    sensor = defs.resolve_sensor_def("landing_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == "ingest_job"


def test_ingest_assets_share_the_dynamic_batch_partitions():
    graph = defs.resolve_asset_graph()
    for key in INGEST_KEYS:
        assert graph.get(key).partitions_def.name == "ingest_batches"


def test_resources_are_bound_by_parameter_name():
    assert {"postgres", "landing", "artifacts", "whisper"} <= set(defs.resources)


def test_executor_is_chosen_from_the_environment(monkeypatch):
    monkeypatch.setenv("ASR_EXECUTOR", "k8s")
    assert definitions.executor().name == "k8s"
    monkeypatch.delenv("ASR_EXECUTOR")
    assert definitions.executor().name == "in_process"
