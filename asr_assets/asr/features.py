"""Whisper's log-mel front end in NumPy.

Equal to faster-whisper's `FeatureExtractor(feature_size=n_mels)(audio)` (faster_whisper/feature_extractor.py),
which follows openai/whisper audio.py: periodic Hann window of 400, hop 160, centred with reflect padding, last
frame dropped, power spectrum, Slaney mel filterbank (80 or 128 bins, computed from the mel formula, as librosa
does), log10 clamped to (max - 8), scaled as (x + 4) / 4. The clamp uses the maximum over the whole input, so
compute features once per recording (per channel), then cut 30 s windows. Pure functions: no state changes
between calls (unlike FeatureExtractor's chunk_length argument).
"""

import functools

import numpy as np

from asr_assets.asr.constants import (  # noqa: F401 - re-exported: the front end's numbers live with it
    CHUNK_LENGTH,
    FRAMES_PER_SECOND,
    HOP_LENGTH,
    N_FFT,
    N_FRAMES,
    N_MELS,
    N_SAMPLES,
    N_SAMPLES_PER_TOKEN,
    SAMPLE_RATE,
    TIME_PRECISION,
    TOKENS_PER_SECOND,
)

N_FREQS = N_FFT // 2 + 1  # 201 rfft bins
PAD_SAMPLES = 160  # FeatureExtractor.__call__'s default zero padding: N samples give N // 160 + 1 frames
LOG_FLOOR = 1e-10  # log10 floor of the mel power
DYNAMIC_RANGE = 8.0  # log10 units kept below the maximum (80 dB)
MEL_MAX = 45.245640471924965  # Slaney mel of SAMPLE_RATE / 2 = 8 kHz


@functools.cache
def mel_filters(n_mels: int = N_MELS, sr: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 Slaney-scale, Slaney-normalised triangular filters (read-only).

    Same computation as faster-whisper's FeatureExtractor.get_mel_filters (itself librosa.filters.mel with
    htk=False, norm="slaney"): float64 maths, cast to float32 at the end.
    """
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mels = np.linspace(0.0, MEL_MAX, n_mels + 2)
    # Linear below 1 kHz (200/3 Hz per mel), logarithmic above (ln(6.4)/27 per mel).
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    freqs[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))

    fdiff = np.diff(freqs)
    ramps = freqs.reshape(-1, 1) - fftfreqs.reshape(1, -1)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (freqs[2 : n_mels + 2] - freqs[:n_mels]))[:, None]  # constant energy per channel
    filters = weights.astype(np.float32)
    filters.setflags(write=False)
    return filters


@functools.cache
def _hann_window() -> np.ndarray:
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann, as torch.hann_window
    window.setflags(write=False)
    return window


def log_mel_spectrogram(audio: np.ndarray, n_mels: int = N_MELS, padding: int = PAD_SAMPLES) -> np.ndarray:
    """Log-mel features of 16 kHz audio, equal to faster-whisper's FeatureExtractor(feature_size=n_mels)(audio).

    audio: (n,) float32, or (batch, n) of independent signals (each row gets its own max - 8 clamp).
    Returns (n_mels, (n + padding) // 160) float32 (n // 160 + 1 frames with the default padding), or
    (batch, n_mels, frames) for 2-D input.
    """
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        return np.stack([log_mel_spectrogram(row, n_mels, padding) for row in x])
    if padding:
        x = np.pad(x, (0, padding))
    x = np.pad(x, N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(x) - N_FFT) // HOP_LENGTH - 1  # the last frame is dropped, as whisper does
    filters = mel_filters(n_mels)
    window = _hann_window()
    mel = np.empty((n_mels, n_frames), dtype=np.float32)
    # Blocks of frames bound the memory of the framed copy and the spectrum on long recordings.
    block = 8192
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP_LENGTH]
    for start in range(0, n_frames, block):
        stop = min(start + block, n_frames)
        spectrum = np.fft.rfft(frames[start:stop] * window, axis=-1).astype(np.complex64)
        mel[:, start:stop] = filters @ (np.abs(spectrum) ** 2).T
    log_spec = np.log10(np.maximum(mel, LOG_FLOOR, out=mel), out=mel)
    return _clamp_and_scale(log_spec)


def _clamp_and_scale(log_spec: np.ndarray) -> np.ndarray:
    """max(x, max(x) - 8), then (x + 4) / 4, in place (the same float32 operations as whisper)."""
    np.maximum(log_spec, log_spec.max() - DYNAMIC_RANGE, out=log_spec)
    log_spec += 4.0
    log_spec /= 4.0
    return log_spec


def pad_or_trim(mel: np.ndarray, length: int = N_FRAMES) -> np.ndarray:
    """Pad (with 0.0, as faster-whisper, not silence-level log-mel) or trim the last axis to `length` frames."""
    n = mel.shape[-1]
    if n > length:
        mel = mel[..., :length]
    if n < length:
        pad = [(0, 0)] * (mel.ndim - 1) + [(0, length - n)]
        return np.pad(mel, pad)
    return np.ascontiguousarray(mel)  # a trimmed view is copied, as faster-whisper's take(): C APIs need it
