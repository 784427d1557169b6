"""Hugging Face Whisper directories (``config.json`` + ``model.safetensors``) -> OpenAI-named float32 weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asr_assets.asr.checkpoints._names import contiguous, count_layers, getter
from asr_assets.asr.errors import CheckpointError


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types for bad headers
        raise CheckpointError(f"cannot read {path}: {e}; re-download the model.safetensors file") from e


def hf_to_openai(t: dict[str, np.ndarray], config: dict, path: Path) -> dict[str, np.ndarray]:
    """Rename a transformers WhisperForConditionalGeneration state dict to OpenAI names."""
    t = {k.removeprefix("model."): val for k, val in t.items()}

    get = getter(
        t, lambda name: f"{path}/model.safetensors has no tensor {name}; it is not a Whisper checkpoint"
    )

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
        for i in range(count_layers(t, f"{stack}.layers.")):
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
    return contiguous(w)
