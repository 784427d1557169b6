"""Speech regions per channel from Silero VAD v6, and the map from speech-only time back to the recording.

Why: in a two-channel call each side is silent while the other talks, so about half of every channel is
silence; cutting long silences before the encoder means fewer 30 s windows. Dropped speech costs more than a
slower run, so the detector is the one our benchmark peer uses: faster-whisper 1.2.1's `vad.py`
(`get_speech_timestamps` with its `VadOptions` defaults, on Silero VAD v6 through onnxruntime). `speech_regions`
follows that function step by step, so for the same samples it returns the same regions; faster-whisper itself
is a dev-only dependency and is not imported here. The model file is bundled (assets/README.md): nothing is
downloaded at run time.

`EnergyVadOptions` selects the second detector, an energy threshold with a 300 ms pad: the pipeline uses it because
its word times keep the talk-time marts within their tolerance (BENCHMARKS.md, "Silero VAD").

The cut-and-concatenate scheme and `SpeechMap` follow faster-whisper's `collect_chunks` and
`SpeechTimestampsMap`, so times map back as its `restore_speech_timestamps` does.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asr_assets.asr.constants import SAMPLE_RATE

MODEL_PATH = Path(__file__).resolve().parent / "assets" / "silero_vad_v6.onnx"
WINDOW = 512  # samples per speech probability (32 ms at 16 kHz): the model's fixed input
CONTEXT = 64  # samples of the previous window prepended to each window, as the model was trained
# Windows per session.run: the model carries its LSTM state across the windows of one call, so a whole batch
# costs one call instead of one per 32 ms. 10,000 windows (320 s, 23 MB of float32) as in faster-whisper;
# longer channels chain batches through the returned state.
BATCH_WINDOWS = 10_000


@dataclass(frozen=True)
class VadOptions:
    """faster-whisper's `VadOptions` defaults (the same names, the same meaning)."""

    threshold: float = 0.5  # a window is speech when its probability is at least this
    neg_threshold: float | None = None  # speech ends below this; None = max(threshold - 0.15, 0.01)
    min_speech_duration_ms: int = 0  # shorter speech regions are dropped
    max_speech_duration_s: float = float("inf")  # longer regions are split (at a silence if there is one)
    min_silence_duration_ms: int = 2000  # shorter pauses stay inside a region
    speech_pad_ms: int = 400  # audio kept before and after every region


@functools.cache
def _session() -> Any:
    """One onnxruntime session per process: loading the model once, and sessions are safe to share across threads.

    One thread, as faster-whisper: two were only 1.3x faster on this 2-core machine (1.9 s -> 1.5 s for a 183 s
    stereo call), and the cores are TensorFlow's for the encoder and decoder.
    """
    import onnxruntime  # type: ignore[import-untyped]  # imported here: importing the package stays cheap

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False  # batches vary in size; the arena would keep the largest one
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(
        str(MODEL_PATH), providers=["CPUExecutionProvider"], sess_options=opts
    )


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """Silero's speech probability for every 512-sample window of `samples` (16 kHz float32).

    As faster-whisper: the audio is zero-padded by `WINDOW - len % WINDOW` samples (a whole window when it is
    already a multiple), each window gets the last 64 samples of the previous one as context (zeros for the
    first), and the last 64 samples of the padded audio are zeroed (faster-whisper does this by writing through
    a view; it only touches the final, padded window).
    """
    padded = np.pad(np.asarray(samples, dtype=np.float32), (0, WINDOW - len(samples) % WINDOW))
    padded[-CONTEXT:] = 0
    windows = padded.reshape(-1, WINDOW)
    session = _session()
    h = np.zeros((1, 1, 128), dtype=np.float32)
    c = np.zeros((1, 1, 128), dtype=np.float32)
    out = []
    # The model's input (context + window) is built one batch at a time: for a 30-minute channel the whole
    # array would be another 1.1x the channel in memory.
    for i in range(0, len(windows), BATCH_WINDOWS):
        block = windows[i : i + BATCH_WINDOWS]
        context = np.empty((len(block), CONTEXT), np.float32)
        context[0] = windows[i - 1, -CONTEXT:] if i else 0
        context[1:] = block[:-1, -CONTEXT:]
        probs, h, c = session.run(None, {"input": np.concatenate([context, block], axis=1), "h": h, "c": c})
        out.append(probs)
    return np.concatenate(out).reshape(-1)


