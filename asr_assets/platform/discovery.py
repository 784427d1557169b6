"""What is in the landing zone: every entry listed, the complete files taken, everything else given a reason.

Discovery does not trust modification times (`mv` across file systems, `cp -p`, `rsync -a`, scp -p and SMB copies
keep the source's time, so a high-water mark skips them forever): the sensor compares the listing with what the
registry has already seen (asr_raw.landing_objects, by URI, size and modification time) and hashes only the rest.

Locally the folder is walked with os.walk, which never follows a symlink and reports unreadable folders; an object
store is listed with fsspec's `find`. Names that are not valid UTF-8 (Latin-1 from SMB or FTP uploaders) are kept
readable in the database (undecodable bytes as \\xNN) with their raw bytes beside them, so the file still opens.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

# Temp names of writers that rename into place (ours: `.<name>.part`): never picked up half-written.
TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".filepart", ".partial")
# `<recording>.json` beside a recording carries its metadata (its language): never a recording itself.
SIDECAR_SUFFIX = ".json"


@dataclass(frozen=True)
class LandedObject:
    """A complete file in the landing zone as listed (before hashing)."""

    uri: str  # readable form, what the database stores (see `storable_text`)
    name: str  # base name, readable form
    size_bytes: int
    modified: float  # POSIX seconds, from the listing: compared with the registry's, never used as a mark
    raw_path: bytes | None = None  # the path's bytes when the name is not valid UTF-8 (else None)

    @property
    def open_uri(self) -> str:
        return openable_uri(self.uri, self.raw_path)


def openable_uri(uri: str, raw_path: bytes | None) -> str:
    """What to open: the real (surrogate-escaped) path when the name is not UTF-8 (raw_path), else the URI."""
    return os.fsdecode(raw_path) if raw_path is not None else uri


@dataclass(frozen=True)
class SkippedEntry:
    """A listed entry that is not taken as a landed file, and why (recorded and counted, never silent)."""

    uri: str
    reason: str


@dataclass(frozen=True)
class Listing:
    objects: list[LandedObject]
    skipped: list[SkippedEntry]


def storable_text(text: str) -> str:
    """`text` with undecodable bytes (surrogate escapes from os.fsdecode) written as \\xNN and control characters
    (a newline in a name would inject log lines) as escapes: valid UTF-8 that PostgreSQL and logs accept."""
    if text.isprintable():  # nearly every name: no surrogate escape and no control character (a quarter of a
        return text  # 10,000-entry tick's listing went to the per-character pass below)
    readable = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode() for ch in readable
    )


def is_temporary_name(name: str) -> bool:
    """Dot-names and the temp names of uploaders that rename into place."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


def list_landing(url: str) -> Listing:
    """Every entry under the landing URL (recursively): complete files, and the rest with a reason."""
    fs, root = fsspec.core.url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        return _walk_local(root)
    return _find_remote(fs, root)


def _object_or_skip(
    uri: str, name: str, size: int, modified: float, raw: bytes | None
) -> LandedObject | SkippedEntry:
    readable_uri, readable_name = storable_text(uri), storable_text(name)
    if is_temporary_name(readable_name):
        return SkippedEntry(readable_uri, "temporary name (an upload in progress is renamed when complete)")
    if readable_name.lower().endswith(SIDECAR_SUFFIX):
        return SkippedEntry(readable_uri, "sidecar metadata (read with its recording, platform/languages.py)")
    return LandedObject(readable_uri, readable_name, size, modified, raw)


