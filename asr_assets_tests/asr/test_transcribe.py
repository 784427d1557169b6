"""Transcriber against the real bundled tiny.en: expected text on the sample calls and JFK, faster-whisper's
segment/word invariants, typed errors, and one small parity check (JFK greedy text == faster-whisper's)."""

import json
import re
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile as sf

from asr_assets.asr.audio import load_audio
from asr_assets.asr.errors import AudioDecodeError
from asr_assets.asr.types import Segment, TranscriptionOptions

MAX_SAMPLE_WER = 0.25  # per channel: tiny.en on 8 kHz telephone prompts
# faster-whisper 1.2.1 float32 on the same weights: no comma after "for you".
JFK_TEXT = "And so, my fellow Americans ask not what your country can do for you ask what you can do for your country."


DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _spoken_words(text: str) -> list[str]:
    """Words as spoken: Whisper writes digits ("0, 2, 0") where the script says "zero two zero"."""
    text = re.sub(r"[0-9]", lambda m: f" {DIGITS[int(m.group())]} ", text.lower())
    return re.sub(r"[^a-z' ]", " ", text).split()


def _wer(reference: str, hypothesis: str) -> float:
    ref, hyp = _spoken_words(reference), _spoken_words(hypothesis)
    return jiwer.wer(" ".join(ref), " ".join(hyp) or "<empty>")


def _text(segments: list[Segment], channel: int) -> str:
    return "".join(s.text for s in segments if s.channel == channel).strip()


def _check_invariants(segments: list[Segment]) -> None:
    for s in segments:
        assert s.words, s
        assert s.text == "".join(w.word for w in s.words)
        # faster-whisper's word rules move a segment's edges to its words, except when the first/last word is
        # much longer than the timestamp says: then the word keeps its edge (up to ~0.5-1 s outside).
        assert abs(s.start - s.words[0].start) < 1.0 and abs(s.end - s.words[-1].end) < 1.0
        assert all(s.start - 1.0 <= w.start and w.end <= s.end + 1.0 for w in s.words)
        for a, b in zip(s.words, s.words[1:], strict=False):
            assert a.start <= a.end <= b.start + 1e-6 and b.start <= b.end
        assert all(0.0 <= w.probability <= 1.0 for w in s.words)
        assert 0.0 <= s.no_speech_prob <= 1.0 and s.avg_logprob <= 0.0
    for c in {s.channel for s in segments}:
        mine = [s for s in segments if s.channel == c]
        assert all(a.end <= b.start + 1e-6 for a, b in zip(mine, mine[1:], strict=False))


@pytest.fixture(scope="module")
def sample_results(transcriber, sample_calls: list[Path]) -> list[list[Segment]]:
    # Greedy keeps this fixture to a few decoder programs; JFK below covers beam 5.
    transcriber.reset_stats()
    return transcriber.transcribe_batch(sample_calls, TranscriptionOptions(beam_size=1))


def test_sample_calls_transcribe_to_expected_text(sample_results, sample_calls: list[Path]):
    truth = {
        c["file_name"]: c
        for c in json.loads((sample_calls[0].parent / "ground_truth.json").read_text())["calls"]
    }
    for path, segments in zip(sample_calls, sample_results, strict=True):
        call = truth[path.name]
        for c in range(call["channels"]):
            reference = " ".join(t["text"] for t in call["turns"] if t["channel"] == c)
            assert _wer(reference, _text(segments, c)) <= MAX_SAMPLE_WER, (
                path.name,
                c,
                _text(segments, c),
                reference,
            )


def test_sample_calls_segments_and_words_are_consistent(sample_results, sample_calls: list[Path]):
    for path, segments in zip(sample_calls, sample_results, strict=True):
        duration = load_audio(path).duration_s
        _check_invariants(segments)
        assert all(s.start >= 0.0 and s.end <= duration + 0.05 for s in segments)


def test_stats_record_where_time_goes(transcriber, sample_results):
    stats = transcriber.stats
    assert stats.windows > 0 and stats.encoder_s > 0 and stats.decoder_s > 0 and stats.alignment_s > 0
    assert stats.channel_s > 0 and stats.speech_s == pytest.approx(stats.channel_s)  # no VAD by default


