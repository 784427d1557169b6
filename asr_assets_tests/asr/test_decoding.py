"""decoding.py / alignment.py: WhisperEngine.generate and Aligner.align against CTranslate2 float32 on the same
weights and mel.

Parity runs on a bundled sample call and on the JFK window (conftest.jfk_path) whose faster-whisper outputs are
pinned below (docs/engine.md, "Golden values"). Each distinct bucket shape is an
XLA compile (~10-30 s on 2 cores), so the tests share one engine and reuse a few shapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asr_assets.asr import decoding
from asr_assets.asr.alignment import Aligner
from asr_assets.asr.checkpoints import load_checkpoint
from asr_assets.asr.decoding import GenerateOptions, GenerationResult, SpecialTokens, WhisperEngine
from asr_assets.asr.features import log_mel_spectrogram, pad_or_trim

ctranslate2 = pytest.importorskip("ctranslate2")

SAMPLE_CALL = (
    Path(__file__).resolve().parents[2] / "asr_assets" / "samples" / "calls" / "call_01_card_block.wav"
)
SOT, SOT_PREV, NO_TS, TS0, EOT = 50257, 50360, 50362, 50363, 50256
# faster-whisper 1.2.1 float32 (and int8), beam 5, first JFK window
JFK_BEAM5 = [50363, 843, 523, 11, 616, 5891, 3399, 1265, 407, 644, 534, 1499, 460, 466, 329, 345, 50763, 50763,
             1265, 644, 345, 460, 466, 329, 534, 1499, 13, 50913]  # fmt: skip
# ctranslate2 4.8.5 float32 greedy on the same window (equal to ours)
JFK_GREEDY = [50363, 843, 523, 616, 5891, 3399, 1265, 407, 644, 534, 1499, 460, 466, 329, 345, 50750, 50750, 1265,
              644, 345, 460, 466, 329, 534, 1499, 50900]  # fmt: skip


@pytest.fixture(scope="module")
def engine(xla_runtime) -> WhisperEngine:
    return xla_runtime.engine


@pytest.fixture(scope="module")
def ct2():
    ckpt, _ = load_checkpoint()
    return ctranslate2.models.Whisper(str(ckpt.path), compute_type="float32", intra_threads=2)


@pytest.fixture(scope="module")
def call_mel() -> np.ndarray:
    """First 30 s window of the agent channel of a bundled 8 kHz call: (1, 80, 3000)."""
    from asr_assets.asr.audio import load_audio

    audio = load_audio(SAMPLE_CALL)
    return pad_or_trim(log_mel_spectrogram(audio.channels[0])[:, :-1])[None].astype(np.float32)


@pytest.fixture(scope="module")
def jfk_mel(jfk_path) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    audio = decode_audio(str(jfk_path))  # the waveform faster-whisper decodes (PyAV)
    return pad_or_trim(log_mel_spectrogram(audio)[:, :-1])[None].astype(np.float32)


def ct2_generate(ct2, mel: np.ndarray, prompt: list[int], beam_size: int) -> GenerationResult:
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel))
    r = ct2.generate(features, [prompt], beam_size=beam_size, return_scores=True, return_no_speech_prob=True)[
        0
    ]
    tokens = r.sequences_ids[0]
    total = r.scores[0] * len(tokens)  # length_penalty 1: score = sum / len
    return GenerationResult(tokens, total, total / (len(tokens) + 1), r.no_speech_prob)


def assert_same(ours: GenerationResult, theirs: GenerationResult) -> None:
    assert ours.tokens == theirs.tokens
    assert ours.avg_logprob == pytest.approx(theirs.avg_logprob, abs=1e-3)
    assert ours.no_speech_prob == pytest.approx(theirs.no_speech_prob, abs=1e-3)


def test_special_tokens_of_tiny_en(engine):
    assert engine.tokens == SpecialTokens(
        eot=EOT,
        sot=SOT,
        no_speech=50361,
        no_timestamps=NO_TS,
        timestamp_begin=TS0,
        english=None,
        transcribe=50358,
    )


@pytest.mark.parametrize("beam_size", [1, 5])
def test_sample_call_matches_ctranslate2(engine, ct2, call_mel, beam_size):
    ours = engine.generate(engine.encode(call_mel), [[SOT]], GenerateOptions(beam_size=beam_size))[0]
    assert_same(ours, ct2_generate(ct2, call_mel, [SOT], beam_size))
    assert any(t < EOT for t in ours.tokens) and ours.tokens[0] >= TS0


def test_mixed_prompts_in_one_batch(engine, ct2, call_mel, jfk_or_call_mel, monkeypatch):
    """Left-padded prompts of different lengths, with and without timestamps, decode as they would alone; the
    first cache phase ends between the two lengths, so the longer window goes on alone (compaction)."""
    mels = np.concatenate([call_mel, jfk_or_call_mel])
    prompts = [[SOT], [SOT_PREV, 843, 523, 11, 616, SOT, NO_TS]]
    theirs = [ct2_generate(ct2, mel[None], prompt, 1) for mel, prompt in zip(mels, prompts, strict=True)]
    short, long = sorted(len(r.tokens) for r in theirs)
    if short < long:
        monkeypatch.setattr(decoding, "GEN_PHASES", (short + 1,))
    results = engine.generate(engine.encode(mels), prompts, GenerateOptions(beam_size=1))
    for ours, reference in zip(results, theirs, strict=True):
        assert_same(ours, reference)
    assert all(t < EOT for t in results[1].tokens)  # no timestamps after <|notimestamps|>


@pytest.fixture(scope="module")
def jfk_or_call_mel(request, call_mel):
    try:
        return request.getfixturevalue("jfk_mel")
    except pytest.skip.Exception:
        return call_mel


def test_sampling_is_seeded_and_valid(engine, call_mel):
    enc = engine.encode(call_mel)
    options = GenerateOptions(temperature=0.8, best_of=2, seed=7)
    a, b = (engine.generate(enc, [[SOT]], options)[0] for _ in range(2))
    assert a == b
    assert all(0 <= t < engine.dims.n_vocab for t in a.tokens) and EOT not in a.tokens
    assert np.isfinite(a.avg_logprob) and a.avg_logprob < 0 and 0 <= a.no_speech_prob <= 1


def test_generate_rejects_bad_input(engine, call_mel):
    enc = engine.encode(call_mel)
    with pytest.raises(ValueError, match="startoftranscript"):
        engine.generate(enc, [[SOT_PREV, 11]], GenerateOptions())
    with pytest.raises(ValueError, match="2 prompts"):
        engine.generate(enc, [[SOT], [SOT]], GenerateOptions())
    assert engine.generate(enc[:0], [], GenerateOptions()) == []


@pytest.mark.eval
@pytest.mark.parametrize(("beam_size", "golden"), [(1, JFK_GREEDY), (5, JFK_BEAM5)])
def test_jfk_golden_tokens(engine, jfk_mel, beam_size, golden):
    result = engine.generate(engine.encode(jfk_mel), [[SOT]], GenerateOptions(beam_size=beam_size))[0]
    assert result.tokens == golden
    assert result.no_speech_prob == pytest.approx(0.062824, abs=1e-3)
    if beam_size == 5:
        assert result.avg_logprob == pytest.approx(-0.289952, abs=1e-3)


@pytest.mark.eval
def test_jfk_align_matches_ctranslate2(engine, ct2, jfk_mel):
    from asr_assets.asr.timing import find_alignment
    from asr_assets.asr.tokenizer import Tokenizer

    text = [t for t in JFK_BEAM5 if t < EOT]
    attention, probs = Aligner(engine).align(engine.encode(jfk_mel), [text])[0]
    assert attention.shape == (8, 1 + len(text) + 2, 1500) and attention.dtype == np.float32
    assert probs.shape == (len(text) + 1,)
    features = ctranslate2.StorageView.from_array(jfk_mel)
    theirs = ct2.align(features, [SOT], [text], [1100])[0]
    np.testing.assert_allclose(probs[:-1], theirs.text_token_probs, atol=1e-3)
    # The row convention is timing.find_alignment's: the DTW path must be CT2's.
    ckpt, _ = load_checkpoint()
    tokenizer = Tokenizer.from_file(ckpt.tokenizer_file, multilingual=False, task=None, language=None)
    words = find_alignment(tokenizer, text, attention, probs, 1100)
    by_word = {w.word: (w.start, w.end) for w in words}
    # faster-whisper float32: " my" 1.38-1.44, " fellow" 1.44-1.76, " Americans" 1.76-2.26
    assert by_word[" my"] == pytest.approx((1.38, 1.44), abs=0.021)
    assert by_word[" fellow"] == pytest.approx((1.44, 1.76), abs=0.021)
    assert by_word[" Americans"] == pytest.approx((1.76, 2.26), abs=0.021)
