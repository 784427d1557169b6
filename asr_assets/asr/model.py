"""Whisper in Keras 3 (TensorFlow backend): audio encoder and a text decoder with a fixed-size key/value cache.

Same network as openai/whisper `model.py` and CTranslate2's `src/layers/whisper.cc`: pre-norm Transformer blocks,
LayerNorm eps 1e-5 in float32, exact (erf) GELU, attention scaled by 1/sqrt(head_dim), a decoder whose output
projection is the token embedding (no bias). The decoder is written for XLA: its self-attention cache has a fixed
shape (rows, heads, cache_len, head_dim) and each call writes its keys/values with one dynamic slice update, and
the cross-attention keys/values are computed once per window and shared by all beams of that window.
Shapes below: W windows, K rows per window (beams or samples), R = W*K rows, T new tokens, S audio positions.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from asr_assets.asr.dimensions import ModelDimensions

LN_EPS = 1e-5  # Whisper's (and CTranslate2's default) LayerNorm epsilon
MASK_VALUE = -1e9  # finite, so a fully masked (left padding) row gives a uniform softmax, not NaN

Cache = tuple[tuple[tf.Tensor, tf.Tensor], ...]  # per decoder layer: (keys, values), each (R, H, C, Dh)


def _gelu(x):
    return keras.activations.gelu(x, approximate=False)


@keras.saving.register_keras_serializable(package="asr_assets")
class Attention(keras.layers.Layer):
    """Multi-head attention projections (query/key/value/out). The key has no bias, as in Whisper."""

    def __init__(self, n_state: int, n_head: int, **kwargs):
        super().__init__(**kwargs)
        if n_state % n_head:
            raise ValueError(f"n_state {n_state} is not divisible by n_head {n_head}")
        self.n_state, self.n_head = n_state, n_head
        self.head_dim = n_state // n_head
        self.scale = 1.0 / math.sqrt(self.head_dim)  # CT2 scales q only; OpenAI scales q and k by dh**-0.25
        self.query = keras.layers.Dense(n_state, name="query", dtype=self.dtype_policy)
        self.key = keras.layers.Dense(n_state, use_bias=False, name="key", dtype=self.dtype_policy)
        self.value = keras.layers.Dense(n_state, name="value", dtype=self.dtype_policy)
        self.out = keras.layers.Dense(n_state, name="out", dtype=self.dtype_policy)

    def build(self, input_shape=None):
        for layer in (self.query, self.key, self.value, self.out):
            layer.build((None, self.n_state))
        self.built = True

    def split_heads(self, x):  # (B, T, d) -> (B, H, T, Dh)
        b, t = tf.shape(x)[0], tf.shape(x)[1]
        return tf.transpose(tf.reshape(x, (b, t, self.n_head, self.head_dim)), (0, 2, 1, 3))

    def merge_heads(self, x):  # (B, H, T, Dh) -> (B, T, d)
        b, t = tf.shape(x)[0], tf.shape(x)[2]
        return tf.reshape(tf.transpose(x, (0, 2, 1, 3)), (b, t, self.n_state))

    def keys_values(self, x):
        return self.split_heads(self.key(x)), self.split_heads(self.value(x))

    def call(self, x):
        """Full (non-causal) self-attention, used by the encoder. x: (B, T, d)."""
        q = self.split_heads(self.query(x) * self.scale)
        k, v = self.keys_values(x)
        w = tf.nn.softmax(tf.matmul(q, k, transpose_b=True), axis=-1)
        return self.out(self.merge_heads(tf.matmul(w, v)))

    def get_config(self):
        return {**super().get_config(), "n_state": self.n_state, "n_head": self.n_head}


@keras.saving.register_keras_serializable(package="asr_assets")
class ResidualBlock(keras.layers.Layer):
    """Pre-norm block: x += attn(ln(x)); [x += cross_attn(ln(x), xa)]; x += mlp(ln(x))."""

    def __init__(self, n_state: int, n_head: int, cross_attention: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.n_state, self.n_head, self.cross_attention = n_state, n_head, cross_attention
        p = self.dtype_policy
        self.attn = Attention(n_state, n_head, name="attn", dtype=p)
        self.attn_ln = keras.layers.LayerNormalization(epsilon=LN_EPS, name="attn_ln", dtype="float32")
        if cross_attention:
            self.cross_attn = Attention(n_state, n_head, name="cross_attn", dtype=p)
            self.cross_attn_ln = keras.layers.LayerNormalization(
                epsilon=LN_EPS, name="cross_attn_ln", dtype="float32"
            )
        self.mlp_0 = keras.layers.Dense(4 * n_state, name="mlp_0", dtype=p)
        self.mlp_2 = keras.layers.Dense(n_state, name="mlp_2", dtype=p)
        self.mlp_ln = keras.layers.LayerNormalization(epsilon=LN_EPS, name="mlp_ln", dtype="float32")

    def build(self, input_shape=None):
        self.attn.build()
        lns = [self.attn_ln, self.mlp_ln]
        if self.cross_attention:
            self.cross_attn.build()
            lns.append(self.cross_attn_ln)
        for ln in lns:
            ln.build((None, self.n_state))
        self.mlp_0.build((None, self.n_state))
        self.mlp_2.build((None, 4 * self.n_state))
        self.built = True

    def mlp(self, x):
        return x + self.mlp_2(_gelu(self.mlp_0(self.mlp_ln(x))))

    def call(self, x):
        """Encoder block. x: (B, S, d)."""
        x = x + self.attn(self.attn_ln(x))
        return self.mlp(x)

    def get_config(self):
        return {
            **super().get_config(),
            "n_state": self.n_state,
            "n_head": self.n_head,
            "cross_attention": self.cross_attention,
        }


@keras.saving.register_keras_serializable(package="asr_assets")
class AudioEncoder(keras.layers.Layer):
    """(B, n_mels, 3000) log-mel -> (B, 1500, d). Positions are the checkpoint's stored sinusoids."""

    def __init__(self, n_mels: int, n_ctx: int, n_state: int, n_head: int, n_layer: int, **kwargs):
        super().__init__(**kwargs)
        self.n_mels, self.n_ctx, self.n_state, self.n_head, self.n_layer = (
            n_mels,
            n_ctx,
            n_state,
            n_head,
            n_layer,
        )
        p = self.dtype_policy
        self.conv1 = keras.layers.Conv1D(n_state, 3, padding="valid", name="conv1", dtype=p)
        # Stride 2 with Keras "same" would pad 0 left / 1 right and shift every frame; Whisper pads 1 and 1.
        self.conv2 = keras.layers.Conv1D(n_state, 3, strides=2, padding="valid", name="conv2", dtype=p)
        self.blocks = [ResidualBlock(n_state, n_head, name=f"block_{i}", dtype=p) for i in range(n_layer)]
        self.ln_post = keras.layers.LayerNormalization(epsilon=LN_EPS, name="ln_post", dtype="float32")

    def build(self, input_shape=None):
        self.conv1.build((None, 2 * self.n_ctx + 2, self.n_mels))
        self.conv2.build((None, 2 * self.n_ctx + 2, self.n_state))
        self.positional_embedding = self.add_weight(
            shape=(self.n_ctx, self.n_state),
            initializer="zeros",
            trainable=False,
            name="positional_embedding",
        )
        for block in self.blocks:
            block.build()
        self.ln_post.build((None, self.n_state))
        self.built = True

    def call(self, mel):
        x = tf.transpose(tf.convert_to_tensor(mel, self.compute_dtype), (0, 2, 1))  # (B, frames, n_mels)
        pad = [[0, 0], [1, 1], [0, 0]]
        x = _gelu(self.conv1(tf.pad(x, pad)))
        x = _gelu(self.conv2(tf.pad(x, pad)))
        x = x + self.positional_embedding
        for block in self.blocks:
            x = block(x)
        return self.ln_post(x)

    def get_config(self):
        return {
            **super().get_config(),
            "n_mels": self.n_mels,
            "n_ctx": self.n_ctx,
            "n_state": self.n_state,
            "n_head": self.n_head,
            "n_layer": self.n_layer,
        }


