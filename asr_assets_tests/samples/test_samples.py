"""The bundled sample calls decode as call recorders write them, and their ground truth fits the audio."""

import json

import numpy as np
import pytest
import soundfile as sf

from asr_assets.samples import CALLS_DIR, GROUND_TRUTH_PATH

GROUND_TRUTH = json.loads(GROUND_TRUTH_PATH.read_text(encoding="utf-8"))
CALLS = GROUND_TRUTH["calls"]
FRAME = 80  # 10 ms at 8 kHz


def test_folder_is_small_and_licensed():
    total = sum(p.stat().st_size for p in CALLS_DIR.iterdir())
    assert total < 2_000_000
    copyright_text = (CALLS_DIR / "COPYRIGHT").read_text(encoding="utf-8")
    assert "Allison Smith" in copyright_text and "CC-BY-SA-3.0" in copyright_text
    assert sorted(p.name for p in CALLS_DIR.glob("*.wav")) == sorted(c["file_name"] for c in CALLS)


def test_formats_cover_what_recorders_write():
    formats = {(c["format"], c["channels"]) for c in CALLS}
    assert ("WAV/ULAW", 2) in formats
    assert any(fmt == "WAV/PCM_16" for fmt, _ in formats)
    assert any(channels == 1 for _, channels in formats)


@pytest.mark.parametrize("call", CALLS, ids=[c["file_name"] for c in CALLS])
def test_call_decodes_at_8khz_with_its_channels(call):
    path = CALLS_DIR / call["file_name"]
    info = sf.info(path)
    assert info.samplerate == 8000
    assert info.channels == call["channels"]
    assert f"{info.format}/{info.subtype}" == call["format"]
    assert 25.0 <= info.duration <= 60.0
    assert info.duration == pytest.approx(call["duration_s"], abs=1e-3)
    audio, _ = sf.read(path, dtype="float32", always_2d=True)
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0


@pytest.mark.parametrize("call", CALLS, ids=[c["file_name"] for c in CALLS])
def test_ground_truth_is_consistent(call):
    duration = call["duration_s"]
    channels = [str(c) for c in range(call["channels"])]
    assert sorted(call["talk_s"]) == channels
    for item in call["speech"]:
        assert 0.0 <= item["start_s"] < item["end_s"] <= duration
        assert item["text"]
    for channel in channels:
        spoken = [s for s in call["speech"] if str(s["channel"]) == channel]
        assert spoken, f"channel {channel} never speaks"
        longest_possible = max(s["end_s"] for s in spoken) - min(s["start_s"] for s in spoken)
        # Bridging short pauses only adds time, and never more than the channel's span.
        assert call["voiced_s"][channel] <= call["talk_s"][channel] <= longest_possible
    assert call["overlap_s"] >= 0.0
    assert call["silence_s"] > 0.0
    anyone = sum(call["talk_s"].values()) - call["overlap_s"]
    assert call["silence_s"] + anyone == pytest.approx(duration, abs=0.01)
    assert call["n_turns"] <= len(call["turns"])


@pytest.mark.parametrize("call", CALLS, ids=[c["file_name"] for c in CALLS])
def test_speech_intervals_are_where_the_audio_is_loud(call):
    """Each placed prompt's interval holds its energy: the frames inside are much louder than the line noise."""
    audio, sr = sf.read(CALLS_DIR / call["file_name"], dtype="float32", always_2d=True)
    for channel in range(call["channels"]):
        x = audio[:, channel]
        n = len(x) // FRAME
        rms = np.sqrt((x[: n * FRAME].reshape(n, FRAME) ** 2).mean(axis=1))
        inside = np.zeros(n, dtype=bool)
        for s in call["speech"]:
            if s["channel"] == channel:
                inside[int(s["start_s"] * 100) : int(np.ceil(s["end_s"] * 100))] = True
        assert rms[inside].mean() > 30 * np.median(rms[~inside])
        assert (rms[~inside] < 0.01).mean() > 0.97  # outside the intervals is (nearly) all quiet


def test_one_call_has_an_overlap_and_numbers_are_read_out():
    assert any(c["overlap_s"] > 0.2 for c in CALLS)
    digits_read = [sum(s["prompt"].startswith("digits/") for s in c["speech"]) for c in CALLS]
    assert max(digits_read) >= 16  # a card number, digit by digit
