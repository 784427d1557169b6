"""asr_assets/defs/dbt.py: the profile's connection, the asset graph it adds, the manifest, a real materialisation."""

import os
import shutil

import dagster as dg
import pytest
from dagster_dbt import DbtCliResource, DbtProject

from asr_assets.defs import dbt as dbt_defs
from asr_assets.defs.resources import PostgresResource
from asr_assets.platform.raw_schema import BATCH_LOADS, SCHEMA, TABLES


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://postgres:@/asr?host=/tmp/pg-socket",
            dbt_defs.DbtConnection("/tmp/pg-socket", 5432, "postgres", "", "asr"),
        ),
        (
            "postgresql+psycopg2://asr:s%40cret@db.internal:6543/calls",
            dbt_defs.DbtConnection("db.internal", 6543, "asr", "s@cret", "calls"),
        ),
        ("postgresql://u@127.0.0.1/test", dbt_defs.DbtConnection("127.0.0.1", 5432, "u", "", "test")),
    ],
    ids=["embedded-socket", "password-and-port", "defaults"],
)
def test_profile_fields_come_from_the_database_url(url, expected):
    assert dbt_defs.dbt_connection(url) == expected


def test_the_password_only_travels_as_a_dbt_secret_and_env_is_restored(monkeypatch):
    monkeypatch.delenv("ASR_DBT_HOST", raising=False)
    env = dbt_defs.dbt_connection("postgresql://asr:hunter2@db:5432/calls").env()
    assert [k for k, v in env.items() if v == "hunter2"] == [dbt_defs.PASSWORD_ENV]
    assert dbt_defs.PASSWORD_ENV.startswith("DBT_ENV_SECRET_")  # dbt scrubs these from its logs
    with dbt_defs.dbt_connection_env("postgresql://asr:hunter2@db:5432/calls"):
        assert os.environ["ASR_DBT_HOST"] == "db"
    assert "ASR_DBT_HOST" not in os.environ


def test_dbt_is_found_next_to_the_interpreter():
    assert os.access(dbt_defs.dbt_executable(), os.X_OK)


def test_models_are_keyed_by_schema_and_sources_are_the_load_assets():
    assets = dbt_defs.dbt_transcripts
    keys = {k.to_user_string() for k in assets.keys}
    assert {"asr_staging/stg_words", "asr_marts/fct_calls", "asr_marts/call_search"} <= keys
    upstream = {dep for spec in assets.specs for dep in (d.asset_key for d in spec.deps)}
    raw_upstream = {key for key in upstream if key.path[0] == SCHEMA}
    # The tables the staging models read, as the same nodes raw_tables materialises; dim_model_versions also
    # reads the model tables, the specs models.py declares downstream of the model assets.
    from asr_assets.defs.models import model_tables

    assert {dg.AssetKey([SCHEMA, t]) for t in ("calls", "words")} <= raw_upstream
    load_tables = {dg.AssetKey([SCHEMA, t]) for t in (*TABLES, BATCH_LOADS)}
    assert raw_upstream <= load_tables | {spec.key for spec in model_tables}
    assert {spec.group_name for spec in assets.specs} == {dbt_defs.DBT_GROUP}
    assert assets.op.pool == dbt_defs.DBT_POOL
    checks = {c.name for c in assets.check_specs if c.asset_key == dg.AssetKey(["asr_marts", "fct_calls"])}
    assert "unique_fct_calls_call_id" in checks


def test_the_ingest_job_builds_the_models_in_each_batch_run():
    from asr_assets.definitions import defs

    job = defs.resolve_job_def("ingest_job")
    assert dg.AssetKey(["asr_marts", "fct_calls"]) in job.asset_layer.executable_asset_keys


def test_prepare_writes_a_manifest_without_a_database(tmp_path, monkeypatch):
    for name in ("ASR_DBT_HOST", "ASR_DBT_DBNAME", dbt_defs.PASSWORD_ENV):
        monkeypatch.delenv(name, raising=False)
    copy = tmp_path / "dbt_transcripts"
    shutil.copytree(dbt_defs.DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    project = DbtProject(project_dir=copy, profiles_dir=copy)
    assert dbt_defs._manifest_is_stale(project)
    # No connection is made: the URL only fills the profile, whose values key dbt's partial-parse state.
    manifest = dbt_defs.prepare_dbt_project(project, database_url="postgresql://asr:pw@nowhere.invalid:1/x")
    assert manifest.exists() and not dbt_defs._manifest_is_stale(project)
    assert (manifest.parent / dbt_defs.PARTIAL_PARSE_FILE).exists()
    assert [p.name for p in manifest.parent.iterdir() if p.name.startswith("parse-")] == []
    (copy / "models" / "marts" / "fct_calls.sql").touch()
    assert dbt_defs._manifest_is_stale(project)


def test_materialising_the_dbt_assets_builds_the_marts_with_passing_checks(dbt_materialization):
    result = dbt_materialization
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"asr_marts/fct_calls", "asr_marts/fct_utterances", "asr_staging/stg_words"} <= materialized
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 50
    assert [e.check_name for e in evaluations if not e.passed] == []


def test_a_batch_an_earlier_build_covered_is_not_built_again(scratch_database):
    """Runs queue for the dbt pool; one build covers every batch loaded before it, so the runs behind it skip."""
    import psycopg2
    from conftest import CALL_A, CALL_B, CALL_C, load_batch

    from asr_assets import settings

    def materialize_in_run_of(batch: str) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [dbt_defs.dbt_transcripts],
            resources={
                "dbt": DbtCliResource(
                    project_dir=dbt_defs.dbt_project, dbt_executable=dbt_defs.dbt_executable()
                ),
                "postgres": PostgresResource(database_url=scratch_database),
            },
            tags={"dagster/partition": batch},
        )

    def covered(batch: str) -> str | None:
        conn = psycopg2.connect(settings.libpq_url(scratch_database))
        try:
            return dbt_defs.built_by_earlier_build(conn, batch)
        finally:
            conn.close()

    load_batch(scratch_database, "b1", [CALL_A, CALL_B])
    load_batch(scratch_database, "b2", [CALL_C])
    assert covered("b1") is None and covered("b2") is None  # no mart yet

    built = materialize_in_run_of("b2")  # b2's run builds, picking up b1 as well
    assert not any(
        e.materialization.metadata.get("covered_by_earlier_build")
        for e in built.get_asset_materialization_events()
    )
    assert built.get_asset_check_evaluations()  # a real build runs the tests
    assert covered("b1") and covered("b2")

    skipped = materialize_in_run_of("b1")  # b1's run, queued behind that build: nothing to do
    events = skipped.get_asset_materialization_events()
    assert {e.asset_key for e in events} == set(dbt_defs.dbt_transcripts.keys)
    assert all(e.materialization.metadata["covered_by_earlier_build"].value is True for e in events)
    assert skipped.get_asset_check_evaluations() == []

    load_batch(scratch_database, "b1", [CALL_A])  # reloaded (a rerun, an erasure): a new load to build
    assert covered("b1") is None and covered("b2")