def test_vad_keeps_the_words_of_a_sample_call(transcriber, sample_calls: list[Path]):
    transcriber.reset_stats()
    segments = transcriber.transcribe(sample_calls[0], TranscriptionOptions(beam_size=1, vad=True))
    _check_invariants(segments)
    assert transcriber.stats.speech_s < 0.7 * transcriber.stats.channel_s  # the silent sides were cut
    truth = json.loads((sample_calls[0].parent / "ground_truth.json").read_text())["calls"]
    call = next(c for c in truth if c["file_name"] == sample_calls[0].name)
    for c in range(call["channels"]):
        reference = " ".join(t["text"] for t in call["turns"] if t["channel"] == c)
        assert _wer(reference, _text(segments, c)) <= MAX_SAMPLE_WER


def test_jfk_beam5_text_and_words(transcriber, jfk_path: Path):
    # Without the VAD this is faster-whisper's sequential path, so the text matches its output to the comma
    # (cutting JFK's pauses drops the two commas: the normalised text is the same).
    segments = transcriber.transcribe(jfk_path, TranscriptionOptions(vad=False))
    _check_invariants(segments)
    for channel in (0, 1):  # the clip is stereo: both channels carry the speech
        assert _text(segments, channel) == JFK_TEXT
    first = [s for s in segments if s.channel == 0][0].words[:5]
    assert [w.word for w in first] == [" And", " so,", " my", " fellow", " Americans"]
    assert first[-1].end == pytest.approx(2.26, abs=0.1)  # faster-whisper float32: Americans 1.76-2.26


def test_jfk_greedy_text_matches_faster_whisper(transcriber, jfk_path: Path):
    faster_whisper = pytest.importorskip("faster_whisper")
    from asr_assets.asr.checkpoints import default_model_path

    audio = load_audio(jfk_path)
    options = TranscriptionOptions(beam_size=1, vad=False)
    ours = _text(transcriber.transcribe(audio, options), 0)
    model = faster_whisper.WhisperModel(str(default_model_path()), device="cpu", compute_type="float32")
    segments, _ = model.transcribe(audio.channels[0], beam_size=1, language="en", word_timestamps=True)
    assert ours == "".join(s.text for s in segments).strip()


def test_silent_file_has_no_segments_with_vad(transcriber, tmp_path: Path):
    # Without the VAD, Whisper (like faster-whisper) may write " You" over digital silence; raw_audio
    # quarantines silent files before they reach the engine.
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((8000 * 3, 2), np.float32), 8000, subtype="PCM_16")
    assert transcriber.transcribe(path, TranscriptionOptions(vad=True)) == []


def test_bad_audio_raises_typed_error_naming_the_file(transcriber, tmp_path: Path):
    path = tmp_path / "broken_call.wav"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(64))
    with pytest.raises(AudioDecodeError, match="broken_call.wav"):
        transcriber.transcribe(path)


@pytest.mark.parametrize("n_samples", [16000, 0])
def test_features_have_the_checkpoints_mel_bins(n_samples):
    """A 128-mel checkpoint (large-v3) gets 128-bin features, also for a stream with no speech at all."""
    from types import SimpleNamespace

    from asr_assets.asr.rounds import Stream
    from asr_assets.asr.transcribe import Transcriber
    from asr_assets.asr.types import TranscriptionStats

    transcriber = object.__new__(Transcriber)  # no model: only the front end runs
    transcriber.checkpoint = SimpleNamespace(dims=SimpleNamespace(n_mels=128))
    transcriber.stats = TranscriptionStats()
    x = 0.1 * np.sin(np.arange(n_samples, dtype=np.float32) / 7)
    stream = Stream(0, 0, x, n_samples / 16000)
    transcriber._prepare(stream, TranscriptionOptions())
    assert stream.features is not None and stream.features.shape[0] == 128
    transcriber._finish(stream, None)
    assert stream.features.shape[0] == 128
