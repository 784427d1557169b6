"""Audio decoding: any format libsndfile reads, every sample rate, channels kept apart, resampled to 16 kHz.

faster-whisper decodes with PyAV and downmixes to mono; call recordings put one speaker per channel, so we keep
channels separate and let the caller transcribe each. libsndfile (via soundfile) reads WAV (PCM, µ-law, A-law,
float, ADPCM), FLAC, MP3, Ogg Vorbis/Opus, AIFF, CAF, W64, RF64 and more; soxr resamples at its "HQ" quality.

Bad files raise `AudioDecodeError` (empty, corrupt, truncated, too long) or `UnsupportedAudioError` (AAC/MP4 and
other containers libsndfile cannot open), always naming the file.
"""

import io
import logging
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from asr_assets.asr.constants import SAMPLE_RATE
from asr_assets.asr.errors import AudioDecodeError, UnsupportedAudioError

logger = logging.getLogger(__name__)

RESAMPLE_QUALITY = "HQ"  # soxr's default; VHQ costs ~1.5x for no audible or WER difference
READ_BLOCK_FRAMES = 1 << 18  # frames per read: bounds peak memory on long 48 kHz calls
# libsndfile's MP3 length comes from the Xing header or a scan and may differ from what decodes by a frame or two
# of MPEG audio (1152 samples each); a larger shortfall means the file is cut short.
SHORTFALL_TOLERANCE_FRAMES = 2 * 1152
# A corrupt header can claim any length: preallocate at most 2 h per channel and grow past that if it is real.
PREALLOCATE_MAX_SAMPLES = 2 * 3600 * SAMPLE_RATE
SUPPORTED_FORMATS = (
    "WAV (PCM, µ-law, A-law, float), FLAC, MP3, Ogg Vorbis, Ogg Opus, AIFF, CAF, W64, RF64, AU"
)
_CONVERT_HINT = "convert it first, e.g. `ffmpeg -i IN -c:a flac OUT.flac` (keeps the channels)"

# Containers libsndfile cannot read, by magic bytes: (offset, bytes, description).
_UNSUPPORTED_MAGIC = (
    (4, b"ftyp", "an MP4/M4A/3GP container (AAC or ALAC)"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "an ASF/WMA container"),
    (0, b"\x1a\x45\xdf\xa3", "a Matroska/WebM container"),
    (0, b"#!AMR", "AMR audio"),
    (0, b".ra\xfd", "RealAudio"),
    (0, b"MAC ", "Monkey's Audio"),
    (0, b"wvpk", "WavPack"),
    (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"PK\x03\x04", "a zip archive"),
)
_ARCHIVES = ("a gzip archive", "a zip archive")
_UNSUPPORTED_EXTENSIONS = {
    ".aac", ".m4a", ".m4b", ".mp4", ".3gp", ".mov", ".wma", ".asf", ".webm", ".mka", ".mkv", ".amr", ".ra",
    ".ape", ".wv",
}  # fmt: skip


class NonFiniteAudioError(AudioDecodeError):
    """The file decodes but holds NaN or infinite samples (float WAV/AIFF written by a broken exporter)."""


@dataclass(frozen=True)
class Audio:
    """A decoded recording.

    channels: (n_channels, n_samples) float32 in [-1, 1] at SAMPLE_RATE, one row per source channel.
    """

    channels: np.ndarray
    source_sample_rate: int
    source_channels: int
    source_format: str  # libsndfile's "FORMAT/SUBTYPE", e.g. "WAV/ULAW", "FLAC/PCM_16", "MP3/MPEG_LAYER_III"
    path: str | None = None

    @property
    def duration_s(self) -> float:
        """Duration in seconds (resampling keeps the duration to within one output sample)."""
        return self.channels.shape[1] / SAMPLE_RATE


def load_audio(path: str | os.PathLike, *, max_duration_s: float | None = None) -> Audio:
    """Decode an audio file to per-channel float32 at 16 kHz.

    Raises AudioDecodeError (empty, corrupt, truncated, longer than max_duration_s) or UnsupportedAudioError;
    a missing file raises FileNotFoundError.
    """
    name = os.fspath(path)
    with open(name, "rb") as fh:
        return _decode(fh, name, max_duration_s=max_duration_s, path=name)