@keras.saving.register_keras_serializable(package="asr_assets")
class TextDecoder(keras.layers.Layer):
    """Token decoder. `decode` runs T new tokens against a fixed-size cache; `logits` is the tied projection."""

    def __init__(self, n_vocab: int, n_ctx: int, n_state: int, n_head: int, n_layer: int, **kwargs):
        super().__init__(**kwargs)
        self.n_vocab, self.n_ctx, self.n_state, self.n_head, self.n_layer = (
            n_vocab,
            n_ctx,
            n_state,
            n_head,
            n_layer,
        )
        self.head_dim = n_state // n_head
        p = self.dtype_policy
        self.blocks = [
            ResidualBlock(n_state, n_head, cross_attention=True, name=f"block_{i}", dtype=p)
            for i in range(n_layer)
        ]
        self.ln = keras.layers.LayerNormalization(epsilon=LN_EPS, name="ln", dtype="float32")

    def build(self, input_shape=None):
        self.token_embedding = self.add_weight(
            shape=(self.n_vocab, self.n_state), initializer="zeros", name="token_embedding"
        )
        self.positional_embedding = self.add_weight(
            shape=(self.n_ctx, self.n_state), initializer="zeros", name="positional_embedding"
        )
        for block in self.blocks:
            block.build()
        self.ln.build((None, self.n_state))
        self.built = True

    def call(self, tokens, xa):
        """Plain full-sequence forward (tests, debugging): tokens (B, T), xa (B, S, d) -> logits (B, T, V)."""
        b, t = tf.shape(tokens)[0], tf.shape(tokens)[1]
        positions = tf.broadcast_to(tf.range(t)[None], (b, t))
        h, _, _ = self.prefill(tokens, positions, tf.zeros((b,), tf.int32), self.cross_kv(xa))
        return self.logits(h)

    def cross_kv(self, xa) -> Cache:
        """Cross-attention keys/values of every layer, once per window: xa (W, S, d) -> ((W, H, S, Dh) x2) x L."""
        return tuple(block.cross_attn.keys_values(xa) for block in self.blocks)

    def _embed(self, tokens, positions):
        return tf.gather(self.token_embedding, tokens) + tf.gather(self.positional_embedding, positions)

    def _cross(self, block, x, cross_kv, beams: int, layer: int, heads, scores: list):
        """x += cross_attn(ln(x)) with K/V shared by the `beams` consecutive rows of each window."""
        att = block.cross_attn
        r, t = tf.shape(x)[0], tf.shape(x)[1]
        q = tf.reshape(
            att.query(block.cross_attn_ln(x)) * att.scale, (-1, beams * t, self.n_head, self.head_dim)
        )
        # The K rows x T tokens of a window form one (K*T, Dh) query block per head, so each window's K/V (the
        # memory-bound read of a decoding step) feed one batched matmul. Alone it measured ~30 % faster than
        # a 5-d einsum; inside the whole decoding loop the two are within noise (+-5 %).
        q = tf.transpose(q, (0, 2, 1, 3))  # (W, H, K*T, Dh)
        s = tf.matmul(q, cross_kv[0], transpose_b=True)  # (W, H, K*T, S)
        for hl, hh in heads:
            if hl == layer:  # pre-softmax scores, as CTranslate2's Whisper decoder returns them
                scores.append(s[:, hh])  # (W, K*T, S)
        o = tf.matmul(tf.nn.softmax(s, axis=-1), cross_kv[1])  # (W, H, K*T, Dh)
        o = tf.transpose(tf.reshape(o, (-1, self.n_head, beams, t, self.head_dim)), (0, 2, 3, 1, 4))
        return x + att.out(tf.reshape(o, (r, t, self.n_state)))

    def prefill(self, tokens, positions, key_start, cross: Cache, heads=()):
        """Causal pass over whole (left- or right-padded) sequences, one row per window.

        tokens, positions: (W, P) int32; key_start: (W,) first real slot (left padding before it is masked);
        cross: per layer (W, H, S, Dh). heads: (layer, head) pairs whose pre-softmax cross-attention to return.
        Returns (hidden (W, P, d) after the final LayerNorm, per-layer self-attention (keys, values) (W, H, P, Dh)
        for later steps, cross-attention scores (W, len(heads), P, S) or None).
        """
        p = tf.shape(tokens)[1]
        x = self._embed(tokens, positions)
        slots = tf.range(p)
        visible = (slots[None, None, :] <= slots[None, :, None]) & (
            slots[None, None, :] >= key_start[:, None, None]
        )
        bias = tf.where(visible, 0.0, MASK_VALUE)[:, None]  # (W, 1, P, P)
        kv, scores = [], []
        for layer, block in enumerate(self.blocks):
            att = block.attn
            h = block.attn_ln(x)
            q = att.split_heads(att.query(h) * att.scale)
            k, v = att.keys_values(h)
            kv.append((k, v))
            w = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) + bias, axis=-1)
            x = x + att.out(att.merge_heads(tf.matmul(w, v)))
            x = self._cross(block, x, cross[layer], 1, layer, heads, scores)
            x = block.mlp(x)
        return self.ln(x), tuple(kv), (tf.stack(scores, axis=1) if scores else None)

    def step(
        self, tokens, positions, prompt: Cache, prompt_bias, gen: Cache, index, cross: Cache, beams: int
    ):
        """One new token per row against the window's prompt keys/values and the row's generated ones.

        tokens, positions: (R, 1); prompt: per layer (W, H, P, Dh), shared by the `beams` rows of a window;
        prompt_bias: (W, 1, 1, 1, P) 0 or MASK_VALUE (left padding); gen: per layer (R, H, G, Dh), this step
        writes slot `index` and attends to slots <= index. Returns (hidden (R, 1, d), new gen cache).
        """
        r = tf.shape(tokens)[0]
        g = gen[0][0].shape[2]
        x = self._embed(tokens, positions)
        gen_bias = tf.where(tf.range(g) <= index, 0.0, MASK_VALUE)  # (G,)
        new_gen = []
        for layer, block in enumerate(self.blocks):
            att = block.attn
            h = block.attn_ln(x)
            q = att.split_heads(att.query(h) * att.scale)  # (R, H, 1, Dh)
            k, v = att.keys_values(h)
            gk = _slice_update(gen[layer][0], k, index)
            gv = _slice_update(gen[layer][1], v, index)
            new_gen.append((gk, gv))
            qw = tf.reshape(q, (-1, beams, self.n_head, 1, self.head_dim))
            s_prompt = tf.einsum("wkhqd,whpd->wkhqp", qw, prompt[layer][0]) + prompt_bias  # (W, K, H, 1, P)
            s_gen = tf.matmul(q, gk, transpose_b=True) + gen_bias  # (R, H, 1, G)
            s = tf.concat([tf.reshape(s_prompt, (r, self.n_head, 1, -1)), s_gen], axis=-1)
            w = tf.nn.softmax(s, axis=-1)
            p = tf.shape(s_prompt)[-1]
            w_prompt = tf.reshape(w[..., :p], (-1, beams, self.n_head, 1, p))
            o = tf.reshape(
                tf.einsum("wkhqp,whpd->wkhqd", w_prompt, prompt[layer][1]), (r, self.n_head, 1, -1)
            )
            o = o + tf.matmul(w[..., p:], gv)
            x = x + att.out(att.merge_heads(o))
            x = self._cross(block, x, cross[layer], beams, layer, (), [])
            x = block.mlp(x)
        return self.ln(x), tuple(new_gen)

    def logits(self, h):
        """Tied output projection: (..., d) -> (..., V), float32."""
        return tf.matmul(h, self.token_embedding, transpose_b=True)

    def get_config(self):
        return {
            **super().get_config(),
            "n_vocab": self.n_vocab,
            "n_ctx": self.n_ctx,
            "n_state": self.n_state,
            "n_head": self.n_head,
            "n_layer": self.n_layer,
        }


