import os
import shutil
import time
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from asr_assets import settings
from asr_assets.defs.partitions import ingest_batches
from asr_assets.defs.resources import LandingZoneResource, PostgresResource
from asr_assets.defs.sensors import landing_sensor
from asr_assets.platform.sql.migrate import migrate
from asr_assets_tests.conftest import query_rows


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
        self._mtime = 1_700_000_000.0
        self.cursor: str | None = None  # kept between ticks, as the daemon keeps it

    def put(self, src: Path, name: str) -> Path:
        from asr_assets.platform.folder_events import is_watched

        dest = self.root / name
        shutil.copyfile(src, dest)
        self._mtime += 1  # distinct, increasing landing times
        os.utime(dest, (self._mtime, self._mtime))
        if is_watched(
            str(self.root)
        ):  # the next tick goes by events: wait for them, whenever the thread delivers
            self.resources["landing"].look_again(sorted(_delivered_events(self.root, {dest.name})))
        return dest

    def tick(self) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources=self.resources,
        )
        result = landing_sensor(context)
        self.cursor = result.cursor
        for request in result.dynamic_partitions_requests:
            self.instance.add_dynamic_partitions(ingest_batches.name, list(request.partition_keys))
        return result

    def query(self, sql: str) -> list[tuple]:
        return query_rows(self.database_url, sql)


_EMPTY_REGISTRY = (
    "truncate asr_raw.landed_duplicates, asr_raw.landed_files, asr_raw.ingest_batches, asr_raw.landing_objects "
    "cascade; select 1"
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
    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [(added[0], f"{added[0]}:1")]
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


def test_a_later_tick_registers_only_later_files(landing, sample_calls):
    landing.put(sample_calls[0], "a.wav")
    first = landing.tick()
    landing.put(sample_calls[1], "b.wav")
    second = landing.tick()
    assert len(_added(first)) == 1 and len(_added(second)) == 1 and _added(first) != _added(second)
    assert [r.partition_key for r in second.run_requests] == _added(second)
    by_file = dict(landing.query("select file_name, partition_key from asr_raw.landed_files"))
    assert by_file == {"a.wav": _added(first)[0], "b.wav": _added(second)[0]}


def test_calls_landing_while_runs_are_busy_wait_for_company_in_one_batch(landing, sample_calls):
    """A batch closes at the end of its tick while fewer than batch_max_in_flight (2) batches wait for or are in a
    run; past that, the calls landing meanwhile gather in the open batch, which closes once a run settles."""
    keys = []
    for name, path in zip(("a.wav", "b.wav", "c.wav", "d.wav"), sample_calls[:4], strict=True):
        landing.put(path, name)
        keys.append([r.partition_key for r in landing.tick().run_requests])
    assert [len(k) for k in keys] == [1, 1, 0, 0]  # a and b each requested at once; c and d wait
    by_file = dict(landing.query("select file_name, partition_key from asr_raw.landed_files"))
    assert by_file["c.wav"] == by_file["d.wav"] not in (keys[0][0], keys[1][0])
    query_rows(
        landing.database_url,
        "update asr_raw.ingest_batches set status = 'succeeded' where partition_key = %(key)s",
        {"key": keys[0][0]},
    )
    assert [r.partition_key for r in landing.tick().run_requests] == [by_file["c.wav"]]


def test_a_fresh_instance_on_the_same_database_requests_nothing_new(landing, sample_calls):
    for path in sample_calls[:2]:
        landing.put(path, path.name)
    keys = _added(landing.tick())
    with dg.instance_for_test() as other:  # a second deployment, or a restarted one with its storage lost
        rescan = Landing(landing.root, landing.database_url, other).tick()
    assert _added(rescan) == [] and rescan.run_requests == []  # the batch is requested already
    assert landing.query("select count(*) from asr_raw.landed_files") == [(2,)]
    assert landing.query("select partition_key, status, attempts from asr_raw.ingest_batches") == [
        (keys[0], "requested", 1)
    ]


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
            "truncate asr_raw.landed_duplicates, asr_raw.landed_files, asr_raw.ingest_batches, asr_raw.landing_objects; select 1"
        )
    assert [n for _, n in sizes] == [2, 2]
    assert _added(result) == [k for k, _ in sizes] == [r.partition_key for r in result.run_requests]


