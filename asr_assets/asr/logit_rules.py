"""CTranslate2's per-step logit processing for Whisper, traced inside the decoding loop (decoding.py).

suppress_tokens at every step, suppress_blank at the first, and Whisper's timestamp rules (CT2
`ApplyTimestampRules`, faster-whisper/openai `ApplyTimestampRules`), then log_softmax; docs/engine.md.
"""

from __future__ import annotations

import tensorflow as tf

from asr_assets.asr.decoding_types import SpecialTokens


def apply_rules(logits, t, hist, rules, suppress, begin, max_init, tok: SpecialTokens):
    """CT2's per-step logit processing -> log-probs (R, V). hist: (R, G) generated ids, valid before t."""
    v = logits.shape[-1]
    ids = tf.range(v)[None]
    ts0 = tok.timestamp_begin
    is_ts = ids >= ts0
    ban = suppress[None] | (begin[None] & (t == 0))

    g = hist.shape[1]
    pos = tf.range(g)[None]
    last = tf.gather(hist, tf.maximum(t - 1, 0), axis=1)
    penult = tf.where(t >= 2, tf.gather(hist, tf.maximum(t - 2, 0), axis=1), last)
    last_is_ts = (t > 0) & (last >= ts0)
    penult_is_ts = penult >= ts0
    last_ts_pos = tf.reduce_max(tf.where((pos < t) & (hist >= ts0), pos, -1), axis=1)
    last_ts = tf.where(last_ts_pos >= 0, tf.gather(hist, tf.maximum(last_ts_pos, 0), batch_dims=1), -1)
    first = t == 0
    pair = (last_is_ts & penult_is_ts)[:, None]  # two timestamps in a row: text or eot next
    single = (last_is_ts & ~penult_is_ts)[:, None]  # a closing timestamp after text: timestamp or eot next
    text = (~last_is_ts & ~first)[:, None]
    ts_ban = (
        (ids == tok.no_timestamps)
        | (first & ((ids < ts0) | (ids > ts0 + max_init)))
        | (pair & is_ts)
        | (single & ((ids < tok.eot) | (is_ts & (ids < last[:, None]))))
        | (text & is_ts & (ids <= last_ts[:, None]))
    )
    rules = rules[:, None]
    ban = ban | (rules & ts_ban)
    masked = tf.where(ban, float("-inf"), logits)
    # If the timestamps together are likelier than any single text token, a timestamp must come next (CT2 bans
    # the text tokens and takes log_softmax again). Both normalisers come from the masked logits directly, so
    # the (R, V) tensor is walked a few times fewer per step than with two log_softmax passes; same values.
    lse_all = tf.reduce_logsumexp(masked, axis=-1)
    lse_ts = tf.reduce_logsumexp(masked[:, ts0:], axis=-1)
    max_text = tf.reduce_max(masked[:, :ts0], axis=-1)
    force = rules[:, 0] & (single[:, 0] | text[:, 0]) & (lse_ts > max_text)
    return tf.where(
        force[:, None],
        tf.where(ids < ts0, float("-inf"), masked - lse_ts[:, None]),
        masked - lse_all[:, None],
    )
