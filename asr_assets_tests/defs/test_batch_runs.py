"""Recovery without a person: the sensor follows each requested batch's run, retries failures, gives up visibly."""

import subprocess

import dagster as dg
import psycopg2
import pytest
from dagster._core.events import EngineEventData

from asr_assets import settings
from asr_assets.platform.batch_runs import (
    JOB_NAME,
    WILL_RETRY_TAG,
    RetryPolicy,
    reap_dead_local_runs,
    request_due,
    settle_given_up,
    settle_requested,
)
from asr_assets.platform.sql.migrate import migrate

ZONE = "file:///landing"
NO_WAIT = RetryPolicy(max_attempts=2, backoff_s=0, lost_after_s=0)


@pytest.fixture
def db(database_url):
    migrate(settings.libpq_url(database_url))
    conn = psycopg2.connect(settings.libpq_url(database_url))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "truncate asr_raw.landed_duplicates, asr_raw.landed_files, asr_raw.ingest_batches cascade"
        )
        cur.execute("truncate asr_raw.calls, asr_raw.quarantine cascade")
        cur.execute(
            "insert into asr_raw.ingest_batches (partition_key, landing_url, status, closed_at, file_count)"
            " values ('b1', %s, 'closed', now(), 1) returning batch_id",
            (ZONE,),
        )
        batch_id = cur.fetchone()[0]
        cur.execute(
            "insert into asr_raw.landed_files (checksum, file_name, source_uri, size_bytes, batch_id, partition_key)"
            " values ('c1', 'a.wav', 'file:///landing/a.wav', 10, %s, 'b1')",
            (batch_id,),
        )
    yield conn
    conn.close()


def _status(conn) -> tuple:
    with conn.cursor() as cur:
        cur.execute(
            "select status, attempts, last_error from asr_raw.ingest_batches where partition_key = 'b1'"
        )
        return cur.fetchone()


def _run(instance, status: dg.DagsterRunStatus, **tags) -> dg.DagsterRun:
    run = instance.add_run(
        dg.DagsterRun(job_name=JOB_NAME, status=status, tags={"dagster/partition": "b1", **tags})
    )
    if status == dg.DagsterRunStatus.FAILURE:
        instance.report_run_failed(run, message="raw_tables: connection refused")
    return run


def test_a_failed_run_is_retried_with_a_fresh_run_key_then_given_up(db):
    with dg.instance_for_test() as instance:
        first = request_due(db, ZONE)
        assert [(r.run_key, r.tags["asr/attempt"]) for r in first] == [("b1:1", "1")]
        _run(instance, dg.DagsterRunStatus.FAILURE)
        assert "retry" in settle_requested(db, instance, ZONE, NO_WAIT)[0]
        assert _status(db)[:2] == ("failed", 1)
        second = request_due(db, ZONE)
        assert [r.run_key for r in second] == ["b1:2"]
        _run(instance, dg.DagsterRunStatus.FAILURE)
        assert "given up" in settle_requested(db, instance, ZONE, NO_WAIT)[0]
        status, attempts, error = _status(db)
        assert (status, attempts) == ("given_up", 2) and "connection refused" in error
        assert request_due(db, ZONE) == []  # not retried forever


def test_a_given_up_batch_fails_its_check_until_an_operator_re_materialises_it(db):
    from asr_assets.defs.batch_checks import CHECK_NAME, evaluation

    with dg.instance_for_test() as instance:
        for _ in range(2):
            request_due(db, ZONE)
            _run(instance, dg.DagsterRunStatus.FAILURE)
            settle_requested(db, instance, ZONE, NO_WAIT)
        check = evaluation(db, ZONE)
        assert check.check_name == CHECK_NAME and not check.passed
        assert check.metadata["given_up_batches"].value == 1
        assert (
            "b1" in check.metadata["batches"].value
            and "connection refused" in check.metadata["batches"].value
        )
        assert settle_given_up(db, instance, ZONE) == []  # its last run is still the failed one

        with db.cursor() as cur:  # the operator fixed the cause and re-materialised the partition
            cur.execute(
                "insert into asr_raw.quarantine (checksum, file_name, source_uri, partition_key, reason_code,"
                " reason) values ('c1', 'a.wav', 'file:///landing/a.wav', 'b1', 'empty', 'a.wav: empty')"
            )
        _run(instance, dg.DagsterRunStatus.SUCCESS)
        assert "re-materialised" in settle_given_up(db, instance, ZONE)[0]
        assert _status(db)[0] == "succeeded" and evaluation(db, ZONE).passed


def test_a_failure_dagster_will_re_execute_is_left_to_it(db):
    with dg.instance_for_test() as instance:
        request_due(db, ZONE)
        run = _run(instance, dg.DagsterRunStatus.FAILURE)
        instance.add_run_tags(run.run_id, {WILL_RETRY_TAG: "true"})
        assert settle_requested(db, instance, ZONE, NO_WAIT) == []
        assert _status(db)[0] == "requested"


def test_success_needs_every_file_in_calls_or_quarantine(db):
    with dg.instance_for_test() as instance:
        request_due(db, ZONE)
        _run(instance, dg.DagsterRunStatus.SUCCESS)
        settle_requested(db, instance, ZONE, RetryPolicy(backoff_s=0))
        assert _status(db)[0] == "failed" and "neither" in _status(db)[2]
        request_due(db, ZONE)
        with db.cursor() as cur:
            cur.execute(
                "insert into asr_raw.quarantine (checksum, file_name, source_uri, partition_key, reason_code, reason)"
                " values ('c1', 'a.wav', 'file:///landing/a.wav', 'b1', 'empty', 'a.wav: empty')"
            )
        _run(instance, dg.DagsterRunStatus.SUCCESS)
        settle_requested(db, instance, ZONE, RetryPolicy())
        assert _status(db)[0] == "succeeded"
        assert request_due(db, ZONE) == []


def test_another_landing_zone_does_not_request_the_batch(db):
    assert request_due(db, "s3://other-bucket/landing") == []
    assert [r.partition_key for r in request_due(db, ZONE)] == ["b1"]


def test_a_request_whose_run_never_appeared_is_asked_for_again(db):
    with dg.instance_for_test() as instance:
        request_due(db, ZONE)
        settle_requested(db, instance, ZONE, RetryPolicy(lost_after_s=3600))
        assert _status(db)[0] == "requested"  # not yet
        settle_requested(db, instance, ZONE, NO_WAIT)
        assert _status(db)[0] == "failed" and request_due(db, ZONE)[0].run_key == "b1:2"


def test_a_started_run_whose_worker_died_is_failed_so_the_queue_moves():
    """Locally nothing checks a run worker's health: a kill -9 of the process tree left a run STARTED forever (F7)."""
    with dg.instance_for_test() as instance:
        dead = subprocess.Popen(["true"])
        dead.wait()
        run = instance.add_run(dg.DagsterRun(job_name=JOB_NAME, status=dg.DagsterRunStatus.STARTED))
        instance.report_engine_event(
            f"Started process for run (pid: {dead.pid}).", run, EngineEventData.in_process(dead.pid)
        )
        alive = instance.add_run(dg.DagsterRun(job_name=JOB_NAME, status=dg.DagsterRunStatus.STARTED))
        import os

        instance.report_engine_event(
            f"Started process for run (pid: {os.getpid()}).", alive, EngineEventData.in_process(os.getpid())
        )
        assert reap_dead_local_runs(instance) == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
