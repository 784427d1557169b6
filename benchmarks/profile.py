"""`python -m benchmarks profile FILE`: where a batch of windows spends its time, ours next to CTranslate2's.

The bench measures whole transcriptions; this isolates the stages on the same W windows of one recording (30 s
windows cut from its channels, the batched mode's prompt): the encoder, greedy and beam-5 generation, and (ours)
the forced alignment pass for word timestamps, on each of our engines (XLA float32, LiteRT float32 and int8). Both engines run in this one process, one after the other, each stage first
once untimed (XLA compiles, CTranslate2 warms its caches), then `repeat` times, keeping the fastest. CTranslate2
(faster-whisper's runtime, a benchmark dependency only) is measured in float32, the same math as ours, and int8,
faster-whisper's fastest CPU setting. Generation time is also given per decoding step (the longest window's
token count), the unit the decoder's cost is paid in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import numpy as np

from asr_assets.asr.audio import load_audio
from asr_assets.asr.features import N_FRAMES, log_mel_spectrogram


@dataclass(frozen=True)
class StageTime:
    engine: str
    stage: str
    ms: float  # fastest of the timed repeats, for the whole batch
    steps: int | None = None  # generation: tokens of the longest window


def _fastest(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = fn()  # untimed: compilation / warm-up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return 1000 * best, result


def windows_of(path: str, count: int) -> np.ndarray:
    """Up to `count` whole 30 s log-mel windows, channel after channel."""
    audio = load_audio(path)
    mels = []
    for channel in audio.channels:
        mel = log_mel_spectrogram(channel)
        mels += [mel[:, i : i + N_FRAMES] for i in range(0, mel.shape[1] - N_FRAMES + 1, N_FRAMES)]
    if not mels:
        raise ValueError(f"{path}: shorter than one 30 s window; profile a longer recording")
    return np.stack(mels[:count]).astype(np.float32)


def profile_ours(mels: np.ndarray, repeat: int) -> tuple[list[StageTime], list[int]]:
    """Our stages on each engine; also returns the prompt every engine gets: the batched mode's
    [<|startoftranscript|>, <|notimestamps|>] (faster-whisper's BatchedInferencePipeline prompt)."""
    from asr_assets.asr.decoding_types import GenerateOptions
    from asr_assets.asr.transcribe import Transcriber

    times: list[StageTime] = []
    prompt: list[int] = []
    for label, engine, compute_type in (
        ("xla-float32", "xla", "float32"),
        ("litert-float32", "litert", "float32"),
        ("litert-int8", "litert", "int8"),
    ):
        transcriber = Transcriber(engine=engine, compute_type=compute_type)
        runtime, tok = transcriber.runtime, transcriber.tokenizer
        prompt = [*tok.sot_sequence, tok.no_timestamps]
        ms, encoded = _fastest(lambda r=runtime: r.encode(mels), repeat)
        times.append(StageTime(label, "encoder", ms))
        for beam in (1, 5):
            options = GenerateOptions(beam_size=beam, without_timestamps=True)
            ms, results = _fastest(partial(runtime.generate, encoded, [prompt] * len(mels), options), repeat)
            steps = max(len(r.tokens) for r in results)
            times.append(StageTime(label, f"generate beam {beam}", ms, steps))
            texts = [[t for t in r.tokens if t < tok.eot] for r in results]
            ms, _ = _fastest(partial(runtime.align, encoded, texts), repeat)
            times.append(StageTime(label, f"align (beam {beam} text)", ms))
    return times, prompt


def profile_ctranslate2(
    mels: np.ndarray, repeat: int, compute_type: str, prompt: list[int]
) -> list[StageTime]:
    import ctranslate2

    from asr_assets.asr.checkpoints import default_model_path

    model = ctranslate2.models.Whisper(
        str(default_model_path()), device="cpu", compute_type=compute_type, intra_threads=0
    )
    label = f"ct2-{compute_type}"
    features = ctranslate2.StorageView.from_array(mels)
    ms, encoded = _fastest(lambda: model.encode(features, to_cpu=False), repeat)
    times = [StageTime(label, "encoder", ms)]
    for beam in (1, 5):
        generate = partial(
            model.generate,
            encoded,
            [prompt] * len(mels),
            beam_size=beam,
            max_length=448,
            suppress_blank=True,
            suppress_tokens=[-1],
            return_scores=True,
            return_no_speech_prob=True,
        )
        ms, results = _fastest(generate, repeat)
        steps = max(len(r.sequences_ids[0]) for r in results)
        times.append(StageTime(label, f"generate beam {beam}", ms, steps))
    return times


def run_profile(path: str, windows: int = 8, repeat: int = 2) -> dict[str, Any]:
    mels = windows_of(path, windows)
    times, prompt = profile_ours(mels, repeat)
    try:
        for compute_type in ("float32", "int8"):
            times += profile_ctranslate2(mels, repeat, compute_type, prompt)
    except ImportError:  # ctranslate2 comes with the dev dependencies only
        pass
    return {"file": path, "windows": len(mels), "times": [asdict(t) for t in times]}


def format_profile(report: dict[str, Any]) -> str:
    w = report["windows"]
    lines = [f"{report['file']}: {w} windows of 30 s, the batched mode's prompt (no timestamps)", ""]
    lines.append(f"{'engine':14} {'stage':26} {'ms/batch':>9} {'ms/window':>9} {'steps':>5} {'ms/step':>7}")
    for t in report["times"]:
        per_step = f"{t['ms'] / t['steps']:7.1f}" if t["steps"] else f"{'':7}"
        steps = f"{t['steps']:5d}" if t["steps"] else f"{'':5}"
        lines.append(f"{t['engine']:14} {t['stage']:26} {t['ms']:9.0f} {t['ms'] / w:9.0f} {steps} {per_step}")
    return "\n".join(lines)


def kernel_rates(repeat: int = 10, scale: int = 1) -> list[dict[str, Any]]:
    """The decoder's and encoder's hot products in float32 and bfloat16, inside XLA and through TF's oneDNN
    kernels (plain eager TF), at tiny.en's shapes (`scale` divides the long dimensions, for quick tests).

    This is the evidence for where a faster number format could come from: XLA's CPU backend runs bfloat16 at
    the float32 rate or slower, oneDNN runs it about twice as fast on CPUs with AVX-512 BF16.
    """
    import tensorflow as tf

    vocab, d, frames = 51864 // scale, 384, 12000 // scale
    shapes = {
        "encoder mlp (8 windows)": ((frames, d), (d, 4 * d)),
        "output projection, 8 rows": ((8, d), (d, vocab)),
        "output projection, 40 rows": ((40, d), (d, vocab)),
    }
    xla_matmul = tf.function(tf.matmul, jit_compile=True)
    rows = []
    for name, (a_shape, b_shape) in shapes.items():
        for dtype in (tf.float32, tf.bfloat16):
            a = tf.cast(tf.random.normal(a_shape), dtype)
            b = tf.cast(tf.random.normal(b_shape), dtype)
            flops = 2 * a_shape[0] * a_shape[1] * b_shape[1]
            for runtime, fn in (("xla", xla_matmul), ("onednn", tf.matmul)):
                ms, _ = _fastest(partial(_run_numpy, fn, a, b), repeat)
                rows.append(
                    {
                        "product": name,
                        "dtype": dtype.name,
                        "runtime": runtime,
                        "ms": ms,
                        "gflops": flops / ms / 1e6,
                    }
                )
    return rows


def _run_numpy(fn: Callable[..., Any], *args: Any) -> np.ndarray:
    return fn(*args).numpy()  # .numpy() waits for the result: eager TF may return before the work is done


def format_kernels(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'product':28} {'dtype':9} {'runtime':8} {'ms':>8} {'GFLOP/s':>8}"]
    for r in rows:
        lines.append(f"{r['product']:28} {r['dtype']:9} {r['runtime']:8} {r['ms']:8.2f} {r['gflops']:8.0f}")
    return "\n".join(lines)


def first_run_costs(compute_type: str = "int8", xnnpack: bool = True) -> list[str]:
    """The decoder-step program's first and second invoke at growing shapes (rows = windows x beam 5, cache
    slots), in one interpreter: the cost `LiteRtEngine` pays once per process by warming the largest shape
    first. `xnnpack=False` runs TFLite's builtin kernels, to tell the delegate's share from the runtime's."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from asr_assets.asr.litert.programs import ensure_programs

    checkpoint, directory = ensure_programs(None, compute_type)
    d = checkpoint.dims
    heads, head_dim, layers = d.n_text_head, d.n_text_state // d.n_text_head, d.n_text_layer
    kwargs = (
        {} if xnnpack else {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    )
    interpreter = Interpreter(model_path=str(directory / "step.tflite"), num_threads=2, **kwargs)
    rows = []
    for windows, slots in ((1, 32), (8, 32), (8, 96), (6, 96), (8, 225), (8, 64)):
        r = windows * 5
        shapes = [(r,), (r,), (r, slots), (d.n_vocab,)]
        shapes += [(r, heads, slots, head_dim)] * (2 * layers) + [
            (windows, heads, d.n_audio_ctx, head_dim)
        ] * (2 * layers)
        for detail, shape in zip(interpreter.get_input_details(), shapes, strict=True):
            interpreter.resize_tensor_input(detail["index"], shape, strict=False)
        interpreter.allocate_tensors()
        for detail in interpreter.get_input_details():  # token ids 0, masks and K/V zero: valid inputs
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        times = []
        for _ in range(2):
            start = time.perf_counter()
            interpreter.invoke()
            times.append(1000 * (time.perf_counter() - start))
        rows.append(
            f"{compute_type} {'xnnpack' if xnnpack else 'builtin'}: {windows} windows x beam 5, {slots} slots: "
            f"first invoke {times[0]:.0f} ms, second {times[1]:.0f} ms"
        )
    return rows
