"""Evaluation sets on disk and word error rate.

A set is a folder with `transcripts.tsv` (`<file>\\t<reference>`, paths relative to the folder) and optionally
`durations.tsv`; a folder with no `transcripts.tsv` of its own is searched for sets below it (so
`../shared/eval/en` evaluates all of its sets). Sets without references (`durations.tsv` only) still count
for speed. Both sides are normalised after dropping bracketed tags (`<cutoff-...>`, `<unk>`, `[laughter]`), as the
eval sets' README asks: with Whisper's English normaliser for English (spellings, numbers, contractions), with its
basic normaliser (case, punctuation, diacritics kept) for every other language, as openai/whisper scores them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jiwer

# MFA and Common Voice references carry tags that are annotations, not words.
_TAG = re.compile(r"<[^<>]*>|\[[^\[\]]*\]")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".aiff", ".aif", ".au", ".caf", ".w64")


@dataclass(frozen=True)
class EvalItem:
    set_name: str  # path of the set folder relative to the evaluated root ("." for the root itself)
    path: Path
    reference: str | None  # None: no reference (speed-only set)


@dataclass(frozen=True)
class WordErrors:
    errors: int  # substitutions + deletions + insertions
    reference_words: int

    @property
    def wer(self) -> float | None:
        return self.errors / self.reference_words if self.reference_words else None


def _read_tsv(path: Path) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        name, _, value = line.partition("\t")
        rows[name] = value
    return rows


def find_items(root: str | Path) -> list[EvalItem]:
    """Every audio file of every set under `root`, sorted by set then file.

    A set is a folder holding `transcripts.tsv` or `durations.tsv`; a bare folder of audio files counts as one
    set without references.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root}: not a folder; give a set folder (with transcripts.tsv) or a parent of sets"
        )
    set_dirs = sorted(
        {p.parent for name in ("transcripts.tsv", "durations.tsv") for p in root.rglob(name)},
    )
    items: list[EvalItem] = []
    for set_dir in set_dirs:
        set_name = str(set_dir.relative_to(root))
        refs_file = set_dir / "transcripts.tsv"
        refs = _read_tsv(refs_file) if refs_file.exists() else {}
        durations_file = set_dir / "durations.tsv"
        durations = _read_tsv(durations_file) if durations_file.exists() else {}
        names = list(refs or durations)
        for name in sorted(names):
            items.append(EvalItem(set_name, set_dir / name, refs.get(name)))
    if not set_dirs:
        for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
            items.append(EvalItem(".", path, None))
    return items


@cache
def _normalizer(language: str):
    if language == "en":
        from whisper_normalizer.english import EnglishTextNormalizer

        return EnglishTextNormalizer()
    from whisper_normalizer.basic import BasicTextNormalizer

    return BasicTextNormalizer()


def normalize(text: str, language: str = "en") -> str:
    """Whisper's normalisation of `text` for its language (module docstring), annotation tags removed first."""
    return " ".join(_normalizer(language)(_TAG.sub(" ", text)).split())


def word_errors(reference: str, hypothesis: str, language: str = "en") -> WordErrors:
    """Edit operations between the normalised texts (an empty reference counts every hypothesis word)."""
    ref, hyp = normalize(reference, language), normalize(hypothesis, language)
    if not ref:
        return WordErrors(len(hyp.split()), 0)
    out = jiwer.process_words(ref, hyp if hyp else "")
    return WordErrors(out.substitutions + out.deletions + out.insertions, len(ref.split()))


def select_items(root: str | Path, limit: int | None) -> list[EvalItem]:
    """All items under `root`, or `limit` of them spread evenly (every k-th) so each set is represented."""
    items = find_items(root)
    if not items:
        raise FileNotFoundError(f"{root}: no transcripts.tsv / durations.tsv / audio files found")
    if limit is not None and 0 < limit < len(items):
        items = [items[i * len(items) // limit] for i in range(limit)]
    return items


def _corpus_wer(errors: list[WordErrors]) -> float | None:
    """Total edits over total reference words (not a mean of per-file WERs)."""
    total = sum(e.reference_words for e in errors)
    return sum(e.errors for e in errors) / total if total else None


def score(items: list[EvalItem], results: list[dict[str, Any]], language: str = "en") -> dict[str, Any]:
    """Corpus WER overall and per set of `asr-assets transcribe` results (one per item, same order), over the
    items that have references, normalised for `language`; a file with several channels counts once per channel."""
    per_set: dict[str, list[WordErrors]] = {}
    counts: dict[str, int] = {}
    for item, result in zip(items, results, strict=True):
        counts[item.set_name] = counts.get(item.set_name, 0) + 1
        if item.reference is not None:
            # One reference per file, so each channel is scored against it on its own: the eval sets' stereo
            # files (JFK, the sonnets) carry the same speech on both channels, and their joined text would
            # count every word twice (WER ~1.0 for both engines).
            errors = per_set.setdefault(item.set_name, [])
            errors += [word_errors(item.reference, ch["text"], language) for ch in result["channels"]]
    sets = {name: {"files": n, "wer": _corpus_wer(per_set.get(name, []))} for name, n in counts.items()}
    return {"wer": _corpus_wer([e for errs in per_set.values() for e in errs]), "sets": sets}