def _walk_local(root: str) -> Listing:
    objects: list[LandedObject] = []
    skipped: list[SkippedEntry] = []
    if not os.path.isdir(root):
        return Listing(objects, skipped)

    def unreadable(error: OSError) -> None:
        skipped.append(
            SkippedEntry(storable_text(f"file://{error.filename}"), f"unreadable folder: {error.strerror}")
        )

    for folder, dirs, files in os.walk(root, onerror=unreadable, followlinks=False):
        for name in dirs:
            path = os.path.join(folder, name)
            if os.path.islink(path):  # os.walk lists a linked folder but never enters it
                skipped.append(
                    SkippedEntry(storable_text(f"file://{path}"), "symlink to a folder (not followed)")
                )
        for name in files:
            entry = _local_entry(os.path.join(folder, name))
            if entry is not None:
                (objects if isinstance(entry, LandedObject) else skipped).append(entry)
    return Listing(objects, skipped)


def _local_entry(path: str) -> LandedObject | SkippedEntry | None:
    """One local path as listed: a complete file, or what it is instead with a reason (None: a folder)."""
    uri = f"file://{path}"
    try:
        info = os.lstat(path)
    except OSError as e:  # vanished between the listing and the stat, or no permission
        return SkippedEntry(storable_text(uri), f"unreadable: {e.strerror}")
    if stat.S_ISDIR(info.st_mode):
        return None
    if stat.S_ISLNK(info.st_mode):
        return SkippedEntry(storable_text(uri), "symlink (not followed: land the file itself)")
    if not stat.S_ISREG(info.st_mode):
        return SkippedEntry(storable_text(uri), "not a regular file (fifo, socket or device)")
    raw = os.fsencode(path) if storable_text(path) != path else None
    return _object_or_skip(uri, os.path.basename(path), info.st_size, info.st_mtime, raw)


def list_local_paths(paths: set[str]) -> Listing:
    """The entries at these local paths (the files filesystem events named), as a listing would show them."""
    objects: list[LandedObject] = []
    skipped: list[SkippedEntry] = []
    for path in sorted(paths):
        if not os.path.lexists(path):  # created and gone again (a temp name renamed): nothing to register
            continue
        entry = _local_entry(path)
        if entry is not None:
            (objects if isinstance(entry, LandedObject) else skipped).append(entry)
    return Listing(objects, skipped)


def slice_after(listing: Listing, after: str, limit: int) -> tuple[Listing, str]:
    """The entries of `listing` whose URI sorts after `after`, at most `limit` of them, and where the next slice
    starts ("" once this one reached the end): a reconciliation pass in bounded steps."""
    entries = sorted([*listing.objects, *listing.skipped], key=lambda e: e.uri)
    taken = [e for e in entries if e.uri > after][:limit]
    done = len(taken) < limit or taken[-1].uri == entries[-1].uri
    return Listing(
        [e for e in taken if isinstance(e, LandedObject)], [e for e in taken if isinstance(e, SkippedEntry)]
    ), ("" if done else taken[-1].uri)


