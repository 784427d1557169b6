"""CTranslate2 ``model.bin`` (the format faster-whisper ships) -> OpenAI-named float32 weights.

The byte layout (binary versions 1..6) is summarised in docs/engine.md; writer: CTranslate2
``python/ctranslate2/specs/model_spec.py``, reader: ``src/models/model.cc``.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from asr_assets.asr.checkpoints._names import Getter, contiguous, count_layers, getter
from asr_assets.asr.errors import CheckpointError

# CTranslate2 dtype codes (`_dtype_to_type_id` in model_spec.py); 5 (bfloat16) is handled by hand.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_CT2_BFLOAT16 = 5
# binary_version < 4 stored an item size instead of a dtype (model.cc `get_dtype_from_item_size`).
_CT2_ITEM_SIZE_DTYPES = {4: np.float32, 2: np.int16, 1: np.int8}
_CT2_MAX_BINARY_VERSION = 6


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
    """Rename CTranslate2 WhisperSpec variables to OpenAI names (the table is in docs/engine.md)."""

    get = getter(
        v,
        lambda name: (
            f"{path} has no variable {name}; "
            "it is not a CTranslate2 Whisper model (or an unsupported revision)"
        ),
    )

    w: dict[str, np.ndarray] = {}
    d = get("encoder/conv1/weight").shape[0]
    for i in (1, 2):
        w[f"encoder.conv{i}.weight"] = get(f"encoder/conv{i}/weight")
        w[f"encoder.conv{i}.bias"] = get(f"encoder/conv{i}/bias")
    w["encoder.positional_embedding"] = get("encoder/position_encodings/encodings")
    _ln(w, "encoder.ln_post", "encoder/layer_norm", get)
    w["decoder.token_embedding.weight"] = get("decoder/embeddings/weight")
    w["decoder.positional_embedding"] = get("decoder/position_encodings/encodings")
    _ln(w, "decoder.ln", "decoder/layer_norm", get)
    for stack in ("encoder", "decoder"):
        for i in range(count_layers(v, f"{stack}/layer_")):
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
            _ln(w, f"{dst}.attn_ln", f"{src}/self_attention/layer_norm", get)
            _linear(w, f"{dst}.mlp.0", get, f"{src}/ffn/linear_0")
            _linear(w, f"{dst}.mlp.2", get, f"{src}/ffn/linear_1")
            _ln(w, f"{dst}.mlp_ln", f"{src}/ffn/layer_norm", get)
            if stack == "decoder":
                _linear(w, f"{dst}.cross_attn.query", get, f"{src}/attention/linear_0")
                kv_w, kv_b = get(f"{src}/attention/linear_1/weight"), get(f"{src}/attention/linear_1/bias")
                w[f"{dst}.cross_attn.key.weight"] = kv_w[:d]
                w[f"{dst}.cross_attn.value.weight"] = kv_w[d:]
                w[f"{dst}.cross_attn.value.bias"] = kv_b[d:]
                _linear(w, f"{dst}.cross_attn.out", get, f"{src}/attention/linear_2")
                _ln(w, f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm", get)
    heads = {
        k: int(np.asarray(v[f"{k}/num_heads"]).reshape(-1)[0])
        for k in ("encoder", "decoder")
        if f"{k}/num_heads" in v
    }
    w["dims.n_head"] = np.array([heads.get("encoder", d // 64), heads.get("decoder", d // 64)], np.int64)
    return contiguous(w)


def _linear(w: dict, dst: str, get: Getter, src: str) -> None:
    w[f"{dst}.weight"] = get(f"{src}/weight")
    w[f"{dst}.bias"] = get(f"{src}/bias")


def _ln(w: dict, dst: str, src: str, get: Getter) -> None:
    w[f"{dst}.weight"] = get(f"{src}/gamma")
    w[f"{dst}.bias"] = get(f"{src}/beta")
