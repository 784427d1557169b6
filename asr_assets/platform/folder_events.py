"""What changed in a local landing folder since the last look: filesystem events (inotify on Linux, through
watchdog), so a tick costs the files that arrived, not the files the folder holds.

Events only wake the registry, they never decide: every path an event names is listed and registered like a listed
file (platform/registry.py dedups by content), so a duplicated or reordered event is harmless. What events cannot
promise is completeness: the process (the code server that runs the sensor) starts after files landed, or the
kernel's event queue overflows. Then `drain` answers None, "list the whole folder", which the sensor does once and
goes back to events. docs/dagster-ingest.md, "Discovery".
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

logger = logging.getLogger(__name__)
WRITES = ("created", "modified", "closed", "moved")  # watchdog's event types that may complete a file


class _Collector(FileSystemEventHandler):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.paths: set[str] = set()
        self.lost = True  # nothing collected before the observer started: the first drain lists everything

    def on_any_event(self, event: FileSystemEvent) -> None:
        # created (a copy begins), modified / closed after writing (it goes on / ends), moved (a writer renames into
        # place): each names a path that may now hold a complete file. Deletions name nothing to register, and
        # opening or reading a file (the tick's own hashing) changes nothing.
        if event.event_type not in WRITES or event.is_directory and event.event_type != "moved":
            return
        path = getattr(event, "dest_path", "") or event.src_path
        with self.lock:
            self.paths.add(os.fsdecode(path))
            if event.is_directory:  # a folder moved in whole: its files raise no event of their own
                self.lost = True


class FolderEvents:
    """Paths created, written or moved into a folder tree, collected by a watchdog observer thread."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._collector = _Collector()
        self._observer = Observer()
        self._observer.schedule(self._collector, root, recursive=True)
        self._observer.daemon = True
        self._observer.start()

    def drain(self) -> set[str] | None:
        """The paths named since the last drain, or None when events may have been missed (the first drain, an
        overflowed queue, a folder moved in whole, a dead observer): then the caller lists the folder."""
        with self._collector.lock:
            paths, lost = self._collector.paths, self._collector.lost or not self._observer.is_alive()
            self._collector.paths, self._collector.lost = set(), False
        return None if lost else paths

    def requeue(self, paths: list[str]) -> None:
        """Name these paths again at the next drain (files a tick left for later: their events are spent)."""
        with self._collector.lock:
            self._collector.paths.update(paths)

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)


_FEEDS: dict[str, FolderEvents] = {}
_FEEDS_LOCK = threading.Lock()


def folder_events(root: str) -> FolderEvents | None:
    """This process's event feed for `root` (started on first use and kept), or None when the folder does not
    exist (nothing can land there until it does)."""
    root = str(Path(root))
    with _FEEDS_LOCK:
        for watched in [r for r, f in _FEEDS.items() if not os.path.isdir(r) or not f._observer.is_alive()]:
            _FEEDS.pop(watched).stop()  # a folder removed (and perhaps made again): its watch died with it
        feed = _FEEDS.get(root)
        if feed is None:
            if not os.path.isdir(root):
                return None
            try:
                feed = _FEEDS[root] = FolderEvents(root)
            except OSError as e:  # inotify limits (max_user_instances / max_user_watches) reached
                logger.warning(f"cannot watch {root} ({e}); its ticks list the whole folder")
                return None
        return feed


def is_watched(root: str) -> bool:
    """Whether this process already watches `root` (its first tick has been)."""
    with _FEEDS_LOCK:
        return str(Path(root)) in _FEEDS
