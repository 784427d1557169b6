import hashlib
from pathlib import Path

import numpy as np
import pytest

from asr_assets.defs.raw_audio import CheckedCall, LandedFile, Quarantined, RawAudioConfig, check_file


def _check(data: bytes | None, name: str = "call.wav", config: RawAudioConfig | None = None):
    checksum = hashlib.sha256(data or b"").hexdigest()
    landed = LandedFile(checksum, name, f"file:///landing/{name}", len(data or b""))
    return check_file(landed, data, config or RawAudioConfig())


def test_a_real_call_is_accepted_with_its_properties(sample_calls):
    data = sample_calls[0].read_bytes()
    call, kept = _check(data, sample_calls[0].name)
    assert isinstance(call, CheckedCall) and kept == data
    assert call.call_id == call.checksum == hashlib.sha256(data).hexdigest()
    assert call.sample_rate == 8000 and call.channels == 2 and call.duration_s > 5
    assert call.artifact == f"{call.checksum}.wav" and len(call.peak_dbfs) == 2


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda tone: b"", "empty", "0 bytes"),
        (lambda tone: np.random.default_rng(0).bytes(20_000), "undecodable", "not a readable audio file"),
        (lambda tone: tone(4.0)[: len(tone(4.0)) // 2], "undecodable", "truncated"),
        (lambda tone: tone(0.0), "undecodable", "no audio frames"),
        (lambda tone: tone(2.0, amplitude=0.0), "silent", "silent"),
        (lambda tone: b"\x00\x00\x00\x20ftypM4A " + bytes(64), "unsupported_format", "MP4"),
    ],
    ids=["empty", "random-bytes", "truncated-wav", "zero-seconds", "silent", "m4a"],
)
def test_bad_files_are_quarantined_with_a_reason(make, code, words, write_tone, tmp_path):
    def tone(seconds: float, amplitude: float = 0.3) -> bytes:
        return write_tone(tmp_path / "t.wav", seconds, amplitude=amplitude).read_bytes()

    outcome, kept = _check(make(tone), 'it\'s a "bad" file.wav')
    assert isinstance(outcome, Quarantined) and kept is None
    assert outcome.reason_code == code
    assert words in outcome.reason and 'it\'s a "bad" file.wav' in outcome.reason


def test_too_long_is_quarantined_from_the_header(write_tone, tmp_path):
    data = write_tone(tmp_path / "long.wav", 3.0).read_bytes()
    outcome, _ = _check(data, "long.wav", RawAudioConfig(max_duration_s=2.0))
    assert isinstance(outcome, Quarantined) and outcome.reason_code == "too_long"


def test_missing_or_changed_files_are_quarantined(sample_calls):
    landed = LandedFile("0" * 64, "gone.wav", "file:///landing/gone.wav", 10)
    assert check_file(landed, None, RawAudioConfig())[0].reason_code == "missing"
    assert (
        check_file(landed, Path(sample_calls[0]).read_bytes(), RawAudioConfig())[0].reason_code == "changed"
    )