def load_audio_bytes(data: bytes, name: str, *, max_duration_s: float | None = None) -> Audio:
    """Same as load_audio, from the bytes of a file (object stores); `name` is used in messages and format hints."""
    return _decode(io.BytesIO(data), name, max_duration_s=max_duration_s, path=None)


def resample(x: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample float32 audio along its first axis ((n,) or (n, channels)) with soxr."""
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    return soxr.resample(np.asarray(x, dtype=np.float32), sr_in, sr_out, quality=RESAMPLE_QUALITY)


def peak_dbfs(channels: np.ndarray) -> list[float]:
    """Peak level of each channel in dBFS (0.0 = full scale, -inf = digital silence); channels: (n_ch, n)."""
    peaks = np.max(np.abs(channels), axis=-1) if channels.shape[-1] else np.zeros(channels.shape[:-1])
    with np.errstate(divide="ignore"):
        return [float(v) for v in np.atleast_1d(20.0 * np.log10(peaks))]


def is_silent(audio: Audio | np.ndarray, threshold_dbfs: float = -60.0) -> bool:
    """True when every channel peaks below threshold_dbfs (-60 dBFS ≈ 0.001 of full scale)."""
    channels = audio.channels if isinstance(audio, Audio) else np.atleast_2d(audio)
    return all(level < threshold_dbfs for level in peak_dbfs(channels))


def _decode(fh: BinaryIO, name: str, *, max_duration_s: float | None, path: str | None) -> Audio:
    size = fh.seek(0, os.SEEK_END)
    if size == 0:
        raise AudioDecodeError(f"{name}: empty file (0 bytes); re-export or re-upload the recording")
    fh.seek(0)
    head = fh.read(64)
    fh.seek(0)
    _reject_unsupported_magic(head, name)
    declared_shortfall = _chunk_shortfall_bytes(fh, size)
    fh.seek(0)
    try:
        snd = sf.SoundFile(fh)
    except sf.LibsndfileError as e:
        ext = os.path.splitext(name)[1].lower()
        if ext in _UNSUPPORTED_EXTENSIONS:
            raise UnsupportedAudioError(
                f"{name}: '{ext}' files are not readable by libsndfile; {_CONVERT_HINT}. "
                f"Supported: {SUPPORTED_FORMATS}"
            ) from e
        raise AudioDecodeError(
            f"{name}: not a readable audio file ({e.error_string}); check that the file is complete "
            f"and is one of: {SUPPORTED_FORMATS}"
        ) from e
    with snd:
        sr, n_ch, frames = snd.samplerate, snd.channels, snd.frames
        fmt = f"{snd.format}/{snd.subtype}"
        if declared_shortfall > 0:
            raise AudioDecodeError(
                f"{name}: truncated {fmt} file: the header promises {declared_shortfall} more bytes of audio "
                "than the file holds; re-copy it from the source"
            )
        if frames <= 0 or sr <= 0:
            raise AudioDecodeError(f"{name}: {fmt} file holds no audio frames (empty or truncated recording)")
        if max_duration_s is not None and frames / sr > max_duration_s:
            raise AudioDecodeError(
                f"{name}: too long ({frames / sr:.1f} s > max_duration_s={max_duration_s:g} s); "
                "split the recording or raise the limit"
            )
        channels, n_read = _read_resampled(snd, name, fmt)
    if frames - n_read > SHORTFALL_TOLERANCE_FRAMES:
        raise AudioDecodeError(
            f"{name}: truncated {fmt} file: decoded {n_read} of {frames} frames; re-copy it from the source"
        )
    if n_read == 0:
        raise AudioDecodeError(f"{name}: {fmt} file holds no audio frames (empty or truncated recording)")
    np.clip(channels, -1.0, 1.0, out=channels)  # float files may exceed full scale; soxr may overshoot
    logger.debug("decoded %s: %s, %d Hz, %d ch, %.2f s", name, fmt, sr, n_ch, n_read / sr)
    return Audio(channels, source_sample_rate=sr, source_channels=n_ch, source_format=fmt, path=path)


def _read_resampled(snd: sf.SoundFile, name: str, fmt: str) -> tuple[np.ndarray, int]:
    """Read all frames block by block, resampling as a stream; returns ((n_ch, n) float32, frames read).

    The output is written into one preallocated array (soxr returns round-half-up(frames * 16000 / sr) samples),
    so a 30-minute stereo call peaks at its decoded size plus a block, not 3x it.
    """
    sr, n_ch = snd.samplerate, snd.channels
    stream = (
        None if sr == SAMPLE_RATE else soxr.ResampleStream(sr, SAMPLE_RATE, n_ch, "float32", RESAMPLE_QUALITY)
    )
    expected = (2 * snd.frames * SAMPLE_RATE + sr) // (2 * sr)
    out = np.empty((n_ch, min(expected, PREALLOCATE_MAX_SAMPLES)), dtype=np.float32)
    n_read = n_out = 0
    while True:
        try:
            block = snd.read(READ_BLOCK_FRAMES, dtype="float32", always_2d=True)
        except sf.LibsndfileError as e:
            raise AudioDecodeError(
                f"{name}: {fmt} stream is corrupt or truncated after {n_read} frames ({e.error_string}); "
                "re-copy it from the source"
            ) from e
        n_read += len(block)
        last = len(block) < READ_BLOCK_FRAMES
        _reject_non_finite(block, name, fmt, "in the file")
        piece = block if stream is None else stream.resample_chunk(block, last=last)
        _reject_non_finite(piece, name, fmt, "after resampling")
        if n_out + len(piece) > out.shape[1]:  # more frames than the header said: grow
            out = np.concatenate(
                [out, np.empty((n_ch, max(len(piece), READ_BLOCK_FRAMES)), np.float32)], axis=1
            )
        out[:, n_out : n_out + len(piece)] = piece.T
        n_out += len(piece)
        if last:
            break
    return (out if n_out == out.shape[1] else np.ascontiguousarray(out[:, :n_out])), n_read


def _reject_non_finite(samples: np.ndarray, name: str, fmt: str, where: str) -> None:
    """NaN/Inf samples (float files) would pass as silence (NaN compares False) and reach the model: refuse them."""
    if not np.isfinite(samples).all():
        raise NonFiniteAudioError(
            f"{name}: {fmt} file holds NaN or infinite samples ({where}); re-export it from the recorder"
        )


def _reject_unsupported_magic(head: bytes, name: str) -> None:
    for offset, magic, what in _UNSUPPORTED_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            hint = "extract the audio file from it first" if what in _ARCHIVES else _CONVERT_HINT
            raise UnsupportedAudioError(f"{name}: {what}, which libsndfile cannot read; {hint}")
    # ADTS AAC: 12-bit frame sync and layer bits 00 (reserved in MPEG audio, so no MP3 matches).
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        raise UnsupportedAudioError(f"{name}: raw AAC (ADTS), which libsndfile cannot read; {_CONVERT_HINT}")


def _chunk_shortfall_bytes(fh: BinaryIO, size: int) -> int:
    """Bytes the WAV 'data' / AIFF 'SSND' chunk header promises beyond the end of the file (0 if complete).

    libsndfile clamps a too-long data chunk to the file size with only a log message, so a recording cut off
    mid-copy would decode "fine" but short. Sizes 0 and 0xFFFFFFFF mean "unknown" (streaming writers) and RF64/W64
    keep sizes elsewhere: those are not checked.
    """
    head = fh.read(12)
    if len(head) < 12:
        return 0
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        endian, target = "<", b"data"
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        endian, target = ">", b"SSND"
    else:
        return 0
    pos = 12
    while pos + 8 <= size:
        fh.seek(pos)
        chunk_id, chunk_size = struct.unpack(endian + "4sI", fh.read(8))
        if chunk_id == target:
            if chunk_size in (0, 0xFFFFFFFF):
                return 0
            return max(0, chunk_size - (size - pos - 8))
        pos += 8 + chunk_size + (chunk_size & 1)  # chunks are padded to an even size
    return 0
