"""WhisperEngine: batched encoder and token generation, each one XLA program per shape bucket.

The whole decoding loop (logit rules, greedy / beam / sampling, per-row budgets) runs inside XLA programs so that
no step returns to Python. Per chunk of <= 16 windows: a prefill program (per window bucket x prompt bucket; cheap
to compile) forwards the left-padded prompts and the cross-attention K/V once; a loop program (per mode x window
bucket x prompt-slot bucket x cache size: the expensive compile, so few shapes) runs a tf.while_loop over steps
with rows = windows x beams. The generated-token cache starts at GEN_PHASES[0] slots; windows still running at
that step continue, compacted into a smaller window bucket, with a cache of the full budget (a hallucinating
224-token window then no longer holds the whole batch). The forced-alignment pass is alignment.py.

Semantics follow CTranslate2's `WhisperReplica::generate` (src/models/whisper.cc) and `BeamSearch` /
`GreedySearch` (src/decoding.cc), as faster-whisper calls them (docs/engine.md):
- The prompt is forwarded once per window (all beams share it), then each step feeds the last chosen token.
- Per step: suppress_tokens every step; [220, eot] at the first step (suppress_blank); the timestamp rules (not when
  the prompt ends its special tokens with <|notimestamps|>); then log_softmax of the masked logits.
- Beam search keeps 2*beam candidates, a hypothesis finishes on eot (score includes eot's log-prob, tokens
  exclude it) or at the last step; a window stops after round(beam*patience) finished hypotheses; the best by
  score / len**length_penalty wins. Greedy is argmax; sampling draws from softmax(logp / T), best_of rows per window.
- no_speech_prob = softmax of the raw logits at the <|startoftranscript|> position, read at the no-speech token.
- New-token budget per row: min(max_new_tokens, 448 - (len(prompt) - 1)) (CT2: max_length/2 and 448 - start_step).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from asr_assets.asr.checkpoints import Checkpoint
from asr_assets.asr.constants import MAX_LENGTH
from asr_assets.asr.decoding_types import GenerateOptions, GenerationResult, SpecialTokens, suppress_masks
from asr_assets.asr.logit_rules import apply_rules
from asr_assets.asr.model import MASK_VALUE, build_model
from asr_assets.asr.tokenizer import Tokenizer

__all__ = ["GenerateOptions", "GenerationResult", "SpecialTokens", "WhisperEngine", "bucket"]

logger = logging.getLogger(__name__)

WINDOW_BUCKETS = (1, 2, 4, 8, 16)  # windows per compiled call (rows = windows x beams)
PROMPT_BUCKETS = (1, 4, 16, 64, 128, 256, 448)  # left-padded prompt lengths of the (cheap) prefill program
# The decoding loop (the expensive compile) sees the prompt's keys/values padded to one of these few sizes.
LOOP_PROMPT_BUCKETS = (16, 256, 448)
# The generated-token cache grows in phases so early steps attend over (and reorder) short caches only.
GEN_PHASES: tuple[int, ...] = (64,)  # generated-token cache sizes before the full budget (see generate)


def bucket(n: int, buckets: Sequence[int]) -> int:
    for b in buckets:
        if n <= b:
            return b
    raise ValueError(f"{n} exceeds the largest bucket {buckets[-1]}")


class WhisperEngine:
    """Owns the Keras model and its compiled functions; build one per process and reuse it."""

    def __init__(self, checkpoint: Checkpoint, weights: dict[str, np.ndarray]):
        self.checkpoint = checkpoint
        self.dims = checkpoint.dims
        tokenizer = Tokenizer.from_file(checkpoint.tokenizer_file, multilingual=checkpoint.is_multilingual)
        self.tokens = SpecialTokens.from_tokenizer(tokenizer)
        self.sot_sequence = tokenizer.sot_sequence  # the forced alignment's default (English, transcribe)
        self.model = build_model(checkpoint.dims, weights)
        self._encode_fn = tf.function(self.model.encoder, jit_compile=True)
        self._prefill_fns: dict[tuple, object] = {}
        self._loop_fns: dict[tuple, object] = {}

    # ------------------------------------------------------------------ encoder

    def encode(self, mel: np.ndarray) -> tf.Tensor:
        """mel: (B, n_mels, 3000) float32 log-mel windows -> (B, 1500, d) float32 encoder output.

        Runs one window per call: a single compiled shape, no faster per window in batches on CPU, while each
        compiled batch size would keep its attention scores' buffer (B x heads x 1500 x 1500 float32, ~54 MB per
        window for tiny) for the life of the process.
        """
        mel = np.asarray(mel, np.float32)
        if mel.ndim != 3 or mel.shape[1] != self.dims.n_mels or mel.shape[2] != 2 * self.dims.n_audio_ctx:
            raise ValueError(
                f"mel must be (batch, {self.dims.n_mels}, {2 * self.dims.n_audio_ctx}), got {mel.shape}"
            )
        outs = [self._encode_fn(tf.constant(mel[i : i + 1])) for i in range(len(mel))]
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

    def _generate_chunk(self, enc: tf.Tensor, prompts: list[list[int]], options: GenerateOptions):
        n = len(prompts)
        w = bucket(n, WINDOW_BUCKETS)
        p = bucket(max(len(x) for x in prompts), PROMPT_BUCKETS)
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
        suppress, begin = suppress_masks(self.checkpoint, options)
        slots = bucket(p, LOOP_PROMPT_BUCKETS)
        cross, prompt_kv, prompt_valid, first_logits, no_speech = self._prefill_fn(w, p, slots)(
            enc, tf.constant(tokens), tf.constant(positions), tf.constant(key_start), tf.constant(sot_slot)
        )
        no_speech = np.asarray(no_speech)
        consts = {
            "cross": cross,
            "prompt_kv": prompt_kv,
            "prompt_valid": prompt_valid,
            "next_pos": tf.constant(positions.max(axis=1) + 1),
            "budget": tf.constant(budget),
            "ts_rules": tf.constant(ts_rules),
        }
        scalars = (
            tf.constant(suppress),
            tf.constant(begin),
            tf.constant(options.max_initial_timestamp_index, tf.int32),
            tf.constant(max(options.temperature, 1e-6), tf.float32),
            tf.constant([options.seed, 0], tf.int32),
        )
        phases = [x for x in GEN_PHASES if x < g] + [g]
        state = _initial_state(mode, w, k, g, max_cand, phases[0], first_logits, self.model.decoder)
        t = tf.constant(0)
        live = list(range(n)) + [n - 1] * (w - n)  # the original window each slot holds
        hyps: dict[int, tuple] = {}
        for i, cache in enumerate(phases):
            if i:
                grow = [[0, 0], [0, 0], [0, cache - phases[i - 1]], [0, 0]]
                state = state._replace(gen=tuple((tf.pad(a, grow), tf.pad(b, grow)) for a, b in state.gen))
            loop = self._loop_fn(mode, len(live), k, slots, cache, g, max_cand)
            t, state = loop(consts, scalars, state, t, tf.constant(cache))
            done = np.asarray(state.done).reshape(len(live), -1).all(axis=1)
            for slot in np.flatnonzero(done):
                hyps.setdefault(live[slot], _hypotheses(mode, state, int(slot), k))
            if len(hyps) == n:
                break
            # Stragglers go on alone in a smaller bucket: one long window must not hold the whole batch.
            keep = list({live[j]: j for j in reversed(range(len(live))) if live[j] not in hyps}.values())[
                ::-1
            ]
            keep += [keep[-1]] * (bucket(len(keep), WINDOW_BUCKETS) - len(keep))
            live = [live[j] for j in keep]
            consts, state = _select_windows(consts, state, keep, k, mode)
        results = []
        for i in range(n):
            hyp_tokens, lens, scores = hyps[i]
            lens, scores = lens.astype(np.float64), scores.astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                ranked = np.where(lens > 0, scores / np.power(lens, options.length_penalty), -np.inf)
            best = int(np.argmax(ranked))
            length = int(lens[best])
            results.append(
                GenerationResult(
                    tokens=[int(x) for x in hyp_tokens[best, :length]],
                    sum_logprob=float(scores[best]),
                    avg_logprob=float(scores[best] / (length + 1)),
                    no_speech_prob=float(no_speech[i]),
                )
            )
        return results

    def sot_logits(self, enc: tf.Tensor) -> np.ndarray:
        """(rows, vocab) logits after <|startoftranscript|> alone, per row of encoder output: what language
        identification reads (openai/whisper's and CTranslate2's detect_language), from the same prefill program
        as decoding."""
        n = int(enc.shape[0])
        w = bucket(n, WINDOW_BUCKETS)
        p = bucket(1, PROMPT_BUCKETS)
        tokens = np.zeros((w, p), np.int32)
        tokens[:, p - 1] = self.tokens.sot
        start = np.full(
            w, p - 1, np.int32
        )  # the prompt is right-aligned: its one token sits in the last slot
        if w > n:
            enc = tf.concat([enc, tf.repeat(enc[-1:], w - n, axis=0)], axis=0)
        prefill = self._prefill_fn(w, p, bucket(p, LOOP_PROMPT_BUCKETS))
        first_logits = prefill(
            enc,
            tf.constant(tokens),
            tf.constant(np.zeros((w, p), np.int32)),
            tf.constant(start),
            tf.constant(start),
        )[3]
        return np.asarray(first_logits)[:n]

    def _prefill_fn(self, w: int, p: int, slots: int):
        key = (w, p, slots)
        if key not in self._prefill_fns:
            self._prefill_fns[key] = tf.function(
                _Prefill(self.model.decoder, self.tokens.no_speech, slots), jit_compile=True
            )
        return self._prefill_fns[key]

    def _loop_fn(self, mode: str, w: int, k: int, slots: int, cache: int, g: int, max_cand: int):
        key = (mode, w, k, slots, cache, g, max_cand)
        if key not in self._loop_fns:
            msg = "compiling %s decoding: windows=%d rows/window=%d prompt=%d cache=%d"
            logger.info(msg, mode, w, k, slots, cache)
            program = _DecodeLoop(self.model.decoder, self.tokens, mode, k, g, max_cand)
            self._loop_fns[key] = tf.function(program, jit_compile=True)
        return self._loop_fns[key]


class _Prefill:
    """Prompt pass, one row per window: cross-attention K/V, prompt K/V padded to `slots`, first logits, no_speech."""

    def __init__(self, decoder, no_speech: int, slots: int):
        self.decoder, self.no_speech, self.slots = decoder, no_speech, slots

    def __call__(self, enc, tokens, positions, key_start, sot_slot):
        dec = self.decoder
        p = tokens.shape[1]
        cross = dec.cross_kv(enc)
        h, prompt_kv, _ = dec.prefill(tokens, positions, key_start, cross)
        both = dec.logits(tf.stack([h[:, p - 1], tf.gather(h, sot_slot, batch_dims=1)], axis=1))  # (W, 2, V)
        no_speech = tf.nn.softmax(both[:, 1], axis=-1)[:, self.no_speech]  # raw logits at the sot position
        grow = [[0, 0], [0, 0], [0, self.slots - p], [0, 0]]
        prompt_kv = tuple((tf.pad(a, grow), tf.pad(b, grow)) for a, b in prompt_kv)
        valid = (tf.range(self.slots)[None] >= key_start[:, None]) & (tf.range(self.slots)[None] < p)
        return cross, prompt_kv, valid, both[:, 0], no_speech


class _DecodeLoop:
    """The traced decoding loop of one bucket: a tf.while_loop per generated-cache phase.

    Outputs (hypothesis tokens (W, F, G), lengths (W, F), summed log-probs (W, F), counts (W,)), with F hypothesis
    slots per window (the independent rows of greedy/sampling, or beam-search finishes).
    """

    def __init__(self, decoder, tokens: SpecialTokens, mode: str, k: int, g: int, max_cand: int):
        self.decoder, self.tok, self.mode = decoder, tokens, mode
        self.k, self.g, self.max_cand = k, g, max_cand

    def __call__(self, consts: dict, scalars: tuple, state: LoopState, t, t_end):
        """Run steps t .. t_end - 1, or until every window is done; returns (t, state)."""
        dec, tok, k = self.decoder, self.tok, self.k
        suppress, begin, max_init, temp, seed = scalars
        prompt_kv, cross, budget = consts["prompt_kv"], consts["cross"], consts["budget"]
        prompt_bias = tf.where(consts["prompt_valid"], 0.0, MASK_VALUE)[:, None, None, None, :]
        rows_budget = tf.repeat(budget, k)
        rows_rules = tf.repeat(consts["ts_rules"], k)
        next_pos = tf.repeat(consts["next_pos"], k)  # position of the first generated token
        step = self._beam_step if self.mode == "beam" else self._independent_step

        def body(t, state):
            logp = apply_rules(state.logits, t, state.hist, rows_rules, suppress, begin, max_init, tok)
            state, chosen = step(t, logp, state, rows_budget, budget, temp, seed)
            h, gen = dec.step(
                chosen[:, None], (next_pos + t)[:, None], prompt_kv, prompt_bias, state.gen, t, cross, k
            )
            return t + 1, state._replace(logits=dec.logits(h[:, 0]), gen=gen)

        return tf.while_loop(
            lambda t, s: (t < t_end) & ~tf.reduce_all(s.done), body, (t, state), maximum_iterations=self.g
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
        active = ~state.done
        chosen = tf.where(active, chosen, eot)
        logprob = tf.gather(logp, chosen, batch_dims=1)
        state = state._replace(
            scores=state.scores + tf.where(active, logprob, 0.0),
            lengths=state.lengths + tf.cast(active & (chosen != eot), tf.int32),
            hist=tf.where(tf.range(self.g)[None] == t, chosen[:, None], state.hist),
            done=state.done | (chosen == eot) | (t + 1 >= rows_budget),
        )
        return state, chosen

    def _beam_step(self, t, logp, state, rows_budget, budget, temp, seed):
        """CT2 BeamSearch::search, one step for all windows (see module docstring)."""
        k, g, eot = self.k, self.g, self.tok.eot
        v = logp.shape[-1]
        w = budget.shape[0]
        total = tf.reshape(state.scores[:, None] + logp, (w, k * v))
        cand_idx = tf.math.top_k(total, 2 * k).indices  # (W, 2K)
        cand_score = tf.gather(total, cand_idx, batch_dims=1)
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
        hist = state.hist
        at_t = tf.range(g)[None, None] == t
        cand_hist = tf.where(
            at_t, cand_tok[:, :k, None], tf.gather(hist, base + cand_beam[:, :k])
        )  # (W, K, G)
        reg = fin & ~state.done[:, None]
        f = state.fin_len.shape[1]
        slot = state.fin_count[:, None] + tf.cumsum(tf.cast(reg, tf.int32), axis=1) - 1
        # One-hot writes instead of tf.tensor_scatter_nd_update: XLA CPU made those scatters cost ~50 ms a step.
        put = reg[:, :, None] & (slot[:, :, None] == tf.range(f)[None, None])  # (W, K, F), <= 1 true per slot
        hit = tf.reduce_any(put, axis=1)  # (W, F)
        put_i = tf.cast(put, tf.int32)
        new_tokens = tf.einsum("wkf,wkg->wfg", put_i, cand_hist)
        new_len = tf.reduce_sum(put_i * tf.where(is_eot[:, :k], t, t + 1)[:, :, None], axis=1)
        fin_new_score = tf.reduce_sum(tf.where(put, cand_score[:, :k, None], 0.0), axis=1)
        fin_count = state.fin_count + tf.reduce_sum(tf.cast(reg, tf.int32), axis=1)
        rows = tf.reshape(base + new_beam, (-1,))
        flat_tok = tf.reshape(new_tok, (-1,))
        state = state._replace(
            fin_tokens=tf.where(hit[:, :, None], new_tokens, state.fin_tokens),
            fin_len=tf.where(hit, new_len, state.fin_len),
            fin_score=tf.where(hit, fin_new_score, state.fin_score),
            fin_count=fin_count,
            done=state.done | (fin_count >= self.max_cand) | last[:, 0],
            hist=tf.where(at_t[0], flat_tok[:, None], tf.gather(hist, rows)),
            scores=tf.reshape(new_score, (-1,)),
            gen=tuple((tf.gather(a, rows), tf.gather(b, rows)) for a, b in state.gen),
        )
        return state, flat_tok


class LoopState(NamedTuple):
    """The decoding loop's carried state (a NamedTuple: tf.while_loop and tf.function take it as it is).

    Per row (R = windows x rows per window): next logits, generated ids, summed log-probs, and the generated
    tokens' keys/values. `done` is per window in beam search, per row otherwise; `lengths` is used by greedy /
    sampling only, the finished hypotheses (F slots per window) by beam search only (F = 0 otherwise).
    """

    logits: tf.Tensor  # (R, V)
    gen: tuple  # per decoder layer: (keys, values), each (R, H, cache, Dh)
    hist: tf.Tensor  # (R, G) int32
    scores: tf.Tensor  # (R,) float32
    done: tf.Tensor  # (W,) or (R,) bool
    lengths: tf.Tensor  # (R,) int32
    fin_tokens: tf.Tensor  # (W, F, G) int32
    fin_len: tf.Tensor  # (W, F) int32
    fin_score: tf.Tensor  # (W, F) float32
    fin_count: tf.Tensor  # (W,) int32


PER_WINDOW = frozenset({"fin_tokens", "fin_len", "fin_score", "fin_count"})  # plus `done` in beam search


def _initial_state(
    mode: str, w: int, k: int, g: int, max_cand: int, cache: int, first_logits, decoder
) -> LoopState:
    r = w * k
    shape = (r, decoder.n_head, cache, decoder.head_dim)
    beam = mode == "beam"
    f = max_cand + k - 1 if beam else 0  # the most finishes a window can register before it stops
    return LoopState(
        logits=tf.repeat(first_logits, k, axis=0),  # every row of a window starts from its prompt
        gen=tuple((tf.zeros(shape), tf.zeros(shape)) for _ in decoder.blocks),
        hist=tf.zeros((r, g), tf.int32),
        # Only the first beam is alive at step 0 (CT2 expands after the first step).
        scores=tf.tile(tf.concat([[0.0], tf.fill([k - 1], float("-inf"))], 0), [w])
        if beam
        else tf.zeros((r,)),
        done=tf.zeros((w if beam else r,), bool),
        lengths=tf.zeros((r,), tf.int32),
        fin_tokens=tf.zeros((w, f, g), tf.int32),
        fin_len=tf.zeros((w, f), tf.int32),
        fin_score=tf.zeros((w, f), tf.float32),
        fin_count=tf.zeros((w,), tf.int32),
    )


def _hypotheses(mode: str, state: LoopState, slot: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tokens (F, G), lengths (F,), summed log-probs (F,)) of one finished window."""
    if mode == "beam":
        count = int(state.fin_count[slot])
        return (
            np.asarray(state.fin_tokens[slot, :count]),
            np.asarray(state.fin_len[slot, :count]),
            np.asarray(state.fin_score[slot, :count]),
        )
    rows = slice(slot * k, (slot + 1) * k)
    return np.asarray(state.hist[rows]), np.asarray(state.lengths[rows]), np.asarray(state.scores[rows])


def _select_windows(
    consts: dict, state: LoopState, windows: list[int], k: int, mode: str
) -> tuple[dict, LoopState]:
    """Keep the given window slots (in this order, repeats allowed) of the loop constants and state."""
    win = tf.constant(windows, tf.int32)
    rows = tf.constant([w * k + j for w in windows for j in range(k)], tf.int32)
    per_window = PER_WINDOW | ({"done"} if mode == "beam" else set())
    consts = {name: tf.nest.map_structure(lambda x: tf.gather(x, win), v) for name, v in consts.items()}
    state = LoopState(
        **{
            name: tf.nest.map_structure(lambda x, i=(win if name in per_window else rows): tf.gather(x, i), v)
            for name, v in state._asdict().items()
        }
    )
    return consts, state
