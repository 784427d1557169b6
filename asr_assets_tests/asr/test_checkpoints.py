"""asr_assets.asr.checkpoints: CTranslate2 model.bin and Hugging Face safetensors -> the same OpenAI-named float32 weights.

The tiny checkpoints are written by the test itself (a minimal CTranslate2 writer following
python/ctranslate2/specs/model_spec.py `_serialize`), so the parser is checked against the format, not against itself.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from asr_assets.asr import checkpoints
from asr_assets.asr.checkpoints import Checkpoint, load_checkpoint, read_ct2_model_bin
from asr_assets.asr.errors import CheckpointError
from asr_assets.asr.model import ModelDimensions

TINY = ModelDimensions(
    n_mels=8, n_audio_ctx=10, n_audio_state=16, n_audio_head=2, n_audio_layer=2,
    n_vocab=51864, n_text_ctx=24, n_text_state=16, n_text_head=2, n_text_layer=2,
)  # fmt: skip
TOKENIZER_JSON = checkpoints.default_model_path() / "tokenizer.json"  # tiny.en's: eot 50256
# The vocabulary keeps Whisper's real size so the special ids (eot 50256, timestamps 50363+) are valid.

_DTYPE_CODES = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.float16): 4}


def random_openai_weights(dims: ModelDimensions = TINY, seed: int = 0) -> dict[str, np.ndarray]:
    """Whisper-shaped random float32 weights under OpenAI names (key projections have no bias)."""
    rng = np.random.default_rng(seed)

    def r(*shape, scale=0.3):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    d, t = dims.n_audio_state, dims.n_text_state
    w = {
        "encoder.conv1.weight": r(d, dims.n_mels, 3),
        "encoder.conv1.bias": r(d),
        "encoder.conv2.weight": r(d, d, 3),
        "encoder.conv2.bias": r(d),
        "encoder.positional_embedding": r(dims.n_audio_ctx, d),
        "encoder.ln_post.weight": 1 + r(d),
        "encoder.ln_post.bias": r(d),
        "decoder.token_embedding.weight": r(dims.n_vocab, t),
        "decoder.positional_embedding": r(dims.n_text_ctx, t),
        "decoder.ln.weight": 1 + r(t),
        "decoder.ln.bias": r(t),
    }
    for stack, n, width in (("encoder", dims.n_audio_layer, d), ("decoder", dims.n_text_layer, t)):
        for i in range(n):
            p = f"{stack}.blocks.{i}"
            attns = ("attn", "cross_attn") if stack == "decoder" else ("attn",)
            for a in attns:
                for part in ("query", "key", "value", "out"):
                    w[f"{p}.{a}.{part}.weight"] = r(width, width)
                    if part != "key":
                        w[f"{p}.{a}.{part}.bias"] = r(width)
                w[f"{p}.{a}_ln.weight"], w[f"{p}.{a}_ln.bias"] = 1 + r(width), r(width)
            w[f"{p}.mlp.0.weight"], w[f"{p}.mlp.0.bias"] = r(4 * width, width), r(4 * width)
            w[f"{p}.mlp.2.weight"], w[f"{p}.mlp.2.bias"] = r(width, 4 * width), r(width)
            w[f"{p}.mlp_ln.weight"], w[f"{p}.mlp_ln.bias"] = 1 + r(width), r(width)
    return w


def to_ct2_variables(w: dict[str, np.ndarray], dims: ModelDimensions = TINY) -> dict[str, np.ndarray]:
    """OpenAI names -> CTranslate2 WhisperSpec names (fused q|k|v and k|v, zero key biases), float32."""
    v: dict[str, np.ndarray] = {}
    for i in (1, 2):
        v[f"encoder/conv{i}/weight"], v[f"encoder/conv{i}/bias"] = (
            w[f"encoder.conv{i}.weight"],
            w[f"encoder.conv{i}.bias"],
        )
    v["encoder/position_encodings/encodings"] = w["encoder.positional_embedding"]
    v["encoder/layer_norm/gamma"], v["encoder/layer_norm/beta"] = (
        w["encoder.ln_post.weight"],
        w["encoder.ln_post.bias"],
    )
    v["decoder/embeddings/weight"] = w["decoder.token_embedding.weight"]
    v["decoder/projection/weight"] = w["decoder.token_embedding.weight"]  # stored as an alias by the writer
    v["decoder/position_encodings/encodings"] = w["decoder.positional_embedding"]
    v["decoder/layer_norm/gamma"], v["decoder/layer_norm/beta"] = w["decoder.ln.weight"], w["decoder.ln.bias"]

    def lin(dst, src):
        v[f"{dst}/weight"], v[f"{dst}/bias"] = w[f"{src}.weight"], w[f"{src}.bias"]

    def ln(dst, src):
        v[f"{dst}/gamma"], v[f"{dst}/beta"] = w[f"{src}.weight"], w[f"{src}.bias"]

    for stack, n in (("encoder", dims.n_audio_layer), ("decoder", dims.n_text_layer)):
        v[f"{stack}/num_heads"] = np.array(
            dims.n_audio_head if stack == "encoder" else dims.n_text_head, np.int16
        )
        for i in range(n):
            s, p = f"{stack}/layer_{i}", f"{stack}.blocks.{i}"
            zeros = np.zeros_like(w[f"{p}.attn.query.bias"])
            v[f"{s}/self_attention/linear_0/weight"] = np.concatenate(
                [w[f"{p}.attn.{x}.weight"] for x in ("query", "key", "value")]
            )
            v[f"{s}/self_attention/linear_0/bias"] = np.concatenate(
                [w[f"{p}.attn.query.bias"], zeros, w[f"{p}.attn.value.bias"]]
            )
            lin(f"{s}/self_attention/linear_1", f"{p}.attn.out")
            ln(f"{s}/self_attention/layer_norm", f"{p}.attn_ln")
            lin(f"{s}/ffn/linear_0", f"{p}.mlp.0")
            lin(f"{s}/ffn/linear_1", f"{p}.mlp.2")
            ln(f"{s}/ffn/layer_norm", f"{p}.mlp_ln")
            if stack == "decoder":
                lin(f"{s}/attention/linear_0", f"{p}.cross_attn.query")
                v[f"{s}/attention/linear_1/weight"] = np.concatenate(
                    [w[f"{p}.cross_attn.key.weight"], w[f"{p}.cross_attn.value.weight"]]
                )
                v[f"{s}/attention/linear_1/bias"] = np.concatenate([zeros, w[f"{p}.cross_attn.value.bias"]])
                lin(f"{s}/attention/linear_2", f"{p}.cross_attn.out")
                ln(f"{s}/attention/layer_norm", f"{p}.cross_attn_ln")
    v["decoder/activation"] = np.array(3, np.int8)
    return v  # fmt: skip


def quantize(v: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Cast like the CTranslate2 converter: float16 / bfloat16 / int8 (+ per-row `_scale`) for *weight."""
    out: dict[str, np.ndarray] = {}
    for name, a in v.items():
        if a.ndim == 0 or a.dtype != np.float32:
            out[name] = a
        elif dtype == "int8" and name.endswith("weight"):
            flat = a.reshape(a.shape[0], -1)
            scale = (127.0 / np.abs(flat).max(axis=1)).astype(np.float32)
            out[name] = np.round(a * scale.reshape((-1,) + (1,) * (a.ndim - 1))).astype(np.int8)
            out[name + "_scale"] = scale
        elif dtype == "float16":
            out[name] = a.astype(np.float16)
        elif dtype == "bfloat16":
            out[name] = a  # tagged below; stored as the upper 16 bits
        else:
            out[name] = a
    return out


