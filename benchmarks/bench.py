"""`python -m benchmarks bench DIR`: WER, throughput, memory and parity between our engine and faster-whisper.

The bench runs each engine in its own subprocess (`python -m benchmarks _worker SPEC`) so that peak RSS and model
load are measured per engine and one engine's caches or thread pools cannot slow the other. Workers run one after
the other: on a 2-core machine two at once would measure contention, not the engines. Each setting first
transcribes the first WARMUP_FILES files untimed (`warmup_s`: one full batch of ours, so XLA compiles the
shapes of a full batch there, not in the timed run; faster-whisper gets the same files), then all files (`wall_s`).
"""

from __future__ import annotations

import difflib
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from asr_assets.asr.evaluation import EvalItem, normalize, score
from asr_assets.asr.transcribe import TranscriptionOptions
from benchmarks.engines import EngineConfig, load_engine

REPO_ROOT = Path(__file__).resolve().parent.parent  # where `python -m benchmarks` finds this package
WARMUP_FILES = TranscriptionOptions().batch_size  # one full batch of ours
ProgressFactory = Callable[[float, str], Any]  # (total audio seconds, label) -> a tqdm-like bar

# Engine groups of the bench: one subprocess each. fw-float32 runs the same math and options as ours;
# fw-int8-batched is faster-whisper's fastest CPU setting (int8 weights, BatchedInferencePipeline with Silero VAD).
# tf-vad is ours with the Silero VAD, the like-for-like setting for fw-int8-batched (which skips silence too).
GROUPS = {
    "tf": EngineConfig(engine="tf"),
    "tf-vad": EngineConfig(engine="tf", vad=True),
    "fw-float32": EngineConfig(engine="faster-whisper", compute_type="float32"),
    "fw-int8-batched": EngineConfig(engine="faster-whisper", compute_type="int8", batched=True),
}


def _text(result: dict[str, Any]) -> str:
    return " ".join(ch["text"] for ch in result["channels"])


def _channel_seconds(results: list[dict[str, Any]]) -> float:
    return sum(r["duration"] * len(r["channels"]) for r in results)


def worker(spec_path: Path, progress: ProgressFactory | None = None) -> None:
    """Run one engine group's settings over the spec's files and write the measurements next to the spec."""
    spec = json.loads(spec_path.read_text())
    configs = [EngineConfig(**c) for c in spec["configs"]]
    files = spec["files"]
    start = time.perf_counter()
    engine = load_engine(configs[0])
    load_s = time.perf_counter() - start
    runs = []
    for config in configs:
        engine.config = replace(engine.config, beam_size=config.beam_size)
        start = time.perf_counter()
        engine.run(files[:WARMUP_FILES])
        warmup_s = time.perf_counter() - start
        bar = progress(0.0, config.label) if progress else None
        run = engine.run(files, progress=bar.update if bar is not None else None)
        if bar is not None:
            bar.close()
        runs.append(
            {
                "label": config.label,
                "beam_size": config.beam_size,
                "warmup_s": warmup_s,
                "wall_s": run.wall_s,
                "audio_s": run.audio_s,
                "channel_s": _channel_seconds(run.results),
                "stage_s": run.stage_s,
                "results": run.results,
            }
        )
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    out = {
        "load_s": load_s,
        "peak_rss_mb": peak_rss / 2**20,
        "model_version": engine.model_version,
        "runs": runs,
    }
    Path(spec["out"]).write_text(json.dumps(out, ensure_ascii=False))


