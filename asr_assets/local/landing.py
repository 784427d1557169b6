"""Landing files for `ingest`: names that stay inside the landing folder, copy to a temp name, rename in place."""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from asr_assets.hashing import sha256_file

# Extensions `ingest` lands (what libsndfile reads, and the containers we quarantine with a hint); other files in
# DIR (READMEs, ground truth JSON, licences) are listed as skipped. The sensor itself takes every landed file.
AUDIO_EXTENSIONS = {
    ".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf",
    ".w64", ".rf64", ".sph", ".voc", ".m4a", ".aac", ".mp4", ".wma", ".webm", ".amr",
}  # fmt: skip
UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:*?<>|]")


def safe_name(name: str) -> str:
    """A file name that stays inside the landing folder: no path separators, no leading dots, no control
    characters; spaces, quotes and non-ASCII letters are kept."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = UNSAFE_CHARS.sub("_", name).strip().lstrip(".-").strip()
    return name[:200] or "unnamed"


@dataclass(frozen=True)
class LandedCopy:
    source: Path
    name: str  # name in the landing folder
    checksum: str


def land_files(
    paths: list[Path], landing_dir: Path, refuse: Callable[[str], bool] = lambda checksum: False
) -> tuple[list[LandedCopy], list[LandedCopy]]:
    """Copy each file to a hidden temp name, then rename it into place, so the sensor never hashes half a file.
    A file whose checksum `refuse` names (erased content) is not copied. Returns (landed, refused).

    The copy gets a fresh modification time (the sensor's high-water mark). A different file already landed under
    the same name keeps its place; ours gets the first 8 hex digits of its sha256 appended.
    """
    landing_dir.mkdir(parents=True, exist_ok=True)
    landed, refused = [], []
    for path in paths:
        checksum = sha256_file(path)
        name = safe_name(path.name)
        if refuse(checksum):
            refused.append(LandedCopy(path, name, checksum))
            continue
        target = landing_dir / name
        if target.exists() and sha256_file(target) != checksum:
            stem, ext = os.path.splitext(name)
            name = f"{stem}-{checksum[:8]}{ext}"
            target = landing_dir / name
        if not target.exists():
            tmp = landing_dir / f".{name}.part"
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        landed.append(LandedCopy(path, name, checksum))
    return landed, refused