def _slice_update(cache, new, index):
    """Write new (R, H, T, Dh) into cache (R, H, C, Dh) at slot `index` along axis 2 (one XLA dynamic-update-slice)."""
    zero = tf.constant(0, tf.int32)
    return keras.ops.slice_update(cache, [zero, zero, tf.cast(index, tf.int32), zero], new)


@keras.saving.register_keras_serializable(package="asr_assets")
class Whisper(keras.Model):
    """The whole network. Build with `Whisper.from_dims(dims)`, fill with `load_openai_weights`."""

    def __init__(self, dims: dict | ModelDimensions, **kwargs):
        super().__init__(**kwargs)
        d = dims if isinstance(dims, ModelDimensions) else ModelDimensions(**dims)
        self.dims = d
        self.encoder = AudioEncoder(
            d.n_mels, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer, name="encoder"
        )
        self.decoder = TextDecoder(
            d.n_vocab, d.n_text_ctx, d.n_text_state, d.n_text_head, d.n_text_layer, name="decoder"
        )
        self.encoder.build()
        self.decoder.build()
        self.built = True

    def call(self, inputs):
        mel, tokens = inputs
        return self.decoder(tokens, self.encoder(mel))

    def get_config(self):
        return {**super().get_config(), "dims": dict(self.dims.__dict__)}


