"""The LiteRT engine: its programs, its cache, and a process that never imports TensorFlow."""

import json
import subprocess
import sys

import numpy as np
import pytest

from asr_assets.asr.decoding_types import GenerateOptions
from asr_assets.asr.features import log_mel_spectrogram, pad_or_trim
from asr_assets.asr.litert import programs
from asr_assets.asr.transcribe import Transcriber, TranscriptionOptions


def _windows(path, n=3):
    from asr_assets.asr.audio import load_audio

    samples = load_audio(path).channels[0]
    mel = log_mel_spectrogram(samples, 80)
    return np.stack([pad_or_trim(mel[:, i * 1000 : i * 1000 + 3000], 3000) for i in range(n)])


def test_float32_programs_decode_the_xla_engines_tokens(litert_transcribers, transcriber, sample_calls):
    """Encoder + beam search / greedy on LiteRT float32 give the XLA engine's tokens on real windows."""
    mel = _windows(sample_calls[0])
    litert, xla = litert_transcribers["float32"].runtime, transcriber.runtime
    tok = transcriber.tokenizer
    prompts = [[*tok.sot_sequence, tok.no_timestamps]] * len(mel)
    for beam in (5, 1):
        options = GenerateOptions(beam_size=beam, without_timestamps=True, suppress_tokens=(-1,))
        ours = litert.generate(litert.encode(mel), prompts, options)
        theirs = xla.generate(xla.encode(mel), prompts, options)
        assert [r.tokens for r in ours] == [r.tokens for r in theirs]
        for a, b in zip(ours, theirs, strict=True):
            assert a.avg_logprob == pytest.approx(b.avg_logprob, abs=2e-3)
            assert a.no_speech_prob == pytest.approx(b.no_speech_prob, abs=2e-3)


def test_forced_pass_matches_the_xla_aligner(litert_transcribers, transcriber, sample_calls):
    mel = _windows(sample_calls[0], 2)
    litert, xla = litert_transcribers["float32"].runtime, transcriber.runtime
    texts = [transcriber.tokenizer.encode(" Hello, how can I help you today?")] * 2
    ours = litert.align(litert.encode(mel), texts)
    theirs = xla.align(xla.encode(mel), texts)
    for (att_a, p_a), (att_b, p_b) in zip(ours, theirs, strict=True):
        assert att_a.shape == att_b.shape
        np.testing.assert_allclose(att_a, att_b, atol=2e-3)
        np.testing.assert_allclose(p_a, p_b, atol=2e-3)


def test_budget_and_unsupported_options(litert_transcribers, sample_calls):
    engine = litert_transcribers["int8"].runtime
    tok = litert_transcribers["int8"].tokenizer
    cross = engine.encode(_windows(sample_calls[0], 1))
    prompt = [[*tok.sot_sequence, tok.no_timestamps]]
    for beam in (1, 5):
        (result,) = engine.generate(cross, prompt, GenerateOptions(beam_size=beam, max_new_tokens=3))
        assert 0 < len(result.tokens) <= 3
    with pytest.raises(ValueError, match="temperature 0"):
        engine.generate(cross, prompt, GenerateOptions(temperature=0.5))
    with pytest.raises(ValueError, match="sequential decoding"):
        litert_transcribers["int8"].transcribe(sample_calls[0], TranscriptionOptions(batched=False))
    with pytest.raises(ValueError, match="float32 only"):
        Transcriber(engine="xla", compute_type="int8")


def test_programs_are_cached_by_checkpoint_version_and_format(litert_transcribers, tmp_path):
    transcriber = litert_transcribers["int8"]
    checkpoint, directory = programs.ensure_programs(None, "int8")
    assert directory.name == f"{checkpoint.version}.litert-int8"
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["format"] == programs.FORMAT and manifest["dims"]["n_mels"] == 80
    assert checkpoint.version == transcriber.model_version
    stale = tmp_path / "stale"
    stale.mkdir()
    for name in programs.PROGRAMS:
        (stale / f"{name}.tflite").write_bytes(b"")
    (stale / "manifest.json").write_text(json.dumps({**manifest, "format": "0"}))
    assert programs.valid_manifest(stale, checkpoint.version, "int8") is None  # rebuilt, not trusted
    assert programs.valid_manifest(directory, checkpoint.version, "float32") is None
    with pytest.raises(ValueError, match="compute type"):
        programs.ensure_programs(None, "int4")


def test_a_litert_process_never_imports_tensorflow(litert_transcribers, sample_calls):
    """What a step pod runs: the programs are cached, so neither TensorFlow nor Keras is imported."""
    code = (
        "import sys, json\n"
        "from asr_assets.asr.transcribe import Transcriber, TranscriptionOptions\n"
        "t = Transcriber(engine='litert', compute_type='int8')\n"
        f"segments = t.transcribe({str(sample_calls[0])!r}, TranscriptionOptions(batched=True))\n"
        "print(json.dumps({'tf': [m for m in ('tensorflow', 'keras') if m in sys.modules], 'n': len(segments)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"tf": [], "n": result["n"]} and result["n"] > 0
