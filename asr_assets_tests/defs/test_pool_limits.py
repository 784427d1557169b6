"""pool_limits_sensor against a real Dagster instance: SQLite storage, and PostgreSQL storage as the chart deploys."""

import uuid
from collections.abc import Iterator

import dagster as dg
import pytest

from asr_assets.defs import pool_limits
from asr_assets.defs.dbt import DBT_POOL
from asr_assets.defs.pool_limits import (
    TRANSCRIPTION_POOL,
    apply_pool_limits,
    pool_limits_sensor,
    wanted_pool_limits,
)
from asr_assets.defs.transcripts import transcripts
from asr_assets.settings import ConfigurationError
from asr_assets_tests.conftest import throwaway_database

VARIABLE = pool_limits.POOL_LIMIT_VARIABLES[TRANSCRIPTION_POOL]


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest) -> Iterator[dict]:
    """instance_for_test overrides: its default SQLite storage, or dagster-postgres on a throwaway database."""
    if request.param == "sqlite":
        yield {}
        return
    server = request.getfixturevalue("embedded_server_url")
    for url in throwaway_database(server, "dagster_pools"):
        yield {"storage": {"postgres": {"postgres_url": url}}}


def tick(instance: dg.DagsterInstance) -> dg.SkipReason:
    return pool_limits_sensor(dg.build_sensor_context(instance=instance))


def limit(instance: dg.DagsterInstance, pool: str = TRANSCRIPTION_POOL):
    info = instance.event_log_storage.get_concurrency_info(pool)
    return info.limit, info.slot_count, info.using_default_limit


def claims(instance: dg.DagsterInstance, steps: int) -> list[bool]:
    """Claims a slot for `steps` steps of different runs, as a run worker does before it starts a step."""
    return [
        instance.event_log_storage.claim_concurrency_slot(
            TRANSCRIPTION_POOL, str(uuid.uuid4()), "transcripts"
        ).is_claimed
        for _ in range(steps)
    ]


def test_the_transcripts_step_is_in_the_pool_the_sensor_limits():
    assert transcripts.op.pool == TRANSCRIPTION_POOL
    assert TRANSCRIPTION_POOL != DBT_POOL


def test_the_code_location_runs_the_sensor_and_keeps_the_pools():
    from asr_assets.definitions import defs

    sensor = defs.resolve_sensor_def("pool_limits_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert not sensor.targets  # it requests no runs
    pools = {
        node.name: node.definition.pool
        for job in ("ingest_job", "marts_job")
        for node in defs.resolve_job_def(job).graph.node_dict.values()
    }
    assert pools["transcripts"] == TRANSCRIPTION_POOL
    assert pools["dbt_transcripts"] == DBT_POOL


def test_sets_the_limit_from_the_environment_and_follows_its_changes(
    storage: dict, monkeypatch: pytest.MonkeyPatch
):
    with dg.instance_for_test(overrides=storage) as instance:
        assert type(instance.event_log_storage).__name__.startswith("Postgres" if storage else "Sqlite")
        assert instance.event_log_storage.supports_global_concurrency_limits
        monkeypatch.setenv(VARIABLE, "2")
        result = tick(instance)
        assert limit(instance) == (2, 2, False)
        assert "transcription: limit unset -> 2" in result.skip_message
        # enforced by dagster's own slot claims: the third transcription step waits
        assert claims(instance, 3) == [True, True, False]

        assert "already as set: transcription 2" in tick(instance).skip_message  # nothing to change, no write

        monkeypatch.setenv(VARIABLE, "5")
        assert "limit 2 -> 5" in tick(instance).skip_message
        assert limit(instance) == (5, 5, False)

        monkeypatch.setenv(VARIABLE, "1")
        tick(instance)
        assert limit(instance)[0] == 1


def test_unset_leaves_the_pools_alone(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(VARIABLE, raising=False)
    with dg.instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots(TRANSCRIPTION_POOL, 7)  # e.g. set by hand
        assert "not set" in tick(instance).skip_message
        assert limit(instance) == (7, 7, False)


def test_a_limit_from_the_instance_default_becomes_explicit(storage: dict, monkeypatch: pytest.MonkeyPatch):
    """A pool a run touched before the sensor's first tick holds the default limit (1 in the chart values), marked
    as a default that a later change of default_limit would move: the sensor pins it, even when N is also 1."""
    overrides = {**storage, "concurrency": {"pools": {"default_limit": 1, "granularity": "op"}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        instance.event_log_storage.initialize_concurrency_limit_to_default(TRANSCRIPTION_POOL)
        assert limit(instance) == (1, 1, True)
        monkeypatch.setenv(VARIABLE, "1")
        assert "limit 1 (default) -> 1" in tick(instance).skip_message
        assert limit(instance) == (1, 1, False)
        # the dbt pool is not the sensor's: it keeps the default
        instance.event_log_storage.initialize_concurrency_limit_to_default(DBT_POOL)
        tick(instance)
        assert limit(instance, DBT_POOL) == (1, 1, True)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_value_that_is_no_slot_count_is_refused_with_its_name(value: str):
    with pytest.raises(ConfigurationError, match=VARIABLE):
        wanted_pool_limits({VARIABLE: value})


def test_empty_means_unset():
    assert wanted_pool_limits({VARIABLE: ""}) == {}
    assert wanted_pool_limits({VARIABLE: " 100 "}) == {TRANSCRIPTION_POOL: 100}


def test_storage_without_pool_limits_is_a_clear_error():
    class NoPools:
        supports_global_concurrency_limits = False

    class Instance:
        event_log_storage = NoPools()

    with pytest.raises(ConfigurationError, match="keeps no pool limits"):
        apply_pool_limits(Instance(), {TRANSCRIPTION_POOL: 2})  # type: ignore[arg-type]
