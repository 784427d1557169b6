"""Landing and artifacts in an object store (s3://), against a real S3-protocol server on 127.0.0.1: moto's
standalone server, started here as its own process. The code under test talks to it through s3fs exactly as it
would to AWS or MinIO: the endpoint and the credentials come from the environment (AWS_*), never from the URL.

- the whole ingest_job on a bucket prefix: the sensor finds the objects, the calls are transcribed and loaded,
  every artifact lands under another prefix of the bucket and nothing in the local state folder;
- a re-upload of the same bytes under another key is a duplicate, never a second call;
- an object that disappears between the listing and the read is skipped with its reason (the tick goes on), and
  one that disappears after registration is quarantined as missing: accounted for, not lost;
- a URL that carries credentials is refused with the fix, the secret never printed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import psycopg2
import pytest
import s3fs

from asr_assets import settings
from asr_assets.definitions import defs
from asr_assets.defs.partitions import ingest_batches
from asr_assets.defs.resources import ArtifactStoreResource, LandingZoneResource, PostgresResource
from asr_assets.defs.sensors import landing_sensor
from asr_assets.platform.discovery import list_landing
from asr_assets.platform.registry import BatchLimits, TickBudget, register
from asr_assets_tests.conftest import free_port, throwaway_database
from asr_assets_tests.conftest import query_rows as _query

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
# Fake credentials: moto accepts any, and the test greps its output for this one.
SECRET_KEY = "test-secret-key-never-printed"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free port of 127.0.0.1, in its own process for the module."""
    assert MOTO_SERVER.exists(), f"{MOTO_SERVER} is missing: moto[server] is in the dev group (make install)"
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on port {port}: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint: str, asr_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket; the landing zone and the artifact store are two prefixes of it (ASR_LANDING_URL,
    ASR_STORAGE_URL), the credentials and the endpoint in the environment as a Kubernetes Secret would give them."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test-access-key",
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    name = f"calls-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem.clear_instance_cache()  # a filesystem from an earlier test keeps its old credentials
    s3fs.S3FileSystem().mkdir(name)
    monkeypatch.setenv("ASR_LANDING_URL", f"s3://{name}/landing")
    monkeypatch.setenv("ASR_STORAGE_URL", f"s3://{name}/artifacts")
    yield name


def _s3() -> s3fs.S3FileSystem:
    """A client of our own (like an uploader's), never the cached instance the code under test uses."""
    return s3fs.S3FileSystem(skip_instance_cache=True)


def _tick(instance: dg.DagsterInstance) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, resources={"landing": LandingZoneResource(), "postgres": PostgresResource()}
    )
    return landing_sensor(context)


def _new_partitions(tick: dg.SensorResult) -> list[str]:
    return [key for request in tick.dynamic_partitions_requests for key in request.partition_keys]


@pytest.fixture
def own_database(embedded_server_url: str) -> Iterator[str]:
    """A database of this test's own on the embedded server: the session's are shared with other tests' calls."""
    yield from throwaway_database(embedded_server_url, prefix="asr_s3")


