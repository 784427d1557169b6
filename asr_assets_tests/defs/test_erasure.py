"""`asr-assets erase` end to end: a call transcribed by the real job (engine, raw tables, dbt marts) is erased
everywhere, the erasure is recorded where analysts cannot read it, the other call is untouched, and a re-upload of
the same content is refused by the landing sensor."""

import shutil
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import soundfile as sf
from psycopg2 import sql

from asr_assets import settings
from asr_assets.cli import main
from asr_assets.definitions import defs
from asr_assets.defs.partitions import ingest_batches
from asr_assets.defs.resources import LandingZoneResource, PostgresResource
from asr_assets.defs.sensors import landing_sensor
from asr_assets.hashing import sha256_file
from asr_assets_tests.conftest import query_rows

pytestmark = pytest.mark.slow
ERASED_NAME = "customer 0471 1234 erase-me.wav"
COPY_NAME = "same call again under another name.wav"
KEPT_NAME = "kept call.wav"


def _unique_copy(source: Path, target: Path) -> Path:
    """The sample call re-encoded (PCM_24): content no other test of the session registers."""
    audio, rate = sf.read(source)
    sf.write(target, audio, rate, subtype="PCM_24")
    return target


def _tables(dsn: str) -> list[tuple[str, str]]:
    return query_rows(
        dsn,
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
        "and table_schema in ('asr_raw', 'asr_staging', 'asr_marts') and table_name <> 'erasures'",
    )


def _rows_mentioning(dsn: str, needle: str) -> dict[str, int]:
    """Rows of every platform table whose text form (all columns) contains needle."""
    found = {}
    for schema, table in _tables(dsn):
        query = sql.SQL("select count(*) from {} as t where t::text like %(p)s").format(
            sql.Identifier(schema, table)
        )
        n = query_rows(dsn, query, {"p": f"%{needle}%"})[0][0]
        if n:
            found[f"{schema}.{table}"] = n
    return found


def _files_mentioning(root: Path, needles: list[bytes]) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and any(n in p.name.encode() or n in p.read_bytes() for n in needles)
    )


def _tick(instance) -> list[str]:
    context = dg.build_sensor_context(
        instance=instance, resources={"landing": LandingZoneResource(), "postgres": PostgresResource()}
    )
    return sorted({k for r in landing_sensor(context).dynamic_partitions_requests for k in r.partition_keys})


def test_erase_removes_a_call_everywhere_and_refuses_its_reupload(
    asr_home, embedded_database_url, sample_calls, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("ASR_DATABASE_URL", embedded_database_url)  # one server: the test is slow (real job)
    dsn = settings.libpq_url(embedded_database_url)
    landing = asr_home / "landing"
    landing.mkdir()
    erased = _unique_copy(sample_calls[0], landing / ERASED_NAME)
    shutil.copyfile(erased, landing / COPY_NAME)  # the same content under a second name: a duplicate
    _unique_copy(sample_calls[3], landing / KEPT_NAME)
    call_id, kept_id = sha256_file(erased), sha256_file(landing / KEPT_NAME)
    with dg.instance_for_test() as instance:
        (key,) = _tick(instance)
        instance.add_dynamic_partitions(ingest_batches.name, [key])
        job = defs.resolve_job_def("ingest_job")
        assert job.execute_in_process(partition_key=key, instance=instance).success
        assert (
            defs.resolve_job_def("marts_job").execute_in_process(instance=instance).success
        )  # marts_sensor's
        assert _tick(instance) == []  # the sensor settles the batch: no run of it in progress any more
        assert _rows_mentioning(dsn, call_id).get("asr_marts.fct_calls") == 1  # the marts have it
        assert _rows_mentioning(dsn, call_id).get("asr_raw.words", 0) > 5

        assert (
            main(["erase", "--call-id", call_id, "--requested-by", "ticket DPO-17", "--reason", "art. 17"])
            == 0
        )
        out = capsys.readouterr().out
        assert f"call {call_id}: erased" in out and "landing 2" in out and "vacuumed" in out

        # no row anywhere names the call, its file names, or the number spoken in the name
        assert _rows_mentioning(dsn, call_id) == {}
        assert _rows_mentioning(dsn, "erase-me") == {} and _rows_mentioning(dsn, "another name") == {}
        # no file: the landing copies are gone, the artifact copy too, manifest and transcripts rewritten
        assert sorted(p.name for p in landing.iterdir()) == [KEPT_NAME]
        assert _files_mentioning(asr_home / "artifacts", [call_id.encode(), b"erase-me"]) == []
        # the other call of the batch is untouched, in the raw tables and in the marts
        assert _rows_mentioning(dsn, kept_id).get("asr_marts.fct_calls") == 1
        # the record: who, when, what was removed, in numbers; no name; analysts cannot read it
        ((record,),) = query_rows(
            dsn, "select to_jsonb(e) from asr_raw.erasures as e where checksum = %(c)s", {"c": call_id}
        )
        assert record["requested_by"] == "ticket DPO-17" and record["partition_keys"] == [key]
        assert (
            record["removed"]["rows"]["asr_raw.words"] > 5
            and record["removed"]["rows"]["asr_marts.fct_calls"] == 1
        )
        assert record["removed"]["files"]["landing"] == 2 and "erase-me" not in str(record)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            query_rows(dsn, "set local role analyst; select count(*) from asr_raw.erasures")

        # re-materialising the batch (artifacts kept from before would hold it) does not bring it back
        assert job.execute_in_process(partition_key=key, instance=instance).success
        assert (
            defs.resolve_job_def("marts_job").execute_in_process(instance=instance).success
        )  # marts_sensor's
        assert _rows_mentioning(dsn, call_id) == {}
        assert _rows_mentioning(dsn, kept_id).get("asr_marts.fct_calls") == 1

        # a later upload of the same content is refused and recorded, not registered
        assert sha256_file(_unique_copy(sample_calls[0], landing / "uploaded again.wav")) == call_id
        assert _tick(instance) == []
        ((outcome, reason),) = query_rows(
            dsn,
            "select outcome, reason from asr_raw.landing_objects where source_uri like %(u)s",
            {"u": "%uploaded again.wav"},
        )
        assert outcome == "refused" and "erased on request" in reason

    # erasing again removes that refused copy from the landing zone too; an unknown id erases nothing
    assert main(["erase", "--call-id", call_id, "--requested-by", "ticket DPO-17"]) == 0
    assert not (landing / "uploaded again.wav").exists()
    assert main(["erase", "--call-id", "0" * 64, "--requested-by", "x"]) == 1
    assert "not known to the platform" in capsys.readouterr().err
