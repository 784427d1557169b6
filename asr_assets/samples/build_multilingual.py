"""Build the per-language evaluation sets and the French and Spanish sample calls from Debian's Asterisk prompts.

Run by developers, never at install time (the output is committed):

    apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav asterisk-core-sounds-es-wav
    .venv/bin/python -m asr_assets.samples.build_multilingual

Sources, all CC-BY-SA-3.0 (the packages' copyright files are copied next to the outputs):
  en  en-US, Allison Smith    (asterisk-core-sounds-en-wav)
  fr  fr-CA, June Wallack     (asterisk-core-sounds-fr-wav)
  es  es-MX, Allison Smith    (asterisk-core-sounds-es-wav)

`eval/<lang>/` holds ~2.5 minutes of single prompts per language as FLAC PCM16 8 kHz mono (lossless from the
package's PCM16 WAV), with `transcripts.tsv` (the package's description text, verbatim) and `durations.tsv`, in the
layout of the shared evaluation sets; asr_model_eval scores WER per language on them. Only prompts whose
description is spoken text of at least MIN_WORDS words are eligible; the choice among them is a hash of a fixed salt
and the prompt name, so it is deterministic and stays put when a package release adds or drops other prompts.

`calls_multilingual/` holds a French card-block call and a Spanish phone-number update, made by build_calls'
machinery (same gaps, noise, voiced-part trimming and ground-truth shape, plus a "language" field per call). The
customer reads the number digit by digit with that language's digits/0..9 prompts. A fixed seed sets the timing
jitter, so rebuilding gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from asr_assets.samples import EVAL_DIR, MULTILINGUAL_CALLS_DIR, MULTILINGUAL_GROUND_TRUTH_PATH
from asr_assets.samples.build_calls import (
    MIN_PAUSE_S,
    SAMPLE_RATE,
    VOICE_RMS,
    CallSpec,
    build_call,
    load_prompt,
    read_descriptions,
    turn,
)

SEED = 20261126
LANGUAGES = ("en", "fr", "es")
EVAL_TARGET_S = 150.0  # ~2.5 min per language: 300-400 reference words, ~1.6 MB of FLAC per language
MAX_PROMPT_S = 12.0  # the long demo/menu prompts (up to ~60 s) would eat the budget: keep many short prompts
MIN_VOICED_S = 0.5  # below this the file is a click or a fragment, not a sentence
MIN_WORDS = 3  # one- and two-word prompts ("Merci.", "Allo") say little about WER and are mostly in the calls
EVAL_FOLDERS = ("", "digits/")  # letters/, phonetic/ are single words; digits/ has a few ("de la tarde")

# The Spanish description file lists "digits/0" twice, "cero" then "diez": the second line is digits/10's, whose own
# line is missing. read_descriptions keeps the last one, which would make every spoken zero "diez".
DESCRIPTION_FIXES = {"es": {"digits/0": "cero", "digits/10": "diez"}}


def sounds_dir(lang: str) -> Path:
    return Path(f"/usr/share/asterisk/sounds/{lang}")


def descriptions_path(lang: str) -> Path:
    return Path(f"/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz")


def copyright_path(lang: str) -> Path:
    return Path(f"/usr/share/doc/asterisk-core-sounds-{lang}-wav/copyright")


def texts_for(lang: str) -> dict[str, str]:
    return {**read_descriptions(descriptions_path(lang)), **DESCRIPTION_FIXES.get(lang, {})}


# --- evaluation sets -------------------------------------------------------------------------------------------


def is_spoken_text(text: str) -> bool:
    """A reference a model can be scored against: real words, no annotations, not an acronym spelled out."""
    # "[ascending tones]", "(ahooga)", "(beep)" are sound descriptions; a bracket inside a sentence may be either an
    # aside that is spoken or an annotation that is not, and a wrong reference costs more than one prompt less.
    if any(c in text for c in "[]()"):
        return False
    words = text.split()
    if len(words) < MIN_WORDS:
        return False
    # "M I S D N", "H 3 23": how a model writes an acronym is a formatting choice, not recognition.
    single = sum(len(w.strip(".,")) == 1 and not w.islower() for w in words)
    return single * 2 <= len(words)


def eval_candidates(lang: str, texts: dict[str, str]) -> list[str]:
    """Prompt names in EVAL_FOLDERS with a WAV file and a spoken description."""
    names = []
    for name, text in texts.items():
        folder = name.rpartition("/")[0] + "/" if "/" in name else ""
        if folder in EVAL_FOLDERS and (sounds_dir(lang) / f"{name}.wav").is_file() and is_spoken_text(text):
            names.append(name)
    return names


def draw_order(name: str) -> str:
    # A per-name hash, not a shuffle of the list: a prompt's rank does not depend on which other prompts exist.
    return hashlib.sha256(f"{SEED}:{name}".encode()).hexdigest()


def usable_audio(lang: str, name: str) -> np.ndarray | None:
    """The prompt's PCM16 samples, or None when it is too long or has too little voice."""
    audio, sr = sf.read(sounds_dir(lang) / f"{name}.wav", dtype="int16")
    if sr != SAMPLE_RATE or audio.ndim != 1 or len(audio) > MAX_PROMPT_S * SAMPLE_RATE:
        return None
    try:
        _, v_start, v_end = load_prompt(name, sounds_dir(lang))
    except ValueError:  # no frame above VOICE_RMS: an empty or silent file
        return None
    return audio if v_end - v_start >= MIN_VOICED_S else None