@pytest.mark.slow
def test_ingest_job_on_a_bucket_prefix(bucket, asr_home, own_database, sample_calls, monkeypatch, capfd):
    embedded_database_url = own_database
    monkeypatch.setenv("ASR_DATABASE_URL", embedded_database_url)
    s3 = _s3()
    call = sample_calls[0]
    s3.put(str(call), f"{bucket}/landing/2026/12/05/{call.name}")
    s3.pipe(f"{bucket}/landing/2026/12/05/noise.wav", np.random.default_rng(7).bytes(20_000))
    s3.pipe(f"{bucket}/landing/2026/12/05/.upload.wav.part", b"half an upload")

    with dg.instance_for_test() as instance:
        tick = _tick(instance)
        (key,) = _new_partitions(tick)
        instance.add_dynamic_partitions(ingest_batches.name, [key])
        result = defs.resolve_job_def("ingest_job").execute_in_process(partition_key=key, instance=instance)
        assert result.success
        # the marts build marts_sensor asks for writes the batch's report page to the bucket too
        from asr_assets.defs.marts import marts_sensor

        request = marts_sensor(
            dg.build_sensor_context(
                instance=instance,
                resources={"landing": LandingZoneResource(), "postgres": PostgresResource()},
            )
        )
        assert isinstance(request, dg.RunRequest), request
        marts = defs.resolve_job_def("marts_job").execute_in_process(
            run_config=request.run_config, instance=instance
        )
        assert marts.success

        # the same bytes uploaded again under another key: a duplicate, no new batch, no second call
        s3.put(str(call), f"{bucket}/landing/2026/12/06/copy-of-{call.name}")
        again = _tick(instance)
        assert _new_partitions(again) == [] and again.run_requests == []

    uri = f"s3://{bucket}/landing/2026/12/05/{call.name}"
    calls = _query(embedded_database_url, "select source_uri, partition_key from asr_raw.calls")
    assert calls == [(uri, key)]
    words = _query(
        embedded_database_url, "select count(*) from asr_raw.words where partition_key = %(k)s", {"k": key}
    )[0][0]
    assert words > 20
    quarantine = _query(embedded_database_url, "select source_uri, reason_code from asr_raw.quarantine")
    assert quarantine == [(f"s3://{bucket}/landing/2026/12/05/noise.wav", "undecodable")]
    duplicates = _query(embedded_database_url, "select source_uri from asr_raw.landed_duplicates")
    assert duplicates == [(f"s3://{bucket}/landing/2026/12/06/copy-of-{call.name}",)]
    outcomes = dict(_query(embedded_database_url, "select source_uri, outcome from asr_raw.landing_objects"))
    assert outcomes[f"s3://{bucket}/landing/2026/12/05/.upload.wav.part"] == "skipped"

    # every artifact is under the storage prefix of the bucket; nothing went to the local state folder
    artifacts = s3.find(f"{bucket}/artifacts")
    assert any(p.endswith(f"raw_audio/{key}/manifest.json") for p in artifacts), artifacts
    assert any(f"/transcripts/{key}/" in p for p in artifacts), artifacts
    assert any(p.endswith(f"reports/{key}.html") for p in artifacts), artifacts
    assert not (asr_home / "artifacts").exists() and not (asr_home / "landing").exists()
    # the landing prefix is left as it was (the platform reads it, never moves or deletes from it)
    assert len(s3.find(f"{bucket}/landing")) == 4

    out, err = capfd.readouterr()
    assert SECRET_KEY not in out + err


def test_an_object_that_vanishes_is_skipped_then_missing(bucket, database_url, write_tone, tmp_path):
    """Deleted between the listing and the read: skipped with its reason, the tick goes on. Deleted after it was
    registered: raw_audio quarantines it as missing, so the batch accounts for it."""
    s3 = _s3()
    for name in ("a.wav", "b.wav", "c.wav"):
        s3.put(str(write_tone(tmp_path / name, 1.0 + len(name) / 10)), f"{bucket}/landing/{name}")
    s3.pipe(f"{bucket}/landing/b.wav", b"RIFF" + b"\0" * 100)  # b differs from a (same tone length)
    listing = list_landing(f"s3://{bucket}/landing")
    assert sorted(o.name for o in listing.objects) == ["a.wav", "b.wav", "c.wav"]
    s3.rm(f"{bucket}/landing/c.wav")

    zone = LandingZoneResource().resolved_url()
    dsn = settings.libpq_url(database_url)
    conn = psycopg2.connect(dsn)
    try:
        PostgresResource(database_url=database_url).migrate()
        with conn:
            registration = register(
                conn, listing, zone, BatchLimits(10, 3600, 0), TickBudget(200, 1 << 30, 20.0)
            )
    finally:
        conn.close()
    assert len(registration.new) == 2
    assert [(e.uri, e.reason) for e in registration.skipped] == [
        (f"s3://{bucket}/landing/c.wav", "vanished between the listing and the read")
    ]
    (key,) = set(registration.new)

    s3.rm(f"{bucket}/landing/a.wav")  # registered, then gone before raw_audio reads it
    from asr_assets.defs.raw_audio import raw_audio

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ingest_batches.name, [key])
        result = dg.materialize(
            [raw_audio],
            partition_key=key,
            instance=instance,
            resources={
                "postgres": PostgresResource(database_url=database_url),
                "landing": LandingZoneResource(),
                "artifacts": ArtifactStoreResource(),
            },
        )
    assert result.success
    manifest = ArtifactStoreResource().read_json("raw_audio", key, "manifest.json")
    reasons = {q["file_name"]: q["reason_code"] for q in manifest["quarantine"]}
    assert reasons["a.wav"] == "missing"
    assert len(manifest["quarantine"]) + len(manifest["calls"]) == 2


