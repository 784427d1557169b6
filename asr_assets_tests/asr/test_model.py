"""model.py: the Keras Whisper against an independent NumPy forward pass (tiny random weights) and, on the real
JFK window, against CTranslate2's float32 encoder (docs/engine.md, "Golden values")."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import erf

from asr_assets.asr.model import MASK_VALUE, Whisper, build_model

from .test_checkpoints import TINY, random_openai_weights

# ------------------------------------------------------------------ NumPy reference (openai/whisper model.py)


def _ln(x, w, name):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * w[f"{name}.weight"] + w[f"{name}.bias"]


def _gelu(x):
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def _lin(x, w, name, bias=True):
    y = x @ w[f"{name}.weight"].T
    return y + w[f"{name}.bias"] if bias else y


def _attn(x, xa, w, name, n_head, mask=None):
    q, k, v = (
        _lin(x, w, f"{name}.query"),
        _lin(xa, w, f"{name}.key", bias=False),
        _lin(xa, w, f"{name}.value"),
    )
    t, d = q.shape
    dh = d // n_head
    q, k, v = (a.reshape(a.shape[0], n_head, dh).transpose(1, 0, 2) for a in (q, k, v))
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(dh)
    if mask is not None:
        scores = scores + mask
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return _lin((p @ v).transpose(1, 0, 2).reshape(t, d), w, f"{name}.out")


def _conv(x, weight, bias, stride):  # x (T, C_in), weight (C_out, C_in, 3), pad 1 each side
    xp = np.pad(x, ((1, 1), (0, 0)))
    n = (xp.shape[0] - 3) // stride + 1
    cols = np.stack([xp[i * stride : i * stride + 3] for i in range(n)])  # (n, 3, C_in)
    return np.einsum("nkc,ock->no", cols, weight) + bias


def ref_encoder(mel, w, dims):  # mel (n_mels, frames)
    x = _gelu(_conv(mel.T, w["encoder.conv1.weight"], w["encoder.conv1.bias"], 1))
    x = _gelu(_conv(x, w["encoder.conv2.weight"], w["encoder.conv2.bias"], 2))
    x = x + w["encoder.positional_embedding"]
    for i in range(dims.n_audio_layer):
        p = f"encoder.blocks.{i}"
        x = x + _attn(_ln(x, w, f"{p}.attn_ln"), _ln(x, w, f"{p}.attn_ln"), w, f"{p}.attn", dims.n_audio_head)
        x = x + _lin(_gelu(_lin(_ln(x, w, f"{p}.mlp_ln"), w, f"{p}.mlp.0")), w, f"{p}.mlp.2")
    return _ln(x, w, "encoder.ln_post")


def ref_decoder(tokens, xa, w, dims):  # tokens (T,), xa (S, d) -> logits (T, V)
    t = len(tokens)
    x = w["decoder.token_embedding.weight"][tokens] + w["decoder.positional_embedding"][:t]
    causal = np.triu(np.full((t, t), -np.inf), 1)
    for i in range(dims.n_text_layer):
        p = f"decoder.blocks.{i}"
        h = _ln(x, w, f"{p}.attn_ln")
        x = x + _attn(h, h, w, f"{p}.attn", dims.n_text_head, causal)
        x = x + _attn(_ln(x, w, f"{p}.cross_attn_ln"), xa, w, f"{p}.cross_attn", dims.n_text_head)
        x = x + _lin(_gelu(_lin(_ln(x, w, f"{p}.mlp_ln"), w, f"{p}.mlp.0")), w, f"{p}.mlp.2")
    return _ln(x, w, "decoder.ln") @ w["decoder.token_embedding.weight"].T


# ------------------------------------------------------------------ tiny model


@pytest.fixture(scope="module")
def tiny():
    w = random_openai_weights(TINY, seed=1)
    return w, build_model(TINY, w)


def test_encoder_matches_numpy_reference(tiny):
    w, model = tiny
    mel = np.random.default_rng(2).standard_normal((2, TINY.n_mels, 2 * TINY.n_audio_ctx)).astype(np.float32)
    got = model.encoder(mel).numpy()
    for b in range(2):
        np.testing.assert_allclose(
            got[b], ref_encoder(mel[b].astype(np.float64), w, TINY), atol=2e-4, rtol=1e-4
        )


def test_decoder_matches_numpy_reference(tiny):
    w, model = tiny
    xa = (
        np.random.default_rng(3).standard_normal((1, TINY.n_audio_ctx, TINY.n_audio_state)).astype(np.float32)
    )
    tokens = np.array([[50257, 50363, 11, 400, 50364]], np.int32)
    got = model.decoder(tokens, xa).numpy()[0]
    want = ref_decoder(tokens[0], xa[0].astype(np.float64), w, TINY)
    np.testing.assert_allclose(got, want, atol=5e-4, rtol=1e-4)


def test_cached_steps_with_left_padding_equal_full_forward(tiny):
    """prefill(prompt, left-padded) + one step per token == one causal pass over the whole sequence."""
    _, model = tiny
    dec = model.decoder
    xa = tf.random.stateless_normal((1, TINY.n_audio_ctx, TINY.n_audio_state), seed=[4, 0])
    seq = np.array([50360, 7, 8, 50257, 50363, 300, 301], np.int32)
    full = dec(seq[None], xa).numpy()[0]
    n_prompt, pad, beams, g = 4, 3, 2, 8
    tokens = np.zeros((1, pad + n_prompt), np.int32)
    tokens[0, pad:] = seq[:n_prompt]
    positions = np.zeros_like(tokens)
    positions[0, pad:] = np.arange(n_prompt)
    cross = dec.cross_kv(xa)
    h, prompt_kv, _ = dec.prefill(tokens, positions, tf.constant([pad]), cross)
    np.testing.assert_allclose(dec.logits(h[:, -1]).numpy()[0], full[n_prompt - 1], atol=1e-4)
    bias = tf.where(tf.range(pad + n_prompt) >= pad, 0.0, MASK_VALUE)[None, None, None, None, :]
    shape = (beams, TINY.n_text_head, g, TINY.n_text_state // TINY.n_text_head)
    gen = tuple((tf.zeros(shape), tf.zeros(shape)) for _ in dec.blocks)
    for i, token in enumerate(seq[n_prompt:]):
        ids = tf.constant([[token]] * beams)
        h, gen = dec.step(ids, ids * 0 + n_prompt + i, prompt_kv, bias, gen, tf.constant(i), cross, beams)
        logits = dec.logits(h[:, 0]).numpy()
        for b in range(beams):  # every beam row of the window sees the same shared prompt
            np.testing.assert_allclose(logits[b], full[n_prompt + i], atol=1e-4)


def test_config_round_trip(tiny):
    _, model = tiny
    config = model.get_config()
    assert config["dims"] == TINY.__dict__
    clone = Whisper.from_config(config)
    assert [v.shape for v in clone.weights] == [v.shape for v in model.weights]
    names = {layer.name for layer in model.encoder.blocks + model.decoder.blocks}
    assert names == {"block_0", "block_1"}


# ------------------------------------------------------------------ real checkpoint


@pytest.mark.eval
def test_jfk_encoder_matches_ctranslate2_float32(jfk_path):
    ctranslate2 = pytest.importorskip("ctranslate2")
    from faster_whisper.audio import decode_audio

    from asr_assets.asr.checkpoints import load_checkpoint
    from asr_assets.asr.features import log_mel_spectrogram, pad_or_trim

    ckpt, weights = load_checkpoint()
    audio = decode_audio(str(jfk_path))  # the same waveform faster-whisper decodes (PyAV)
    mel = pad_or_trim(log_mel_spectrogram(audio)[:, :-1])[None]
    model = build_model(ckpt.dims, weights)
    got = tf.function(model.encoder, jit_compile=True)(mel).numpy()
    ct2 = ctranslate2.models.Whisper(str(ckpt.path), compute_type="float32", intra_threads=2)
    want = np.array(ct2.encode(ctranslate2.StorageView.from_array(mel), to_cpu=True))
    assert got.shape == (1, 1500, 384)
    assert float(np.abs(got - want).max()) < 1e-3
    # CTranslate2 float32's encoder output on this window
    assert got.mean() == pytest.approx(-0.0227, abs=1e-4)
    assert got.std() == pytest.approx(1.1448, abs=1e-4)
    assert got.min() == pytest.approx(-11.8463, abs=1e-3)
    assert got.max() == pytest.approx(10.4905, abs=1e-3)
