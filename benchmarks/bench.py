"""`python -m benchmarks bench DIR`: WER, speed, memory and parity between our engine and faster-whisper.

Three measurements (`--measure`, all by default), one after the other, never two processes at once (on a 2-core
machine that would measure contention, not the engines):

- steady: each engine group in its own worker subprocess (`python -m benchmarks _worker SPEC`), engine loaded once
  (`load_s`), then per beam size the first WARMUP_FILES files untimed (`warmup_s`: one full batch, so XLA compiles
  a full batch's shapes there), then all files timed (`wall_s`). Peak RSS is the worker's.
- process (`process.py`): a fresh process per setting and beam size over all files, spawn to exit, start-up
  included: what a user pays for one `asr-assets transcribe` command.
- cold: a fresh process on one ~5 s clip, ours (litert int8 batched) and the peer.

Every setting of ours is compared with the peer, fw-int8-batched (faster-whisper's fastest CPU setting), at the same
beam size. The LiteRT programs are built (once per checkpoint and compute type) before anything is timed.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from asr_assets.asr.evaluation import EvalItem, normalize, score
from asr_assets.asr.types import TranscriptionOptions
from benchmarks.engines import GROUPS, PEER, SAME_MATH, EngineConfig, load_engine

REPO_ROOT = Path(__file__).resolve().parent.parent  # where `python -m benchmarks` finds this package
WARMUP_FILES = TranscriptionOptions().batch_size  # one full batch of ours
MEASURES = ("steady", "process", "cold")
ProgressFactory = Callable[[float, str], Any]  # (total audio seconds, label) -> a tqdm-like bar

__all__ = ["GROUPS", "MEASURES", "compare", "format_bench", "parity", "rescore", "run_bench"]


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
        loadavg = os.getloadavg()[0]
        run = engine.run(files, progress=bar.update if bar is not None else None)
        if bar is not None:
            bar.close()
        runs.append(
            {
                "label": config.label,
                "beam_size": config.beam_size,
                "warmup_s": warmup_s,
                "loadavg": loadavg,
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


def build_programs(groups: Sequence[str], model: str | None) -> dict[str, float]:
    """Seconds to build the LiteRT programs each litert setting needs (about 0 when already cached), so that no
    timed run pays this once-per-checkpoint conversion."""
    from asr_assets.asr.litert.programs import ensure_programs

    built: dict[str, float] = {}
    for name in groups:
        config = GROUPS[name]
        if config.engine == "ours" and config.runtime == "litert" and config.compute_type not in built:
            start = time.perf_counter()
            ensure_programs(model, config.compute_type)
            built[config.compute_type] = time.perf_counter() - start
    return built


def run_steady(items: list[EvalItem], beams: list[int], model: str | None, groups: Sequence[str]):
    """Each engine group in its own worker subprocess, one after another; settings keyed by label."""
    files = [str(i.path) for i in items]
    out_groups: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="asr-bench-") as tmp:
        for name in groups:
            spec = Path(tmp) / f"{name}.json"
            out = Path(tmp) / f"{name}.out.json"
            configs = [asdict(replace(GROUPS[name], beam_size=b, model_path=model)) for b in beams]
            spec.write_text(json.dumps({"configs": configs, "files": files, "out": str(out)}))
            subprocess.run(
                [sys.executable, "-m", "benchmarks", "_worker", str(spec)], check=True, cwd=REPO_ROOT
            )
            out_groups[name] = json.loads(out.read_text())
    settings: dict[str, dict[str, Any]] = {}
    for name, group in out_groups.items():
        for run in group["runs"]:
            scored = score(items, run["results"])
            settings[run["label"]] = {
                "group": name,
                "beam_size": run["beam_size"],
                "speed": run["audio_s"] / run["wall_s"],
                "wall_s": run["wall_s"],
                "warmup_s": run["warmup_s"],
                "loadavg": run["loadavg"],
                "load_s": group["load_s"],
                "peak_rss_mb": group["peak_rss_mb"],
                "audio_s": run["audio_s"],
                "channel_s": run["channel_s"],
                "stage_s": run["stage_s"],
                **scored,
                "results": run["results"],
            }
    return settings


def run_bench(
    items: list[EvalItem],
    beams: list[int],
    model: str | None,
    skip: set[str],
    root: str | Path,
    measures: Sequence[str] = MEASURES,
    repeats: int = 1,
) -> dict[str, Any]:
    """The chosen measurements over the same files, then WER, ratios and parity."""
    from benchmarks.process import COLD_OURS, run_cold_start, run_whole_process

    unknown = (set(skip) - set(GROUPS)) | (set(measures) - set(MEASURES))
    if unknown:
        raise ValueError(f"unknown engine groups or measures: {', '.join(sorted(unknown))}")
    if repeats < 1 or not beams:
        raise ValueError("give at least one beam size and --repeats 1 or more")
    groups = [g for g in GROUPS if g not in skip]
    report: dict[str, Any] = {
        "root": str(root),
        "files": len(items),
        "audio_s": None,
        "measures": list(measures),
        "beams": beams,
        "programs_build_s": build_programs(groups, model),
        "settings": {},
    }
    if "steady" in measures:
        report["settings"] = run_steady(items, beams, model, groups)
    if "cold" in measures and COLD_OURS in groups and PEER in groups:
        report["cold_start"] = run_cold_start(items, beams[0], model, repeats)
    if "process" in measures:
        report["whole_process"] = run_whole_process(items, beams, model, groups, repeats)
    runs = list(report["settings"].values()) + list(
        report.get("whole_process", {}).get("settings", {}).values()
    )
    report["audio_s"] = runs[0]["audio_s"] if runs else None
    report["comparisons"] = compare(report["settings"], beams, report.get("whole_process"))
    return report


def rescore(report: dict[str, Any], items: list[EvalItem]) -> dict[str, Any]:
    """A saved bench report scored again (WER, ratios, parity) from its stored results, without transcribing:
    for when the scoring rules change. `items` are the report's files, in its order."""
    settings = report["settings"]
    for s in settings.values():
        if [r["file"] for r in s["results"]] != [str(i.path) for i in items]:
            raise ValueError("the report's files differ from the items given; select them as the bench did")
        s.update(score(items, s["results"]))
    beams = report.get("beams") or sorted({s["beam_size"] for s in settings.values()}, reverse=True)
    return {**report, "comparisons": compare(settings, beams, report.get("whole_process"))}