@pytest.mark.parametrize(
    "url",
    [
        "s3://AKIAEXAMPLE:{secret}@bucket/landing",
        "s3://bucket/landing?secret_access_key={secret}",
    ],
)
def test_credentials_in_a_location_url_are_refused(url, asr_home, monkeypatch):
    monkeypatch.setenv("ASR_LANDING_URL", url.format(secret=SECRET_KEY))
    monkeypatch.setenv("ASR_STORAGE_URL", url.format(secret=SECRET_KEY).replace("landing", "artifacts"))
    for attempt, variable in (
        (LandingZoneResource().listing, "ASR_LANDING_URL"),
        (lambda: ArtifactStoreResource().uri("x"), "ASR_STORAGE_URL"),
    ):
        with pytest.raises(settings.ConfigurationError) as refused:
            attempt()
        message = str(refused.value)
        assert SECRET_KEY not in message and "AKIAEXAMPLE" not in message
        assert f"set {variable} to s3://bucket/" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert os.environ["ASR_LANDING_URL"].count(SECRET_KEY) == 1  # the setting itself is left alone


@pytest.fixture
def queue(bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An SQS queue on the same moto server receiving the bucket's ObjectCreated events for the landing prefix
    (ASR_LANDING_QUEUE_URL), as an S3 event notification configuration sets it up on AWS."""
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"landing-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "landing/"}]}},
                }
            ]
        },
    )
    monkeypatch.setenv("ASR_LANDING_QUEUE_URL", url)
    return url


def _queue_depth(url: str) -> int:
    import boto3

    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


@pytest.mark.slow  # a minute of real work (make test runs it; make test-fast leaves it out)
def test_an_event_queue_drives_discovery_and_the_reconciliation_pass_finds_what_it_lost(
    bucket, queue, own_database, write_tone, tmp_path, monkeypatch
):
    """Notification-driven discovery against moto's S3 and SQS: the tick registers the objects the events name and
    deletes the messages once committed; a duplicated event registers nothing twice; an object whose event was
    lost is found by the reconciliation pass, listed from a key in slices; a queue that is down falls back to
    listing the prefix, and nothing is lost."""
    import boto3

    from asr_assets.platform.landing_watch import ReconcileState

    monkeypatch.setenv("ASR_DATABASE_URL", own_database)
    monkeypatch.setenv("ASR_RECONCILE_INTERVAL_S", "3600")
    monkeypatch.setenv("ASR_RECONCILE_SLICE", "2")
    s3 = _s3()
    sqs = boto3.client("sqs")

    def upload(name: str, amplitude: float) -> None:
        write_tone(tmp_path / name, 1.0, amplitude=amplitude)
        s3.put(str(tmp_path / name), f"{bucket}/landing/{name}")

    def registered() -> set[str]:
        return {row[0] for row in _query(own_database, "select file_name from asr_raw.landed_files")}

    with dg.instance_for_test() as instance:
        cursor = ReconcileState(
            after="", pass_started=time.time()
        ).to_cursor()  # a pass just done: events only

        def tick() -> dg.SensorResult:
            nonlocal cursor
            context = dg.build_sensor_context(
                instance=instance,
                cursor=cursor,
                resources={"landing": LandingZoneResource(queue_url=queue), "postgres": PostgresResource()},
            )
            result = landing_sensor(context)
            cursor = result.cursor
            return result

        upload("a.wav", 0.2)
        upload("b.wav", 0.3)
        assert _queue_depth(queue) == 3  # the two uploads and the s3:TestEvent of the configuration (as AWS)
        tick()
        assert registered() == {"a.wav", "b.wav"} and _queue_depth(queue) == 0  # handled, then deleted

        # the same event twice (SQS delivers at least once): still one call
        body = json.dumps({"Records": [{"eventName": "ObjectCreated:Put",
                                         "s3": {"bucket": {"name": bucket}, "object": {"key": "landing/a.wav"}}}]})  # fmt: skip
        sqs.send_message(QueueUrl=queue, MessageBody=body)
        sqs.send_message(QueueUrl=queue, MessageBody=body)
        tick()
        assert _query(own_database, "select count(*) from asr_raw.landed_files") == [(2,)]

        # lost: c's and d's events never reach the tick; the reconciliation pass (2 keys a slice) finds them
        upload("c.wav", 0.4)
        upload("d.wav", 0.5)
        sqs.purge_queue(QueueUrl=queue)
        tick()
        assert registered() == {"a.wav", "b.wav"}
        cursor = ReconcileState(after="", pass_started=0.0).to_cursor()  # the pass is due
        for _ in range(3):
            tick()
        assert registered() == {"a.wav", "b.wav", "c.wav", "d.wav"}

        # the queue is down: the tick lists the prefix instead, and says so
        monkeypatch.setenv("ASR_LANDING_QUEUE_URL", queue + "-gone")
        upload("e.wav", 0.6)
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={
                "landing": LandingZoneResource(queue_url=queue + "-gone"),
                "postgres": PostgresResource(),
            },
        )
        landing_sensor(context)
        assert "e.wav" in registered()
