"""The Whisper engine on LiteRT: encoder, greedy / beam decoding and the forced pass, without TensorFlow.

The decoding loop runs in numpy around one program call per step (export.py's `step`), and touches only what it
must: the program returns each row's best TOP_K log-probs (suppress masks applied, normalised over the whole
vocabulary), so the (rows x vocabulary) logits never leave the interpreter. Keys/values live in the interpreter's
own input buffers (`Interpreter.tensor` views): cross-attention K/V are written once per batch, each step writes
one slot of the self-attention cache, and beam search moves only the rows whose parent changed.

Semantics are CTranslate2's, as decoding.py documents them, for prompts that end with <|notimestamps|> (the batched
mode's): suppress_tokens every step, suppress_blank at the first, beam search over 2 x beam candidates, a window
stops after round(beam x patience) finishes, the best by score / len**length_penalty; no_speech_prob is the softmax
at the <|startoftranscript|> position. The timestamp rules are not implemented here: the sequential mode, which
needs them, runs on decoding.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asr_assets.asr.checkpoints import Checkpoint
from asr_assets.asr.constants import MAX_LENGTH
from asr_assets.asr.decoding_types import GenerateOptions, GenerationResult, SpecialTokens, suppress_masks
from asr_assets.asr.litert.programs import TOP_K
from asr_assets.asr.runtime import LITERT_ALIGN_BUCKETS  # why they differ from XLA's: there
from asr_assets.asr.tokenizer import Tokenizer

logger = logging.getLogger(__name__)

MASK = -1e9  # the finite mask of model.MASK_VALUE
CACHE_PHASES = (32, 96)  # self-attention slots before the full budget: early steps read a short cache


def _interpreter(path: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path), num_threads=threads)


class _Program:
    """One interpreter with its inputs resized on demand; views into its buffers are taken and dropped per call."""

    def __init__(self, path: Path, threads: int):
        self.interpreter = _interpreter(path, threads)
        self.inputs = [d["index"] for d in self.interpreter.get_input_details()]
        self.outputs = [d["index"] for d in self.interpreter.get_output_details()]
        self.shapes: tuple | None = None
        self.peak = 0  # the largest input size (elements) invoked so far

    def warm(self, shapes: Sequence[Sequence[int]]) -> None:
        """Invoke once at `shapes` (inputs zeroed) if they are larger than anything invoked before.

        XNNPACK sets up its runtime (packing the weights) at the first invoke, and again whenever the shapes grow
        beyond the largest it has run: measured 1-1.8 s each time for the step program, 0.03 s for a shrink.
        Warming at a batch's largest shape first pays that once instead of once per cache phase.
        """
        size = sum(int(np.prod(s)) for s in shapes)
        if size <= self.peak:
            return
        self.resize(shapes)
        for i in range(len(self.inputs)):
            self.view(i)[...] = 0
        self.run()
        self.peak = size

    def resize(self, shapes: Sequence[Sequence[int]]) -> bool:
        """Give every input its shape; True when the buffers were reallocated (their contents are then lost)."""
        key = tuple(tuple(s) for s in shapes)
        if key == self.shapes:
            return False
        for index, shape in zip(self.inputs, key, strict=True):
            self.interpreter.resize_tensor_input(index, shape, strict=False)
        self.interpreter.allocate_tensors()
        self.shapes = key
        return True

    def view(self, i: int) -> np.ndarray:
        return self.interpreter.tensor(self.inputs[i])()

    def run(self) -> list[np.ndarray]:
        """Invoke; the outputs are views into the interpreter, valid until the next call: copy what must outlive it,
        and drop them before `resize`.

        `Interpreter.invoke` refuses to run while any view is alive, because calls that reallocate would leave
        them dangling; invoking does not reallocate, so the views of the inputs (the K/V buffers) are kept.
        """
        self.interpreter._interpreter.Invoke()
        if self.shapes is not None:
            self.peak = max(self.peak, sum(int(np.prod(s)) for s in self.shapes))
        return [self.interpreter.tensor(i)() for i in self.outputs]


class LiteRtEngine:
    """runtime.WhisperRuntime on the programs of one compute type (what XlaRuntime does with XLA programs)."""

    def __init__(self, checkpoint: Checkpoint, directory: Path, threads: int = 2):
        self.checkpoint = checkpoint
        self.dims = checkpoint.dims
        self.compute_type = directory.name.rsplit("-", 1)[-1]
        tokenizer = Tokenizer.from_file(checkpoint.tokenizer_file, multilingual=checkpoint.is_multilingual)
        self.tokens = SpecialTokens.from_tokenizer(tokenizer)
        self.sot_sequence = tokenizer.sot_sequence
        self.layers = self.dims.n_text_layer
        self.heads = self.dims.n_text_head
        self.head_dim = self.dims.n_text_state // self.heads
        self._encoder = _Program(directory / "encoder.tflite", threads)
        self._encoder.resize([(1, self.dims.n_mels, 2 * self.dims.n_audio_ctx)])
        self._step = _Program(directory / "step.tflite", threads)
        self._align = _Program(directory / "align.tflite", threads)

    # ------------------------------------------------------------------ encoder

    def encode(self, mel: np.ndarray) -> list[np.ndarray]:
        """mel (N, n_mels, 3000) -> per decoder layer cross keys, values, each (N, H, 1500, Dh) (k0, v0, k1, ...)."""
        mel = np.asarray(mel, np.float32)
        expected = (self.dims.n_mels, 2 * self.dims.n_audio_ctx)
        if mel.ndim != 3 or mel.shape[1:] != expected:
            raise ValueError(f"mel must be (batch, {expected[0]}, {expected[1]}), got {mel.shape}")
        shape = (len(mel), self.heads, self.dims.n_audio_ctx, self.head_dim)
        # float32, as the programs take them. A float16 store (half the memory) was measured and dropped: with int8
        # weights it moved a sample call's talk time by 0.9 s (BENCHMARKS.md, "Memory").
        cross = [np.empty(shape, np.float32) for _ in range(2 * self.layers)]
        for i, window in enumerate(mel):
            self._encoder.view(0)[0] = window
            for out, value in zip(cross, self._encoder.run(), strict=True):
                out[i] = value[0]
            del value
        return cross

    @staticmethod
    def select(cross: list[np.ndarray], rows: Sequence[int]) -> list[np.ndarray]:
        rows = list(rows)
        if rows == list(range(len(cross[0]))):
            return cross  # all windows in order: no copy (18 MB of K/V per window for tiny)
        return [c[rows] for c in cross]

    # ------------------------------------------------------------------ generate

    def _vocab_bias(self, options: GenerateOptions) -> tuple[np.ndarray, np.ndarray]:
        """decoding_types.suppress_masks as the step program's additive bias: (every step, the first step)."""
        suppress, begin = suppress_masks(self.checkpoint, options)
        return np.where(suppress, MASK, 0.0).astype(np.float32), np.where(suppress | begin, MASK, 0.0).astype(
            np.float32
        )

    def generate(
        self, cross: list[np.ndarray], prompts: list[list[int]], options: GenerateOptions
    ) -> list[GenerationResult]:
        """One result per window; prompts must end their special tokens with <|notimestamps|>."""
        n = len(prompts)
        if n and len(cross[0]) != n:
            raise ValueError(f"{len(cross[0])} encoder windows for {n} prompts")
        if options.temperature > 0:
            raise ValueError("the LiteRT engine decodes at temperature 0 (greedy or beam search) only")
        if options.beam_size > TOP_K // 2:
            raise ValueError(f"beam_size {options.beam_size} exceeds the LiteRT engine's {TOP_K // 2}")
        tok = self.tokens
        prepared = []
        for prompt in prompts:
            prompt = [int(t) for t in prompt]
            if tok.sot not in prompt:
                raise ValueError(f"prompt lacks <|startoftranscript|> ({tok.sot}): {prompt[:8]}...")
            if tok.no_timestamps not in prompt[prompt.index(tok.sot) :]:
                prompt.append(tok.no_timestamps)
            prepared.append(prompt)
        results: list[GenerationResult | None] = [None] * n
        order = sorted(range(n), key=lambda i: len(prepared[i]))
        for start in range(0, n, 16):
            idx = order[start : start + 16]
            chunk = _Search(self, self.select(cross, idx), [prepared[i] for i in idx], options)
            for i, r in zip(idx, chunk.run(), strict=True):
                results[i] = r
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ language identification

    def language_logprobs(self, cross: list[np.ndarray], candidates: Sequence[int]) -> np.ndarray:
        """(windows, len(candidates)) log-probs of the token after <|startoftranscript|> alone, normalised over
        `candidates` (the language tokens), as openai/whisper's detect_language defines them.

        One step of the step program: the <|startoftranscript|> token at position 0 with nothing cached, every
        other id masked, so the program's TOP_K are the TOP_K likeliest candidates under their own normaliser;
        candidates outside them get -inf (their probability is below the TOP_K-th's, ~0 after a softmax over ~100).
        """
        n, ids = len(cross[0]), np.asarray(candidates, np.int64)
        prog = self._step
        cache = (n, self.heads, 1, self.head_dim)
        kv = (n, self.heads, self.dims.n_audio_ctx, self.head_dim)
        prog.resize(
            [(n,), (n,), (n, 1), (self.dims.n_vocab,)]
            + [cache] * (2 * self.layers)
            + [kv] * (2 * self.layers)
        )
        bias = np.full(self.dims.n_vocab, MASK, np.float32)
        bias[ids] = 0.0
        prog.view(0)[:] = self.tokens.sot
        prog.view(1)[:] = 0
        prog.view(2)[:] = MASK  # no earlier token is visible
        prog.view(3)[:] = bias
        for i in range(2 * self.layers):
            prog.view(4 + i)[:] = 0.0
            prog.view(4 + 2 * self.layers + i)[:] = cross[i]
        outs = prog.run()
        top_lp, top_id = outs[2 * self.layers + 1].copy(), outs[2 * self.layers + 2].copy()
        del outs
        position = {int(t): j for j, t in enumerate(ids)}
        logprobs = np.full((n, len(ids)), -np.inf)
        for row in range(n):
            for lp, t in zip(top_lp[row], top_id[row], strict=True):
                if int(t) in position:
                    logprobs[row, position[int(t)]] = lp
        return logprobs

    # ------------------------------------------------------------------ forced alignment

    def align(
        self,
        cross: list[np.ndarray],
        text_tokens: list[list[int]],
        *,
        sot_sequence: Sequence[int] | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """alignment.Aligner.align on these programs: per window (pre-softmax scores of the alignment heads over
        every row of [*sot_sequence, <|notimestamps|>, *text, eot], text probabilities + a trailing 0)."""
        tok = self.tokens
        sot_sequence = tuple(int(t) for t in (self.sot_sequence if sot_sequence is None else sot_sequence))
        s = self.dims.n_audio_ctx
        kv_shape = (1, self.heads, s, self.head_dim)
        # Longest first: the program then only shrinks (see _Program.warm for what growing costs).
        order = sorted(range(len(text_tokens)), key=lambda i: -len(text_tokens[i]))
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for i in order:
            text = [int(t) for t in text_tokens[i]]
            seq = [*sot_sequence, tok.no_timestamps, *text, tok.eot]
            length = next((b for b in LITERT_ALIGN_BUCKETS if len(seq) <= b), None)
            if length is None:
                raise ValueError(f"a forced sequence of {len(seq)} tokens exceeds {LITERT_ALIGN_BUCKETS[-1]}")
            self._align.resize([(1, length), (1, length)] + [kv_shape] * (2 * self.layers))
            inputs = np.zeros(length, np.int32)
            targets = np.zeros(length, np.int32)
            inputs[: len(seq)] = seq
            targets[: len(seq) - 1] = seq[1:]
            self._align.view(0)[0] = inputs
            self._align.view(1)[0] = targets
            for j, c in enumerate(cross):
                self._align.view(2 + j)[0] = c[i]
            scores, probs = self._align.run()
            off = len(sot_sequence)
            token_probs = np.append(probs[0, off : off + len(text)], np.float32(0.0)).astype(np.float32)
            out[i] = (scores[0, :, : len(seq)].copy(), token_probs)
            del scores, probs
        return [out[i] for i in range(len(text_tokens))]


class _Search:
    """Greedy or beam search over the windows of one chunk (<= 16), CTranslate2's rules (module docstring).

    Step j feeds sequence position j of every row (the left-padded prompt first, then the chosen tokens) and
    writes its keys/values into cache slot j. The cache grows in phases (CACHE_PHASES, then the whole budget);
    a phase change reallocates the buffers, and only the windows still running are carried into the next one.
    """

    def __init__(self, engine: LiteRtEngine, cross: list[np.ndarray], prompts: list[list[int]], options):
        self.eng, self.cross, self.opts = engine, cross, options
        self.beam = options.beam_size > 1
        self.k = options.beam_size if self.beam else 1
        self.max_cand = max(1, round(self.k * options.patience)) if self.beam else 1
        self.every, self.first = engine._vocab_bias(options)
        self.unmasked = np.zeros_like(self.every)
        w = len(prompts)
        self.p = max(len(x) for x in prompts)
        self.budget = np.array(
            [min(max(1, options.max_new_tokens), MAX_LENGTH - (len(x) - 1)) for x in prompts]
        )
        self.g = int(self.budget.max())
        self.key_start = np.array([self.p - len(x) for x in prompts])
        self.seq = np.zeros((w, self.p), np.int32)
        for i, x in enumerate(prompts):
            self.seq[i, self.key_start[i] :] = x
        self.sot_slot = np.array(
            [self.key_start[i] + x.index(engine.tokens.sot) for i, x in enumerate(prompts)]
        )
        self.no_speech = np.zeros(w)
        self.done = np.zeros(w, bool)
        self.finished: list[list[tuple[list[int], int, float]]] = [[] for _ in range(w)]
        self.greedy: list[tuple[list[int], float] | None] = [None] * w

    def run(self) -> list[GenerationResult]:
        eng, k, p = self.eng, self.k, self.p
        total = p + self.g - 1  # the last chosen token is never fed
        phases = [c for c in CACHE_PHASES if c < total] + [total]
        live = np.arange(len(self.seq))  # the chunk's windows still decoding, in slot order
        hist = np.zeros((len(live) * k, self.g), np.int32)
        scores = np.zeros(len(live) * k)
        if self.beam:
            scores = np.tile(np.r_[0.0, np.full(k - 1, -np.inf)], len(live))  # one live beam at step 0
        tokens = np.zeros(len(live) * k, np.int32)
        capacity = 0
        prog = eng._step
        prog.warm(self._shapes(len(live), total))
        slots_range = None
        for j in range(total):
            if j >= capacity:
                keep = np.flatnonzero(~self.done[live])
                rows = (keep[:, None] * k + np.arange(k)).ravel()
                live, hist, scores, tokens = live[keep], hist[rows], scores[rows], tokens[rows]
                capacity = next(c for c in phases if c > j)
                self._reallocate(live, rows, capacity, j)
                slots_range = np.arange(capacity)
            row_win = np.repeat(live, k)
            if j < p:
                tokens = self.seq[row_win, j]
            prog.view(0)[:] = tokens
            prog.view(1)[:] = np.maximum(j - self.key_start[row_win], 0)
            visible = (slots_range[None] >= self.key_start[row_win, None]) & (slots_range[None] < j)
            prog.view(2)[:] = np.where(visible, 0.0, MASK)
            # Predictions before the last prompt token are dropped; their steps run unmasked so that the
            # no-speech log-prob read at the <|startoftranscript|> step is the raw softmax, as CT2 defines it.
            prog.view(3)[:] = self.unmasked if j < p - 1 else self.first if j == p - 1 else self.every
            outs = prog.run()
            layers = eng.layers
            for i in range(layers):
                prog.view(4 + 2 * i)[:, :, j] = outs[i]
                prog.view(5 + 2 * i)[:, :, j] = outs[layers + i]
            at_sot = np.flatnonzero(self.sot_slot[live] == j)
            self.no_speech[live[at_sot]] = np.exp(outs[2 * layers][at_sot * k])
            if j < p - 1:
                del outs
                continue
            top_lp, top_id = outs[2 * layers + 1].copy(), outs[2 * layers + 2].copy()
            del outs
            t = j - (p - 1)
            if self.beam:
                tokens, parents, scores = self._beam_step(t, live, top_lp, top_id, hist, scores)
                hist = hist[parents]
                moved = np.flatnonzero(parents != np.arange(len(parents)))
                if len(moved):
                    for i in range(2 * layers):
                        buf = prog.view(4 + i)
                        buf[moved, :, : j + 1] = buf[parents[moved], :, : j + 1]
                        del buf
            else:
                tokens, scores = self._greedy_step(t, live, top_lp, top_id, hist, scores)
            hist[:, t] = tokens
            if self.done[live].all():
                break
        return self._results()

    def _reallocate(self, live: np.ndarray, rows: np.ndarray, capacity: int, filled: int) -> None:
        """Resize the step program for len(live) windows and `capacity` cache slots, keeping slots < filled."""
        eng, prog = self.eng, self.eng._step
        layers = eng.layers
        kept = []
        if filled and prog.shapes is not None:
            kept = [prog.view(4 + i)[rows, :, :filled].copy() for i in range(2 * layers)]
        prog.resize(self._shapes(len(live), capacity))
        for i in range(2 * layers):
            buf = prog.view(4 + i)
            buf[:] = 0.0
            if kept:
                buf[:, :, :filled] = kept[i]
            del buf
            prog.view(4 + 2 * layers + i)[:] = self.cross[i][live]

    def _shapes(self, windows: int, capacity: int) -> list[tuple[int, ...]]:
        """The step program's input shapes for `windows` windows of K rows and `capacity` cache slots."""
        eng, n_rows = self.eng, windows * self.k
        cache = (n_rows, eng.heads, capacity, eng.head_dim)
        cross = (windows, eng.heads, eng.dims.n_audio_ctx, eng.head_dim)
        shapes = [(n_rows,), (n_rows,), (n_rows, capacity), (eng.dims.n_vocab,)]
        return shapes + [cache] * (2 * eng.layers) + [cross] * (2 * eng.layers)

    def _greedy_step(self, t, live, top_lp, top_id, hist, scores):
        eot = self.eng.tokens.eot
        active = ~self.done[live]
        chosen = np.where(active, top_id[:, 0], eot)
        scores = scores + np.where(active, top_lp[:, 0], 0.0)
        for r in np.flatnonzero(active & ((chosen == eot) | (t + 1 >= self.budget[live]))):
            w = live[r]
            length = t if chosen[r] == eot else t + 1
            self.greedy[w] = ([*hist[r, :t].tolist(), int(chosen[r])][:length], float(scores[r]))
            self.done[w] = True
        return chosen.astype(np.int32), scores

    def _beam_step(self, t, live, top_lp, top_id, hist, scores):
        """CT2 BeamSearch: the best 2K of the K x V continuations; eot ends a hypothesis (decoding.py)."""
        k, eot = self.k, self.eng.tokens.eot
        n = len(live)
        width = 2 * k
        cand = (scores[:, None] + top_lp[:, :width]).reshape(n, k * width)  # -inf rows stay -inf
        order = np.argsort(-cand, axis=1, kind="stable")[:, :width]
        cand_score = np.take_along_axis(cand, order, 1)
        cand_beam = order // width
        cand_tok = top_id[:, :width].reshape(n, k * width)
        cand_tok = np.take_along_axis(cand_tok, order, 1)
        new_tok = np.empty((n, k), np.int32)
        new_parent = np.empty((n, k), np.int64)
        new_score = np.empty((n, k))
        for i in range(n):
            w = live[i]
            last = t + 1 >= self.budget[w]
            is_eot = cand_tok[i] == eot
            fin = is_eot[:k] | last
            if not self.done[w]:
                for c in np.flatnonzero(fin):
                    parent = i * k + cand_beam[i, c]
                    toks = hist[parent, :t].tolist() + ([] if is_eot[c] else [int(cand_tok[i, c])])
                    self.finished[w].append((toks, len(toks), float(cand_score[i, c])))
                if len(self.finished[w]) >= self.max_cand or last:
                    self.done[w] = True
            spare = [c for c in range(k, width) if not is_eot[c]]
            pick = list(range(k))
            for rank, c in enumerate(np.flatnonzero(fin)):
                if rank < len(spare):
                    pick[c] = spare[rank]
            new_tok[i] = cand_tok[i, pick]
            new_parent[i] = i * k + cand_beam[i, pick]
            new_score[i] = cand_score[i, pick]
        return new_tok.ravel(), new_parent.ravel(), new_score.ravel()

    def _results(self) -> list[GenerationResult]:
        out = []
        for w in range(len(self.seq)):
            if self.beam:
                hyps = self.finished[w]
                lens = np.array([h[1] for h in hyps], np.float64)
                sc = np.array([h[2] for h in hyps], np.float64)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ranked = np.where(lens > 0, sc / np.power(lens, self.opts.length_penalty), -np.inf)
                toks, length, score = hyps[int(np.argmax(ranked))]
            else:
                toks, score = self.greedy[w]
                length = len(toks)
            out.append(
                GenerationResult(
                    tokens=[int(x) for x in toks],
                    sum_logprob=float(score),
                    avg_logprob=float(score / (length + 1)),
                    no_speech_prob=float(self.no_speech[w]),
                )
            )
        return out