def load_openai_weights(model: Whisper, weights: dict[str, np.ndarray]) -> None:
    """Assign OpenAI-named float32 arrays (checkpoints.load_checkpoint) to the Keras layers.

    Linear weights are [out, in] (PyTorch layout), so a Dense kernel is weight.T; conv weights are [out, in, k],
    so a Conv1D kernel is weight.transpose(2, 1, 0).
    """
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        if name not in weights:
            raise KeyError(f"weights lack {name}; load them with asr_assets.asr.checkpoints.load_checkpoint")
        used.add(name)
        return weights[name]

    def dense(layer, name: str, bias: bool = True) -> None:
        values = [take(f"{name}.weight").T]
        if bias:
            values.append(take(f"{name}.bias"))
        layer.set_weights(values)

    def ln(layer, name: str) -> None:
        layer.set_weights([take(f"{name}.weight"), take(f"{name}.bias")])

    def block(b: ResidualBlock, name: str) -> None:
        attns = [("attn", b.attn)] + ([("cross_attn", b.cross_attn)] if b.cross_attention else [])
        for attr, att in attns:
            dense(att.query, f"{name}.{attr}.query")
            dense(att.key, f"{name}.{attr}.key", bias=False)
            dense(att.value, f"{name}.{attr}.value")
            dense(att.out, f"{name}.{attr}.out")
            ln(getattr(b, f"{attr}_ln"), f"{name}.{attr}_ln")
        dense(b.mlp_0, f"{name}.mlp.0")
        dense(b.mlp_2, f"{name}.mlp.2")
        ln(b.mlp_ln, f"{name}.mlp_ln")

    enc, dec = model.encoder, model.decoder
    for i, conv in ((1, enc.conv1), (2, enc.conv2)):
        conv.set_weights([take(f"encoder.conv{i}.weight").transpose(2, 1, 0), take(f"encoder.conv{i}.bias")])
    enc.positional_embedding.assign(take("encoder.positional_embedding"))
    for i, b in enumerate(enc.blocks):
        block(b, f"encoder.blocks.{i}")
    ln(enc.ln_post, "encoder.ln_post")
    dec.token_embedding.assign(take("decoder.token_embedding.weight"))
    dec.positional_embedding.assign(take("decoder.positional_embedding"))
    for i, b in enumerate(dec.blocks):
        block(b, f"decoder.blocks.{i}")
    ln(dec.ln, "decoder.ln")
    unused = sorted(k for k in weights if k not in used and not k.startswith("dims."))
    if unused:
        raise KeyError(f"weights not used by the model (wrong dims?): {unused[:5]}")


def build_model(dims: ModelDimensions, weights: dict[str, np.ndarray] | None = None) -> Whisper:
    model = Whisper(dims, name="whisper")
    if weights is not None:
        load_openai_weights(model, weights)
    return model
