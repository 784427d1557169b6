"""Whisper checkpoints -> float32 weights under OpenAI Whisper parameter names, cached by content hash.

Two formats are read: CTranslate2 directories (``model.bin`` or ``model.bin.part1, part2, ...`` + ``config.json``,
ct2.py) and Hugging Face Whisper directories (``config.json`` + ``model.safetensors`` [+ ``generation_config.json``],
hf.py). Both become the same dict of float32 arrays named as OpenAI's ``whisper/model.py`` names its parameters
(``encoder.blocks.0.attn.query.weight``, ``decoder.token_embedding.weight``, ...), so the Keras model has one
loader; cache.py hashes the weights file (the model version) and keeps the converted weights.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr_assets.asr.checkpoints._names import count_layers
from asr_assets.asr.checkpoints.cache import (
    model_bin_parts,
    read_cache,
    reassemble,
    weights_version,
    write_cache,
)
from asr_assets.asr.checkpoints.catalog import CATALOG, catalog_path, default_model_path
from asr_assets.asr.checkpoints.ct2 import ct2_to_openai, read_ct2_model_bin
from asr_assets.asr.checkpoints.hf import hf_to_openai, read_safetensors
from asr_assets.asr.dimensions import ModelDimensions
from asr_assets.asr.errors import CheckpointError

__all__ = [
    "Checkpoint",
    "ModelDimensions",
    "default_model_path",
    "describe_checkpoint",
    "load_checkpoint",
    "locate_checkpoint",
    "model_cache_dir",
    "read_ct2_model_bin",
]

logger = logging.getLogger(__name__)

MULTILINGUAL_VOCAB = 51865  # English-only checkpoints have 51864 (no <|en|> shift of the specials)


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    dims: ModelDimensions
    version: str  # sha256 hex of the checkpoint's weights file (model.bin, reassembled, or model.safetensors)
    alignment_heads: tuple[tuple[int, int], ...]  # (decoder layer, head) pairs used for word timing
    suppress_ids: tuple[int, ...]  # suppressed at every step (faster-whisper suppress_tokens=[-1])
    suppress_ids_begin: tuple[int, ...]  # suppressed at the first generated step (suppress_blank)
    is_multilingual: bool
    tokenizer_file: Path


def model_cache_dir() -> Path:
    """ASR_MODEL_CACHE, else $ASR_HOME/models, else ~/.cache/asr-assets/models (asr_assets.settings)."""
    from asr_assets import settings

    return settings.current().model_cache


def load_checkpoint(path: str | Path | None = None) -> tuple[Checkpoint, dict[str, np.ndarray]]:
    """Load a Whisper checkpoint directory (CTranslate2 or Hugging Face) as float32 OpenAI-named weights.

    The first load of a given checkpoint converts it and writes ``<sha256>.npz`` to the model cache; later loads
    (any process) read that file. Raises CheckpointError naming the path and the fix.
    """
    root, fmt, files, version = locate_checkpoint(path)
    cache = model_cache_dir()
    cached = cache / f"{version}.npz"
    weights = read_cache(cached)
    if weights is None:
        logger.info("converting %s checkpoint %s (sha256 %s) into %s", fmt, root, version[:16], cached)
        if fmt == "ct2":
            bin_path = files[0] if len(files) == 1 else reassemble(files, cache, version)
            variables = read_ct2_model_bin(bin_path)
            weights = ct2_to_openai(variables, bin_path)
        else:
            weights = hf_to_openai(read_safetensors(files[0]), _read_json(root / "config.json"), root)
        write_cache(cached, weights)
    return describe_checkpoint(root, fmt, version, _dims_from_weights(weights)), weights


def locate_checkpoint(path: str | Path | None = None) -> tuple[Path, str, list[Path], str]:
    """(directory, format "ct2" | "hf", weights files, version = their sha256) without reading the weights.

    `path` is a checkpoint folder or a name from the catalog (catalog.py: "tiny.en", "base")."""
    if path is not None and str(path) in CATALOG and not Path(path).exists():
        path = catalog_path(str(path), model_cache_dir())
    root = Path(path) if path is not None else default_model_path()
    if not root.is_dir():
        raise CheckpointError(
            f"checkpoint {root} is not a directory; pass a CTranslate2 model directory (model.bin + config.json) "
            "or a Hugging Face Whisper directory (config.json + model.safetensors)"
        )
    parts = model_bin_parts(root)
    if (root / "model.bin").is_file() or parts:
        fmt, files = "ct2", [root / "model.bin"] if (root / "model.bin").is_file() else parts
    elif (root / "model.safetensors").is_file():
        fmt, files = "hf", [root / "model.safetensors"]
    else:
        raise CheckpointError(
            f"checkpoint {root} has neither model.bin (or model.bin.part1, part2, ...) nor model.safetensors; "
            "pass a CTranslate2 or Hugging Face Whisper model directory"
        )
    return root, fmt, files, weights_version(files)


def describe_checkpoint(root: Path, fmt: str, version: str, dims: ModelDimensions) -> Checkpoint:
    """The checkpoint's metadata from its JSON files, for weights of the given dims (no weights are read)."""
    config = _read_json(root / "config.json") if (root / "config.json").is_file() else {}
    gen_file = root / "generation_config.json"
    generation = _read_json(gen_file) if fmt == "hf" and gen_file.is_file() else {}
    return _checkpoint_metadata(root, fmt, version, dims, config, generation)


