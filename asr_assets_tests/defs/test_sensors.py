import os
import shutil
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from asr_assets import settings
from asr_assets.defs.partitions import ingest_batches
from asr_assets.defs.resources import LandedObject, LandingZoneResource, PostgresResource
from asr_assets.defs.sensors import LandingCursor, landing_sensor, pending_objects
from asr_assets.defs.sql.migrate import migrate


class Landing:
    """A temp landing folder, a real database and a persistent instance; ticks apply partitions as the daemon does."""

    def __init__(self, root: Path, database_url: str, instance: dg.DagsterInstance, **batching):
        self.root = root
        self.database_url = database_url
        self.instance = instance
        self.resources = {
            "landing": LandingZoneResource(url=str(root), **batching),
            "postgres": PostgresResource(database_url=database_url),
        }
        self.cursor: str | None = None
        self._mtime = 1_700_000_000.0

    def put(self, src: Path, name: str) -> Path:
        dest = self.root / name
        shutil.copyfile(src, dest)
        self._mtime += 1  # distinct, increasing landing times
        os.utime(dest, (self._mtime, self._mtime))
        return dest

    def tick(self, cursor: str | None = "keep") -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor if cursor == "keep" else cursor,
            resources=self.resources,
        )
        result = landing_sensor(context)
        for request in result.dynamic_partitions_requests:
            self.instance.add_dynamic_partitions(ingest_batches.name, list(request.partition_keys))
        self.cursor = result.cursor
        return result

    def query(self, sql: str) -> list[tuple]:
        conn = psycopg2.connect(settings.libpq_url(self.database_url))
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()


_EMPTY_REGISTRY = (
    "truncate asr_raw.landed_duplicates, asr_raw.landed_files, asr_raw.ingest_batches cascade; select 1"
)


@pytest.fixture
def landing(tmp_path: Path, database_url: str):
    root = tmp_path / "landing"
    root.mkdir()
    # Each test starts from an empty registry in the session's database: other tests (the whole-graph run)
    # register batches there too, and a fresh instance would see them as batches still to request.
    with dg.instance_for_test() as instance:
        landing = Landing(root, database_url, instance)
        migrate(settings.libpq_url(database_url))
        landing.query(_EMPTY_REGISTRY)
        yield landing
        landing.query(_EMPTY_REGISTRY)


def _added(result: dg.SensorResult) -> list[str]:
    return [k for r in result.dynamic_partitions_requests for k in r.partition_keys]


def test_new_files_make_one_partition_and_one_run(landing, sample_calls):
    for path in sample_calls[:3]:
        landing.put(path, path.name)
    result = landing.tick()
    added = _added(result)
    assert len(added) == 1
    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [(added[0], added[0])]
    rows = landing.query("select file_name, partition_key, header_duration_s from asr_raw.landed_files")
    assert sorted(r[0] for r in rows) == sorted(p.name for p in sample_calls[:3])
    assert {r[1] for r in rows} == {added[0]} and all(r[2] > 1 for r in rows)
    # nothing new: the next tick requests nothing
    again = landing.tick()
    assert again.run_requests == [] and _added(again) == []


def test_reupload_under_another_name_is_a_duplicate_not_a_new_call(landing, sample_calls):
    landing.put(sample_calls[0], "call.wav")
    first = landing.tick()
    landing.put(sample_calls[0], "same call, renamed.wav")
    landing.put(sample_calls[0], "call.wav")  # same name, same content, landed again
    second = landing.tick()
    assert len(_added(first)) == 1 and _added(second) == [] and second.run_requests == []
    assert landing.query("select count(*) from asr_raw.landed_files") == [(1,)]
    dupes = landing.query("select file_name from asr_raw.landed_duplicates")
    assert dupes == [("same call, renamed.wav",)]