def write_ct2_model_bin(
    path: Path, v: dict[str, np.ndarray], *, version: int = 6, bfloat16: bool = False
) -> None:
    def string(s: str) -> bytes:
        b = s.encode() + b"\0"
        return struct.pack("<H", len(b)) + b

    # The writer stores identical tensors once and records the other names as aliases.
    aliases = {"decoder/projection/weight": "decoder/embeddings/weight"} if version >= 3 else {}
    names = sorted(n for n in v if n not in aliases)
    out = [struct.pack("<I", version)]
    if version >= 2:
        out += [string("WhisperSpec"), struct.pack("<I", 3)]
    out.append(struct.pack("<I", len(names)))
    for name in names:
        a = np.asarray(v[name])  # not ascontiguousarray: it turns scalars into rank 1
        out += [string(name), struct.pack("<B", a.ndim), struct.pack(f"<{a.ndim}I", *a.shape)]
        if bfloat16 and a.dtype == np.float32 and a.ndim:
            data, code, item = (a.view(np.uint32) >> 16).astype("<u2").tobytes(), 5, 2
        else:
            data, code, item = (
                a.astype(a.dtype.newbyteorder("<")).tobytes(),
                _DTYPE_CODES[a.dtype],
                a.dtype.itemsize,
            )
        if version >= 4:
            out += [struct.pack("<B", code), struct.pack("<I", len(data))]
        else:
            out += [struct.pack("<B", item), struct.pack("<I", a.size)]
        out.append(data)
    if version >= 3:
        out.append(struct.pack("<I", len(aliases)))
        for alias, target in aliases.items():
            out += [string(alias), string(target)]
    path.write_bytes(b"".join(out))


