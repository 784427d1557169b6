"""landing_sensor: new files in the landing zone -> registered batches -> one partition and one run per batch.

Batch sizing. Dagster recommends at most ~100,000 partitions per asset (its UI fetches every key); we aim for
10-20k a year. A batch closes at `batch_max_files` calls or `batch_max_audio_s` of audio (by the file headers),
whichever comes first, or `batch_max_wait_s` after it opened. With the defaults (200 calls, 4 h of audio) a bank
landing 2 M calls a year (~5 min each) fills ~10,000 batches a year: 50,000 partitions in five years, and each run
carries minutes of work, enough to amortise the ~10 s of run start-up and the TensorFlow import. Locally
batch_max_wait_s is 0 (a batch closes at the end of its tick, so the demo does not wait); in a deployment with a
trickle of files set it to minutes, or the trickle makes one tiny partition per tick.

Exactly once. The durable registry (asr_raw.landed_files, keyed by content sha256) decides a file's batch, so
neither a re-upload under another name nor a lost cursor makes new partitions for known content. The cursor only
speeds up the scan: a high-water mark on the listing's modification time (plus the names seen at exactly that time,
so writers landing in the same second are not skipped) and the last batch requested. Writers must land files by
write-then-rename (or an object-store upload), which sets the modification time to the landing time.
"""

import json
from dataclasses import asdict, dataclass, field

import dagster as dg

from asr_assets import settings
from asr_assets.defs.jobs import ingest_job
from asr_assets.defs.partitions import ingest_batches
from asr_assets.defs.resources import (
    LandedObject,
    LandingZoneResource,
    PostgresResource,
    header_duration_s,
    sha256_uri,
)
from asr_assets.defs.sql import read_sql

# 5 s locally; a deployment sets e.g. 30-60 (each tick lists the whole landing prefix from the high-water mark).
SENSOR_INTERVAL_S = settings.current().sensor_interval_s
MAX_BATCHES_PER_TICK = 50  # run requests per tick (a lost cursor re-requests known batches a page at a time)


@dataclass(frozen=True)
class LandingCursor:
    modified: float = 0.0  # high-water mark of the listing's modification times
    uris_at_mark: tuple[str, ...] = ()  # files already taken whose modification time == modified
    batch_id: int = 0  # last batch a run was requested for

    @classmethod
    def from_json(cls, text: str | None) -> "LandingCursor":
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(raw["modified"], tuple(raw["uris_at_mark"]), raw["batch_id"])

    def to_json(self) -> str:
        return json.dumps(asdict(self) | {"uris_at_mark": list(self.uris_at_mark)})


def pending_objects(
    objects: list[LandedObject], cursor: LandingCursor, limit: int
) -> tuple[list[LandedObject], LandingCursor]:
    """The oldest `limit` files past the cursor, and the cursor that covers them (batch_id unchanged)."""
    seen = set(cursor.uris_at_mark)
    fresh = sorted(
        (
            o
            for o in objects
            if o.modified > cursor.modified or (o.modified == cursor.modified and o.uri not in seen)
        ),
        key=lambda o: (o.modified, o.uri),
    )[:limit]
    if not fresh:
        return [], cursor
    mark = fresh[-1].modified
    at_mark = [o.uri for o in fresh if o.modified == mark]
    if mark == cursor.modified:
        at_mark = [*cursor.uris_at_mark, *at_mark]
    return fresh, LandingCursor(mark, tuple(at_mark), cursor.batch_id)


@dataclass
class Registration:
    new: list[str] = field(default_factory=list)  # partition keys, one per newly registered file
    duplicates: int = 0  # known content under another name
    known: int = 0  # the same file seen again (cursor lost or reset)


def register_objects(conn, objects: list[LandedObject], landing: LandingZoneResource) -> Registration:
    """Hash each file and give new content a batch; record re-uploads of known content as duplicates."""
    hashed = [(o, sha256_uri(o.uri)) for o in objects]  # hashed before taking the lock: keeps it short
    result = Registration()
    with conn.cursor() as cur:
        cur.execute(read_sql("lock_registry"))
        batch = None
        for obj, checksum in hashed:
            cur.execute(read_sql("select_landed_file"), {"checksum": checksum})
            row = cur.fetchone()
            if row is not None:
                if row[0] == obj.uri:
                    result.known += 1
                else:
                    result.duplicates += 1
                    cur.execute(
                        read_sql("insert_landed_duplicate"),
                        {"source_uri": obj.uri, "checksum": checksum, "file_name": obj.name},
                    )
                continue
            duration = header_duration_s(obj.uri)
            batch = batch or _open_batch(cur)
            if batch[2] > 0 and (
                batch[2] + 1 > landing.batch_max_files
                or batch[3] + (duration or 0) > landing.batch_max_audio_s
            ):
                cur.execute(read_sql("close_batch"), {"batch_id": batch[0]})
                batch = _open_batch(cur)
            cur.execute(
                read_sql("insert_landed_file"),
                {
                    "checksum": checksum,
                    "file_name": obj.name,
                    "source_uri": obj.uri,
                    "size_bytes": obj.size_bytes,
                    "header_duration_s": duration,
                    "batch_id": batch[0],
                    "partition_key": batch[1],
                },
            )
            cur.execute(read_sql("add_to_batch"), {"batch_id": batch[0], "audio_s": duration or 0.0})
            batch = (batch[0], batch[1], batch[2] + 1, batch[3] + (duration or 0.0))
            result.new.append(batch[1])
        cur.execute(
            read_sql("close_due_batches"),
            {
                "max_files": landing.batch_max_files,
                "max_audio_s": landing.batch_max_audio_s,
                "max_wait_s": landing.batch_max_wait_s,
            },
        )
    return result


def _open_batch(cur) -> tuple[int, str, int, float]:
    """The newest open batch (locked), or a new one."""
    cur.execute(read_sql("select_open_batch"))
    row = cur.fetchone()
    if row is None:
        cur.execute(read_sql("open_batch"))
        row = cur.fetchone()
    return row[0], row[1], row[2], row[3]


def closed_batches(conn, after_batch_id: int, limit: int) -> list[tuple[int, str]]:
    with conn.cursor() as cur:
        cur.execute(read_sql("select_closed_batches"), {"after_batch_id": after_batch_id, "limit": limit})
        return [(row[0], row[1]) for row in cur.fetchall()]


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_sensor(
    context: dg.SensorEvaluationContext, landing: LandingZoneResource, postgres: PostgresResource
) -> dg.SensorResult:
    """Registers new landed recordings into ingest batches and requests one ingest_job run per closed batch."""
    cursor = LandingCursor.from_json(context.cursor)
    todo, cursor = pending_objects(landing.list_objects(), cursor, landing.max_files_per_tick)
    with postgres.connect() as conn:
        registration = register_objects(conn, todo, landing)
        batches = closed_batches(conn, cursor.batch_id, MAX_BATCHES_PER_TICK)
    if todo:
        context.log.info(
            f"{len(todo)} landed file(s): {len(registration.new)} new, {registration.duplicates} duplicate "
            f"content, {registration.known} already registered"
        )
    keys = [key for _, key in batches]
    to_add = [key for key in keys if not context.instance.has_dynamic_partition(ingest_batches.name, key)]
    if batches:
        cursor = LandingCursor(cursor.modified, cursor.uris_at_mark, batches[-1][0])
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=key, partition_key=key) for key in keys],
        dynamic_partitions_requests=[ingest_batches.build_add_request(to_add)] if to_add else [],
        cursor=cursor.to_json(),
    )
