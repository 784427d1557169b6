"""`python -m benchmarks wer-languages DIR [DIR ...]`: WER per language, ours vs faster-whisper, same weights.

Issue 17's target: the WER of our engine with the multilingual base within 0.5 absolute of faster-whisper's with the
same weights and options, per language. Every evaluation set under each DIR whose folder names one language (`en`,
`fr`, `es`, ... as in asr_assets/samples/eval, or `asterisk-fr-ca-8k` as in ../shared/eval/multilang) is
transcribed in that language by

- ours, the product's default decoding: `asr-assets transcribe --model base --language LANG` (LiteRT int8 programs,
  batched mode, beam 5, word timestamps), and
- faster-whisper on the same CTranslate2 weights (`benchmarks.engines.ct2_directory`) with the same options:
  `compute_type="int8"`, `BatchedInferencePipeline(...).transcribe(batch_size=8, beam_size=5, language=LANG,
  word_timestamps=True)`,

one engine after the other (never both at once: 2 cores), then both are scored with
`asr_assets.asr.evaluation.score(items, results, LANG)` (Whisper's English normaliser for en, its basic one
otherwise). Sets naming no single language (`nonen-librivox-aeneas-de-es`) are left out and listed.

"0.5 absolute" is read two ways and both are reported: 0.5 percentage points of WER (the strict reading: ours -
faster-whisper <= 0.005) and 0.5 as a fraction (ours - faster-whisper <= 0.5). Ours being better always passes.
"""

from __future__ import annotations

import gc
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from benchmarks.engines import EngineConfig, load_engine
from benchmarks.langid import expected_language

SETTINGS = {
    "ours": EngineConfig(runtime="litert", compute_type="int8", batched=True, beam_size=5),
    "faster-whisper": EngineConfig(engine="faster-whisper", compute_type="int8", batched=True, beam_size=5),
}
STRICT_PP = 0.5  # percentage points of WER
LOOSE = 0.5  # WER as a fraction
_CODE = re.compile(r"^[a-z]{2,3}$")  # en, fr, es, haw
_ASTERISK = re.compile(r"^asterisk-([a-z]{2,3})-")  # asterisk-fr-ca-8k

ProgressFactory = Callable[[float, str], Any]  # (total audio seconds, label) -> a tqdm-like bar


def set_language(set_dir: str | Path) -> str | None:
    """The language a set's folder names: `en` / `fr` / `es` (a Whisper language code as the folder name),
    `asterisk-fr-ca-8k` -> fr, or the langid layout `<source>-<lang>-<country>`; None when it names no single one."""
    from asr_assets.asr.tokenizer import LANGUAGE_CODES

    name = Path(set_dir).name
    if _CODE.match(name):
        return name if name in LANGUAGE_CODES else None
    match = _ASTERISK.match(name)
    code = match.group(1) if match else expected_language(name)
    return code if code in LANGUAGE_CODES else None