def speech_regions(
    samples: np.ndarray, options: VadOptions | EnergyVadOptions = VadOptions(), sample_rate: int = SAMPLE_RATE
) -> list[tuple[int, int]]:
    """Speech regions of one channel as sorted, non-overlapping (start, end) sample ranges, padded.

    samples: (n,) float32 in [-1, 1] at 16 kHz. An empty list means no speech at all. This is faster-whisper's
    `get_speech_timestamps`, returning tuples instead of dicts (or the energy detector, given EnergyVadOptions).
    """
    if isinstance(options, EnergyVadOptions):
        return energy_speech_regions(samples, options, sample_rate)
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"Silero VAD v6 runs at {SAMPLE_RATE} Hz, got {sample_rate}")
    n = len(samples)
    if n == 0:
        return []
    threshold = options.threshold
    neg_threshold = options.neg_threshold
    if neg_threshold is None:
        neg_threshold = max(threshold - 0.15, 0.01)
    min_speech = sample_rate * options.min_speech_duration_ms / 1000
    pad = sample_rate * options.speech_pad_ms / 1000
    max_speech = sample_rate * options.max_speech_duration_s - WINDOW - 2 * pad
    min_silence = sample_rate * options.min_silence_duration_ms / 1000
    min_silence_at_max_speech = sample_rate * 98 / 1000

    probs = speech_probabilities(samples)

    # Hysteresis over the windows: speech starts at a window >= threshold and ends after min_silence of windows
    # below neg_threshold (windows in between keep the current state). Kept as faster-whisper writes it.
    triggered = False
    speeches: list[list[int]] = []
    current: list[int] | None = None  # [start, end]
    temp_end = 0  # where a silence began, while waiting to see whether it lasts min_silence
    prev_end = next_start = 0  # a split point for regions longer than max_speech
    for i, p in enumerate(probs):
        pos = WINDOW * i
        if p >= threshold and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = pos
        if p >= threshold and not triggered:
            triggered = True
            current = [pos, 0]
            continue
        if triggered and current is not None and pos - current[0] > max_speech:
            if prev_end:
                current[1] = prev_end
                speeches.append(current)
                current = None
                if next_start < prev_end:  # silence since prev_end and no speech yet
                    triggered = False
                else:
                    current = [next_start, 0]
                prev_end = next_start = temp_end = 0
            else:
                current[1] = pos
                speeches.append(current)
                current = None
                prev_end = next_start = temp_end = 0
                triggered = False
                continue
        if p < neg_threshold and triggered:
            if not temp_end:
                temp_end = pos
            if pos - temp_end > min_silence_at_max_speech:  # do not cut max-length regions in tiny pauses
                prev_end = temp_end
            if pos - temp_end < min_silence:
                continue
            assert current is not None
            current[1] = temp_end
            if current[1] - current[0] > min_speech:
                speeches.append(current)
            current = None
            prev_end = next_start = temp_end = 0
            triggered = False
            continue
    if current is not None and n - current[0] > min_speech:
        current[1] = n
        speeches.append(current)

    # Pad every region by speech_pad_ms; where two regions are closer than twice that, split the gap between them.
    for i, speech in enumerate(speeches):
        if i == 0:
            speech[0] = int(max(0, speech[0] - pad))
        if i != len(speeches) - 1:
            gap = speeches[i + 1][0] - speech[1]
            if gap < 2 * pad:
                speech[1] += int(gap // 2)
                speeches[i + 1][0] = int(max(0, speeches[i + 1][0] - gap // 2))
            else:
                speech[1] = int(min(n, speech[1] + pad))
                speeches[i + 1][0] = int(max(0, speeches[i + 1][0] - pad))
        else:
            speech[1] = int(min(n, speech[1] + pad))
    return [(int(s), int(e)) for s, e in speeches]


# --- the energy detector (the pipeline's, see the module docstring) ---------------------------------------

DIGITAL_SILENCE_DB = -100.0  # frames below this are exact or near-exact zeros


@dataclass(frozen=True)
class EnergyVadOptions:
    """Energy per 20 ms frame against the channel's own noise floor; conservative: long silences only, padded."""

    frame_s: float = 0.02  # energy frame (320 samples)
    margin_db: float = 6.0  # speech is this far above the noise floor (10th percentile of audible frames)
    max_margin_db: float = 15.0
    floor_dbfs: float = -65.0  # frames below this are silence whatever the noise floor
    min_silence_s: float = 1.0  # shorter pauses stay in (Whisper reads them as pauses, not as new windows)
    pad_s: float = 0.3  # audio kept before and after every speech region


def frame_energy_db(samples: np.ndarray, frame: int) -> np.ndarray:
    """Mean-square energy in dBFS of consecutive `frame`-sample frames (the tail frame zero-padded)."""
    n = -(-len(samples) // frame)
    padded = np.zeros(n * frame, dtype=np.float32)
    padded[: len(samples)] = samples
    power = np.mean(np.square(padded.reshape(n, frame), dtype=np.float64), axis=1)
    return 10.0 * np.log10(power + 1e-12)


def energy_speech_regions(
    samples: np.ndarray, options: EnergyVadOptions = EnergyVadOptions(), sample_rate: int = SAMPLE_RATE
) -> list[tuple[int, int]]:
    """Speech regions of one channel from frame energy (the detector before Silero, unchanged)."""
    frame = max(1, round(options.frame_s * sample_rate))
    if len(samples) == 0:
        return []
    energy = frame_energy_db(samples, frame)
    # Digital silence (codec DTX, zero padding) would drag the noise-floor estimate far below the line noise.
    audible = energy[energy > DIGITAL_SILENCE_DB]
    if audible.size == 0:
        return []
    noise = float(np.percentile(audible, 10))
    # Between the noise and speech clusters (Otsu), but never closer to the noise floor than margin_db (noise
    # fluctuates) nor further than max_margin_db (quiet speech in a noisy room sits only ~10 dB above it).
    split = min(max(_otsu(audible), noise + options.margin_db), noise + options.max_margin_db)
    threshold = max(split, options.floor_dbfs)
    voiced = np.flatnonzero(energy > threshold)
    if voiced.size == 0:
        return []
    # Runs of voiced frames, joined across pauses shorter than min_silence_s.
    gap_frames = options.min_silence_s / options.frame_s
    breaks = np.flatnonzero(np.diff(voiced) > gap_frames + 1)
    starts = np.concatenate([voiced[:1], voiced[breaks + 1]])
    ends = np.concatenate([voiced[breaks], voiced[-1:]]) + 1
    pad = round(options.pad_s * sample_rate)
    regions: list[tuple[int, int]] = []
    for s, e in zip(starts * frame, ends * frame, strict=True):
        s, e = max(0, int(s) - pad), min(len(samples), int(e) + pad)
        if regions and s <= regions[-1][1]:
            regions[-1] = (regions[-1][0], e)
        else:
            regions.append((s, e))
    return regions


def _otsu(values: np.ndarray, bins: int = 64) -> float:
    """The threshold that best separates `values` into two classes (Otsu's between-class variance)."""
    hist, edges = np.histogram(values, bins=bins)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(edges[1:][int(np.argmax(between))])


class SpeechMap:
    """Maps a time in the concatenated speech-only audio back to the original recording."""

    def __init__(self, regions: list[tuple[int, int]], sample_rate: int = SAMPLE_RATE):
        self.sample_rate = sample_rate
        self.regions = list(regions)
        self.chunk_end_sample: list[int] = []
        self.silence_before_s: list[float] = []
        previous_end = silent = 0
        for start, end in regions:
            silent += start - previous_end
            previous_end = end
            self.chunk_end_sample.append(end - silent)
            self.silence_before_s.append(silent / sample_rate)

    def chunk_index(self, t: float, is_end: bool = False) -> int:
        sample = int(t * self.sample_rate)
        if is_end and sample in self.chunk_end_sample:
            return self.chunk_end_sample.index(sample)
        return min(bisect.bisect(self.chunk_end_sample, sample), len(self.chunk_end_sample) - 1)

    def region_s(self, chunk: int) -> tuple[float, float]:
        """The chunk's speech region on the recording's time line (seconds)."""
        start, end = self.regions[chunk]
        return start / self.sample_rate, end / self.sample_rate

    def original_time(self, t: float, chunk: int | None = None, is_end: bool = False) -> float:
        if chunk is None:
            chunk = self.chunk_index(t, is_end)
        return round(self.silence_before_s[chunk] + t, 2)


def collect_speech(samples: np.ndarray, regions: list[tuple[int, int]]) -> np.ndarray:
    """The regions of `samples` concatenated (float32)."""
    if not regions:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([samples[s:e] for s, e in regions]).astype(np.float32, copy=False)


def pack_chunks(
    samples: np.ndarray, regions: list[tuple[int, int]], max_s: float, sample_rate: int = SAMPLE_RATE
) -> Iterator[tuple[float, float, np.ndarray]]:
    """Speech regions spliced back to back and packed greedily into chunks of at most `max_s` seconds.

    faster-whisper's `collect_chunks(max_duration=...)`: a chunk closes when the next region would overflow it.
    Yields (offset, duration, samples) per chunk, offsets in the speech-only time line (seconds); each chunk's
    samples are built when it is asked for, so a long channel is never copied whole.
    """
    limit = max_s * sample_rate
    # Silero's regions are at most max_s long (max_speech_duration_s); the energy detector's are cut at max_s here.
    regions = [cut for region in regions for cut in _cuts(region, int(limit))]
    total = current = 0
    pieces: list[tuple[int, int]] = []

    def chunk() -> tuple[float, float, np.ndarray]:
        audio = np.concatenate([samples[s:e] for s, e in pieces]).astype(np.float32, copy=False)
        return total / sample_rate, current / sample_rate, audio

    for start, end in regions:
        if current + end - start > limit and pieces:
            yield chunk()
            total += current
            pieces, current = [], 0
        pieces.append((start, end))
        current += end - start
    if pieces:
        yield chunk()


def _cuts(region: tuple[int, int], limit: int) -> list[tuple[int, int]]:
    start, end = region
    return [(s, min(s + limit, end)) for s in range(start, end, limit)]