def write_ct2_dir(root: Path, w: dict[str, np.ndarray], dims: ModelDimensions = TINY, **kw) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    dtype = kw.pop("dtype", "float32")
    v = quantize(to_ct2_variables(w, dims), dtype)
    write_ct2_model_bin(root / "model.bin", v, bfloat16=dtype == "bfloat16", **kw)
    config = {
        "alignment_heads": [[1, 0], [1, 1]],
        "lang_ids": [],
        "suppress_ids": [1, 2, 50257],
        "suppress_ids_begin": [220, 50256],
    }
    (root / "config.json").write_text(json.dumps(config))
    shutil.copy(TOKENIZER_JSON, root / "tokenizer.json")  # special ids come from it (eot for suppress_blank)
    return root


def write_hf_dir(
    root: Path, w: dict[str, np.ndarray], dims: ModelDimensions = TINY, generation: bool = True
) -> Path:
    """transformers' WhisperForConditionalGeneration layout (names as in its state dict)."""
    from safetensors.numpy import save_file

    root.mkdir(parents=True, exist_ok=True)
    ren = {"attn.query": "self_attn.q_proj", "attn.key": "self_attn.k_proj", "attn.value": "self_attn.v_proj",
           "attn.out": "self_attn.out_proj", "attn_ln": "self_attn_layer_norm", "cross_attn.query": "encoder_attn.q_proj",
           "cross_attn.key": "encoder_attn.k_proj", "cross_attn.value": "encoder_attn.v_proj",
           "cross_attn.out": "encoder_attn.out_proj", "cross_attn_ln": "encoder_attn_layer_norm",
           "mlp.0": "fc1", "mlp.2": "fc2", "mlp_ln": "final_layer_norm"}  # fmt: skip
    top = {"encoder.positional_embedding": "encoder.embed_positions.weight",
           "encoder.ln_post.weight": "encoder.layer_norm.weight", "encoder.ln_post.bias": "encoder.layer_norm.bias",
           "decoder.token_embedding.weight": "decoder.embed_tokens.weight",
           "decoder.positional_embedding": "decoder.embed_positions.weight",
           "decoder.ln.weight": "decoder.layer_norm.weight", "decoder.ln.bias": "decoder.layer_norm.bias"}  # fmt: skip
    t = {}
    for name, a in w.items():
        if name in top:
            new = top[name]
        elif ".blocks." in name:
            stack, _, i, rest = name.split(".", 3)
            mod, kind = rest.rsplit(".", 1)
            new = f"{stack}.layers.{i}.{ren[mod]}.{kind}"
        else:
            new = name
        t["model." + new] = a
    t["proj_out.weight"] = w["decoder.token_embedding.weight"].copy()
    save_file(t, str(root / "model.safetensors"))
    config = {
        "d_model": dims.n_audio_state, "encoder_attention_heads": dims.n_audio_head,
        "decoder_attention_heads": dims.n_text_head, "encoder_layers": dims.n_audio_layer,
        "decoder_layers": dims.n_text_layer, "num_mel_bins": dims.n_mels, "vocab_size": dims.n_vocab,
        "max_source_positions": dims.n_audio_ctx, "max_target_positions": dims.n_text_ctx,
    }  # fmt: skip
    (root / "config.json").write_text(json.dumps(config))
    if generation:
        gen = {
            "alignment_heads": [[1, 0], [1, 1]],
            "suppress_tokens": [1, 2, 50257],
            "begin_suppress_tokens": [220, 50256],
        }
        (root / "generation_config.json").write_text(json.dumps(gen))
    shutil.copy(TOKENIZER_JSON, root / "tokenizer.json")  # special ids come from it (eot for suppress_blank)
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ASR_MODEL_CACHE", str(tmp_path / "cache"))


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray], atol: float = 0.0) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=atol, rtol=0, err_msg=k)