@pytest.mark.parametrize(("channels", "expected"), [(1, [3]), (2, [1, 2])])
def test_batches_are_bounded_by_channel_seconds(channels, expected, tmp_path, database_url, write_tone):
    """A batch's audio is counted per channel (each channel is transcribed on its own): three 3 s files fit 13
    channel-seconds when mono (9), not when stereo (18)."""
    root = tmp_path / "landing"
    root.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    with dg.instance_for_test() as instance:
        landing = Landing(root, database_url, instance, batch_max_audio_s=13)
        for i in range(3):
            tone = write_tone(src / f"t{i}.wav", 3.0, channels=channels, amplitude=0.1 + i / 10)
            landing.put(tone, f"t{i}.wav")
        landing.tick()
        sizes = landing.query("select count(*) from asr_raw.landed_files group by partition_key order by 1")
        landing.query(
            "truncate asr_raw.landed_duplicates, asr_raw.landed_files, asr_raw.ingest_batches, asr_raw.landing_objects; select 1"
        )
    assert [n for (n,) in sizes] == expected


def test_partial_uploads_are_not_listed(tmp_path):
    (tmp_path / ".call.wav.part").write_bytes(b"RIFF")
    (tmp_path / "call.wav").write_bytes(b"RIFF")
    listing = LandingZoneResource(url=str(tmp_path)).listing()
    assert [o.name for o in listing.objects] == ["call.wav"]
    assert [e.reason.split(" (")[0] for e in listing.skipped] == ["temporary name"]


def test_files_with_old_modification_times_are_registered(landing, sample_calls):
    """mv, cp -p, rsync -a and SMB copies keep the source's time: discovery must not depend on it (F4)."""
    landing.put(sample_calls[0], "new.wav")
    landing.tick()
    old = landing.root / "moved_in_with_old_mtime.wav"
    shutil.copyfile(sample_calls[1], old)
    os.utime(old, (1_000_000_000, 1_000_000_000))  # 2001
    landing.resources["landing"].look_again(sorted(_delivered_events(landing.root, {old.name})))
    second = landing.tick()
    assert len(_added(second)) == 1
    names = {r[0] for r in landing.query("select file_name from asr_raw.landed_files")}
    assert names == {"new.wav", "moved_in_with_old_mtime.wav"}


def test_a_name_that_is_not_utf8_is_registered_and_the_tick_goes_on(landing, sample_calls):
    """A Latin-1 name made every tick fail until the file was deleted (F3)."""
    raw = os.fsencode(landing.root) + b"/M\xfcller.wav"
    with open(raw, "wb") as f:
        f.write(sample_calls[0].read_bytes())
    landing.put(sample_calls[1], "innocent_next.wav")
    result = landing.tick()
    assert len(result.run_requests) == 1
    rows = landing.query(
        "select file_name, source_uri, source_uri_bytes from asr_raw.landed_files order by 1"
    )
    assert [r[0] for r in rows] == ["M\\xfcller.wav", "innocent_next.wav"]
    assert bytes(rows[0][2]) == raw and rows[1][2] is None
    assert os.path.exists(os.fsdecode(bytes(rows[0][2])))  # the stored bytes open the real file


def test_entries_not_taken_are_recorded_with_a_reason(landing, sample_calls, tmp_path):
    outside = tmp_path / "outside.wav"
    shutil.copyfile(sample_calls[0], outside)
    (landing.root / "link_to_outside.wav").symlink_to(outside)
    (landing.root / "link_dir").symlink_to(tmp_path)
    (landing.root / ".hidden.wav").write_bytes(b"RIFF")
    (landing.root / "upload.wav.part").write_bytes(b"RIFF")
    landing.put(sample_calls[1], "real.wav")
    result = landing.tick()
    assert len(result.run_requests) == 1
    skipped = dict(
        landing.query("select source_uri, reason from asr_raw.landing_objects where outcome = 'skipped'")
    )
    by_name = {uri.rsplit("/", 1)[-1]: reason for uri, reason in skipped.items()}
    assert by_name["link_to_outside.wav"].startswith("symlink")
    assert by_name["link_dir"].startswith("symlink to a folder")
    assert by_name[".hidden.wav"].startswith("temporary name")
    assert by_name["upload.wav.part"].startswith("temporary name")


def test_a_tick_hashes_within_its_budget_and_leaves_the_rest(tmp_path, database_url, write_tone):
    root = tmp_path / "landing"
    root.mkdir()
    with dg.instance_for_test() as instance:
        landing = Landing(root, database_url, instance, max_files_per_tick=2)
        migrate(settings.libpq_url(database_url))
        landing.query(_EMPTY_REGISTRY)
        for i in range(5):
            write_tone(root / f"t{i}.wav", 1.0, amplitude=0.1 + i / 20)
        counts = []
        for _ in range(3):
            landing.tick()
            counts.append(landing.query("select count(*) from asr_raw.landed_files")[0][0])
        landing.query(_EMPTY_REGISTRY)
    assert counts == [2, 4, 5]


