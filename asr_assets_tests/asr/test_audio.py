import math
import os

import numpy as np
import pytest
import soundfile as sf

from asr_assets.asr.audio import (
    SAMPLE_RATE,
    Audio,
    is_silent,
    load_audio,
    load_audio_bytes,
    peak_dbfs,
    resample,
)
from asr_assets.asr.errors import AsrError, AudioDecodeError, UnsupportedAudioError


def _two_tones(sr: int, seconds: float = 2.0, freqs: tuple[float, ...] = (440.0, 1000.0)) -> np.ndarray:
    """(n, channels) float64: a different tone on each channel, so a mixed-up channel is visible."""
    t = np.arange(int(sr * seconds)) / sr
    return np.stack([0.5 * np.sin(2 * np.pi * f * t) for f in freqs], axis=1)


def _dominant_hz(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * sr / len(x))


def _write(path, data, sr, fmt, subtype):
    sf.write(path, data, sr, format=fmt, subtype=subtype)
    return path


@pytest.mark.parametrize(
    ("fmt", "subtype", "sr", "ext"),
    [
        ("WAV", "ULAW", 8000, "wav"),  # telephony
        ("WAV", "ALAW", 8000, "wav"),
        ("WAV", "PCM_16", 16000, "wav"),  # no resampling
        ("WAV", "PCM_24", 48000, "wav"),
        ("FLAC", "PCM_16", 44100, "flac"),
        ("OGG", "VORBIS", 22050, "ogg"),
        ("OGG", "OPUS", 48000, "opus"),
        ("MP3", "MPEG_LAYER_III", 24000, "mp3"),
        ("AIFF", "PCM_16", 11025, "aiff"),
    ],
)
def test_decodes_every_format_keeping_channels_apart(tmp_path, fmt, subtype, sr, ext):
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile in this soundfile wheel cannot write {fmt}")
    path = _write(tmp_path / f"call.{ext}", _two_tones(sr), sr, fmt, subtype)

    audio = load_audio(path)

    assert (audio.source_sample_rate, audio.source_channels) == (sr, 2)
    assert audio.source_format == f"{fmt}/{subtype}"
    assert audio.path == str(path)
    assert audio.channels.dtype == np.float32 and audio.channels.flags.c_contiguous
    assert audio.channels.shape[0] == 2
    # Lossy codecs add priming/padding samples; the duration still matches to a few ms.
    assert abs(audio.duration_s - 2.0) < 0.06
    assert np.abs(audio.channels).max() <= 1.0
    assert _dominant_hz(audio.channels[0]) == pytest.approx(440.0, abs=2.0)
    assert _dominant_hz(audio.channels[1]) == pytest.approx(1000.0, abs=2.0)


def test_resampled_8k_tone_matches_the_tone_at_16k(tmp_path):
    path = _write(tmp_path / "tone.wav", _two_tones(8000, freqs=(300.0,)), 8000, "WAV", "FLOAT")
    audio = load_audio(path)
    expected = 0.5 * np.sin(2 * np.pi * 300.0 * np.arange(audio.channels.shape[1]) / SAMPLE_RATE)
    # soxr is linear phase with its delay compensated; skip the filter's edge transients.
    inner = slice(800, -800)
    np.testing.assert_allclose(audio.channels[0, inner], expected[inner], atol=1e-3)
    assert audio.channels.shape == (1, 32000)


def test_resample_helper_is_identity_at_16k_and_exact_length():
    x = np.random.default_rng(0).standard_normal(44100).astype(np.float32)
    assert resample(x, 44100).shape == (16000,)
    assert resample(x, 16000) is not None and np.array_equal(resample(x, 16000), x)
    assert resample(x[:, None].repeat(2, 1), 44100).shape == (16000, 2)


def test_float_wav_over_full_scale_is_clipped(tmp_path):
    path = _write(tmp_path / "loud.wav", 2.0 * _two_tones(16000), 16000, "WAV", "FLOAT")
    assert np.abs(load_audio(path).channels).max() == pytest.approx(1.0)


def test_load_audio_bytes_equals_load_audio(tmp_path):
    path = _write(tmp_path / "c.flac", _two_tones(8000), 8000, "FLAC", "PCM_16")
    from_file = load_audio(path)
    from_bytes = load_audio_bytes(path.read_bytes(), "s3://bucket/c.flac")
    np.testing.assert_array_equal(from_file.channels, from_bytes.channels)
    assert from_bytes.path is None and from_bytes.source_format == "FLAC/PCM_16"


def test_name_with_spaces_and_quotes(tmp_path):
    path = _write(tmp_path / """it's a "call" (1).wav""", _two_tones(8000), 8000, "WAV", "ULAW")
    assert load_audio(path).source_channels == 2
    path.write_bytes(b"")
    with pytest.raises(AudioDecodeError, match=r"it's a \"call\" \(1\)\.wav"):
        load_audio(path)


def _expect(error, path, *words, **kw):
    with pytest.raises(error) as info:
        load_audio(path, **kw)
    message = str(info.value)
    assert str(path) in message, message
    for word in words:
        assert word in message, message
    assert isinstance(info.value, AsrError)
    return message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _expect(AudioDecodeError, path, "empty")


