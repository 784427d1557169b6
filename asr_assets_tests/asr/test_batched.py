"""The batched mode (faster-whisper's BatchedInferencePipeline rules) on the real sample calls, every engine."""

from pathlib import Path

import numpy as np
import pytest

from asr_assets.asr.audio import load_audio
from asr_assets.asr.batched import BATCHED_VAD, CHUNK_S
from asr_assets.asr.constants import SAMPLE_RATE
from asr_assets.asr.segments import restore_times
from asr_assets.asr.types import Segment, TranscriptionOptions, Word
from asr_assets.asr.vad import SpeechMap, pack_chunks, speech_regions

BATCHED = TranscriptionOptions(batched=True)


def test_chunks_pack_regions_back_to_back_up_to_30_s():
    samples = np.arange(100 * SAMPLE_RATE, dtype=np.float32)
    regions = [
        (0, 10 * SAMPLE_RATE),
        (12 * SAMPLE_RATE, 30 * SAMPLE_RATE),
        (31 * SAMPLE_RATE, 40 * SAMPLE_RATE),
    ]
    chunks = list(pack_chunks(samples, regions, CHUNK_S))
    # 10 + 18 = 28 s fit; the 9 s region would overflow 30 s and opens the next chunk at speech time 28 s.
    assert [(o, d) for o, d, _ in chunks] == [(0.0, 28.0), (28.0, 9.0)]
    assert chunks[0][2][10 * SAMPLE_RATE] == 12 * SAMPLE_RATE  # spliced: the second region follows the first
    # A region longer than 30 s (the energy detector has no maximum) is cut at 30 s.
    long = list(pack_chunks(samples, [(0, 70 * SAMPLE_RATE)], CHUNK_S))
    assert [(o, d) for o, d, _ in long] == [(0.0, 30.0), (30.0, 30.0), (60.0, 10.0)]
    assert list(pack_chunks(samples, [], CHUNK_S)) == []


def test_words_stay_inside_their_region_when_clipped():
    speech_map = SpeechMap([(16000, 32000), (64000, 80000)])  # 1-2 s and 4-5 s; speech time 0-1 s and 1-2 s
    word = Word(0.5, 1.3, " stretched", 0.9)  # midpoint 0.9 s: first region; DTW ran it over the splice
    segment = Segment(0.5, 1.3, " stretched", (word,), 0, -0.1, 0.0, 1.0)
    assert restore_times(segment, speech_map).words[0].end == 2.3  # faster-whisper: into the cut silence
    clipped = restore_times(segment, speech_map, clip=True).words[0]
    assert (clipped.start, clipped.end) == (1.5, 2.0)


def _check_well_formed(path: Path, segments: list[Segment]) -> None:
    audio = load_audio(path)
    for channel, samples in enumerate(audio.channels):
        regions = [(s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in speech_regions(samples, BATCHED_VAD)]
        words = [w for s in segments if s.channel == channel for w in s.words]
        assert words, f"{path.name} channel {channel}: no words"
        starts = [w.start for w in words]
        assert starts == sorted(starts), f"{path.name} channel {channel}: words out of order"
        for s in (s for s in segments if s.channel == channel):
            assert s.text.strip() and s.start <= s.end
            for w in s.words:
                assert s.start <= w.start <= w.end <= s.end, (s.start, s.end, w)
        for w in words:  # every word inside one speech region of the recording
            assert any(lo - 0.011 <= w.start <= w.end <= hi + 0.011 for lo, hi in regions), (w, regions)
            assert 0.0 <= w.probability <= 1.0


@pytest.mark.parametrize("compute_type", ["int8", "float32"])
def test_litert_batched_output_is_well_formed(litert_transcribers, sample_calls, compute_type):
    transcriber = litert_transcribers[compute_type]
    per_file = transcriber.transcribe_batch(sample_calls, BATCHED)
    for path, segments in zip(sample_calls, per_file, strict=True):
        _check_well_formed(path, segments)


def test_litert_float32_batched_gives_the_xla_engines_text(litert_transcribers, transcriber, sample_calls):
    """The same network in float32 on two runtimes: the batched mode's text is the same word for word."""
    ours = litert_transcribers["float32"].transcribe_batch(sample_calls, BATCHED)
    xla = transcriber.transcribe_batch(sample_calls, BATCHED)
    for path, a, b in zip(sample_calls, ours, xla, strict=True):
        assert [s.text for s in a] == [s.text for s in b], path.name
        for wa, wb in zip((w for s in a for w in s.words), (w for s in b for w in s.words), strict=True):
            assert wa.word == wb.word and abs(wa.start - wb.start) <= 0.02 and abs(wa.end - wb.end) <= 0.02


def test_int8_text_is_close_to_float32(litert_transcribers, sample_calls):
    """int8 is a compute type with its own WER (as CTranslate2's): close to float32, not equal. Compared after
    Whisper's normaliser, as WER is: int8 writes some digit strings as words ("zero two" for "0, 2")."""
    import jiwer

    from asr_assets.asr.evaluation import normalize

    texts = {
        ct: [normalize(" ".join(s.text for s in segs)) for segs in t.transcribe_batch(sample_calls, BATCHED)]
        for ct, t in litert_transcribers.items()
    }
    assert jiwer.wer(texts["float32"], texts["int8"]) < 0.1  # measured 0.077 (2026-12-02)


def test_batched_mode_is_deterministic_and_greedy_works(litert_transcribers, sample_calls):
    transcriber = litert_transcribers["int8"]
    first = transcriber.transcribe_batch(sample_calls[:2], BATCHED)
    assert transcriber.transcribe_batch(sample_calls[:2], BATCHED) == first
    greedy = transcriber.transcribe_batch(sample_calls[:2], TranscriptionOptions(batched=True, beam_size=1))
    for path, segments in zip(sample_calls[:2], greedy, strict=True):
        _check_well_formed(path, segments)


def test_front_end_overlap_changes_nothing(litert_transcribers, sample_calls):
    transcriber = litert_transcribers["int8"]
    inline = TranscriptionOptions(batched=True, overlap_front_end=False)
    assert transcriber.transcribe_batch(sample_calls, inline) == transcriber.transcribe_batch(
        sample_calls, BATCHED
    )


def test_silent_channel_gives_no_segments(litert_transcribers):
    from asr_assets.asr.audio import Audio

    silent = Audio(np.zeros((2, 5 * SAMPLE_RATE), np.float32), SAMPLE_RATE, 2, "WAV/PCM_16")
    assert litert_transcribers["int8"].transcribe_batch([silent], BATCHED) == [[]]
