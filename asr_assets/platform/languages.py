"""The language of each call: given with the file when it comes with one, else identified, and the model it needs.

A call's language comes, first match wins, from
1. a sidecar file next to the recording, `<recording name>.json` (e.g. `call_0192.wav.json`), holding
   `{"language": "fr"}` (other keys are ignored; the sensor never takes a `.json` file for a recording);
2. a folder of the landing zone named by a Whisper language code, the nearest one to the file
   (`landing/fr/2026-12-04/call.wav` is French);
3. else, with `ASR_LANGUAGE=auto` (the default), identification by the multilingual model on the first 30 s of the
   call's non-silent channels; with `ASR_LANGUAGE=<code>`, that language (recorded as the default, not detected).

An identification below `min_language_probability` is recorded as uncertain (`language_source = 'detected_uncertain'`,
with its probability) and routed by one rule: the call is transcribed by the multilingual model in the language it
found most likely, and the marts flag it as suspect (reason `language_uncertain`), so an analyst can filter or
review it. It is never transcribed as English by default. A sidecar or folder naming a language no model here
knows quarantines the file with the reason (fix the sidecar, re-land the file).

The model for a language: the version promoted for it (the quality gate, defs/models.py), else the primary model
(`ASR_MODEL_PATH`, tiny.en by default) when it speaks that language, else the multilingual one
(`ASR_MULTILINGUAL_MODEL`, Whisper base by default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from posixpath import dirname

import fsspec

from asr_assets.asr.tokenizer import LANGUAGE_CODES
from asr_assets.platform.discovery import SIDECAR_SUFFIX

AUTO = "auto"


@dataclass(frozen=True)
class LanguageHint:
    language: str
    source: str  # "sidecar" or "folder"


class LanguageHintError(ValueError):
    """A sidecar that cannot be read, or names no Whisper language: the message names the file and the fix."""


def _folders(source_uri: str, landing_root: str) -> list[str]:
    """Folder names from the file up to the landing root (nearest first); the parent only when not under it."""
    root = landing_root.rstrip("/")
    parent = dirname(source_uri)
    if source_uri.startswith(root + "/"):
        relative = parent[len(root) :].strip("/")
        return list(reversed(relative.split("/"))) if relative else []
    return [parent.rsplit("/", 1)[-1]]


def sidecar_language(source_uri: str) -> str | None:
    """The language a `<recording>.json` sidecar gives, None when there is no sidecar or it has no language."""
    uri = source_uri + SIDECAR_SUFFIX
    try:
        with fsspec.open(uri, "rb") as fh:
            raw = fh.read(64 * 1024)
    except FileNotFoundError:
        return None
    try:
        value = json.loads(raw).get("language")
    except (ValueError, AttributeError) as e:
        raise LanguageHintError(
            f'{uri}: not a JSON object ({e}); write it as {{"language": "fr"}} and land the recording again'
        ) from e
    if value is None:
        return None
    code = str(value).strip().lower()
    if code not in LANGUAGE_CODES:
        raise LanguageHintError(
            f"{uri}: language {value!r} is not a Whisper language code (e.g. en, fr, es, de); fix the sidecar and "
            "land the recording again"
        )
    return code


def language_hint(source_uri: str, landing_root: str) -> LanguageHint | None:
    """What comes with the file: its sidecar's language, else the nearest language-code folder, else None."""
    code = sidecar_language(source_uri)
    if code is not None:
        return LanguageHint(code, "sidecar")
    for folder in _folders(source_uri, landing_root):
        if folder.lower() in LANGUAGE_CODES:
            return LanguageHint(folder.lower(), "folder")
    return None


@dataclass(frozen=True)
class LanguageDecision:
    """A call's language as recorded: where it came from and, when identified, how sure the model was."""

    language: str
    source: str  # "sidecar", "folder", "default", "detected" or "detected_uncertain"
    probability: float | None = None  # identification only

    @property
    def uncertain(self) -> bool:
        return self.source == "detected_uncertain"


def decide_language(
    hint_language: str | None,
    hint_source: str | None,
    setting: str,
    identify,
    min_probability: float,
) -> LanguageDecision:
    """The rule of the module docstring. `identify()` -> asr.language.LanguageGuess, called only when needed."""
    if hint_language is not None:
        return LanguageDecision(hint_language, hint_source or "given")
    if setting != AUTO:
        return LanguageDecision(setting, "default")
    guess = identify()
    source = "detected" if guess.probability >= min_probability else "detected_uncertain"
    return LanguageDecision(guess.language, source, round(guess.probability, 4))


def model_for_language(
    language: str, promoted: dict[str, str], primary: str, primary_languages, multilingual: str
):
    """The model (name or path) that transcribes `language`: promoted, else primary if it speaks it, else multilingual."""
    if language in promoted:
        return promoted[language]
    return primary if language in primary_languages else multilingual
