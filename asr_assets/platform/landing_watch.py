"""What a landing tick looks at: the files that changed, plus a bounded slice of a slow reconciliation pass.

A local landing folder is watched (platform/folder_events.py): a tick registers the paths its events named, so it
costs what arrived, whatever the folder holds. Events can be missed (the sensor's process started after files
landed, an overflowed queue), so the tick lists the whole folder when the feed says so, and a reconciliation pass
goes over the folder every `interval_s` in slices of `slice_size` entries, one slice per tick, resuming after the
last URI it compared (kept in the sensor's cursor): the registry is asked about `slice_size` entries per tick, not
about the archive. An object store with an event queue (ASR_LANDING_QUEUE_URL: S3 notifications in SQS,
platform/queue_events.py) works the same way, its slices listed from a key (StartAfter), so nothing in its tick
grows with the archive; without a queue, or while the queue cannot be read, it is listed whole every tick
(docs/dagster-ingest.md, "Discovery").
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from asr_assets.platform.discovery import (
    Listing,
    list_landing,
    list_local_paths,
    list_local_slice,
    list_remote_objects,
    list_remote_slice,
)
from asr_assets.platform.folder_events import folder_events
from asr_assets.platform.queue_events import QueueEvents


@dataclass(frozen=True)
class ReconcileState:
    after: str = ""  # the last URI the pass under way compared ("": no pass under way)
    pass_started: float = 0.0  # when the current (or last) pass began, POSIX seconds

    def to_cursor(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_cursor(cls, cursor: str | None) -> ReconcileState:
        try:
            return cls(**json.loads(cursor)) if cursor else cls()
        except (ValueError, TypeError):  # a cursor of an older version: start a pass
            return cls()


@dataclass(frozen=True)
class Look:
    listing: Listing
    state: ReconcileState
    how: str  # "events", "events + reconciliation slice", "whole listing (...)"
    receipts: list[str] = field(default_factory=list)  # queue messages to delete once the tick has committed


def local_root(url: str) -> str | None:
    if url.startswith("file://"):
        return url.removeprefix("file://")
    return None if "://" in url else url


_QUEUES: dict[tuple[str, str], QueueEvents] = {}


def _queue(queue_url: str, url: str) -> QueueEvents:
    """One client per queue and prefix for the life of the process (the sensor's code server)."""
    if (queue_url, url) not in _QUEUES:
        _QUEUES[(queue_url, url)] = QueueEvents(queue_url, url)
    return _QUEUES[(queue_url, url)]


def look_again(url: str, uris: list[str]) -> None:
    """The next tick looks at these files again (the registry left them for later: over the tick's budget). An
    object store's events come back by themselves: their messages are deleted only after the tick committed, and
    the reconciliation pass covers the rest."""
    root = local_root(url)
    feed = folder_events(root) if root is not None else None
    if feed is not None:
        feed.requeue([uri.removeprefix("file://") for uri in uris])


def acknowledge(url: str, queue_url: str | None, receipts: list[str]) -> None:
    """Delete the queue messages a committed tick handled."""
    if queue_url and receipts:
        _queue(queue_url, url).ack(receipts)


def look(
    url: str,
    state: ReconcileState,
    now: float,
    interval_s: float,
    slice_size: int,
    queue_url: str | None = None,
) -> Look:
    """This tick's listing of the landing zone at `url` and the reconciliation state to keep."""
    root = local_root(url)
    receipts: list[str] = []
    if root is not None:
        feed = folder_events(root)
        changed = feed.drain() if feed is not None else None
        if changed is None:
            why = "no event feed" if feed is None else "events may have been missed"
            return Look(list_landing(url), ReconcileState("", now), f"whole listing ({why})")
        listing = list_local_paths(changed)
    else:
        received = _queue(queue_url, url).receive() if queue_url else None
        if received is None:
            why = "no event queue" if not queue_url else "the event queue is unreadable"
            return Look(list_landing(url), ReconcileState("", now), f"whole listing ({why})")
        listing, receipts = list_remote_objects(url, received.uris), received.receipts
    if not state.after and now - state.pass_started < interval_s:
        return Look(listing, state, "events", receipts)
    if root is not None:
        part, after = list_local_slice(root, state.after, slice_size)
    else:
        part, after = list_remote_slice(url, state.after, slice_size)
    started = state.pass_started if state.after else now
    named = {e.uri for e in [*listing.objects, *listing.skipped]}
    return Look(
        Listing(
            [*listing.objects, *(o for o in part.objects if o.uri not in named)],
            [*listing.skipped, *(e for e in part.skipped if e.uri not in named)],
        ),
        ReconcileState(after, started),
        "events + reconciliation slice",
        receipts,
    )