def test_vanished_and_changing_files_are_skipped_not_fatal(tmp_path, write_tone):
    from asr_assets.platform.discovery import LandedObject
    from asr_assets.platform.registry import TickBudget, hash_within_budget

    real = write_tone(tmp_path / "real.wav", 1.0)
    gone = LandedObject(f"file://{tmp_path}/gone.wav", "gone.wav", 10, 1.0)
    changing = LandedObject(f"file://{real}", "real.wav", 1, 1.0)  # listed with another size
    hashed, skipped, deferred = hash_within_budget([gone, changing], TickBudget(10, 1 << 30, 10))
    assert hashed == [] and deferred == 0
    assert [s.reason.split(" (")[0] for s in skipped] == [
        "vanished between the listing and the read",
        "still being written",
    ]


def test_marts_fresh_fails_while_a_closed_batch_waits_and_passes_once_it_is_built(
    asr_home, embedded_database_url, write_tone, monkeypatch
):
    """The marts' freshness expectation: a batch closed longer ago than ASR_MARTS_MAX_LAG_S that is not yet
    transcribed, or transcribed and loaded but not yet built into the marts, makes marts_fresh fail (reported by
    marts_freshness_sensor when the verdict changes)."""
    import numpy as np

    from asr_assets import settings
    from asr_assets.defs.batch_checks import FRESH_CHECK, fresh_state, marts_freshness_sensor
    from asr_assets.defs.resources import LandingZoneResource, PostgresResource
    from asr_assets.defs.sensors import landing_sensor

    monkeypatch.setenv("ASR_DATABASE_URL", embedded_database_url)
    monkeypatch.setenv("ASR_MARTS_MAX_LAG_S", "0")
    (asr_home / "landing").mkdir()
    write_tone(asr_home / "landing" / "a.wav", 1.5, amplitude=0.1 + np.random.default_rng().random() / 2)
    resources = {"landing": LandingZoneResource(), "postgres": PostgresResource()}
    with dg.instance_for_test() as instance:
        (key,) = {
            k
            for r in landing_sensor(
                dg.build_sensor_context(instance=instance, resources=resources)
            ).dynamic_partitions_requests
            for k in r.partition_keys
        }
        context = dg.build_sensor_context(instance=instance, resources=resources)
        first = marts_freshness_sensor(context)
        (stale,) = first.asset_events
        assert (
            stale.check_name == FRESH_CHECK
            and not stale.passed
            and stale.metadata["stale_batches"].value == 1
        )
        assert key in stale.metadata["batches"].value
        assert isinstance(marts_freshness_sensor(context), dg.SkipReason)  # unchanged: not reported again
        conn = psycopg2.connect(settings.libpq_url(embedded_database_url))
        try:
            with conn, conn.cursor() as cur:  # what the batch's successful run records
                cur.execute(
                    "update asr_raw.ingest_batches set status = 'succeeded' where partition_key = %s", (key,)
                )
                cur.execute(
                    "insert into asr_raw.batch_loads (partition_key, loaded_at, call_count, quarantine_count)"
                    " values (%s, now(), 1, 0)",
                    (key,),
                )
        finally:
            conn.close()
        # transcribed and loaded, not built: still stale (the verdict unchanged, so not reported again)
        assert isinstance(marts_freshness_sensor(context), dg.SkipReason)
        conn = psycopg2.connect(settings.libpq_url(embedded_database_url))
        try:
            passed, metadata = fresh_state(conn, LandingZoneResource().resolved_url(), 0)
        finally:
            conn.close()
        assert not passed and "loaded, not built" in metadata["batches"].value
        conn = psycopg2.connect(settings.libpq_url(embedded_database_url))
        try:
            with conn, conn.cursor() as cur:  # as if the marts build had picked it up (no such batch left)
                cur.execute("delete from asr_raw.batch_loads where partition_key = %s", (key,))
        finally:
            conn.close()
        (fresh,) = marts_freshness_sensor(context).asset_events
        assert fresh.passed and fresh.metadata["stale_batches"].value == 0


def _registered(landing: Landing) -> set[str]:
    return {row[0] for row in landing.query("select file_name from asr_raw.landed_files")}


