import numpy as np
import pytest
from faster_whisper.audio import pad_or_trim as fw_pad_or_trim
from faster_whisper.feature_extractor import FeatureExtractor

from asr_assets.asr import features
from asr_assets.asr.audio import load_audio
from asr_assets.asr.features import (
    N_FRAMES,
    N_SAMPLES,
    log_mel_spectrogram,
    mel_filters,
    pad_or_trim,
)


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """A chirp with amplitude modulation, noise, and a stretch of digital silence (exercises the max-8 clamp)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    x = 0.3 * np.sin(2 * np.pi * (100 + 300 * t) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x += 0.01 * rng.standard_normal(len(t))
    x[len(x) // 3 : len(x) // 2] = 0.0
    return x.astype(np.float32)


def test_constants_are_whispers():
    assert (N_SAMPLES, N_FRAMES, features.FRAMES_PER_SECOND, features.TOKENS_PER_SECOND) == (
        480000,
        3000,
        100,
        50,
    )
    assert features.TIME_PRECISION == 0.02 and features.N_SAMPLES_PER_TOKEN == 320


@pytest.mark.parametrize("n_mels", [80, 128])
def test_mel_filters_equal_faster_whisper(n_mels):
    expected = FeatureExtractor.get_mel_filters(16000, 400, n_mels=n_mels).astype(np.float32)
    np.testing.assert_array_equal(mel_filters(n_mels), expected)
    assert not mel_filters(n_mels).flags.writeable


@pytest.mark.parametrize("n", [16000 * 7 + 123, N_SAMPLES, 50])
def test_numpy_log_mel_equals_faster_whisper(n):
    x = _speechlike(n / 16000)
    expected = FeatureExtractor()(x)
    got = log_mel_spectrogram(x)
    assert got.shape == expected.shape == (80, n // 160 + 1)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_numpy_log_mel_equals_faster_whisper_on_jfk(jfk_path):
    audio = load_audio(jfk_path).channels[0]  # same waveform into both: only the features are compared
    expected = FeatureExtractor()(audio)
    got = log_mel_spectrogram(audio)
    assert got.shape == (80, 1101)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_jfk_log_mel_statistics(jfk_path):
    got = log_mel_spectrogram(load_audio(jfk_path).channels[0])
    # faster-whisper's features on this clip from PyAV-decoded input; ours is libsndfile + soxr, so 2 decimals.
    assert got.min() == pytest.approx(-0.5387, abs=0.01) and got.max() == pytest.approx(1.4613, abs=0.01)
    assert got.mean() == pytest.approx(0.1252, abs=0.01)


def test_128_mel_features_equal_faster_whisper():
    """large-v3's front end: 128 bins from the same mel formula (openai/whisper's mel_128 filters)."""
    x = _speechlike(4.0, seed=3)
    got = log_mel_spectrogram(x, n_mels=128)
    expected = FeatureExtractor(feature_size=128)(x)
    assert got.shape == expected.shape == (128, 401)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_two_dimensional_input_clamps_each_row_on_its_own():
    loud, quiet = _speechlike(3.0, 1), 1e-3 * _speechlike(3.0, 2)
    both = np.stack([loud, quiet])
    out = log_mel_spectrogram(both)
    assert out.shape == (2, 80, 301)
    np.testing.assert_allclose(out[1], log_mel_spectrogram(quiet), atol=1e-4)


def test_log_mel_is_pure():
    a, b = _speechlike(2.0, 3), _speechlike(5.0, 4)
    first = log_mel_spectrogram(a)
    log_mel_spectrogram(b, padding=0)
    np.testing.assert_array_equal(log_mel_spectrogram(a), first)


def test_pad_or_trim_pads_with_zero_like_faster_whisper():
    mel = log_mel_spectrogram(_speechlike(4.0))
    padded = pad_or_trim(mel)
    assert padded.shape == (80, 3000)
    np.testing.assert_array_equal(padded, fw_pad_or_trim(mel))
    assert np.all(padded[:, mel.shape[1] :] == 0.0)
    long = np.ones((80, 3500), dtype=np.float32)
    np.testing.assert_array_equal(pad_or_trim(long), long[:, :3000])
    assert pad_or_trim(long[:, :3000]).shape == (80, 3000)
    assert pad_or_trim(np.ones((80, 3500), np.float32)[:, 100:]).flags.c_contiguous
    assert pad_or_trim(np.ones((80, 3500), np.float32)[:, 500:]).flags.c_contiguous
    assert pad_or_trim(np.ones((2, 80, 10)), 20).shape == (2, 80, 20)