def _dims_from_weights(w: dict[str, np.ndarray]) -> ModelDimensions:
    n_head = w["dims.n_head"]
    conv1 = w["encoder.conv1.weight"]
    emb = w["decoder.token_embedding.weight"]
    return ModelDimensions(
        n_mels=int(conv1.shape[1]),
        n_audio_ctx=int(w["encoder.positional_embedding"].shape[0]),
        n_audio_state=int(conv1.shape[0]),
        n_audio_head=int(n_head[0]),
        n_audio_layer=count_layers(w, "encoder.blocks."),
        n_vocab=int(emb.shape[0]),
        n_text_ctx=int(w["decoder.positional_embedding"].shape[0]),
        n_text_state=int(emb.shape[1]),
        n_text_head=int(n_head[1]),
        n_text_layer=count_layers(w, "decoder.blocks."),
    )


def _checkpoint_metadata(
    root: Path, fmt: str, version: str, dims: ModelDimensions, config: dict, generation: dict
) -> Checkpoint:
    multilingual = dims.n_vocab >= MULTILINGUAL_VOCAB
    if fmt == "ct2":
        heads = config.get("alignment_heads")
        suppress = config.get("suppress_ids", [])
        begin = config.get("suppress_ids_begin")  # an empty list: suppress nothing at the first step
    else:
        heads = generation.get("alignment_heads")
        suppress = generation.get("suppress_tokens", config.get("suppress_tokens")) or []
        begin = generation.get("begin_suppress_tokens", config.get("begin_suppress_tokens")) or None
        multilingual = bool(generation.get("is_multilingual", multilingual))
    if not heads:  # openai/whisper's default: every head of the last half of the decoder layers
        heads = [
            (layer, h)
            for layer in range(dims.n_text_layer // 2, dims.n_text_layer)
            for h in range(dims.n_text_head)
        ]
    tokenizer_file = root / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise CheckpointError(
            f"checkpoint {root} has no tokenizer.json; copy the tokenizer.json of the matching Whisper model there"
        )
    if begin is None:  # suppress_blank: a space and eot, as CTranslate2 and faster-whisper default
        from asr_assets.asr.tokenizer import Tokenizer

        begin = [220, Tokenizer.from_file(tokenizer_file, multilingual=multilingual).eot]
    for layer, h in heads:
        if not (0 <= layer < dims.n_text_layer and 0 <= h < dims.n_text_head):
            raise CheckpointError(
                f"{root}: alignment head ({layer}, {h}) is outside the decoder's {dims.n_text_layer} layers x "
                f"{dims.n_text_head} heads; fix alignment_heads in config.json / generation_config.json"
            )
    return Checkpoint(
        path=root,
        dims=dims,
        version=version,
        alignment_heads=tuple((int(a), int(b)) for a, b in heads),
        suppress_ids=tuple(int(i) for i in suppress),
        suppress_ids_begin=tuple(int(i) for i in begin),
        is_multilingual=multilingual,
        tokenizer_file=tokenizer_file,
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CheckpointError(
            f"{path} is missing; a Whisper checkpoint directory needs its config.json"
        ) from e
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot parse {path}: {e}; re-download the checkpoint's JSON files") from e