def test_ct2_and_hf_load_to_identical_weights(tmp_path):
    w = random_openai_weights()
    ckpt_ct2, w_ct2 = load_checkpoint(write_ct2_dir(tmp_path / "ct2", w))
    ckpt_hf, w_hf = load_checkpoint(write_hf_dir(tmp_path / "hf", w))
    _assert_same(w_ct2, w_hf)
    for k, a in w.items():
        np.testing.assert_array_equal(w_ct2[k], a, err_msg=k)
    assert ckpt_ct2.dims == ckpt_hf.dims == TINY
    assert ckpt_ct2.alignment_heads == ckpt_hf.alignment_heads == ((1, 0), (1, 1))
    assert ckpt_ct2.suppress_ids == ckpt_hf.suppress_ids == (1, 2, 50257)
    assert ckpt_ct2.suppress_ids_begin == (220, 50256)
    assert not ckpt_ct2.is_multilingual
    assert ckpt_ct2.version != ckpt_hf.version and len(ckpt_ct2.version) == 64


@pytest.mark.parametrize(
    ("dtype", "version", "atol"),
    [
        ("float16", 6, 2e-3),
        ("bfloat16", 6, 1.6e-2),
        ("int8", 6, 1e-2),
        ("float32", 3, 0.0),
        ("float32", 2, 0.0),
    ],
)
def test_ct2_dtypes_and_binary_versions(tmp_path, dtype, version, atol):
    w = random_openai_weights()
    _, got = load_checkpoint(write_ct2_dir(tmp_path / "m", w, dtype=dtype, version=version))
    for k, a in w.items():
        np.testing.assert_allclose(got[k], a, atol=atol * max(1.0, float(np.abs(a).max())), rtol=0, err_msg=k)
        assert got[k].dtype == np.float32


def test_hf_without_generation_config_uses_openai_default_heads(tmp_path):
    ckpt, _ = load_checkpoint(write_hf_dir(tmp_path / "hf", random_openai_weights(), generation=False))
    # the last half of the decoder layers, every head
    assert ckpt.alignment_heads == ((1, 0), (1, 1))
    assert ckpt.suppress_ids_begin == (220, 50256)


def test_multilingual_vocab(tmp_path):
    dims = ModelDimensions(**{**TINY.__dict__, "n_vocab": 51865})
    ckpt, w = load_checkpoint(write_ct2_dir(tmp_path / "m", random_openai_weights(dims), dims))
    assert ckpt.is_multilingual and ckpt.dims.n_vocab == 51865


