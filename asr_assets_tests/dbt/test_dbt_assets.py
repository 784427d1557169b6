"""asr_assets/defs/dbt.py: the profile's connection, the asset graph it adds, the manifest, a real materialisation."""

import os
import shutil
from datetime import datetime

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


def test_the_ingest_job_leaves_the_models_to_the_marts_job():
    from asr_assets.definitions import defs

    fct_calls = dg.AssetKey(["asr_marts", "fct_calls"])
    assert fct_calls not in defs.resolve_job_def("ingest_job").asset_layer.executable_asset_keys
    assert fct_calls in defs.resolve_job_def("marts_job").asset_layer.executable_asset_keys


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


@pytest.mark.slow  # a minute of real work (make test runs it; make test-fast leaves it out)
def test_one_build_picks_up_every_loaded_batch_and_the_sensor_asks_only_for_what_is_new(scratch_database):
    """marts_sensor requests a build while loaded batches are missing from the marts and none is queued or running;
    one build covers every batch loaded before it; a reload (a rerun, an erasure) is a new load to build."""
    from conftest import CALL_A, CALL_B, CALL_C, load_batch
    from dagster._core.test_utils import create_run_for_test

    from asr_assets.defs.marts import marts_sensor
    from asr_assets.defs.resources import LandingZoneResource
    from asr_assets.platform.marts import MARTS_JOB, unbuilt_batches

    postgres = PostgresResource(database_url=scratch_database)
    instance = dg.DagsterInstance.ephemeral()

    def unbuilt() -> list[str]:
        with postgres.connect() as conn:
            return unbuilt_batches(conn).keys

    def tick(cursor: str | None = None):
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"postgres": postgres, "landing": LandingZoneResource()},
        )
        return marts_sensor(context), context.cursor

    load_batch(scratch_database, "b1", [CALL_A, CALL_B])
    load_batch(scratch_database, "b2", [CALL_C])
    assert unbuilt() == ["b1", "b2"]  # no mart yet: every loaded batch
    request, cursor = tick()
    assert isinstance(request, dg.RunRequest) and request.tags["asr/batches"] == "2"

    going = create_run_for_test(instance, job_name=MARTS_JOB, status=dg.DagsterRunStatus.STARTED)
    assert isinstance(tick(cursor)[0], dg.SkipReason)  # one build at a time: it will find both
    instance.report_run_failed(going)

    built = dg.materialize(
        [dbt_defs.dbt_transcripts],
        resources={
            "dbt": DbtCliResource(project_dir=dbt_defs.dbt_project, dbt_executable=dbt_defs.dbt_executable()),
            "postgres": postgres,
        },
    )
    assert built.success and built.get_asset_check_evaluations()  # a real build runs the tests
    assert unbuilt() == []
    skip, cursor = tick(cursor)
    assert isinstance(skip, dg.SkipReason) and "every loaded batch" in skip.skip_message

    load_batch(scratch_database, "b1", [CALL_A])  # reloaded: a new load to build
    assert unbuilt() == ["b1"]
    with postgres.connect() as conn:  # the cursor's point in time bounds the probe to recent loads
        assert unbuilt_batches(conn, datetime.fromisoformat(cursor)).keys == ["b1"]
    failed = instance.get_run_records(dg.RunsFilter(job_name=MARTS_JOB))[0]
    assert (
        failed.dagster_run.status == dg.DagsterRunStatus.FAILURE
    )  # the newest build failed: a backoff first
    request, _ = tick(cursor)
    assert isinstance(request, dg.SkipReason) and "failed" in request.skip_message


def test_a_failed_build_waits_a_doubling_backoff():
    from asr_assets.defs.marts import MAX_BACKOFF_S, backoff_s

    assert [backoff_s(n, 30) for n in range(4)] == [0, 30, 60, 120]
    assert backoff_s(20, 30) == MAX_BACKOFF_S