def ours_groups(groups: Sequence[str]) -> list[str]:
    return [g for g in GROUPS if g.startswith("ours-") and g in groups]


def parity_reference(group: str) -> str:
    """Whose output a setting of ours should reproduce: the sequential mode fw-float32's (same math and rules),
    the batched mode fw-int8-batched's (same BatchedInferencePipeline rules)."""
    return SAME_MATH if GROUPS[group].mode == "sequential" else PEER


def compare(
    settings: dict[str, dict[str, Any]], beams: Sequence[int], whole_process: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Per beam size and setting of ours, side by side:
    `steady_ratio_vs_X` = X's steady-state wall / ours (= our speed / X's speed on the same audio; > 1: ours
    faster), `process_ratio_vs_fw-int8-batched` = the peer's whole-process wall / ours (paired runs, medians),
    the load averages each figure was measured under, WER differences (ours - theirs), and text/timing parity
    with the faster-whisper setting of the same rules."""
    from benchmarks.process import paired_ratio

    process_settings = (whole_process or {}).get("settings", {})
    process_runs = (whole_process or {}).get("runs", [])
    present = {s["group"] for s in settings.values()} | {s["group"] for s in process_settings.values()}
    comparisons = []
    for beam in beams:
        steady = {s["group"]: (label, s) for label, s in settings.items() if s["beam_size"] == beam}
        process = {s["group"]: (label, s) for label, s in process_settings.items() if s["beam_size"] == beam}
        for group in ours_groups(present):
            label = replace(GROUPS[group], beam_size=beam).label
            row: dict[str, Any] = {"beam_size": beam, "ours": label}
            if group in steady:
                ours = steady[group][1]
                row["steady_loadavg"] = {"ours": ours.get("loadavg")}
                for other in (PEER, SAME_MATH):
                    if other in steady:
                        s = steady[other][1]
                        row[f"steady_ratio_vs_{other}"] = ours["speed"] / s["speed"]
                        row["steady_loadavg"][other] = s.get("loadavg")
                        if ours["wer"] is not None and s["wer"] is not None:
                            row[f"wer_diff_vs_{other}"] = ours["wer"] - s["wer"]
                reference = parity_reference(group)
                if reference in steady:
                    row[f"parity_vs_{reference}"] = parity(ours["results"], steady[reference][1]["results"])
            pair = paired_ratio(process_runs, label) if group in process else None
            if pair is not None:
                row[f"process_ratio_vs_{PEER}"] = pair["ratio"]
                row["process"] = pair
                ours_wer, peer_wer = process[group][1].get("wer"), process.get(PEER, (None, {}))[1].get("wer")
                if ours_wer is not None and peer_wer is not None:
                    row[f"process_wer_diff_vs_{PEER}"] = ours_wer - peer_wer
            comparisons.append(row)
    return comparisons


def _f(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _x(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _loads(xs: Sequence[float | None]) -> str:
    return "/".join(_f(x, ".2f") for x in xs)


def format_bench(report: dict[str, Any]) -> str:
    audio = _f(report.get("audio_s"), ".0f")
    lines = [f"bench over {report['root']}: {report['files']} files, {audio} s of audio"]
    built = report.get("programs_build_s") or {}
    if built:
        lines.append(
            "LiteRT programs ready before timing: " + ", ".join(f"{k} {v:.1f} s" for k, v in built.items())
        )
    if report.get("settings"):
        lines += ["", "steady state (engine loaded once per worker, warm-up untimed)"]
        lines.append(
            f"{'setting':40} {'x real time':>11} {'WER':>7} {'load s':>7} {'warmup s':>8} {'peak RSS MB':>11}"
            f" {'loadavg':>7}"
        )
        for label, s in report["settings"].items():
            lines.append(
                f"{label:40} {s['speed']:11.1f} {_f(s['wer'], '.3f'):>7} {s['load_s']:7.1f} {s['warmup_s']:8.1f}"
                f" {s['peak_rss_mb']:11.0f} {_f(s.get('loadavg'), '.2f'):>7}"
            )
            stages = {
                k: v for k, v in s["stage_s"].items() if k in ("front_end", "encoder", "decoder", "alignment")
            }
            if stages and s["wall_s"]:
                share = ", ".join(f"{k} {100 * v / s['wall_s']:.0f}%" for k, v in stages.items())
                lines.append(f"{'':40} time: {share}")
    wp = report.get("whole_process")
    if wp:
        lines += [
            "",
            f"whole process (fresh process over all files, spawn to exit; median of {wp['repeats']})",
        ]
        lines.append(
            f"{'setting':40} {'wall s':>8} {'x real time':>11} {'WER':>7} {'peak RSS MB':>11} {'loadavg':>9}"
        )
        for label, s in wp["settings"].items():
            lines.append(
                f"{label:40} {s['wall_s']:8.1f} {_f(s['speed'], '.1f'):>11} {_f(s.get('wer'), '.3f'):>7}"
                f" {s['peak_rss_mb']:11.0f} {_loads(s['loadavgs']):>9}"
            )
    cold = report.get("cold_start")
    if cold:
        lines += [
            "",
            f"cold start (fresh process, one {_f(cold['clip_s'], '.1f')} s clip of {cold['source']})",
        ]
        for label, s in cold["settings"].items():
            walls = ", ".join(f"{w:.2f}" for w in s["walls"])
            lines.append(
                f"{label:40} {s['wall_s']:8.2f} s  (runs {walls}; loadavg {_loads(s['loadavgs'])};"
                f" peak RSS {s['peak_rss_mb']:.0f} MB)"
            )
        if cold.get("comparison"):
            lines.append(f"{'peer wall / ours':40} {cold['comparison']['ratio']:8.2f}x")
    if report.get("comparisons"):
        lines += [
            "",
            f"ours vs {PEER} at the same beam (ratio = {PEER} wall / ours: > 1 means ours is faster)",
        ]
        lines.append(
            f"{'ours':40} {'steady':>7} {'loadavg o/p':>11} {'process':>8} {'loadavg o/p':>11}"
            f" {'WER diff':>8} {'vs ' + SAME_MATH:>14}"
        )
        for row in report["comparisons"]:
            steady_load = row.get("steady_loadavg") or {}
            proc = row.get("process") or {}
            proc_load = f"{_loads(proc['our_loadavg'])}/{_loads(proc['peer_loadavg'])}" if proc else "-"
            steady_loads = _loads([steady_load.get("ours"), steady_load.get(PEER)]) if steady_load else "-"
            wer_diff = row.get(f"wer_diff_vs_{PEER}", row.get(f"process_wer_diff_vs_{PEER}"))
            lines.append(
                f"{row['ours']:40} {_x(row.get(f'steady_ratio_vs_{PEER}')):>7} {steady_loads:>11}"
                f" {_x(row.get(f'process_ratio_vs_{PEER}')):>8} {proc_load:>11}"
                f" {_f(wer_diff, '+.3f'):>8} {_x(row.get(f'steady_ratio_vs_{SAME_MATH}')):>14}"
            )
            for key, p in row.items():
                if not key.startswith("parity_vs_"):
                    continue
                start = (
                    "-"
                    if p["median_abs_start_diff_s"] is None
                    else f"{1000 * p['median_abs_start_diff_s']:.0f} ms"
                )
                end = (
                    "-"
                    if p["median_abs_end_diff_s"] is None
                    else f"{1000 * p['median_abs_end_diff_s']:.0f} ms"
                )
                lines.append(
                    f"    parity vs {key[10:]}: identical text {_f(p['identical_text_pct'], '.1f')}% of files, "
                    f"{p['matched_words']} matched words, median |start| {start}, |end| {end}"
                )
    return "\n".join(lines)
