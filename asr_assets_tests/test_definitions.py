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
    assert job.tags["asr/lane"] == "engine"


def test_the_marts_are_built_by_their_own_job_not_by_each_batch_run():
    """ingest_job ends at the raw tables; marts_job (requested by marts_sensor) builds every dbt model, then the
    report pages of the batches it built."""
    graph = defs.resolve_asset_graph()
    dbt_keys = {key for key in graph.get_all_asset_keys() if graph.get(key).group_name == "dbt_transcripts"}
    assert dg.AssetKey(["asr_marts", "fct_calls"]) in dbt_keys
    assert not dbt_keys & set(defs.resolve_job_def("ingest_job").asset_layer.executable_asset_keys)
    marts = defs.resolve_job_def("marts_job")
    assert set(marts.asset_layer.executable_asset_keys) == dbt_keys | {dg.AssetKey("batch_reports")}
    assert marts.tags["asr/lane"] == "marts"
    sensor = defs.resolve_sensor_def("marts_sensor")
    assert sensor.job_name == "marts_job"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


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


def test_the_code_location_loads_with_every_documented_number_set(tmp_path):
    """Every numeric ASR_* variable of the README's configuration table, set to its documented default, still lets
    the code location load (ASR_RETRY_BACKOFF_S / ASR_BATCH_MAX_AUDIO_S were read into float fields, which
    Dagster's EnvVar cannot fill, and the daemon then loaded no code at all)."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "ASR_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    row = re.compile(r"^\| ((?:`ASR_[A-Z_]+`(?:, )?)+) \| ([0-9][0-9, .]*) \|", re.M)
    documented = {}
    for names, defaults in row.findall((repo / "README.md").read_text()):
        for name, value in zip(re.findall(r"ASR_[A-Z_]+", names), defaults.split(", "), strict=True):
            documented[name] = value.strip()
    assert {"ASR_RETRY_BACKOFF_S", "ASR_BATCH_MAX_AUDIO_S", "ASR_STEP_MAX_RETRIES"} <= set(documented)
    (tmp_path / "dagster.yaml").write_text("")
    out = subprocess.run(
        [Path(sys.executable).with_name("dagster"), "definitions", "validate", "-m", "asr_assets.definitions"],
        env=env | documented, cwd=repo, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_models_are_assets_partitioned_by_registered_model_and_gated():
    """asr_model -> asr_model_eval (with its blocking gate) -> asr_model_promotion, each partition a registered
    model, kept out of every ingest run; dim_model_versions reads what they write."""
    graph = defs.resolve_asset_graph()
    model_keys = [dg.AssetKey(k) for k in ("asr_model", "asr_model_eval", "asr_model_promotion")]
    for key in model_keys:
        assert graph.get(key).partitions_def.name == "asr_models"
        assert graph.get(key).group_name == "models"
    gate = next(iter(graph.get(dg.AssetKey("asr_model_eval")).check_keys))
    assert gate.name == "wer_within_margin_of_promoted"
    assert defs.resolve_assets_def(dg.AssetKey("asr_model_eval")).check_specs_by_output_name
    assert all(spec.blocking for spec in defs.resolve_assets_def(dg.AssetKey("asr_model_eval")).check_specs)
    assert not set(model_keys) & set(defs.resolve_job_def("ingest_job").asset_layer.executable_asset_keys)
    assert set(defs.resolve_job_def("promote_model_job").asset_layer.executable_asset_keys) == set(model_keys)
    upstream = graph.get(dg.AssetKey(["asr_marts", "dim_model_versions"])).parent_keys
    assert dg.AssetKey(["asr_raw", "model_evaluations"]) in upstream
    assert defs.resolve_sensor_def("model_registry_sensor").default_status == dg.DefaultSensorStatus.RUNNING