def test_cursor_resume_registers_only_later_files(landing, sample_calls):
    landing.put(sample_calls[0], "a.wav")
    first = landing.tick()
    landing.put(sample_calls[1], "b.wav")
    second = landing.tick()
    assert len(_added(first)) == 1 and len(_added(second)) == 1 and _added(first) != _added(second)
    assert [r.partition_key for r in second.run_requests] == _added(second)
    by_file = dict(landing.query("select file_name, partition_key from asr_raw.landed_files"))
    assert by_file == {"a.wav": _added(first)[0], "b.wav": _added(second)[0]}


def test_lost_cursor_creates_no_new_partitions_for_registered_files(landing, sample_calls):
    for path in sample_calls[:2]:
        landing.put(path, path.name)
    first = landing.tick()
    keys = _added(first)
    rescan = landing.tick(cursor=None)  # cursor deleted: everything is listed and hashed again
    assert _added(rescan) == []  # partitions exist already
    # the same batch is requested again under the same run key: the daemon skips a completed run key
    assert [r.run_key for r in rescan.run_requests] == keys
    assert landing.query("select count(*) from asr_raw.landed_files") == [(2,)]
    assert landing.query("select count(*) from asr_raw.ingest_batches") == [(1,)]


def test_batches_are_bounded_by_file_count(tmp_path, database_url, sample_calls):
    root = tmp_path / "landing"
    root.mkdir()
    with dg.instance_for_test() as instance:
        landing = Landing(root, database_url, instance, batch_max_files=2)
        for path in sample_calls[:4]:
            landing.put(path, path.name)
        landing.put(sample_calls[0], "copy.wav")
        result = landing.tick()
        sizes = landing.query(
            "select partition_key, count(*) from asr_raw.landed_files group by 1 order by 1"
        )
        landing.query(
            "truncate asr_raw.landed_duplicates, asr_raw.landed_files, asr_raw.ingest_batches; select 1"
        )
    assert [n for _, n in sizes] == [2, 2]
    assert _added(result) == [k for k, _ in sizes] == [r.run_key for r in result.run_requests]


def test_batches_are_bounded_by_audio_duration(tmp_path, database_url, write_tone):
    root = tmp_path / "landing"
    root.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    with dg.instance_for_test() as instance:
        landing = Landing(root, database_url, instance, batch_max_audio_s=5.0)
        for i in range(3):
            landing.put(write_tone(src / f"t{i}.wav", 3.0, amplitude=0.1 + i / 10), f"t{i}.wav")
        landing.tick()
        sizes = landing.query("select count(*) from asr_raw.landed_files group by partition_key order by 1")
        landing.query(
            "truncate asr_raw.landed_duplicates, asr_raw.landed_files, asr_raw.ingest_batches; select 1"
        )
    assert [n for (n,) in sizes] == [1, 1, 1]  # 3 s + 3 s > 5 s


def test_pending_objects_keeps_files_landed_in_the_same_second():
    a = LandedObject("file:///l/a.wav", "a.wav", 1, 100.0)
    b = LandedObject("file:///l/b.wav", "b.wav", 1, 100.0)
    c = LandedObject("file:///l/c.wav", "c.wav", 1, 101.0)
    todo, cursor = pending_objects([b, a], LandingCursor(), limit=1)
    assert todo == [a] and cursor.modified == 100.0 and cursor.uris_at_mark == (a.uri,)
    todo, cursor = pending_objects([a, b, c], cursor, limit=10)
    assert todo == [b, c] and cursor.uris_at_mark == (c.uri,)
    assert pending_objects([a, b, c], cursor, limit=10)[0] == []
    assert LandingCursor.from_json(cursor.to_json()) == cursor


def test_partial_uploads_are_not_listed(tmp_path):
    (tmp_path / ".call.wav.part").write_bytes(b"RIFF")
    (tmp_path / "call.wav").write_bytes(b"RIFF")
    names = [o.name for o in LandingZoneResource(url=str(tmp_path)).list_objects()]
    assert names == ["call.wav"]
