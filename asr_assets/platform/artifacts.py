"""The artifact store: a folder or object-store prefix (fsspec URL) for what steps hand each other (checked audio,
manifests, transcripts, report pages). Steps in different pods share it, so nothing is pickled through an IO
manager.

`ArtifactStore` is the plain store; the Dagster resource `defs.resources.ArtifactStoreResource` delegates to it.
Code that only reads and writes artifacts (erasure) takes anything with the `Artifacts` methods.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Protocol

import fsspec

from asr_assets import settings
from asr_assets.platform.files import read_uri

# Where each step writes under the store: raw_audio/<batch>/MANIFEST, transcripts/<batch>/TRANSCRIPTS_FILE,
# REPORTS/<batch>.html (and REPORTS/index.html).
MANIFEST = "manifest.json"
TRANSCRIPTS_FILE = "transcripts.jsonl"
REPORTS = "reports"


class Artifacts(Protocol):
    """What reading and rewriting artifacts needs: `ArtifactStore`, or the Dagster resource that wraps it."""

    def uri(self, *parts: str) -> str: ...

    def write_bytes(self, data: bytes, *parts: str) -> str: ...

    def read_bytes(self, *parts: str) -> bytes: ...

    def write_json(self, value: Any, *parts: str) -> str: ...

    def read_json(self, *parts: str) -> Any: ...


class ArtifactStore:
    """The store at `url`; None = ASR_STORAGE_URL or $ASR_HOME/artifacts, read when used."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url

    def uri(self, *parts: str) -> str:
        root = settings.checked_location(self.url or settings.storage_url(), "ASR_STORAGE_URL")
        return "/".join([root.rstrip("/"), *parts])

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Write atomically where the backend allows (local: temp name + rename); returns the URI."""
        uri = self.uri(*parts)
        fs, path = fsspec.core.url_to_fs(uri)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex}.part"  # unique: two runs of one partition may write at once
        with fs.open(tmp, "wb") as fh:
            fh.write(data)
        fs.mv(tmp, path)
        return uri

    def read_bytes(self, *parts: str) -> bytes:
        return read_uri(self.uri(*parts))

    def write_json(self, value: Any, *parts: str) -> str:
        return self.write_bytes(json.dumps(value, indent=1, ensure_ascii=False).encode(), *parts)

    def read_json(self, *parts: str) -> Any:
        return json.loads(self.read_bytes(*parts))