def select_eval_prompts(lang: str, texts: dict[str, str]) -> list[tuple[str, np.ndarray]]:
    """Prompts in draw order until EVAL_TARGET_S of audio, skipping unusable ones."""
    chosen: list[tuple[str, np.ndarray]] = []
    total_s = 0.0
    for name in sorted(eval_candidates(lang, texts), key=draw_order):
        if total_s >= EVAL_TARGET_S:
            break
        audio = usable_audio(lang, name)
        if audio is not None:
            chosen.append((name, audio))
            total_s += len(audio) / SAMPLE_RATE
    return chosen


def write_tsv(path: Path, rows: list[tuple[str, str]]) -> None:
    path.write_text("".join(f"{a}\t{b}\n" for a, b in rows), encoding="utf-8")


def build_eval_set(lang: str) -> float:
    """Write eval/<lang>/ (FLAC files, TSVs, COPYRIGHT); return its minutes of audio."""
    texts = texts_for(lang)
    out_dir = EVAL_DIR / lang
    # Start clean: a prompt that dropped out of the selection must not linger as a stale file.
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    transcripts, durations = [], []
    files = {
        name.replace("/", "_") + ".flac": (name, audio) for name, audio in select_eval_prompts(lang, texts)
    }
    for file_name, (name, audio) in sorted(files.items()):  # the TSVs in file-name order, as `ls` shows them
        sf.write(out_dir / file_name, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        transcripts.append((file_name, texts[name]))
        durations.append((file_name, f"{len(audio) / SAMPLE_RATE:.3f}"))
    write_tsv(out_dir / "transcripts.tsv", transcripts)
    write_tsv(out_dir / "durations.tsv", durations)
    shutil.copyfile(copyright_path(lang), out_dir / "COPYRIGHT")
    return sum(float(d) for _, d in durations) / 60


# --- sample calls ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LanguageCall:
    lang: str
    spec: CallSpec


CALLS = (
    LanguageCall(
        "fr",
        CallSpec(
            "call_fr_card_block.wav",
            "ULAW",
            mono=False,
            turns=(
                turn("agent", 0.0, "hello"),  # Allo
                # Il y a quelque chose de vraiment mauvais.
                turn("customer", 0.7, "something-terribly-wrong"),
                turn("agent", 0.6, "enter-num-blacklist"),  # Veuillez entrez le numéro à bannir
                turn("customer", 0.9, "d:4532 d:0151 d:1283 d:0366"),
                # As in the English card call, "Merci" starts before the last digit ends: the call's overlap.
                turn("agent", -0.45, "auth-thankyou one-moment-please"),  # Merci. / un moment s'il-vous-plaît
                turn("agent", 3.0, "vm-num-i-have d:0366"),  # after a hold; le numéro est.
                turn("agent", 0.5, "cancelled goodbye"),  # annulé / Aurevoir
                turn("customer", 0.4, "vm-goodbye"),  # Au revoir.
            ),
        ),
    ),
    LanguageCall(
        "es",
        CallSpec(
            "call_es_phone_update.wav",
            "ULAW",
            mono=False,
            turns=(
                # The Spanish set has no "hello": the agent opens with the request for the number.
                turn("agent", 0.0, "privacy-prompt"),  # Por favor introdusca su numero de telefono ...
                turn("customer", 0.8, "d:55 d:8104 d:2973"),  # a Mexico City number: 10 digits
                # Gracias / El numero que tengo es el ... (the agent reads the number back)
                turn("agent", 0.7, "auth-thankyou vm-num-i-have d:55 d:8104 d:2973"),
                turn("customer", 0.5, "privacy-thankyou"),  # Muchas gracias.
                turn("agent", 3.0, "queue-thankyou"),  # after a hold; Muchas gracias por su paciencia.
                turn("agent", 0.5, "vm-goodbye"),  # hasta pronto.
                turn("customer", 0.4, "vm-goodbye"),
            ),
        ),
    ),
)


def build_calls() -> list[dict]:
    """Write the calls and their COPYRIGHT.<lang>; return their ground truth."""
    rng = np.random.default_rng(SEED)
    MULTILINGUAL_CALLS_DIR.mkdir(parents=True, exist_ok=True)
    calls = []
    for call in CALLS:
        audio, truth = build_call(call.spec, texts_for(call.lang), rng, sounds_dir(call.lang))
        sf.write(
            MULTILINGUAL_CALLS_DIR / call.spec.file_name, audio, SAMPLE_RATE, format="WAV", subtype="ULAW"
        )
        calls.append({"file_name": truth["file_name"], "language": call.lang, **truth})
        shutil.copyfile(copyright_path(call.lang), MULTILINGUAL_CALLS_DIR / f"COPYRIGHT.{call.lang}")
        print(
            f"{call.spec.file_name}: {truth['duration_s']:.1f} s, talk {truth['talk_s']}, overlap {truth['overlap_s']}"
        )
    return calls


def main() -> None:
    for lang in LANGUAGES:
        print(f"eval/{lang}: {build_eval_set(lang):.2f} min")
    ground_truth = {
        "source": "Debian asterisk-core-sounds-fr-wav (June Wallack) and asterisk-core-sounds-es-wav (Allison Smith), "
        "CC-BY-SA-3.0, see COPYRIGHT.fr and COPYRIGHT.es",
        "built_by": "python -m asr_assets.samples.build_multilingual",
        "seed": SEED,
        "min_pause_s": MIN_PAUSE_S,
        "voice_rms_threshold": VOICE_RMS,
        "calls": build_calls(),
    }
    MULTILINGUAL_GROUND_TRUTH_PATH.write_text(
        json.dumps(ground_truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