def test_split_model_bin_is_reassembled_into_cache(tmp_path):
    src = write_ct2_dir(tmp_path / "whole", random_openai_weights())
    whole_ckpt, whole = load_checkpoint(src)
    split = tmp_path / "split"
    split.mkdir()
    data = (src / "model.bin").read_bytes()
    (split / "model.bin.part1").write_bytes(data[:1000])
    (split / "model.bin.part2").write_bytes(data[1000:])
    for name in ("config.json", "tokenizer.json"):
        (split / name).write_bytes((src / name).read_bytes())
    # a fresh cache, so the split checkpoint really is reassembled and converted
    cache = tmp_path / "cache2"
    import os

    os.environ["ASR_MODEL_CACHE"] = str(cache)
    ckpt, got = load_checkpoint(split)
    assert ckpt.version == whole_ckpt.version
    assert (cache / f"{ckpt.version}.model.bin").read_bytes() == data
    assert (cache / f"{ckpt.version}.npz").is_file()
    _assert_same(got, whole)


def test_cache_is_keyed_by_hash_and_reused(tmp_path, monkeypatch):
    root = write_ct2_dir(tmp_path / "m", random_openai_weights())
    ckpt, w = load_checkpoint(root)
    cached = Path(checkpoints.model_cache_dir()) / f"{ckpt.version}.npz"
    assert cached.is_file()
    monkeypatch.setattr(checkpoints, "read_ct2_model_bin", lambda p: pytest.fail("cache not used"))
    _, again = load_checkpoint(root)
    _assert_same(w, again)


def test_errors_name_the_path_and_fix(tmp_path):
    with pytest.raises(CheckpointError, match="not a directory"):
        load_checkpoint(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match=r"empty.*neither model.bin"):
        load_checkpoint(empty)
    (empty / "model.bin.part1").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="model.bin.part2"):
        load_checkpoint(empty)
    bad = write_ct2_dir(tmp_path / "bad", random_openai_weights())
    (bad / "model.bin").write_bytes((bad / "model.bin").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=r"bad/model.bin is truncated"):
        load_checkpoint(bad)


def test_bundled_tiny_en():
    """The default model: the bundled tiny.en's pinned facts (docs/engine.md)."""
    ckpt, w = load_checkpoint()
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.path == checkpoints.default_model_path()
    assert ckpt.version.startswith("1a5afae06a4db91c")
    assert ckpt.dims == ModelDimensions(80, 1500, 384, 6, 4, 51864, 448, 384, 6, 4)
    assert ckpt.alignment_heads == ((1, 0), (2, 0), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4))
    assert len(ckpt.suppress_ids) == 90 and ckpt.suppress_ids_begin == (220, 50256)
    assert not ckpt.is_multilingual and ckpt.tokenizer_file.name == "tokenizer.json"
    assert w["decoder.token_embedding.weight"].shape == (51864, 384)
    assert w["encoder.blocks.0.attn.query.weight"].shape == (384, 384)
    raw = read_ct2_model_bin(ckpt.path / "model.bin")
    assert len([k for k in raw if not k.endswith("_scale")]) == 149  # 148 records + the projection alias
    assert float(np.abs(raw["decoder/layer_0/self_attention/linear_0/bias"][384:768]).max()) == 0.0


def test_ct2_and_hf_give_identical_model_outputs(tmp_path):
    """The same tiny random Whisper saved in both formats runs to bit-identical encoder and decoder outputs."""
    from asr_assets.asr.model import build_model

    w = random_openai_weights(seed=5)
    outs = []
    for loader_dir in (write_ct2_dir(tmp_path / "ct2", w), write_hf_dir(tmp_path / "hf", w)):
        ckpt, weights = load_checkpoint(loader_dir)
        model = build_model(ckpt.dims, weights)
        mel = (
            np.random.default_rng(6)
            .standard_normal((1, TINY.n_mels, 2 * TINY.n_audio_ctx))
            .astype(np.float32)
        )
        xa = model.encoder(mel)
        outs.append((xa.numpy(), model.decoder(np.array([[50257, 50363, 11]], np.int32), xa).numpy()))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
