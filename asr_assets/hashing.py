"""Content hashes: sha256, streamed, so a long call or a model file is never held in memory to be hashed.

The hex digest of a landed file is its identity in the registry; of a checkpoint's weights, the model version.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

BLOCK_BYTES = 1 << 20  # 1 MiB reads: large enough to be I/O-bound, small enough to be no memory at all


def _update(digest: hashlib._Hash, stream: BinaryIO) -> None:
    while block := stream.read(BLOCK_BYTES):
        digest.update(block)


def sha256_stream(*streams: BinaryIO) -> str:
    """sha256 hex of the open binary streams' concatenated bytes, read block by block."""
    digest = hashlib.sha256()
    for stream in streams:
        _update(digest, stream)
    return digest.hexdigest()


def sha256_file(*paths: str | Path) -> str:
    """sha256 hex of the files' concatenation (one file: its own hash; model parts: the reassembled file's)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            _update(digest, f)
    return digest.hexdigest()
