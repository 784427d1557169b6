"""Reading files by URI (a local path or any fsspec URL: file://, s3://...): open, read, hash, read the header."""

from __future__ import annotations

import io
from typing import IO

import fsspec
import soundfile as sf

from asr_assets.hashing import sha256_stream


def open_uri(uri: str, mode: str = "rb") -> IO[bytes]:
    return fsspec.open(uri, mode).open()


def read_uri(uri: str) -> bytes:
    with fsspec.open(uri, "rb") as fh:
        return fh.read()


def sha256_uri(uri: str) -> str:
    """sha256 hex of a file's bytes, streamed (a long call is never held in memory for hashing)."""
    with fsspec.open(uri, "rb") as f:
        return sha256_stream(f)


def header_length(source: str | bytes) -> tuple[float, int] | None:
    """(duration in seconds, channels) from the file header (cheap, no decoding) of a URI or of bytes already
    read; None when libsndfile can't read the header (the decoder then gives the precise reason)."""
    try:
        if isinstance(source, bytes):
            info = sf.info(io.BytesIO(source))
        else:
            with open_uri(source) as fh:
                info = sf.info(fh)
        return float(info.duration), int(info.channels)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        return None
