"""vad.py on synthetic signals and on the bundled sample calls (whose ground truth lists every voiced span)."""

import json
from pathlib import Path

import numpy as np
import pytest

from asr_assets.asr.audio import load_audio
from asr_assets.asr.vad import SAMPLE_RATE, SpeechMap, VadOptions, collect_speech, speech_regions

CALLS = Path(__file__).resolve().parents[2] / "asr_assets" / "samples" / "calls"


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


def test_regions_cover_bursts_with_padding_and_cut_long_silence():
    x = _noise_with_bursts([(2.0, 4.0), (4.5, 5.0), (12.0, 13.0)])
    regions = speech_regions(x)
    # the 0.5 s pause is bridged (shorter than min_silence_s), the 7 s silence is cut
    assert len(regions) == 2
    (s0, e0), (s1, e1) = regions
    pad = VadOptions().pad_s * SAMPLE_RATE
    assert s0 <= 2.0 * SAMPLE_RATE - pad + 320 and e0 >= 5.0 * SAMPLE_RATE + pad - 320
    assert s1 <= 12.0 * SAMPLE_RATE - pad + 320 and e1 >= 13.0 * SAMPLE_RATE + pad - 320


def test_silence_and_digital_zeros_have_no_speech():
    assert speech_regions(np.zeros(SAMPLE_RATE * 5, np.float32)) == []
    assert speech_regions(np.zeros(0, np.float32)) == []
    hiss = _noise_with_bursts([])
    assert sum(e - s for s, e in speech_regions(hiss)) < 0.2 * len(hiss)


def test_speech_map_restores_original_times():
    x = _noise_with_bursts([(2.0, 4.0), (12.0, 13.0)])
    regions = speech_regions(x)
    speech = collect_speech(x, regions)
    assert len(speech) == sum(e - s for s, e in regions)
    smap = SpeechMap(regions)
    first_len = (regions[0][1] - regions[0][0]) / SAMPLE_RATE
    # a time inside the second chunk maps to the same offset inside the second region
    t = first_len + 0.5
    assert smap.original_time(t) == pytest.approx(regions[1][0] / SAMPLE_RATE + 0.5, abs=0.01)
    assert smap.original_time(0.25) == pytest.approx(regions[0][0] / SAMPLE_RATE + 0.25, abs=0.01)


@pytest.mark.skipif(not (CALLS / "ground_truth.json").exists(), reason="bundled sample calls not built")
def test_sample_calls_keep_every_voiced_span():
    truth = json.loads((CALLS / "ground_truth.json").read_text())
    kept = total = 0.0
    for call in truth["calls"]:
        audio = load_audio(CALLS / call["file_name"])
        for c, samples in enumerate(audio.channels):
            regions = speech_regions(samples)
            kept += sum(e - s for s, e in regions) / SAMPLE_RATE
            total += len(samples) / SAMPLE_RATE
            for span in (s for s in call["speech"] if s["channel"] == c):
                start, end = span["start_s"] * SAMPLE_RATE, span["end_s"] * SAMPLE_RATE
                assert any(s <= start and end <= e for s, e in regions), (call["file_name"], c, span)
    assert kept < 0.8 * total  # the silent side of each call is mostly cut