def _spread(items: list, limit: int | None) -> list:
    """`limit` of the items, every k-th (as evaluation.select_items), or all of them."""
    if limit is not None and 0 < limit < len(items):
        return [items[i * len(items) // limit] for i in range(limit)]
    return items


def find_language_sets(
    roots: Sequence[str | Path], limit: int | None
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """(sets: one dict per language set with root, set, language, items; absent roots; sets left out)."""
    from asr_assets.asr.evaluation import find_items

    sets, absent, left_out = [], [], []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            absent.append(str(root))
            continue
        by_set: dict[str, list] = {}
        for item in find_items(root):
            by_set.setdefault(item.set_name, []).append(item)
        for set_name, items in by_set.items():
            folder = (root / set_name).resolve()
            language = set_language(folder)
            label = str(root / set_name) if set_name != "." else str(root)
            if language is None:
                left_out.append(label)
                continue
            sets.append(
                {"root": str(root), "set": label, "language": language, "items": _spread(items, limit)}
            )
    return sets, absent, left_out


def _errors(items, results, language: str) -> tuple[int, int]:
    """(edits, reference words) over the items with a reference, every channel counted."""
    from asr_assets.asr.evaluation import word_errors

    edits = words = 0
    for item, result in zip(items, results, strict=True):
        if item.reference is None:
            continue
        for ch in result["channels"]:
            e = word_errors(item.reference, ch["text"], language)
            edits, words = edits + e.errors, words + e.reference_words
    return edits, words


def transcribe_sets(
    sets: list[dict[str, Any]], model: str, progress: ProgressFactory | None = None
) -> dict[str, Any]:
    """Each engine loaded once, over every set in its language: {engine: {load_s, wall_s, model_version,
    results: [per set, the `asr-assets transcribe` JSON of each file]}}."""
    out: dict[str, Any] = {}
    for name, base in SETTINGS.items():
        start = time.perf_counter()
        engine = load_engine(replace(base, model_path=model))
        load_s = time.perf_counter() - start
        per_set, wall_s, loadavg = [], 0.0, []
        for s in sets:
            engine.config = replace(engine.config, language=s["language"])
            bar = progress(0.0, f"{name} {s['language']} {Path(s['set']).name}") if progress else None
            loadavg.append(round(os.getloadavg()[0], 2))
            run = engine.run(
                [str(i.path) for i in s["items"]], progress=bar.update if bar is not None else None
            )
            if bar is not None:
                bar.close()
            per_set.append(run.results)
            wall_s += run.wall_s
        out[name] = {
            "config": {**asdict(engine.config), "language": "per set"},
            "model_version": engine.model_version,
            "load_s": round(load_s, 1),
            "wall_s": round(wall_s, 1),
            "loadavg": loadavg,
            "results": per_set,
        }
        del engine
        gc.collect()
    return out


def _row(set_label: str, language: str, items: list, results: dict[str, list]) -> dict[str, Any]:
    from asr_assets.asr.evaluation import score

    row: dict[str, Any] = {"set": set_label, "language": language, "files": len(items)}
    for name, res in results.items():
        row[f"wer_{name}"] = score(items, res, language)["wer"]
        row[f"errors_{name}"], row["reference_words"] = _errors(items, res, language)
    ours, theirs = row["wer_ours"], row["wer_faster-whisper"]
    if ours is None or theirs is None:
        row.update(diff_pp=None, within_pp=None, within_fraction=None)
    else:
        diff = ours - theirs
        row.update(
            diff_pp=round(100 * diff, 2),
            within_pp=100 * diff <= STRICT_PP + 1e-9,
            within_fraction=diff <= LOOSE + 1e-9,
        )
    return row


def compare(sets: list[dict[str, Any]], runs: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Rows per set, then per language (its sets pooled: corpus WER over all their files), and the per-file
    texts and edits of both engines (for looking at where they differ)."""
    names = list(runs)
    per_set, files = [], []
    pooled: dict[str, tuple[list, dict[str, list]]] = {}
    for k, s in enumerate(sets):
        results = {n: runs[n]["results"][k] for n in names}
        per_set.append(_row(s["set"], s["language"], s["items"], results))
        items, res = pooled.setdefault(s["language"], ([], {n: [] for n in names}))
        items += s["items"]
        for n in names:
            res[n] += results[n]
        for i, item in enumerate(s["items"]):
            row = {"set": s["set"], "file": str(item.path), "reference": item.reference}
            for n in names:
                row[f"text_{n}"] = " | ".join(ch["text"] for ch in results[n][i]["channels"])
                row[f"errors_{n}"] = _errors([item], [results[n][i]], s["language"])[0]
            files.append(row)
    per_language = [_row("all", lang, items, res) for lang, (items, res) in sorted(pooled.items())]
    return {"per_set": per_set, "per_language": per_language, "files": files}


def run_wer_languages(
    roots: Sequence[str | Path], model: str, limit: int | None, progress: ProgressFactory | None = None
) -> dict[str, Any]:
    sets, absent, left_out = find_language_sets(roots, limit)
    report: dict[str, Any] = {
        "model": model,
        "limit_per_set": limit,
        "roots": [str(r) for r in roots],
        "absent": absent,
        "left_out": left_out,
        "sets": [{"set": s["set"], "language": s["language"], "files": len(s["items"])} for s in sets],
    }
    if not sets:
        return {**report, "per_set": [], "per_language": [], "files": [], "engines": {}}
    start = time.perf_counter()
    runs = transcribe_sets(sets, model, progress)
    report["wall_s"] = round(time.perf_counter() - start, 1)
    report.update(compare(sets, runs))
    report["engines"] = {n: r for n, r in runs.items()}
    return report


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f} %"


def _yes(x: bool | None) -> str:
    return "-" if x is None else ("yes" if x else "NO")


def format_report(report: dict[str, Any]) -> str:
    """The table: one line per set and per language (sets pooled), then what was absent or left out."""
    head = (
        f"{'set':<44} {'lang':<4} {'files':>5} {'ref words':>9} {'WER ours':>9} {'WER fw':>9} "
        f"{'ours-fw pp':>10} {'<=0.5 pp':>8} {'<=0.5 frac':>10}"
    )
    lines = [head]
    for row in report["per_set"] + report["per_language"]:
        name = row["set"] if row["set"] != "all" else f"all {row['language']}"
        if len(name) > 44:
            name = "..." + name[-41:]
        diff = "-" if row["diff_pp"] is None else f"{row['diff_pp']:+.2f}"
        lines.append(
            f"{name:<44} {row['language']:<4} {row['files']:>5} {row['reference_words']:>9} "
            f"{_pct(row['wer_ours']):>9} {_pct(row['wer_faster-whisper']):>9} {diff:>10} "
            f"{_yes(row['within_pp']):>8} {_yes(row['within_fraction']):>10}"
        )
    lines.append(
        f"ours: {SETTINGS['ours'].label} (model {report['model']}); faster-whisper: "
        f"{SETTINGS['faster-whisper'].label}; 'within' = ours - fw <= 0.5 percentage points (strict) or <= 0.5 "
        "as a fraction of WER (loose)"
    )
    if report.get("limit_per_set"):
        lines.append(f"--limit {report['limit_per_set']}: at most that many files per set, spread evenly")
    for root in report["absent"]:
        lines.append(f"ABSENT: {root} does not exist; its sets were not evaluated")
    if report["left_out"]:
        lines.append(f"left out (the folder names no single language): {', '.join(report['left_out'])}")
    for name, run in report.get("engines", {}).items():
        lines.append(f"{name}: load {run['load_s']} s, transcription {run['wall_s']} s")
    return "\n".join(lines)
