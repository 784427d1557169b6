"""`python -m benchmarks langid DIR`: how often the engine identifies a file's language, per language.

The expected language comes from the set's folder name (`asterisk-fr-ca-8k` -> fr, `asterisk-es-mx-8k` -> es, ...,
the ../shared/eval/multilang layout); sets whose name names no single language are left out. Files shorter than
`min_s` are left out too (issue 17's target counts files of at least 3 s).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

SET_LANGUAGE = re.compile(r"^[a-z]+-([a-z]{2})-[a-z]{2}\b")  # asterisk-fr-ca-8k -> fr


def expected_language(set_name: str) -> str | None:
    match = SET_LANGUAGE.match(Path(set_name).name)
    return match.group(1) if match else None


def run_langid(root: str | Path, model: str, min_s: float, limit: int | None, engine: str = "litert") -> dict:
    """engine "litert": the pipeline's identifier (int8 programs); "xla": the TensorFlow engine (float32)."""
    from asr_assets.asr.audio import load_audio
    from asr_assets.asr.evaluation import select_items
    from asr_assets.asr.language import detect_language
    from asr_assets.asr.modes import choose_mode
    from asr_assets.asr.transcribe import Transcriber

    items = [item for item in select_items(root, None) if expected_language(item.set_name)]
    if limit is not None and 0 < limit < len(items):
        items = [items[i * len(items) // limit] for i in range(limit)]
    # litert: the batched mode's runtime (the pipeline's identifier); else the sequential mode's (XLA float32)
    mode = choose_mode("batched" if engine == "litert" else "sequential")
    transcriber = Transcriber(model, engine=mode.engine, compute_type=mode.compute_type)
    rows, skipped_short = [], 0
    start = time.perf_counter()
    for item in items:
        audio = load_audio(item.path)
        if audio.duration_s < min_s:
            skipped_short += 1
            continue
        guess = detect_language(transcriber, audio)
        rows.append(
            {
                "file": str(item.path),
                "expected": expected_language(item.set_name),
                "detected": guess.language,
                "probability": round(guess.probability, 4),
                "duration_s": round(audio.duration_s, 2),
            }
        )
    per_language: dict[str, dict] = {}
    for language in sorted({r["expected"] for r in rows}):
        mine = [r for r in rows if r["expected"] == language]
        correct = sum(r["detected"] == language for r in mine)
        wrong = Counter(r["detected"] for r in mine if r["detected"] != language)
        per_language[language] = {
            "files": len(mine),
            "correct": correct,
            "accuracy": round(correct / len(mine), 4),
            "mistaken_for": dict(wrong.most_common(3)),
        }
    total = sum(v["correct"] for v in per_language.values())
    return {
        "model": model,
        "engine": engine,
        "min_s": min_s,
        "files": len(rows),
        "skipped_short": skipped_short,
        "accuracy": round(total / len(rows), 4) if rows else None,
        "per_language": per_language,
        "wall_s": round(time.perf_counter() - start, 1),
        "rows": rows,
    }


def format_langid(report: dict) -> str:
    lines = [f"{'language':<9} {'files':>6} {'correct':>8} {'accuracy':>9}  mistaken for"]
    for language, v in report["per_language"].items():
        mistaken = ", ".join(f"{k} {n}" for k, n in v["mistaken_for"].items()) or "-"
        lines.append(f"{language:<9} {v['files']:>6} {v['correct']:>8} {v['accuracy']:>9.1%}  {mistaken}")
    overall = "n/a" if report["accuracy"] is None else f"{report['accuracy']:.1%}"
    lines.append(
        f"all       {report['files']:>6} {'':>8} {overall:>9}  ({report['skipped_short']} file(s) under "
        f"{report['min_s']:g} s left out; {report['wall_s']} s)"
    )
    return "\n".join(lines)
