"""Speech regions per channel from frame energy, and the map from speech-only time back to the recording.

Why: in a two-channel call each side is silent while the other talks, so about half of every channel is
silence; cutting long silences before the encoder means fewer 30 s windows. The detector is deliberately
conservative (dropped speech costs more than a slower run): a frame is speech when its energy is a margin above
the channel's own noise floor, only silences longer than `min_silence_s` are cut, and `pad_s` of audio is kept
on both sides of every region. Silero (faster-whisper's VAD) would need onnxruntime at run time, which the
product does not ship.

The cut-and-concatenate scheme and `SpeechMap` follow faster-whisper's `collect_chunks` and
`SpeechTimestampsMap` (vad.py), so times map back as its `restore_speech_timestamps` does.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
DIGITAL_SILENCE_DB = -100.0  # frames below this are exact or near-exact zeros


@dataclass(frozen=True)
class VadOptions:
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


def speech_regions(
    samples: np.ndarray, options: VadOptions = VadOptions(), sample_rate: int = SAMPLE_RATE
) -> list[tuple[int, int]]:
    """Speech regions of one channel as sorted, non-overlapping (start, end) sample ranges.

    samples: (n,) float32 in [-1, 1]. An empty list means no speech at all.
    """
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

    def original_time(self, t: float, chunk: int | None = None, is_end: bool = False) -> float:
        if chunk is None:
            chunk = self.chunk_index(t, is_end)
        return round(self.silence_before_s[chunk] + t, 2)


def collect_speech(samples: np.ndarray, regions: list[tuple[int, int]]) -> np.ndarray:
    """The regions of `samples` concatenated (float32)."""
    if not regions:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([samples[s:e] for s, e in regions]).astype(np.float32, copy=False)
