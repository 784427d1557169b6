"""Helpers both readers use to rename a checkpoint's tensors to OpenAI Whisper names."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np

from asr_assets.asr.errors import CheckpointError

Getter = Callable[[str], np.ndarray]


def getter(tensors: dict[str, np.ndarray], missing: Callable[[str], str]) -> Getter:
    """A function returning tensors[name], or raising CheckpointError(missing(name)) when the checkpoint lacks it."""

    def get(name: str) -> np.ndarray:
        if name not in tensors:
            raise CheckpointError(missing(name))
        return tensors[name]

    return get


def count_layers(names: Iterable[str], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)[/.]")
    found = {int(m.group(1)) for n in names if (m := pattern.match(n))}
    return max(found) + 1 if found else 0


def contiguous(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """float32 weights, int64 `dims.*` entries, all C-contiguous."""
    return {
        k: np.ascontiguousarray(a, dtype=np.int64 if k.startswith("dims.") else np.float32)
        for k, a in w.items()
    }
