"""vad.py (Silero VAD v6, and the energy detector the pipeline keeps) on silence, on the bundled sample calls
(whose ground truth lists every voiced span) and against faster-whisper's own `get_speech_timestamps`."""

import json
from pathlib import Path

import numpy as np
import pytest

from asr_assets.asr import vad
from asr_assets.asr.audio import load_audio
from asr_assets.asr.vad import (
    SAMPLE_RATE,
    EnergyVadOptions,
    SpeechMap,
    VadOptions,
    collect_speech,
    speech_regions,
)

CALLS = Path(__file__).resolve().parents[2] / "asr_assets" / "samples" / "calls"
needs_calls = pytest.mark.skipif(
    not (CALLS / "ground_truth.json").exists(), reason="bundled sample calls not built"
)


def test_options_are_faster_whispers_defaults():
    o = VadOptions()
    assert (o.threshold, o.neg_threshold, o.min_speech_duration_ms) == (0.5, None, 0)
    assert (o.max_speech_duration_s, o.min_silence_duration_ms, o.speech_pad_ms) == (float("inf"), 2000, 400)
    assert vad.MODEL_PATH.is_file()  # bundled: nothing is downloaded at run time


def test_silence_and_hiss_have_no_speech():
    assert speech_regions(np.zeros(SAMPLE_RATE * 5, np.float32)) == []
    assert speech_regions(np.zeros(0, np.float32)) == []
    assert speech_regions(np.zeros(1000, np.float32)) == []
    hiss = np.random.default_rng(0).normal(0, 10 ** (-60 / 20), 20 * SAMPLE_RATE).astype(np.float32)
    assert speech_regions(hiss) == []


def test_only_16_khz():
    with pytest.raises(ValueError):
        speech_regions(np.zeros(8000, np.float32), sample_rate=8000)


def test_speech_map_restores_original_times():
    regions = [(2 * SAMPLE_RATE, 5 * SAMPLE_RATE), (12 * SAMPLE_RATE, 13 * SAMPLE_RATE)]
    x = np.arange(20 * SAMPLE_RATE, dtype=np.float32)
    speech = collect_speech(x, regions)
    assert len(speech) == 4 * SAMPLE_RATE
    assert speech[3 * SAMPLE_RATE] == x[12 * SAMPLE_RATE]  # the second chunk follows the first directly
    smap = SpeechMap(regions)
    assert smap.original_time(0.25) == 2.25
    assert smap.original_time(3.5) == 12.5  # 0.5 s into the second chunk
    # a segment ending exactly at the first chunk's end stays in that chunk (faster-whisper's is_end rule)
    assert smap.original_time(3.0, is_end=True) == 5.0
    assert smap.original_time(3.0) == 12.0
    assert smap.original_time(99.0) == 108.0  # past the end: the last chunk's offset