def test_random_bytes_named_wav(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(1).bytes(5000))
    _expect(AudioDecodeError, path, "not a readable audio file")


def test_zero_frame_wav(tmp_path):
    path = tmp_path / "zero.wav"
    _write(path, np.zeros((0, 2)), 8000, "WAV", "PCM_16")
    _expect(AudioDecodeError, path, "no audio frames")


@pytest.mark.parametrize(
    ("fmt", "subtype", "ext"), [("WAV", "PCM_16", "wav"), ("WAV", "ULAW", "wav"), ("AIFF", "PCM_16", "aiff")]
)
def test_truncated_pcm_file(tmp_path, fmt, subtype, ext):
    full = _write(tmp_path / f"full.{ext}", _two_tones(8000), 8000, fmt, subtype).read_bytes()
    path = tmp_path / f"cut.{ext}"
    path.write_bytes(full[: len(full) * 2 // 3])  # as if a copy stopped part-way
    _expect(AudioDecodeError, path, "truncated")


@pytest.mark.parametrize(
    ("fmt", "subtype", "ext"), [("FLAC", "PCM_16", "flac"), ("MP3", "MPEG_LAYER_III", "mp3")]
)
def test_truncated_compressed_file(tmp_path, fmt, subtype, ext):
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile in this soundfile wheel cannot write {fmt}")
    full = _write(tmp_path / f"full.{ext}", _two_tones(16000, seconds=5.0), 16000, fmt, subtype).read_bytes()
    path = tmp_path / f"cut.{ext}"
    path.write_bytes(full[: len(full) // 2])
    _expect(AudioDecodeError, path, "truncated")


def test_truncated_vorbis_is_an_error(tmp_path):
    full = _write(tmp_path / "full.ogg", _two_tones(16000), 16000, "OGG", "VORBIS").read_bytes()
    path = tmp_path / "cut.ogg"
    path.write_bytes(full[: len(full) // 2])
    _expect(AudioDecodeError, path)


def test_mp4_container_is_unsupported_whatever_its_name(tmp_path):
    path = tmp_path / "call.wav"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A isomiso2" + bytes(200))
    _expect(UnsupportedAudioError, path, "MP4", "ffmpeg")


def test_adts_aac_is_unsupported(tmp_path):
    path = tmp_path / "call.bin"
    path.write_bytes(b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(300))
    _expect(UnsupportedAudioError, path, "AAC")


def test_unknown_bytes_with_aac_extension_are_unsupported(tmp_path):
    path = tmp_path / "call.m4a"
    path.write_bytes(np.random.default_rng(2).bytes(1000))
    _expect(UnsupportedAudioError, path, ".m4a", "FLAC")


def test_max_duration_is_checked_before_decoding(tmp_path, monkeypatch):
    path = _write(tmp_path / "long.flac", _two_tones(8000, seconds=3.0), 8000, "FLAC", "PCM_16")
    monkeypatch.setattr(sf.SoundFile, "read", lambda *a, **k: pytest.fail("decoded a too-long file"))
    _expect(AudioDecodeError, path, "too long", "3.0 s", max_duration_s=2.5)


def test_missing_file_is_not_an_audio_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_audio(tmp_path / "nope.wav")


def test_peak_dbfs_and_silence():
    channels = np.zeros((3, 16000), dtype=np.float32)
    channels[1, 5] = 0.5
    channels[2] = 1e-4
    levels = peak_dbfs(channels)
    assert levels[0] == -math.inf
    assert levels[1] == pytest.approx(-6.02, abs=0.01)
    assert levels[2] == pytest.approx(-80.0, abs=0.01)
    assert not is_silent(channels)
    assert is_silent(channels[[0, 2]])
    assert is_silent(Audio(channels[[0]], 16000, 1, "WAV/PCM_16"))
    assert is_silent(channels[2], threshold_dbfs=-79.0) and not is_silent(channels[2], threshold_dbfs=-81.0)


def test_paths_are_accepted_as_str_and_pathlike(tmp_path):
    path = _write(tmp_path / "p.wav", _two_tones(16000, freqs=(500.0,)), 16000, "WAV", "PCM_16")
    assert load_audio(os.fspath(path)).channels.shape == load_audio(path).channels.shape == (1, 32000)


def test_archives_are_unsupported_with_a_hint(tmp_path):
    import gzip

    path = tmp_path / "call.wav.gz"
    path.write_bytes(gzip.compress(b"RIFF" + bytes(100)))
    _expect(UnsupportedAudioError, path, "gzip", "extract")


def test_output_grows_past_the_preallocation_cap(tmp_path, monkeypatch):
    from asr_assets.asr import audio as audio_module

    path = _write(tmp_path / "long.flac", _two_tones(8000, seconds=7.0), 8000, "FLAC", "PCM_16")
    expected = load_audio(path).channels
    monkeypatch.setattr(audio_module, "PREALLOCATE_MAX_SAMPLES", 1000)  # as if the header claimed too little
    got = load_audio(path).channels
    np.testing.assert_array_equal(got, expected)
    assert got.flags.c_contiguous
