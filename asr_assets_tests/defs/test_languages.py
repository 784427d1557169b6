"""How a call's language is found (platform/languages.py): sidecar, folder, default or identification, and the model
that transcribes it. The identification itself is tested on real speech in asr_assets_tests/asr."""

import pytest

from asr_assets.asr.language import LanguageGuess
from asr_assets.defs.raw_audio import CheckedCall, Quarantined, with_language_hint
from asr_assets.platform.languages import (
    LanguageDecision,
    LanguageHint,
    LanguageHintError,
    decide_language,
    language_hint,
    model_for_language,
)


def _landed(tmp_path, relative: str) -> str:
    path = tmp_path / "landing" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")
    return f"file://{path}"


def test_a_sidecar_wins_over_the_folder_and_the_nearest_language_folder_wins(tmp_path):
    root = f"file://{tmp_path / 'landing'}"
    uri = _landed(tmp_path, "es/fr/2026-12-04/call.wav")
    assert language_hint(uri, root) == LanguageHint("fr", "folder")
    (tmp_path / "landing/es/fr/2026-12-04/call.wav.json").write_text('{"language": "DE", "agent": "x"}')
    assert language_hint(uri, root) == LanguageHint("de", "sidecar")
    assert language_hint(_landed(tmp_path, "2026-12-04/other.wav"), root) is None
    # a file outside the landing root (the URL changed): its parent folder still counts
    assert language_hint(_landed(tmp_path, "elsewhere/it/x.wav"), f"file://{tmp_path}/moved") == LanguageHint(
        "it", "folder"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"language": "french"}', "'french' is not a Whisper language code"),
        ("not json", "not a JSON object"),
    ],
)
def test_a_bad_sidecar_quarantines_the_call_with_the_fix(tmp_path, content, message):
    uri = _landed(tmp_path, "call.wav")
    (tmp_path / "landing/call.wav.json").write_text(content)
    with pytest.raises(LanguageHintError, match=message):
        language_hint(uri, f"file://{tmp_path / 'landing'}")
    call = CheckedCall("c" * 64, "c" * 64, "call.wav", uri, "x.wav", 4, 1.0, 8000, 1, "WAV/PCM_16", (-3.0,))
    outcome = with_language_hint(call, f"file://{tmp_path / 'landing'}")
    assert isinstance(outcome, Quarantined) and outcome.reason_code == "bad_language_hint"
    assert "call.wav.json" in outcome.reason and "land the recording again" in outcome.reason


def test_the_language_rule():
    def never():
        raise AssertionError("identification must not run when the language is known")

    assert decide_language("fr", "folder", "auto", never, 0.5) == LanguageDecision("fr", "folder")
    assert decide_language(None, None, "es", never, 0.5) == LanguageDecision("es", "default")
    sure = decide_language(None, None, "auto", lambda: LanguageGuess("fr", 0.91, {"fr": 0.91}), 0.5)
    assert (sure.language, sure.source, sure.uncertain) == ("fr", "detected", False)
    unsure = decide_language(None, None, "auto", lambda: LanguageGuess("pt", 0.44, {"pt": 0.44}), 0.5)
    assert (unsure.language, unsure.source, unsure.uncertain) == ("pt", "detected_uncertain", True)


def test_each_language_goes_to_the_promoted_then_the_primary_then_the_multilingual_model():
    assert model_for_language("en", {}, None, {"en"}, "base") is None  # the primary (tiny.en)
    assert model_for_language("fr", {}, None, {"en"}, "base") == "base"
    assert model_for_language("en", {"en": "base"}, None, {"en"}, "base") == "base"
