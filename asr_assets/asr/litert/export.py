"""Keras Whisper -> three LiteRT programs (encoder, decoder step, forced pass), once per checkpoint and compute type.

The network stays defined once, in model.py; this module traces three entry points of it with dynamic batch
shapes, freezes the weights and converts them with `tf.lite.TFLiteConverter`. `int8` is TensorFlow Lite's
dynamic-range quantisation (int8 weights per output channel, activations quantised per row on the fly), which
XNNPACK runs with its int8 GEMMs; `float32` keeps the Keras weights as they are. Only this module imports
TensorFlow; runtime.py runs the programs without it. `python -m asr_assets.asr.litert.export` is how a
TensorFlow-free process gets them built (programs.py), and how the Docker image bakes them.

Program signatures (inputs in this order, outputs as a flat tuple in this order; runtime.py relies on both):
- encoder: mel (1, n_mels, 3000) -> per decoder layer cross-attention keys, values (1, H, 1500, Dh) (k0, v0, k1, ...)
- step: tokens (R,), positions (R,), self_bias (R, C), vocab_bias (V,), per layer cache keys, values (R, H, C, Dh),
  per layer cross keys, values (W, H, S, Dh) -> per layer new keys, values (R, H, Dh), no-speech log-prob (R,)
  (under vocab_bias),
  the TOP_K best masked log-probs (R, TOP_K) and their ids (R, TOP_K). Rows r*K .. r*K + K - 1 belong to window r.
- align: tokens (W, T), targets (W, T), per layer cross keys, values -> alignment heads' pre-softmax
  cross-attention scores (W, heads, T, S) and the targets' probabilities over ids < eot (W, T).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from asr_assets.asr.checkpoints import Checkpoint, load_checkpoint
from asr_assets.asr.litert.programs import (
    COMPUTE_TYPES,
    FORMAT,
    PROGRAMS,
    TOP_K,
    program_dir,
    valid_manifest,
)
from asr_assets.asr.model import MASK_VALUE, build_model

logger = logging.getLogger(__name__)


def _freeze(fn, spec) -> object:
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(tf.function(fn, input_signature=spec).get_concrete_function())


def _kv_spec(prefix: str, layers: int, rows, heads: int, length, head_dim: int) -> list[tf.TensorSpec]:
    return [
        tf.TensorSpec((rows, heads, length, head_dim), tf.float32, name=f"{prefix}_{kv}{i}")
        for i in range(layers)
        for kv in "kv"
    ]


def _programs(checkpoint: Checkpoint, weights: dict[str, np.ndarray]) -> dict[str, object]:
    """The three frozen concrete functions of one checkpoint."""
    from asr_assets.asr.tokenizer import Tokenizer

    model = build_model(checkpoint.dims, weights)
    enc, dec = model.encoder, model.decoder
    d = checkpoint.dims
    layers, heads, head_dim = d.n_text_layer, d.n_text_head, d.n_text_state // d.n_text_head
    audio = d.n_audio_ctx
    tok = Tokenizer.from_file(checkpoint.tokenizer_file, multilingual=checkpoint.is_multilingual)
    no_speech, eot = tok.no_speech, tok.eot
    align_heads = checkpoint.alignment_heads

    def encoder(mel):
        return tuple(t for kv in dec.cross_kv(enc(mel)) for t in kv)

    def cross_attention(block, x, k, v):
        """x += cross_attn(ln(x)) for R rows over W windows' K/V (the K = R / W rows of a window share them)."""
        att = block.cross_attn
        r, w = tf.shape(x)[0], tf.shape(k)[0]
        t = tf.shape(x)[1]
        q = tf.reshape(att.query(block.cross_attn_ln(x)) * att.scale, (w, -1, heads, head_dim))
        q = tf.transpose(q, (0, 2, 1, 3))  # (W, H, K*T, Dh)
        s = tf.matmul(q, k, transpose_b=True)
        o = tf.transpose(tf.matmul(tf.nn.softmax(s, axis=-1), v), (0, 2, 1, 3))
        return x + att.out(tf.reshape(o, (r, t, d.n_text_state))), s

    def step(tokens, positions, self_bias, vocab_bias, *kv):
        cache, cross = kv[: 2 * layers], kv[2 * layers :]
        r = tf.shape(tokens)[0]
        x = dec._embed(tf.expand_dims(tokens, 1), tf.expand_dims(positions, 1))
        new_k, new_v = [], []
        for i, block in enumerate(dec.blocks):
            att = block.attn
            h = block.attn_ln(x)
            q = att.split_heads(att.query(h) * att.scale)  # (R, H, 1, Dh)
            k, v = att.keys_values(h)
            new_k.append(tf.reshape(k, (-1, heads, head_dim)))
            new_v.append(tf.reshape(v, (-1, heads, head_dim)))
            cache_k, cache_v = cache[2 * i], cache[2 * i + 1]
            # The cache holds the earlier tokens; this token attends to itself through its own k/v, so the
            # runtime writes the cache after the step and never before.
            s_cache = tf.matmul(q, cache_k, transpose_b=True) + tf.reshape(self_bias, (r, 1, 1, -1))
            s_self = tf.reduce_sum(q * k, axis=-1, keepdims=True)
            w_cache, w_self = tf.split(
                tf.nn.softmax(tf.concat([s_cache, s_self], -1), -1), [tf.shape(cache_k)[2], 1], -1
            )
            x = x + att.out(att.merge_heads(tf.matmul(w_cache, cache_v) + w_self * v))
            x, _ = cross_attention(block, x, cross[2 * i], cross[2 * i + 1])
            x = block.mlp(x)
        logits = tf.matmul(tf.reshape(dec.ln(x), (-1, d.n_text_state)), dec.token_embedding, transpose_b=True)
        masked = logits + vocab_bias  # the suppress masks: 0 or MASK_VALUE per id
        top = tf.math.top_k(masked, TOP_K)
        lse = tf.reduce_logsumexp(masked, -1, keepdims=True)
        # The no-speech log-prob under the same normaliser: the runtime reads it at the <|startoftranscript|>
        # step, which it runs with a zero vocab_bias, so it is the raw softmax there. A second, unmasked
        # normaliser every step measured 10-13 ms of a 42 ms step (8 windows x beam 5).
        no_speech_logprob = tf.reshape(masked[:, no_speech : no_speech + 1] - lse, (-1,))
        return (*new_k, *new_v, no_speech_logprob, top.values - lse, top.indices)

    def align(tokens, targets, *cross):
        w, t = tf.shape(tokens)[0], tf.shape(tokens)[1]
        positions = tf.broadcast_to(tf.range(t)[None], (w, t))
        pairs = tuple((cross[2 * i], cross[2 * i + 1]) for i in range(layers))
        h, _, scores = dec.prefill(tokens, positions, tf.zeros((w,), tf.int32), pairs, align_heads)
        # Softmax over ids < eot only (CT2), from the same (possibly int8) logits the target is read from; one
        # (tokens x vocabulary) tensor, no log_softmax copy of it (the forced pass's memory is that tensor).
        text_emb = tf.convert_to_tensor(dec.token_embedding)[:eot]
        logits = tf.matmul(tf.reshape(h, (-1, d.n_text_state)), text_emb, transpose_b=True)
        lse = tf.reduce_logsumexp(logits, -1, keepdims=True)
        picked = tf.gather(logits, tf.reshape(tf.minimum(targets, eot - 1), (-1, 1)), batch_dims=1)
        return scores, tf.where(targets < eot, tf.exp(tf.reshape(picked - lse, (w, t))), 0.0)

    int_spec = [
        tf.TensorSpec((None,), tf.int32, name="tokens"),
        tf.TensorSpec((None,), tf.int32, name="positions"),
    ]
    step_spec = [
        *int_spec,
        tf.TensorSpec((None, None), tf.float32, name="self_bias"),
        tf.TensorSpec((d.n_vocab,), tf.float32, name="vocab_bias"),
        *_kv_spec("cache", layers, None, heads, None, head_dim),
        *_kv_spec("cross", layers, None, heads, audio, head_dim),
    ]
    align_spec = [
        tf.TensorSpec((None, None), tf.int32, name="tokens"),
        tf.TensorSpec((None, None), tf.int32, name="targets"),
        *_kv_spec("cross", layers, None, heads, audio, head_dim),
    ]
    return {
        "encoder": _freeze(encoder, [tf.TensorSpec((1, d.n_mels, 2 * audio), tf.float32, name="mel")]),
        "step": _freeze(step, step_spec),
        "align": _freeze(align, align_spec),
    }


