"""WhisperEngine: batched encoder, token generation and forced alignment, each one XLA program per shape bucket.

Why this file is ~500 lines: the whole decoding loop (logit rules, greedy / beam / sampling, per-row budgets) lives
inside one `tf.function(jit_compile=True)` so that no step returns to Python; the pieces stay small functions.

Semantics follow CTranslate2's `WhisperReplica::generate` / `align` (src/models/whisper.cc) and `BeamSearch` /
`GreedySearch` (src/decoding.cc), as faster-whisper calls them (notes: ../shared/notes/whisper-ct2.md 7-8):
- The prompt is forwarded once per window (all beams share it), then each step feeds the last chosen token.
- Per step: suppress_tokens every step; [220, eot] at the first step (suppress_blank); the timestamp rules (not when
  the prompt ends its special tokens with <|notimestamps|>); then log_softmax of the masked logits.
- Beam search keeps 2*beam candidates, a hypothesis finishes on eot (score includes eot's log-prob, tokens
  exclude it) or at the last step; a window stops after round(beam*patience) finished hypotheses; the best by
  score / len**length_penalty wins. Greedy is argmax; sampling draws from softmax(logp / T), best_of rows per window.
- no_speech_prob = softmax of the raw logits at the <|startoftranscript|> position, read at the no-speech token.
- New-token budget per row: min(max_new_tokens, 448 - (len(prompt) - 1)) (CT2: max_length/2 and 448 - start_step).

Contract deviations (additive only): GenerateOptions has an extra `seed` (sampling) and `suppress_tokens` defaults
to (-1,) (= the checkpoint's suppress_ids, like faster-whisper's [-1]); align() takes an optional keyword
`sot_sequence` (default (sot,) for English-only models, (sot, <|en|>, <|transcribe|>) for multilingual ones).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from asr_assets.asr.checkpoints import Checkpoint
from asr_assets.asr.model import MASK_VALUE, build_model

logger = logging.getLogger(__name__)

MAX_LENGTH = 448  # CTranslate2's default max_length = n_text_ctx
WINDOW_BUCKETS = (1, 2, 4, 8, 16)  # windows per compiled call (rows = windows x beams)
PROMPT_BUCKETS = (1, 4, 16, 64, 128, 256, 448)  # left-padded prompt lengths
ALIGN_BUCKETS = (16, 32, 64, 128, 256, 448)  # right-padded forced-alignment lengths
# The generated-token cache grows in phases so early steps attend over (and reorder) short caches only.
GEN_PHASES: tuple[int, ...] = ()  # e.g. (32, 96); each phase is one more while loop to compile
N_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|>


@dataclass(frozen=True)
class GenerateOptions:
    beam_size: int = 5
    patience: float = 1.0
    length_penalty: float = 1.0
    temperature: float = 0.0  # > 0: sampling with best_of draws per window
    best_of: int = 5
    max_new_tokens: int = 224
    suppress_tokens: tuple[int, ...] = (-1,)  # -1 expands to the checkpoint's suppress_ids
    suppress_blank: bool = True
    without_timestamps: bool = False  # appends <|notimestamps|> to prompts that lack it
    max_initial_timestamp_index: int = 50  # round(max_initial_timestamp 1.0 s / 0.02)
    seed: int = 0  # stateless sampling seed (same seed, same draws)


@dataclass(frozen=True)
class GenerationResult:
    tokens: list[int]  # generated ids without eot, timestamps included
    sum_logprob: float
    avg_logprob: float  # faster-whisper's: sum_logprob / (len(tokens) + 1)
    no_speech_prob: float


@dataclass(frozen=True)
class SpecialTokens:
    eot: int
    sot: int
    no_speech: int
    no_timestamps: int
    timestamp_begin: int
    english: int | None  # <|en|> on multilingual models
    transcribe: int

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> SpecialTokens:
        # Whisper vocabularies end with ... eot, sot, languages..., translate, transcribe, sot_lm, sot_prev,
        # no_speech, no_timestamps, 1501 timestamps (CT2 derives them the same way from the vocabulary).
        ts_begin = checkpoint.dims.n_vocab - N_TIMESTAMPS
        eot = 50257 if checkpoint.is_multilingual else 50256
        return cls(
            eot=eot,
            sot=eot + 1,
            no_speech=ts_begin - 2,
            no_timestamps=ts_begin - 1,
            timestamp_begin=ts_begin,
            english=eot + 2 if checkpoint.is_multilingual else None,
            transcribe=ts_begin - 5,
        )


def _bucket(n: int, buckets: Sequence[int]) -> int:
    for b in buckets:
        if n <= b:
            return b
    raise ValueError(f"{n} exceeds the largest bucket {buckets[-1]}")


class WhisperEngine:
    """Owns the Keras model and its compiled functions; build one per process and reuse it."""

    def __init__(self, checkpoint: Checkpoint, weights: dict[str, np.ndarray]):
        self.checkpoint = checkpoint
        self.dims = checkpoint.dims
        self.tokens = SpecialTokens.from_checkpoint(checkpoint)
        self.model = build_model(checkpoint.dims, weights)
        self._encode_fn = tf.function(self.model.encoder, jit_compile=True)
        self._generate_fns: dict[tuple, object] = {}
        self._align_fns: dict[tuple, object] = {}

    # ------------------------------------------------------------------ encoder

    def encode(self, mel: np.ndarray) -> tf.Tensor:
        """mel: (B, n_mels, 3000) float32 log-mel windows -> (B, 1500, d) float32 encoder output.

        Runs in chunks of the window buckets (e.g. 11 = 8 + 2 + 1) so XLA compiles at most len(WINDOW_BUCKETS)
        encoder shapes per process and no compute is spent on padding.
        """
        mel = np.asarray(mel, np.float32)
        if mel.ndim != 3 or mel.shape[1] != self.dims.n_mels or mel.shape[2] != 2 * self.dims.n_audio_ctx:
            raise ValueError(
                f"mel must be (batch, {self.dims.n_mels}, {2 * self.dims.n_audio_ctx}), got {mel.shape}"
            )
        outs, i = [], 0
        while i < len(mel):
            n = max(b for b in WINDOW_BUCKETS if b <= len(mel) - i)
            outs.append(self._encode_fn(tf.constant(mel[i : i + n])))
            i += n
        return outs[0] if len(outs) == 1 else tf.concat(outs, axis=0)

    # ------------------------------------------------------------------ generate

    def generate(
        self, encoder_out: tf.Tensor, prompts: list[list[int]], options: GenerateOptions
    ) -> list[GenerationResult]:
        """Decode one result per window. encoder_out: (N, 1500, d); prompts: N token lists, each containing sot.

        Windows are sorted by prompt length and decoded in chunks of up to 16 windows (rows = windows x beams),
        each chunk padded to a window bucket and a prompt-length bucket.
        """
        n = len(prompts)
        if int(encoder_out.shape[0]) != n:
            raise ValueError(f"{encoder_out.shape[0]} encoder windows for {n} prompts")
        if n == 0:
            return []
        prepared = [self._prepare_prompt(p, options) for p in prompts]
        order = sorted(range(n), key=lambda i: len(prepared[i]))
        results: list[GenerationResult | None] = [None] * n
        chunk = WINDOW_BUCKETS[-1]
        for start in range(0, n, chunk):
            idx = order[start : start + chunk]
            enc = tf.gather(encoder_out, idx)
            for i, r in zip(idx, self._generate_chunk(enc, [prepared[i] for i in idx], options), strict=True):
                results[i] = r
        return results  # type: ignore[return-value]

    def _prepare_prompt(self, prompt: Sequence[int], options: GenerateOptions) -> list[int]:
        tok = self.tokens
        prompt = [int(t) for t in prompt]
        if tok.sot not in prompt:
            raise ValueError(f"prompt lacks <|startoftranscript|> ({tok.sot}): {prompt[:8]}...")
        if options.without_timestamps and tok.no_timestamps not in prompt[prompt.index(tok.sot) :]:
            prompt.append(tok.no_timestamps)
        if len(prompt) > MAX_LENGTH - 1:
            raise ValueError(
                f"prompt of {len(prompt)} tokens leaves no room in the {MAX_LENGTH}-token context"
            )
        return prompt

    def _uses_timestamp_rules(self, prompt: list[int]) -> bool:
        """CT2: rules apply unless the special tokens after sot end with <|notimestamps|>."""
        tok = self.tokens
        i = prompt.index(tok.sot)
        while i < len(prompt) and tok.sot <= prompt[i] <= tok.no_timestamps:
            i += 1
        return prompt[i - 1] != tok.no_timestamps

    def _suppress_masks(self, options: GenerateOptions) -> tuple[np.ndarray, np.ndarray]:
        v = self.dims.n_vocab
        suppress = np.zeros(v, bool)
        for i in options.suppress_tokens:
            if i == -1:
                suppress[list(self.checkpoint.suppress_ids)] = True
            elif 0 <= i < v:
                suppress[i] = True
        begin = np.zeros(v, bool)
        if options.suppress_blank:
            begin[[i for i in self.checkpoint.suppress_ids_begin if 0 <= i < v]] = True
        return suppress, begin

    def _generate_chunk(self, enc: tf.Tensor, prompts: list[list[int]], options: GenerateOptions):
        n = len(prompts)
        w = _bucket(n, WINDOW_BUCKETS)
        p = _bucket(max(len(x) for x in prompts), PROMPT_BUCKETS)
        if options.temperature > 0:
            mode, k = "sample", max(1, options.best_of)
        elif options.beam_size > 1:
            mode, k = "beam", options.beam_size
        else:
            mode, k = "greedy", 1
        max_cand = max(1, round(k * options.patience)) if mode == "beam" else 1
        g = max(1, options.max_new_tokens)
        pad = [prompts[-1]] * (w - n)  # padding windows repeat the last one; their results are dropped
        rows = prompts + pad
        tokens = np.zeros((w, p), np.int32)
        positions = np.zeros((w, p), np.int32)
        key_start = np.zeros(w, np.int32)
        sot_slot = np.zeros(w, np.int32)
        budget = np.zeros(w, np.int32)
        ts_rules = np.zeros(w, bool)
        for i, pr in enumerate(rows):
            off = p - len(pr)
            tokens[i, off:] = pr
            positions[i, off:] = np.arange(len(pr))
            key_start[i] = off
            sot_slot[i] = off + pr.index(self.tokens.sot)
            budget[i] = min(g, MAX_LENGTH - (len(pr) - 1))
            ts_rules[i] = self._uses_timestamp_rules(pr)
        if w > n:
            enc = tf.concat([enc, tf.repeat(enc[-1:], w - n, axis=0)], axis=0)
        suppress, begin = self._suppress_masks(options)
        fn = self._generate_fn(mode, w, k, p, g, max_cand)
        out = fn(
            enc,
            tf.constant(tokens),
            tf.constant(positions),
            tf.constant(key_start),
            tf.constant(sot_slot),
            tf.constant(budget),
            tf.constant(ts_rules),
            tf.constant(suppress),
            tf.constant(begin),
            tf.constant(options.max_initial_timestamp_index, tf.int32),
            tf.constant(max(options.temperature, 1e-6), tf.float32),
            tf.constant([options.seed, 0], tf.int32),
        )
        hyp_tokens, hyp_len, hyp_score, hyp_count, no_speech = (np.asarray(x) for x in out)
        results = []
        for i in range(n):
            lens = hyp_len[i, : hyp_count[i]].astype(np.float64)
            scores = hyp_score[i, : hyp_count[i]].astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                ranked = np.where(lens > 0, scores / np.power(lens, options.length_penalty), -np.inf)
            best = int(np.argmax(ranked))
            length = int(lens[best])
            results.append(
                GenerationResult(
                    tokens=[int(t) for t in hyp_tokens[i, best, :length]],
                    sum_logprob=float(scores[best]),
                    avg_logprob=float(scores[best] / (length + 1)),
                    no_speech_prob=float(no_speech[i]),
                )
            )
        return results

    def _generate_fn(self, mode: str, w: int, k: int, p: int, g: int, max_cand: int):
        key = (mode, w, k, p, g, max_cand)
        if key not in self._generate_fns:
            logger.info(
                "compiling generate for %s windows=%d rows/window=%d prompt=%d new=%d", mode, w, k, p, g
            )
            program = _GenerateProgram(self.model.decoder, self.tokens, mode, k, g, max_cand)
            self._generate_fns[key] = tf.function(program, jit_compile=True)
        return self._generate_fns[key]

    # ------------------------------------------------------------------ align

    def align(
        self,
        encoder_out: tf.Tensor,
        text_tokens: list[list[int]],
        *,
        sot_sequence: Sequence[int] | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Forced pass over [*sot_sequence, <|notimestamps|>, *text, eot] per window (CT2 `WhisperReplica::align`).

        Returns per window (attention, token_probs):
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
        if sot_sequence is None:
            multilingual = tok.english is not None
            sot_sequence = (tok.sot, tok.english, tok.transcribe) if multilingual else (tok.sot,)
        sot_sequence = tuple(int(t) for t in sot_sequence)
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
            w = _bucket(m, WINDOW_BUCKETS)
            length = _bucket(max(len(s) for s in seqs), ALIGN_BUCKETS)
            inputs = np.zeros((w, length), np.int32)
            targets = np.zeros((w, length), np.int32)
            for i, s in enumerate(seqs):
                inputs[i, : len(s)] = s
                targets[i, : len(s) - 1] = s[1:]
            if w > m:
                enc = tf.concat([enc, tf.repeat(enc[-1:], w - m, axis=0)], axis=0)
            scores, probs = self._align_fn(w, length)(enc, tf.constant(inputs), tf.constant(targets))
            scores, probs = np.asarray(scores), np.asarray(probs)
            off = len(sot_sequence)
            for i, (s, t) in enumerate(zip(seqs, texts, strict=True)):
                token_probs = np.append(probs[i, off : off + len(t)], np.float32(0.0)).astype(np.float32)
                results.append((scores[i, :, : len(s)], token_probs))
        return results

    def _align_fn(self, w: int, length: int):
        key = (w, length)
        if key not in self._align_fns:
            decoder, eot = self.model.decoder, self.tokens.eot
            heads = self.checkpoint.alignment_heads

            def forced(enc, inputs, targets):
                positions = tf.broadcast_to(tf.range(length)[None], (w, length))
                h, _, scores = decoder.prefill(
                    inputs, positions, tf.zeros((w,), tf.int32), decoder.cross_kv(enc), heads
                )
                text_logits = tf.matmul(
                    h, tf.convert_to_tensor(decoder.token_embedding)[:eot], transpose_b=True
                )  # ids < eot only
                logp = tf.nn.log_softmax(text_logits, axis=-1)
                picked = tf.gather(logp, tf.minimum(targets, eot - 1), batch_dims=2)
                probs = tf.where(targets < eot, tf.exp(picked), 0.0)
                return scores, probs

            self._align_fns[key] = tf.function(forced, jit_compile=True)
        return self._align_fns[key]


class _GenerateProgram:
    """The traced body of one generate bucket: prefill, then a tf.while_loop per cache phase.

    Outputs (hypothesis tokens (W, F, G), lengths (W, F), summed log-probs (W, F), counts (W,), no_speech (W,)),
    with F hypothesis slots per window (the independent rows of greedy/sampling, or beam-search finishes).
    """

    def __init__(self, decoder, tokens: SpecialTokens, mode: str, k: int, g: int, max_cand: int):
        self.decoder, self.tok, self.mode, self.k, self.g, self.max_cand = (
            decoder,
            tokens,
            mode,
            k,
            g,
            max_cand,
        )

    def __call__(
        self,
        enc,
        tokens,
        positions,
        key_start,
        sot_slot,
        budget,
        ts_rules,
        suppress,
        begin,
        max_init,
        temp,
        seed,
    ):
        dec, tok, k, g = self.decoder, self.tok, self.k, self.g
        w, p = tokens.shape[0], tokens.shape[1]
        r = w * k
        cross = dec.cross_kv(enc)
        h, prompt_kv, _ = dec.prefill(tokens, positions, key_start, cross)
        last_and_sot = tf.stack([h[:, p - 1], tf.gather(h, sot_slot, batch_dims=1)], axis=1)  # (W, 2, d)
        both = dec.logits(last_and_sot)
        no_speech = tf.nn.softmax(both[:, 1], axis=-1)[:, tok.no_speech]
        logits = tf.repeat(both[:, 0], k, axis=0)  # (R, V)
        prompt_bias = tf.where(tf.range(p)[None] >= key_start[:, None], 0.0, MASK_VALUE)[
            :, None, None, None, :
        ]
        rows_budget = tf.repeat(budget, k)
        rows_rules = tf.repeat(ts_rules, k)
        next_pos = tf.repeat(tf.reduce_max(positions, axis=1) + 1, k)  # position of the first generated token
        phases = [x for x in GEN_PHASES if x < g] + [g]
        hd = dec.head_dim
        gen = tuple(
            (tf.zeros((r, dec.n_head, phases[0], hd)), tf.zeros((r, dec.n_head, phases[0], hd)))
            for _ in dec.blocks
        )
        hist = tf.zeros((r, g), tf.int32)
        t = tf.constant(0)

        def process(logits, t, hist):
            return _apply_rules(logits, t, hist, rows_rules, suppress, begin, max_init, tok)

        def forward(next_tokens, t, gen):
            h, gen = dec.step(
                next_tokens[:, None], (next_pos + t)[:, None], prompt_kv, prompt_bias, gen, t, cross, k
            )
            return dec.logits(h[:, 0]), gen

        if self.mode == "beam":
            f = self.max_cand + k  # finishes registered before the window stops, + 1 trash slot
            state = dict(
                logits=logits,
                gen=gen,
                hist=hist,
                scores=tf.tile(tf.concat([[0.0], tf.fill([k - 1], float("-inf"))], 0), [w]),
                fin_tokens=tf.zeros((w, f, g), tf.int32),
                fin_len=tf.zeros((w, f), tf.int32),
                fin_score=tf.zeros((w, f), tf.float32),
                fin_count=tf.zeros((w,), tf.int32),
                done=tf.zeros((w,), bool),
            )
            step = self._beam_step
        else:
            state = dict(
                logits=logits,
                gen=gen,
                hist=hist,
                scores=tf.zeros((r,)),
                lengths=tf.zeros((r,), tf.int32),
                done=tf.zeros((r,), bool),
            )
            step = self._independent_step

        def body(t, state):
            logp = process(state["logits"], t, state["hist"])
            state, next_tokens = step(t, logp, state, rows_budget, budget, temp, seed)
            state["logits"], state["gen"] = forward(next_tokens, t, state["gen"])
            return t + 1, state

        for i, end in enumerate(phases):
            if i:
                grow = [[0, 0], [0, 0], [0, end - phases[i - 1]], [0, 0]]
                state["gen"] = tuple((tf.pad(a, grow), tf.pad(b, grow)) for a, b in state["gen"])
            t, state = tf.while_loop(
                lambda t, s, end=end: (t < end) & ~tf.reduce_all(s["done"]),
                body,
                (t, state),
                maximum_iterations=end,
            )
        if self.mode == "beam":
            return state["fin_tokens"], state["fin_len"], state["fin_score"], state["fin_count"], no_speech
        return (
            tf.reshape(state["hist"], (w, k, g)),
            tf.reshape(state["lengths"], (w, k)),
            tf.reshape(state["scores"], (w, k)),
            tf.fill((w,), k),
            no_speech,
        )

    def _independent_step(self, t, logp, state, rows_budget, budget, temp, seed):
        """Greedy (argmax) or sampling rows, each finishing on eot or at its budget (CT2 GreedySearch)."""
        eot = self.tok.eot
        if self.mode == "sample":
            draw = tf.random.stateless_categorical(
                logp / temp, 1, seed=seed + tf.stack([0, t]), dtype=tf.int32
            )
            chosen = draw[:, 0]
        else:
            chosen = tf.argmax(logp, axis=-1, output_type=tf.int32)
        active = ~state["done"]
        chosen = tf.where(active, chosen, eot)
        logprob = tf.gather(logp, chosen, batch_dims=1)
        state = dict(state)
        state["scores"] = state["scores"] + tf.where(active, logprob, 0.0)
        state["lengths"] = state["lengths"] + tf.cast(active & (chosen != eot), tf.int32)
        state["hist"] = tf.where(tf.range(self.g)[None] == t, chosen[:, None], state["hist"])
        state["done"] = state["done"] | (chosen == eot) | (t + 1 >= rows_budget)
        return state, chosen

    def _beam_step(self, t, logp, state, rows_budget, budget, temp, seed):
        """CT2 BeamSearch::search, one step for all windows (see module docstring)."""
        k, g, eot = self.k, self.g, self.tok.eot
        v = logp.shape[-1]
        w = budget.shape[0]
        total = tf.reshape(state["scores"][:, None] + logp, (w, k * v))
        cand_score, cand_idx = tf.math.top_k(total, 2 * k)  # (W, 2K)
        cand_beam, cand_tok = cand_idx // v, cand_idx % v
        is_eot = cand_tok == eot
        last = (t + 1 >= budget)[:, None]  # (W, 1)
        fin = is_eot[:, :k] | last  # the first K candidates that end a hypothesis
        # Each finished candidate is replaced by the next unused non-eot candidate among the last K.
        sec_ok = ~is_eot[:, k:]
        sec_rank = tf.cumsum(tf.cast(sec_ok, tf.int32), axis=1) - 1
        fin_rank = tf.cumsum(tf.cast(fin, tf.int32), axis=1) - 1
        match = fin[:, :, None] & sec_ok[:, None, :] & (sec_rank[:, None, :] == fin_rank[:, :, None])
        replaced = tf.reduce_any(match, axis=-1)
        pick = tf.where(
            replaced, tf.argmax(tf.cast(match, tf.int32), axis=-1, output_type=tf.int32) + k, tf.range(k)
        )
        new_beam = tf.gather(cand_beam, pick, batch_dims=1)
        new_tok = tf.gather(cand_tok, pick, batch_dims=1)
        new_score = tf.gather(cand_score, pick, batch_dims=1)

        # Register finished hypotheses of windows still running.
        base = tf.range(w)[:, None] * k
        hist = state["hist"]
        at_t = tf.range(g)[None, None] == t
        cand_hist = tf.where(
            at_t, cand_tok[:, :k, None], tf.gather(hist, base + cand_beam[:, :k])
        )  # (W, K, G)
        reg = fin & ~state["done"][:, None]
        f = state["fin_len"].shape[1]
        slot = state["fin_count"][:, None] + tf.cumsum(tf.cast(reg, tf.int32), axis=1) - 1
        slot = tf.where(reg, tf.minimum(slot, f - 2), f - 1)  # f - 1: trash slot for non-finished candidates
        idx = tf.stack([tf.broadcast_to(tf.range(w)[:, None], (w, k)), slot], axis=-1)
        state = dict(state)
        state["fin_tokens"] = tf.tensor_scatter_nd_update(state["fin_tokens"], idx, cand_hist)
        state["fin_len"] = tf.tensor_scatter_nd_update(
            state["fin_len"], idx, tf.where(is_eot[:, :k], t, t + 1)
        )
        state["fin_score"] = tf.tensor_scatter_nd_update(state["fin_score"], idx, cand_score[:, :k])
        state["fin_count"] = state["fin_count"] + tf.reduce_sum(tf.cast(reg, tf.int32), axis=1)
        state["done"] = state["done"] | (state["fin_count"] >= self.max_cand) | last[:, 0]

        rows = tf.reshape(base + new_beam, (-1,))
        flat_tok = tf.reshape(new_tok, (-1,))
        state["hist"] = tf.where(at_t[0], flat_tok[:, None], tf.gather(hist, rows))
        state["scores"] = tf.reshape(new_score, (-1,))
        state["gen"] = tuple((tf.gather(a, rows), tf.gather(b, rows)) for a, b in state["gen"])
        return state, flat_tok


def _apply_rules(logits, t, hist, rules, suppress, begin, max_init, tok: SpecialTokens):
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
    logp = tf.nn.log_softmax(masked, axis=-1)
    # If the timestamps together are likelier than any single text token, a timestamp must come next.
    max_text = tf.reduce_max(logp[:, :ts0], axis=-1)
    ts_mass = tf.reduce_logsumexp(logp[:, ts0:], axis=-1)
    force = rules[:, 0] & (single[:, 0] | text[:, 0]) & (ts_mass > max_text)
    masked = tf.where(force[:, None] & (ids < ts0), float("-inf"), masked)
    return tf.nn.log_softmax(masked, axis=-1)