def _word_key(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def parity(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    """Agreement of two engines on the same files: identical normalised text, and word timing differences
    over the words matched by a diff of the two word sequences (per channel)."""
    identical, start_d, end_d = 0, [], []
    for a, b in zip(ours, theirs, strict=True):
        identical += normalize(_text(a)) == normalize(_text(b))
        for ca, cb in zip(a["channels"], b["channels"], strict=True):
            wa, wb = ca["words"], cb["words"]
            matcher = difflib.SequenceMatcher(
                None, [_word_key(w["word"]) for w in wa], [_word_key(w["word"]) for w in wb], autojunk=False
            )
            for block in matcher.get_matching_blocks():
                for k in range(block.size):
                    x, y = wa[block.a + k], wb[block.b + k]
                    start_d.append(abs(x["start"] - y["start"]))
                    end_d.append(abs(x["end"] - y["end"]))
    return {
        "files": len(ours),
        "identical_text_pct": 100.0 * identical / len(ours) if ours else None,
        "matched_words": len(start_d),
        "median_abs_start_diff_s": statistics.median(start_d) if start_d else None,
        "median_abs_end_diff_s": statistics.median(end_d) if end_d else None,
    }


def run_bench(
    items: list[EvalItem], beams: list[int], model: str | None, skip: set[str], root: str | Path
) -> dict[str, Any]:
    """All engine groups over the same files, each in its own subprocess, then WER, ratios and parity."""
    files = [str(i.path) for i in items]
    groups: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="asr-bench-") as tmp:
        for name, base in GROUPS.items():
            if name in skip:
                continue
            spec = Path(tmp) / f"{name}.json"
            out = Path(tmp) / f"{name}.out.json"
            configs = [asdict(replace(base, beam_size=b, model_path=model)) for b in beams]
            spec.write_text(json.dumps({"configs": configs, "files": files, "out": str(out)}))
            subprocess.run(
                [sys.executable, "-m", "benchmarks", "_worker", str(spec)], check=True, cwd=REPO_ROOT
            )
            groups[name] = json.loads(out.read_text())
    settings: dict[str, dict[str, Any]] = {}
    for name, group in groups.items():
        for run in group["runs"]:
            scored = score(items, run["results"])
            settings[run["label"]] = {
                "group": name,
                "beam_size": run["beam_size"],
                "speed": run["audio_s"] / run["wall_s"],
                "wall_s": run["wall_s"],
                "warmup_s": run["warmup_s"],
                "load_s": group["load_s"],
                "peak_rss_mb": group["peak_rss_mb"],
                "audio_s": run["audio_s"],
                "channel_s": run["channel_s"],
                "stage_s": run["stage_s"],
                **scored,
                "results": run["results"],
            }
    return {
        "root": str(root),
        "files": len(items),
        "audio_s": sum(s["audio_s"] for s in settings.values()) / max(len(settings), 1),
        "settings": settings,
        "comparisons": compare(settings, beams),
    }


def rescore(report: dict[str, Any], items: list[EvalItem]) -> dict[str, Any]:
    """A saved bench report scored again (WER, ratios, parity) from its stored results, without transcribing:
    for when the scoring rules change. `items` are the report's files, in its order."""
    settings = report["settings"]
    for s in settings.values():
        if [r["file"] for r in s["results"]] != [str(i.path) for i in items]:
            raise ValueError("the report's files differ from the items given; select them as the bench did")
        s.update(score(items, s["results"]))
    beams = sorted({s["beam_size"] for s in settings.values()}, reverse=True)
    return {**report, "comparisons": compare(settings, beams)}


def compare(settings: dict[str, dict[str, Any]], beams: list[int]) -> list[dict[str, Any]]:
    """Per beam size and per setting of ours: speed ratio and WER difference to each faster-whisper setting,
    and text/timing parity with fw-float32."""
    comparisons = []
    for beam in beams:
        by_group = {s["group"]: (label, s) for label, s in settings.items() if s["beam_size"] == beam}
        for ours_group in ("tf", "tf-vad"):
            if ours_group not in by_group:
                continue
            ours_label, ours = by_group[ours_group]
            row: dict[str, Any] = {"beam_size": beam, "ours": ours_label}
            for other in ("fw-float32", "fw-int8-batched"):
                if other in by_group:
                    label, s = by_group[other]
                    row[f"ratio_vs_{other}"] = ours["speed"] / s["speed"]
                    if ours["wer"] is not None and s["wer"] is not None:
                        row[f"wer_diff_vs_{other}"] = ours["wer"] - s["wer"]
            if "fw-float32" in by_group:
                row["parity_vs_fw-float32"] = parity(ours["results"], by_group["fw-float32"][1]["results"])
            comparisons.append(row)
    return comparisons


def format_bench(report: dict[str, Any]) -> str:
    lines = [f"bench over {report['root']}: {report['files']} files, {report['audio_s']:.0f} s of audio", ""]
    lines.append(
        f"{'setting':32} {'x real time':>11} {'WER':>7} {'load s':>7} {'warmup s':>8} {'peak RSS MB':>11}"
    )
    for label, s in report["settings"].items():
        wer = "-" if s["wer"] is None else f"{s['wer']:.3f}"
        lines.append(
            f"{label:32} {s['speed']:11.1f} {wer:>7} {s['load_s']:7.1f} {s['warmup_s']:8.1f} {s['peak_rss_mb']:11.0f}"
        )
        stages = {
            k: v for k, v in s["stage_s"].items() if k in ("front_end", "encoder", "decoder", "alignment")
        }
        if stages and s["wall_s"]:
            share = ", ".join(f"{k} {100 * v / s['wall_s']:.0f}%" for k, v in stages.items())
            lines.append(f"{'':32} time: {share}")
    lines.append("")
    for row in report["comparisons"]:
        parts = [f"{row['ours']}:"]
        for key, value in row.items():
            if key.startswith("ratio_vs_"):
                parts.append(f"ours/{key[9:]} {value:.2f}x")
            elif key.startswith("wer_diff_vs_"):
                parts.append(f"WER diff vs {key[12:]} {value:+.3f}")
        lines.append("  ".join(parts))
        p = row.get("parity_vs_fw-float32")
        if p:
            start = (
                "-"
                if p["median_abs_start_diff_s"] is None
                else f"{1000 * p['median_abs_start_diff_s']:.0f} ms"
            )
            end = "-" if p["median_abs_end_diff_s"] is None else f"{1000 * p['median_abs_end_diff_s']:.0f} ms"
            lines.append(
                f"    parity vs fw-float32: identical text {p['identical_text_pct']:.1f}% of files, "
                f"{p['matched_words']} matched words, median |start| {start}, |end| {end}"
            )
    return "\n".join(lines)
