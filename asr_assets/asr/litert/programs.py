"""Where a checkpoint's LiteRT programs live, and how a TensorFlow-free process gets them.

Programs are cached per checkpoint version and compute type in ``<model cache>/<sha256>.litert-<type>/``
(``encoder.tflite``, ``step.tflite``, ``align.tflite``, ``manifest.json``), next to the converted weights. A process
that finds them never imports TensorFlow; one that does not runs ``python -m asr_assets.asr.litert.export`` once in a
child process (TensorFlow's import and the conversion stay out of the worker; the Docker image runs the same command
at build time, so a step pod finds them baked in).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from asr_assets.asr.checkpoints import Checkpoint, describe_checkpoint, locate_checkpoint, model_cache_dir
from asr_assets.asr.dimensions import ModelDimensions
from asr_assets.asr.errors import CheckpointError

logger = logging.getLogger(__name__)

COMPUTE_TYPES = ("int8", "float32")
FORMAT = "4"  # bump when a program's signature changes (export.py's docstring)
PROGRAMS = ("encoder", "step", "align")
TOP_K = 16  # candidates per row the step program returns: beam search needs 2 x beam_size (beam <= 8)


def program_dir(version: str, compute_type: str) -> Path:
    return model_cache_dir() / f"{version}.litert-{compute_type}"


def valid_manifest(directory: Path, version: str, compute_type: str) -> dict | None:
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    ok = manifest.get("format") == FORMAT and manifest.get("version") == version
    ok = ok and manifest.get("compute_type") == compute_type
    return manifest if ok and all((directory / f"{p}.tflite").is_file() for p in PROGRAMS) else None


def ensure_programs(model_path: str | Path | None, compute_type: str) -> tuple[Checkpoint, Path]:
    """The checkpoint's metadata and the directory of its programs for `compute_type`, converting them if needed."""
    if compute_type not in COMPUTE_TYPES:
        raise ValueError(f"unknown compute type {compute_type!r}; choose one of {', '.join(COMPUTE_TYPES)}")
    root, fmt, _, version = locate_checkpoint(model_path)
    directory = program_dir(version, compute_type)
    manifest = valid_manifest(directory, version, compute_type)
    if manifest is None:
        logger.info(
            "building %s LiteRT programs for %s (once per checkpoint; cached in %s)",
            compute_type,
            root,
            directory,
        )
        command = [sys.executable, "-m", "asr_assets.asr.litert.export", "--model", str(root)]
        done = subprocess.run([*command, "--compute-type", compute_type], capture_output=True, text=True)
        manifest = valid_manifest(directory, version, compute_type)
        if done.returncode != 0 or manifest is None:
            lines = [
                x for x in done.stderr.splitlines() if x.strip() and not x.startswith(("I0000", "W0000"))
            ]
            tail = "\n".join(lines[-5:])
            raise CheckpointError(
                f"could not convert {root} into {compute_type} LiteRT programs in {directory}: {tail}; "
                "check that ASR_MODEL_CACHE is writable, or run `python -m asr_assets.asr.litert.export` to see why"
            )
    return describe_checkpoint(root, fmt, version, ModelDimensions(**manifest["dims"])), directory