def export(checkpoint_path: str | Path | None, compute_type: str) -> Path:
    """Convert the checkpoint's programs for `compute_type` into the model cache (atomically); returns the dir."""
    if compute_type not in COMPUTE_TYPES:
        raise ValueError(f"compute type {compute_type!r}; choose one of {', '.join(COMPUTE_TYPES)}")
    checkpoint, weights = load_checkpoint(checkpoint_path)
    target = program_dir(checkpoint.version, compute_type)
    if valid_manifest(target, checkpoint.version, compute_type) is not None:
        return target
    stale = target.with_name(f".{target.name}.stale-{os.getpid()}")
    if target.exists():  # another format or a broken copy: moved aside, then removed
        target.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    assert MASK_VALUE < -1e8  # vocab_bias uses the same finite mask as the Keras model
    for name, fn in _programs(checkpoint, weights).items():
        logger.info("converting %s program (%s) of %s", name, compute_type, checkpoint.version[:16])
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn])
        if compute_type == "int8":
            converter.optimizations = [
                tf.lite.Optimize.DEFAULT
            ]  # dynamic range: int8 weights, float activations
        (staging / f"{name}.tflite").write_bytes(converter.convert())
    manifest = {
        "format": FORMAT,
        "compute_type": compute_type,
        "version": checkpoint.version,
        "dims": dict(checkpoint.dims.__dict__),
        "programs": list(PROGRAMS),
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for path in [staging, *staging.iterdir()]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)  # an image built as root serves any user
    try:
        staging.rename(target)
    except OSError:  # another process finished first: theirs is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m asr_assets.asr.litert.export",
        description="Convert a Whisper checkpoint into LiteRT programs in the model cache (ASR_MODEL_CACHE).",
    )
    parser.add_argument("--model", default=None, help="checkpoint directory (default: the bundled tiny.en)")
    parser.add_argument(
        "--compute-type", action="append", choices=COMPUTE_TYPES, help="repeatable; default: all of them"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for compute_type in args.compute_type or COMPUTE_TYPES:
        print(export(args.model, compute_type))
    return 0


if __name__ == "__main__":
    sys.exit(main())