@needs_calls
def test_speech_map_on_real_regions():
    samples = load_audio(CALLS / "call_01_card_block.wav").channels[0]
    regions = speech_regions(samples)
    assert len(regions) > 1
    speech = collect_speech(samples, regions)
    smap = SpeechMap(regions)
    offset = 0
    for start, end in regions:  # the middle of every chunk maps back into its region, sample for sample
        mid = offset + (end - start) // 2
        t = mid / SAMPLE_RATE
        assert smap.original_time(t) == pytest.approx((start + (end - start) // 2) / SAMPLE_RATE, abs=0.01)
        assert speech[mid] == samples[start + (end - start) // 2]
        offset += end - start


@needs_calls
def test_sample_calls_keep_every_voiced_span():
    # Every span the ground truth marks as voiced lies inside a region, but for at most 30 ms at its edges:
    # with faster-whisper's defaults the 0.4 s pad clips the first 20 ms (a -28 dBFS onset before the vowel) of
    # one customer "Goodbye!" in call_03, exactly as faster-whisper's own VAD does (test below).
    truth = json.loads((CALLS / "ground_truth.json").read_text())
    kept = total = 0.0
    clipped = []
    for call in truth["calls"]:
        audio = load_audio(CALLS / call["file_name"])
        for c, samples in enumerate(audio.channels):
            regions = speech_regions(samples)
            kept += sum(e - s for s, e in regions) / SAMPLE_RATE
            total += len(samples) / SAMPLE_RATE
            for span in (s for s in call["speech"] if s["channel"] == c):
                start, end = round(span["start_s"] * SAMPLE_RATE), round(span["end_s"] * SAMPLE_RATE)
                inside = sum(max(0, min(end, e) - max(start, s)) for s, e in regions)
                lost_s = (end - start - inside) / SAMPLE_RATE
                assert lost_s <= 0.03, (call["file_name"], c, span, lost_s)
                if lost_s > 0:
                    clipped.append((call["file_name"], c, span["text"]))
    assert len(clipped) <= 1, clipped
    assert kept < 0.8 * total  # the silent side of each call is mostly cut


@needs_calls
def test_batches_carry_the_model_state(monkeypatch):
    # A channel longer than BATCH_WINDOWS runs in several session calls; the LSTM state must flow between them.
    x = load_audio(CALLS / "call_01_card_block.wav").channels[0][: 10 * SAMPLE_RATE]
    whole = vad.speech_probabilities(x)
    assert whole.max() > 0.9 and whole.min() < 0.1  # speech and pauses, so the state matters
    monkeypatch.setattr(vad, "BATCH_WINDOWS", 7)
    np.testing.assert_allclose(vad.speech_probabilities(x), whole, atol=1e-5)


@needs_calls
def test_same_regions_as_faster_whisper():
    fw_vad = pytest.importorskip(
        "faster_whisper.vad"
    )  # dev-only dependency: the reference, never the product
    for name in ("call_01_card_block.wav", "call_04_mono_hold_time.wav"):
        for samples in load_audio(CALLS / name).channels:
            theirs = [(d["start"], d["end"]) for d in fw_vad.get_speech_timestamps(samples.copy())]
            assert speech_regions(samples) == theirs, name
            np.testing.assert_allclose(
                vad.speech_probabilities(samples),
                fw_vad.get_vad_model()(np.pad(samples, (0, 512 - len(samples) % 512))).reshape(-1),
                atol=1e-6,
            )


# --- the energy detector, kept for the pipeline (EnergyVadOptions) ---------------------------------------------


def _noise_with_bursts(bursts_s: list[tuple[float, float]], total_s: float = 20.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 10 ** (-60 / 20), int(total_s * SAMPLE_RATE)).astype(np.float32)  # -60 dBFS hiss
    t = np.arange(len(x)) / SAMPLE_RATE
    for start, end in bursts_s:
        on = (t >= start) & (t < end)
        x[on] += (0.3 * np.sin(2 * np.pi * 220 * t[on]) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t[on]))).astype(
            np.float32
        )
    return x


def test_energy_regions_cover_bursts_with_padding_and_cut_long_silence():
    x = _noise_with_bursts([(2.0, 4.0), (4.5, 5.0), (12.0, 13.0)])
    regions = speech_regions(x, EnergyVadOptions())
    # the 0.5 s pause is bridged (shorter than min_silence_s), the 7 s silence is cut
    assert len(regions) == 2
    (s0, e0), (s1, e1) = regions
    pad = EnergyVadOptions().pad_s * SAMPLE_RATE
    assert s0 <= 2.0 * SAMPLE_RATE - pad + 320 and e0 >= 5.0 * SAMPLE_RATE + pad - 320
    assert s1 <= 12.0 * SAMPLE_RATE - pad + 320 and e1 >= 13.0 * SAMPLE_RATE + pad - 320


def test_energy_silence_and_digital_zeros_have_no_speech():
    assert speech_regions(np.zeros(SAMPLE_RATE * 5, np.float32), EnergyVadOptions()) == []
    assert speech_regions(np.zeros(0, np.float32), EnergyVadOptions()) == []
    hiss = _noise_with_bursts([])
    assert sum(e - s for s, e in speech_regions(hiss, EnergyVadOptions())) < 0.2 * len(hiss)


@needs_calls
def test_energy_sample_calls_keep_every_voiced_span():
    truth = json.loads((CALLS / "ground_truth.json").read_text())
    for call in truth["calls"]:
        audio = load_audio(CALLS / call["file_name"])
        for c, samples in enumerate(audio.channels):
            regions = speech_regions(samples, EnergyVadOptions())
            for span in (s for s in call["speech"] if s["channel"] == c):
                start, end = span["start_s"] * SAMPLE_RATE, span["end_s"] * SAMPLE_RATE
                assert any(s <= start and end <= e for s, e in regions), (call["file_name"], c, span)
