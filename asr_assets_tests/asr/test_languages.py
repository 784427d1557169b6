"""Languages other than English: the multilingual base transcribes a French and a Spanish telephone prompt in their
own language when told it (language token in every prompt and in the forced alignment); tiny.en refuses them."""

import re

import pytest

from asr_assets.asr.audio import load_audio
from asr_assets.asr.transcribe import Transcriber, TranscriptionOptions

PROMPTS = {  # 8 kHz telephone prompts of ../shared/eval (Asterisk core sounds, CC-BY-SA-3.0)
    "fr": ("multilang/asterisk-fr-ca-8k/wav/agent-user.wav", {"numéro", "agent", "suivi", "dièse"}),
    "es": ("multilang/asterisk-es-mx-8k/wav/agent-user.wav", {"agente", "ingrese", "número", "seguido"}),
}


@pytest.fixture(scope="module")
def base_transcriber():
    return Transcriber("base", engine="xla")


@pytest.fixture(scope="module")
def base_litert():
    """The pipeline's identifier: base's int8 LiteRT programs (no TensorFlow in the process once built)."""
    return Transcriber("base", engine="litert", compute_type="int8")


@pytest.mark.parametrize("language", sorted(PROMPTS))
def test_base_transcribes_a_call_prompt_in_its_language(language, base_transcriber, eval_dir):
    path, expected = PROMPTS[language]
    audio = load_audio(eval_dir / path)
    options = TranscriptionOptions(language=language, beam_size=5)
    segments = base_transcriber.transcribe(audio, options)
    words = [w for s in segments for w in s.words]
    text = " ".join(w.word for w in words).lower()
    found = {token for token in re.findall(r"\w+", text)} & expected
    assert len(found) >= 2, text  # in the language spoken, not an English translation
    assert all(0 <= w.start <= w.end <= audio.duration_s + 0.5 for w in words)


def test_an_english_only_model_refuses_another_language(transcriber, eval_dir):
    audio = load_audio(eval_dir / PROMPTS["fr"][0])
    with pytest.raises(ValueError, match="English-only.*'fr'.*base"):
        transcriber.transcribe(audio, TranscriptionOptions(language="fr"))


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("multilang/asterisk-fr-ca-8k/wav/agent-user.wav", "fr"),
        ("multilang/asterisk-es-mx-8k/wav/conf-adminmenu-18.wav", "es"),
        ("multilang/asterisk-it-it-8k/wav/agent-user.wav", "it"),
        ("en/en-misc-jfk/jfk.flac", "en"),
    ],
)
@pytest.mark.parametrize("engine", ["xla", "litert"])
def test_the_language_is_identified_from_the_first_window(path, language, engine, request, eval_dir):
    from asr_assets.asr.language import detect_language

    transcriber = request.getfixturevalue("base_transcriber" if engine == "xla" else "base_litert")
    guess = detect_language(transcriber, load_audio(eval_dir / path))
    assert guess.language == language and guess.probability > 0.8, guess
    assert list(guess.top)[0] == language and abs(sum(guess.top.values()) - 1) < 0.1


def test_an_english_only_model_identifies_english_without_running(transcriber, eval_dir):
    from asr_assets.asr.language import detect_language

    guess = detect_language(transcriber, load_audio(eval_dir / PROMPTS["fr"][0]))
    assert (guess.language, guess.probability) == ("en", 1.0)