def _delivered_events(root: Path, names: set[str]) -> set[str]:
    """Drain the folder's feed until its events have named every file of `names` (the observer thread delivers
    them a moment after the write); returns the paths drained."""
    from asr_assets.platform.folder_events import folder_events

    drained: set[str] = set()
    deadline = time.monotonic() + 30
    quiet_since = time.monotonic()
    # every name seen, then no event for half a second: a copy's later events (its close, the utime) are in too
    while time.monotonic() < deadline and not (
        names <= {Path(p).name for p in drained} and time.monotonic() - quiet_since > 0.5
    ):
        got = folder_events(str(root)).drain() or set()
        if got:
            drained |= got
            quiet_since = time.monotonic()
        time.sleep(0.05)
    assert names <= {Path(p).name for p in drained}, drained
    return drained


def test_a_watched_folder_registers_what_its_events_name(landing, sample_calls):
    """After the first tick (a whole listing: the process may have started after files landed), a tick registers
    the files filesystem events named, without listing the folder."""
    from asr_assets.platform.landing_watch import ReconcileState

    landing.put(sample_calls[0], "first.wav")
    landing.tick()
    assert _registered(landing) == {"first.wav"}
    landing.put(sample_calls[1], "second.wav")
    sub = landing.root / "2026" / "12"
    sub.mkdir(parents=True)
    landing.put(sample_calls[2], "2026/12/third.wav")
    zone = landing.resources["landing"]
    zone.look_again(sorted(_delivered_events(landing.root, {"second.wav", "third.wav"})))  # back for the tick
    seen = zone.look(ReconcileState.from_cursor(landing.cursor), time.time())
    assert seen.how == "events"
    assert {o.name for o in seen.listing.objects} == {"second.wav", "third.wav"}
    zone.look_again([o.uri for o in seen.listing.objects])  # not registered yet: the tick's to register
    landing.tick()
    assert _registered(landing) == {"first.wav", "second.wav", "third.wav"}


def test_files_whose_events_were_missed_are_found_by_the_reconciliation_pass_in_slices(
    tmp_path, database_url, sample_calls
):
    root = tmp_path / "landing"
    root.mkdir()
    with dg.instance_for_test() as instance:
        landing = Landing(root, database_url, instance, reconcile_interval_s=3600, reconcile_slice=2)
        migrate(settings.libpq_url(database_url))
        landing.query(_EMPTY_REGISTRY)
        landing.tick()  # the whole (empty) folder, and the pass it counts as
        for path in sample_calls[:4]:
            landing.put(path, path.name)
        _delivered_events(root, {p.name for p in sample_calls[:4]})  # and lost
        landing.tick()
        assert _registered(landing) == set()  # no event, no pass due: nothing looked at
        landing.resources["landing"] = LandingZoneResource(
            url=str(root), reconcile_interval_s=0, reconcile_slice=2
        )
        counts = []
        for _ in range(3):
            landing.tick()
            counts.append(len(_registered(landing)))
        assert counts == [2, 4, 4]  # two entries compared a tick, in URI order, then a new pass
        landing.query(_EMPTY_REGISTRY)


def test_files_over_a_ticks_budget_are_looked_at_again_by_the_next_tick(tmp_path, database_url, sample_calls):
    root = tmp_path / "landing"
    root.mkdir()
    with dg.instance_for_test() as instance:
        landing = Landing(root, database_url, instance, max_files_per_tick=1)
        migrate(settings.libpq_url(database_url))
        landing.query(_EMPTY_REGISTRY)
        landing.tick()
        for path in sample_calls[:3]:
            landing.put(path, path.name)
        landed = _delivered_events(root, {p.name for p in sample_calls[:3]})
        landing.resources["landing"].look_again(
            sorted(landed)
        )  # the events, whenever the thread delivered them
        counts = []
        for _ in range(3):
            landing.tick()
            counts.append(len(_registered(landing)))
        assert counts == [1, 2, 3]
        landing.query(_EMPTY_REGISTRY)


def test_reconciliation_slices_walk_the_folder_in_uri_order_and_cover_it_once(tmp_path):
    """Slices resume after the last URI and together list exactly what a whole listing lists, in its order,
    dated sub-folders included (a sub-folder sorts as "name/": after "name.wav")."""
    from asr_assets.platform.discovery import list_landing, list_local_slice

    for name in ("a.wav", "a/x.wav", "a/y.wav", "b/c/d.wav", "b/c/e.wav", "b.wav", "z.wav", ".part.tmp"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    whole = list_landing(str(tmp_path))
    expected = sorted(e.uri for e in [*whole.objects, *whole.skipped])
    seen, after = [], ""
    for _ in range(10):
        part, after = list_local_slice(str(tmp_path), after, 3)
        seen += sorted(e.uri for e in [*part.objects, *part.skipped])
        if not after:
            break
    assert seen == expected and after == ""  # in order, each once