def _modified(info: dict[str, Any]) -> float:
    """Modification time from an fsspec listing: S3 `LastModified`, GCS `updated`, ..."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return 0.0


def _find_remote(fs: Any, root: str) -> Listing:
    objects: list[LandedObject] = []
    skipped: list[SkippedEntry] = []
    # A long-lived process (the daemon) reuses one filesystem instance, and s3fs caches listings in it: without
    # this a file uploaded by another client after the first tick would never be seen.
    fs.invalidate_cache(root)
    if not fs.exists(root):
        return Listing(objects, skipped)
    for path, info in fs.find(root, detail=True).items():
        uri = fs.unstrip_protocol(path)
        if info.get("type") != "file":
            skipped.append(SkippedEntry(storable_text(uri), f"not a file ({info.get('type')})"))
            continue
        entry = _object_or_skip(
            uri, path.rsplit("/", 1)[-1], int(info.get("size") or 0), _modified(info), None
        )
        (objects if isinstance(entry, LandedObject) else skipped).append(entry)
    return Listing(objects, skipped)


def list_remote_objects(url: str, uris: set[str]) -> Listing:
    """The objects at these URIs under an object-store landing URL (the ones event notifications named), as a
    listing would show them; an object gone meanwhile is not listed (a listing would not show it either)."""
    fs, _ = fsspec.core.url_to_fs(url)
    objects: list[LandedObject] = []
    skipped: list[SkippedEntry] = []
    for uri in sorted(uris):
        try:
            info = fs.info(uri)
        except FileNotFoundError:
            continue
        except (
            Exception
        ) as e:  # no permission, a transient error: recorded, retried by the reconciliation pass
            skipped.append(SkippedEntry(storable_text(uri), f"unreadable: {type(e).__name__}: {e}"))
            continue
        if info.get("type") != "file":
            continue
        entry = _object_or_skip(
            uri, uri.rsplit("/", 1)[-1], int(info.get("size") or 0), _modified(info), None
        )
        (objects if isinstance(entry, LandedObject) else skipped).append(entry)
    return Listing(objects, skipped)


def list_remote_slice(url: str, after: str, limit: int) -> tuple[Listing, str]:
    """At most `limit` entries under an object-store landing URL whose URI sorts after `after`, and where the next
    slice starts ("" at the end). S3 lists from a key (ListObjectsV2's StartAfter), so a slice costs its own size
    whatever the prefix holds; other stores are listed whole and sliced."""
    fs, root = fsspec.core.url_to_fs(url)
    if not hasattr(fs, "call_s3"):
        return slice_after(list_landing(url), after, limit)
    bucket, _, prefix = root.partition("/")
    prefix = prefix.rstrip("/") + "/"
    start = fs.split_path(after)[1] if after else ""
    response = fs.call_s3(
        "list_objects_v2", Bucket=bucket, Prefix=prefix, StartAfter=start or prefix, MaxKeys=limit
    )
    objects: list[LandedObject] = []
    skipped: list[SkippedEntry] = []
    last = ""
    for item in response.get("Contents", []):
        uri = f"s3://{bucket}/{item['Key']}"
        last = uri
        if item["Key"].endswith("/"):  # a folder marker
            continue
        modified = item["LastModified"].timestamp()
        entry = _object_or_skip(
            uri, item["Key"].rsplit("/", 1)[-1], int(item.get("Size") or 0), modified, None
        )
        (objects if isinstance(entry, LandedObject) else skipped).append(entry)
    return Listing(objects, skipped), (last if response.get("IsTruncated") else "")


def list_local_slice(root: str, after: str, limit: int) -> tuple[Listing, str]:
    """At most `limit` entries of a local landing folder whose URI sorts after `after`, and where the next slice
    starts ("" at the end): the folder is walked in URI order and folders wholly before `after` are not entered,
    so with dated sub-folders a slice costs its own size; only a folder holding the slice's names is scanned."""
    start = after.removeprefix("file://")
    objects: list[LandedObject] = []
    skipped: list[SkippedEntry] = []
    last = ""
    for path in _paths_after(root.rstrip("/") or "/", start):
        entry = _local_entry(path)
        if entry is None:
            continue
        (objects if isinstance(entry, LandedObject) else skipped).append(entry)
        last = entry.uri
        if len(objects) + len(skipped) >= limit:
            return Listing(objects, skipped), last
    return Listing(objects, skipped), ""


def _paths_after(folder: str, after: str):
    """Paths under folder, in the order their URIs sort (a folder's entries by name, a sub-folder as "name/"),
    that sort after `after`; a sub-folder whose every path sorts before `after` is not entered."""
    try:
        entries = list(os.scandir(folder))
    except OSError:  # vanished or unreadable: the whole listing reports it, a slice goes on
        return
    keyed = sorted((e.name + "/" if e.is_dir(follow_symlinks=False) else e.name, e) for e in entries)
    for key, entry in keyed:
        path = os.path.join(folder, entry.name)
        if key.endswith("/"):
            prefix = path + "/"
            if after and prefix < after and not after.startswith(prefix):
                continue
            yield from _paths_after(path, after)
        elif path > after:
            yield path
