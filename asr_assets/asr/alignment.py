"""The forced-alignment pass for word timestamps: one XLA program per (windows, length) bucket.

The decoder is run over [*sot_sequence, <|notimestamps|>, *text, eot] per window, as CTranslate2's
`WhisperReplica::align` (src/models/whisper.cc) and openai/whisper's `timing.find_alignment` do; it returns the
alignment heads' cross-attention scores and the text tokens' probabilities. timing.py turns those into words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from asr_assets.asr.decoding import WINDOW_BUCKETS, WhisperEngine, bucket
from asr_assets.asr.runtime import XLA_ALIGN_BUCKETS


class Aligner:
    """The forced pass of one WhisperEngine; owns its compiled programs, so build one per engine and reuse it."""

    def __init__(self, engine: WhisperEngine):
        self.decoder = engine.model.decoder
        self.tokens = engine.tokens
        self.heads = engine.checkpoint.alignment_heads
        self.sot_sequence = engine.sot_sequence
        self._fns: dict[tuple, object] = {}

    def align(
        self,
        encoder_out: tf.Tensor,
        text_tokens: list[list[int]],
        *,
        sot_sequence: Sequence[int] | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Forced pass over [*sot_sequence, <|notimestamps|>, *text, eot] per window (CT2 `WhisperReplica::align`).

        sot_sequence defaults to the tokenizer's ((sot,) for English-only models, (sot, <|en|>, <|transcribe|>)
        for multilingual ones). Returns per window (attention, token_probs):
        - attention: (n_alignment_heads, len(sot_sequence) + len(text) + 2, 1500) float32 PRE-softmax
          cross-attention scores of the checkpoint's alignment heads, one row per INPUT position of the forced
          sequence (row i = the query at input token i). All rows are returned because the per-frame
          normalisation (mean/std over token rows) runs over all of them; DTW then uses rows
          len(sot_sequence) .. len(sot_sequence) + len(text) inclusive (the <|notimestamps|> row up to the last
          text token's row), after softmax over the first num_frames // 2 frames.
        - token_probs: (len(text) + 1,) float32; [j] = probability of text[j] predicted at row
          len(sot_sequence) + j, softmax over ids < eot only (CT2); the last entry (eot) is 0.0, as CT2's
          restricted softmax gives eot no mass.
        """
        tok = self.tokens
        sot_sequence = tuple(int(t) for t in (self.sot_sequence if sot_sequence is None else sot_sequence))
        n = len(text_tokens)
        if int(encoder_out.shape[0]) != n:
            raise ValueError(f"{encoder_out.shape[0]} encoder windows for {n} texts")
        results: list[tuple[np.ndarray, np.ndarray]] = []
        chunk = WINDOW_BUCKETS[-1]
        for start in range(0, n, chunk):
            texts = [list(map(int, t)) for t in text_tokens[start : start + chunk]]
            enc = encoder_out[start : start + chunk]
            seqs = [[*sot_sequence, tok.no_timestamps, *t, tok.eot] for t in texts]
            m = len(seqs)
            w = bucket(m, WINDOW_BUCKETS)
            length = bucket(max(len(s) for s in seqs), XLA_ALIGN_BUCKETS)
            inputs = np.zeros((w, length), np.int32)
            targets = np.zeros((w, length), np.int32)
            for i, s in enumerate(seqs):
                inputs[i, : len(s)] = s
                targets[i, : len(s) - 1] = s[1:]
            if w > m:
                enc = tf.concat([enc, tf.repeat(enc[-1:], w - m, axis=0)], axis=0)
            scores, probs = self._fn(w, length)(enc, tf.constant(inputs), tf.constant(targets))
            scores, probs = np.asarray(scores), np.asarray(probs)
            off = len(sot_sequence)
            for i, (s, t) in enumerate(zip(seqs, texts, strict=True)):
                token_probs = np.append(probs[i, off : off + len(t)], np.float32(0.0)).astype(np.float32)
                results.append((scores[i, :, : len(s)], token_probs))
        return results

    def _fn(self, w: int, length: int):
        key = (w, length)
        if key not in self._fns:
            decoder, eot, heads = self.decoder, self.tokens.eot, self.heads

            def forced(enc, inputs, targets):
                positions = tf.broadcast_to(tf.range(length)[None], (w, length))
                h, _, scores = decoder.prefill(
                    inputs, positions, tf.zeros((w,), tf.int32), decoder.cross_kv(enc), heads
                )
                text_emb = tf.convert_to_tensor(decoder.token_embedding)[:eot]  # softmax over ids < eot only
                picked = tf.einsum("wld,wld->wl", h, tf.gather(text_emb, tf.minimum(targets, eot - 1)))
                # The normaliser one window at a time: all logits at once are (W, L, eot) float32, 0.4 GB for
                # 8 windows of 256 tokens, a buffer XLA would keep for the life of the process.
                lse = tf.map_fn(
                    lambda hw: tf.reduce_logsumexp(tf.matmul(hw, text_emb, transpose_b=True), axis=-1),
                    h,
                    parallel_iterations=1,
                    fn_output_signature=tf.float32,
                )  # (W, L)
                probs = tf.where(targets < eot, tf.exp(picked - lse), 0.0)
                return scores, probs

            self._fns[key] = tf.function(forced, jit_compile=True)
        return self._fns[key]
