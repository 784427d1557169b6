"""The landing registry: each landed file's batch, decided once and durably, and every listed entry's outcome.

Exactly once. asr_raw.landed_files is keyed by content (sha256), so a re-upload under another name, a lost sensor
state or a second look at the same file never makes a new call. asr_raw.landing_objects remembers every entry the
sensor has listed (URI, size, modification time, outcome), so a tick hashes only what it has not seen and an entry
it did not take (symlink, temporary name, unreadable, vanished) is recorded with its reason.

Budget. A tick must end well inside Dagster's 60 s sensor limit: it hashes files oldest first until `max_files`,
`max_bytes` or `max_seconds` is reached and leaves the rest to the next tick. Hashing happens before the registry
lock is taken, so concurrent ticks (two daemons) keep the lock for milliseconds.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import psycopg2.extras

from asr_assets.platform.discovery import LandedObject, Listing, SkippedEntry
from asr_assets.platform.files import header_length, sha256_uri
from asr_assets.platform.sql import read_sql

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickBudget:
    max_files: int
    max_bytes: int
    max_seconds: float


@dataclass(frozen=True)
class BatchLimits:
    max_files: int
    max_audio_s: float
    max_wait_s: float
    # an under-full batch closes early while fewer batches of its zone are closed and unsettled (0: never early)
    max_in_flight: int = 0


@dataclass(frozen=True)
class Hashed:
    obj: LandedObject
    checksum: str
    duration_s: float | None  # from the header
    channel_s: float  # duration x channels: what transcribing it costs (each channel is decoded on its own)


@dataclass
class Registration:
    new: list[str] = field(default_factory=list)  # partition keys, one per newly registered file
    duplicates: int = 0  # known content under another name
    known: int = 0  # the same file seen again (its size or time changed, or the registry was reset)
    refused: int = 0  # content erased on request (asr_raw.erasures): never registered again
    skipped: list[SkippedEntry] = field(default_factory=list)  # listed, not taken, with the reason
    deferred: int = 0  # unseen files left for the next tick (budget)
    deferred_uris: list[str] = field(default_factory=list)  # which (openable URIs): the next tick looks again

    def summary(self) -> str:
        return (
            f"{len(self.new)} new, {self.duplicates} duplicate content, {self.known} already registered, "
            f"{self.refused} refused (erased content), "
            f"{len(self.skipped)} skipped, {self.deferred} left for the next tick"
        )


def unseen_objects(conn, objects: list[LandedObject]) -> list[LandedObject]:
    """The listed files whose (URI, size, modification time) the registry has not recorded, oldest first."""
    if not objects:
        return []
    with conn.cursor() as cur:
        cur.execute(
            read_sql("select_unseen_objects"),
            {
                "uris": [o.uri for o in objects],
                "sizes": [o.size_bytes for o in objects],
                "modified": [o.modified for o in objects],
            },
        )
        unseen = {row[0] for row in cur.fetchall()}
    return sorted((o for o in objects if o.uri in unseen), key=lambda o: (o.modified, o.uri))


def hash_within_budget(
    todo: list[LandedObject], budget: TickBudget
) -> tuple[list[Hashed], list[SkippedEntry], int]:
    """Hash and read the header of files in order until the budget is spent; a file that cannot be read, vanished
    or changed while it was hashed is skipped with its reason (retried next tick), never failing the tick.

    Returns (hashed, skipped, deferred count).
    """
    started = time.monotonic()
    hashed: list[Hashed] = []
    skipped: list[SkippedEntry] = []
    spent = 0
    for i, obj in enumerate(todo):
        out_of_budget = len(hashed) >= budget.max_files or time.monotonic() - started > budget.max_seconds
        if i and (out_of_budget or spent + obj.size_bytes > budget.max_bytes):
            return hashed, skipped, len(todo) - i
        spent += obj.size_bytes
        try:
            checksum = sha256_uri(obj.open_uri)
            header = header_length(obj.open_uri)
            now = _stat(obj)
        except FileNotFoundError:
            skipped.append(SkippedEntry(obj.uri, "vanished between the listing and the read"))
            continue
        except Exception as e:  # one unreadable entry must not fail the tick for every other file
            skipped.append(SkippedEntry(obj.uri, f"unreadable: {type(e).__name__}: {e}"))
            continue
        if now is not None and now != (obj.size_bytes, obj.modified):
            skipped.append(SkippedEntry(obj.uri, "still being written (size or time changed while hashed)"))
            continue
        duration, channels = header or (None, 1)
        hashed.append(Hashed(obj, checksum, duration, (duration or 0.0) * channels))
    return hashed, skipped, 0


def _stat(obj: LandedObject) -> tuple[int, float] | None:
    """(size, modification time) now, for local files (an object store's objects are immutable)."""
    if not obj.uri.startswith("file://"):
        return None
    info = os.stat(obj.open_uri.removeprefix("file://"))
    return info.st_size, info.st_mtime


def register(
    conn, listing: Listing, landing_url: str, limits: BatchLimits, budget: TickBudget
) -> Registration:
    """One tick's registration: unseen files hashed within the budget, new content put in batches, every entry's
    outcome recorded. Runs in the caller's transaction.

    A handful of statements per tick, whatever the number of files (each a round trip, and the registry lock is
    held until the commit): the registered contents are read in one query, the new files inserted in one, and
    each batch's counts updated once."""
    todo = unseen_objects(conn, listing.objects)
    hashed, unreadable, deferred = hash_within_budget(todo, budget)
    result = Registration(
        skipped=[*listing.skipped, *unreadable],
        deferred=deferred,
        deferred_uris=[o.open_uri for o in todo[len(todo) - deferred :]] if deferred else [],
    )
    sizes = {o.uri: (o.size_bytes, o.modified) for o in listing.objects}
    seen: list[dict] = []
    new_files: list[tuple] = []
    duplicates: list[dict] = []
    added: dict[int, list] = {}  # batch_id -> [files, channel-seconds] added by this tick
    with conn.cursor() as cur:
        cur.execute(read_sql("lock_registry"))
        checksums = [item.checksum for item in hashed]
        cur.execute(read_sql("select_erasures"), {"checksums": checksums})
        erased = {checksum: (erasure_id, at) for checksum, erasure_id, at in cur.fetchall()}
        cur.execute(read_sql("select_landed_files"), {"checksums": checksums})
        landed = {checksum: (uri, key) for checksum, uri, key in cur.fetchall()}
        batch = None
        for item in hashed:
            obj = item.obj
            if item.checksum in erased:
                erasure_id, at = erased[item.checksum]
                result.refused += 1
                reason = f"content erased on request on {at:%Y-%m-%d} (asr_raw.erasures {erasure_id}); not registered"
                seen.append(_seen(obj, item.checksum, "refused", reason))
                continue
            row = landed.get(item.checksum)
            if row is not None:
                outcome = "known" if row[0] == obj.uri else "duplicate"
                if outcome == "known":
                    result.known += 1
                else:
                    result.duplicates += 1
                    duplicates.append(
                        {"source_uri": obj.uri, "checksum": item.checksum, "file_name": obj.name}
                    )
                seen.append(_seen(obj, item.checksum, outcome, f"content registered in batch {row[1]}"))
                continue
            duration = item.channel_s
            batch = batch or _open_batch(cur, landing_url)
            if batch[2] > 0 and (batch[2] + 1 > limits.max_files or batch[3] + duration > limits.max_audio_s):
                cur.execute(read_sql("close_batch"), {"batch_id": batch[0]})
                batch = _open_batch(cur, landing_url)
            new_files.append(
                (
                    item.checksum, obj.name, obj.uri, None if obj.raw_path is None else psycopg2.Binary(obj.raw_path),
                    obj.size_bytes, item.duration_s, batch[0], batch[1],
                )
            )  # fmt: skip
            landed[item.checksum] = (obj.uri, batch[1])  # the same content again in this tick is a duplicate
            counts = added.setdefault(batch[0], [0, 0.0])
            counts[0] += 1
            counts[1] += duration
            batch = (batch[0], batch[1], batch[2] + 1, batch[3] + duration)
            result.new.append(batch[1])
            seen.append(_seen(obj, item.checksum, "registered", None))
        # landed_files first: a duplicate may name content registered by this very tick
        psycopg2.extras.execute_values(cur, read_sql("insert_landed_files"), new_files, page_size=1000)
        psycopg2.extras.execute_batch(cur, read_sql("insert_landed_duplicate"), duplicates, page_size=500)
        psycopg2.extras.execute_batch(
            cur,
            read_sql("add_to_batch"),
            [{"batch_id": b, "files": n, "audio_s": audio} for b, (n, audio) in added.items()],
        )
        for entry in result.skipped:
            size, modified = sizes.get(entry.uri, (0, 0.0))
            seen.append(
                {
                    "source_uri": entry.uri, "size_bytes": size, "modified": modified, "checksum": None,
                    "outcome": "skipped", "reason": entry.reason,
                }
            )  # fmt: skip
        psycopg2.extras.execute_batch(cur, read_sql("upsert_landing_object"), seen, page_size=500)
        cur.execute(
            read_sql("close_due_batches"),
            {
                "landing_url": landing_url,
                "max_files": limits.max_files,
                "max_audio_s": limits.max_audio_s,
                "max_wait_s": limits.max_wait_s,
                "max_in_flight": limits.max_in_flight,
            },
        )
    return result


def _seen(obj: LandedObject, checksum: str, outcome: str, reason: str | None) -> dict:
    return {
        "source_uri": obj.uri,
        "size_bytes": obj.size_bytes,
        "modified": obj.modified,
        "checksum": checksum,
        "outcome": outcome,
        "reason": reason,
    }


def _open_batch(cur, landing_url: str) -> tuple[int, str, int, float]:
    """The zone's newest open batch (locked), or a new one."""
    cur.execute(read_sql("select_open_batch"), {"landing_url": landing_url})
    row = cur.fetchone()
    if row is None:
        cur.execute(read_sql("open_batch"), {"landing_url": landing_url})
        row = cur.fetchone()
    return row[0], row[1], row[2], row[3]
