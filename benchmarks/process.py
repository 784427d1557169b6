"""Whole-process and cold-start measurements: what a user pays for one command, start-up included.

Each run is a fresh process over all the files, timed from spawn to exit: ours is the product's command line
(`python -m asr_assets.cli transcribe OPTIONS FILE...`, the `asr-assets` entry point), faster-whisper is
`python -m benchmarks _fw_transcribe OPTIONS FILE...` (imports faster-whisper, loads the model, transcribes every
channel of every file, prints the same JSON lines). Both run with this interpreter (`sys.executable`), stdout
captured and parsed, so WER is scored on exactly what the process printed. Peak RSS is the child's own (GNU
`/usr/bin/time -f %M` when installed, else psutil polling every 50 ms), and the 1-minute load average is read
right before each spawn. Settings of ours and the peer (fw-int8-batched) alternate, see `schedule`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.engines import GROUPS, PEER, EngineConfig

REPO_ROOT = Path(__file__).resolve().parent.parent  # where `python -m benchmarks` finds this package
FW_WORKER = "_fw_transcribe"
GNU_TIME = "/usr/bin/time"
COLD_CLIP_S = 5.0
COLD_OURS = "ours-litert-int8-batched"


def command(config: EngineConfig, files: Sequence[str]) -> list[str]:
    """The command line of one whole-process run of `config` over `files`."""
    if config.engine == "ours":
        head = [sys.executable, "-m", "asr_assets.cli", "transcribe"]
    else:
        head = [sys.executable, "-m", "benchmarks", FW_WORKER]
    return [*head, *config.transcribe_args(), *files]


def schedule(groups: Sequence[str], beams: Sequence[int], repeats: int) -> list[dict[str, Any]]:
    """The order of the whole-process runs: per repeat and beam size, each setting of ours followed by a run of
    the peer (fw-int8-batched) that is its pair (`pair`), so each ratio comes from back-to-back runs on the same
    machine state; the other faster-whisper settings (fw-float32) run last, unpaired."""
    ours = [g for g in groups if g.startswith("ours-")]
    others = [g for g in groups if not g.startswith("ours-") and g != PEER]
    order: list[dict[str, Any]] = []
    for repeat in range(repeats):
        for beam in beams:
            for group in ours:
                order.append({"group": group, "beam_size": beam, "repeat": repeat, "pair": None})
                if PEER in groups:
                    order.append({"group": PEER, "beam_size": beam, "repeat": repeat, "pair": group})
            if not ours and PEER in groups:
                order.append({"group": PEER, "beam_size": beam, "repeat": repeat, "pair": None})
            for group in others:
                order.append({"group": group, "beam_size": beam, "repeat": repeat, "pair": None})
    return order


def _poll_peak_rss(proc: subprocess.Popen) -> tuple[str, str, int]:
    import psutil

    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.05)
    out, err = proc.communicate()
    return out, err, peak


def measure(cmd: list[str], cwd: Path = REPO_ROOT) -> dict[str, Any]:
    """One fresh process: wall seconds from spawn to exit, the child's peak RSS, the load average before it,
    and the JSON objects it printed."""
    loadavg = os.getloadavg()[0]
    with tempfile.NamedTemporaryFile(prefix="asr-bench-rss-", suffix=".txt") as rss_file:
        use_time = os.access(GNU_TIME, os.X_OK)
        full = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *cmd] if use_time else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if use_time:
            out, err = proc.communicate()
            wall_s = time.perf_counter() - start
            lines = Path(rss_file.name).read_text().split()
            peak_bytes = int(lines[-1]) * 1024 if lines and lines[-1].isdigit() else 0  # %M is KiB
        else:
            out, err, peak_bytes = _poll_peak_rss(proc)
            wall_s = time.perf_counter() - start
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {
        "wall_s": wall_s,
        "peak_rss_mb": peak_bytes / 2**20,
        "loadavg": loadavg,
        "returncode": proc.returncode,
        "rss_from": "time" if use_time else "psutil",
        "results": results,
        "stderr_tail": "\n".join(err.strip().splitlines()[-5:]),
    }


def _run(config: EngineConfig, files: Sequence[str]) -> dict[str, Any]:
    run = measure(command(config, files))
    if run["returncode"] != 0 or len(run["results"]) != len(files):
        raise RuntimeError(
            f"{config.label}: exit status {run['returncode']}, {len(run['results'])} of {len(files)} results; "
            f"stderr: {run['stderr_tail']}"
        )
    run["audio_s"] = sum(r["duration"] for r in run["results"])
    return run


def _median(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per setting label: the median wall of its runs, every wall and load average, peak RSS (the largest)."""
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        s = out.setdefault(
            run["label"],
            {"group": run["group"], "beam_size": run["beam_size"], "walls": [], "loadavgs": [], "rss": []},
        )
        s["walls"].append(run["wall_s"])
        s["loadavgs"].append(run["loadavg"])
        s["rss"].append(run["peak_rss_mb"])
        s["audio_s"] = run["audio_s"]
        if "wer" in run:
            s["wer"] = run["wer"]
    for s in out.values():
        s["wall_s"] = _median(s["walls"])
        s["speed"] = s["audio_s"] / s["wall_s"] if s["wall_s"] else None
        s["peak_rss_mb"] = max(s.pop("rss"))
    return out


def paired_ratio(runs: list[dict[str, Any]], ours_label: str) -> dict[str, Any] | None:
    """peer_wall / our_wall (> 1: ours is faster) for one setting of ours: the median wall of the peer runs
    paired with it over the median wall of its own runs, with the load averages of both."""
    mine = [r for r in runs if r["label"] == ours_label]
    if not mine:
        return None
    peers = [r for r in runs if r["pair"] == mine[0]["group"] and r["beam_size"] == mine[0]["beam_size"]]
    if not peers:
        return None
    our_wall, peer_wall = _median([r["wall_s"] for r in mine]), _median([r["wall_s"] for r in peers])
    return {
        "ratio": peer_wall / our_wall,
        "our_wall_s": our_wall,
        "peer_wall_s": peer_wall,
        "our_loadavg": [r["loadavg"] for r in mine],
        "peer_loadavg": [r["loadavg"] for r in peers],
    }


def run_whole_process(
    items: list, beams: Sequence[int], model: str | None, groups: Sequence[str], repeats: int
) -> dict[str, Any]:
    """Every setting in `groups` at every beam size as a fresh process over all files, in `schedule` order."""
    from asr_assets.asr.evaluation import score

    files = [str(i.path) for i in items]
    runs = []
    for step in schedule(groups, beams, repeats):
        config = replace(GROUPS[step["group"]], beam_size=step["beam_size"], model_path=model)
        print(f"whole process: {config.label} (repeat {step['repeat'] + 1})", file=sys.stderr, flush=True)
        run = _run(config, files)
        run["wer"] = score(items, run.pop("results"))["wer"]
        runs.append({**step, "label": config.label, **run})
    return {"repeats": repeats, "runs": runs, "settings": summarize(runs)}


def cold_clip(path: str | Path, directory: Path, seconds: float = COLD_CLIP_S) -> Path:
    """The first `seconds` of `path` (every channel, 16 kHz) as a WAV file in `directory`."""
    import soundfile as sf

    from asr_assets.asr.audio import SAMPLE_RATE, load_audio

    audio = load_audio(path)
    clip = directory / f"cold-{seconds:g}s.wav"
    sf.write(clip, audio.channels[:, : int(seconds * SAMPLE_RATE)].T, SAMPLE_RATE, subtype="PCM_16")
    return clip


def run_cold_start(items: list, beam: int, model: str | None, repeats: int) -> dict[str, Any]:
    """One fresh process on one ~5 s clip, ours (litert int8 batched) then the peer, `repeats` times.
    One untimed pair runs first (`prime`): it fills the page cache (and builds LiteRT programs if missing)."""
    with tempfile.TemporaryDirectory(prefix="asr-bench-cold-") as tmp:
        clip = cold_clip(items[0].path, Path(tmp))
        configs = [replace(GROUPS[g], beam_size=beam, model_path=model) for g in (COLD_OURS, PEER)]
        prime = [_run(c, [str(clip)])["wall_s"] for c in configs]
        runs = []
        for repeat in range(repeats):
            for config, pair in zip(configs, (None, COLD_OURS), strict=True):
                run = _run(config, [str(clip)])
                run.pop("results")
                runs.append(
                    {
                        "group": config.group,
                        "beam_size": beam,
                        "repeat": repeat,
                        "pair": pair,
                        "label": config.label,
                        **run,
                    }
                )
    settings = summarize(runs)
    ours_label = configs[0].label
    return {
        "source": str(items[0].path),
        "clip_s": runs[0]["audio_s"] if runs else None,
        "prime_wall_s": prime,
        "runs": runs,
        "settings": settings,
        "ours": ours_label,
        "peer": configs[1].label,
        "comparison": paired_ratio(runs, ours_label),
    }


def fw_transcribe(files: Sequence[str], config: EngineConfig) -> int:
    """`_fw_transcribe`: faster-whisper loaded in this process, every file transcribed, one JSON line each."""
    from benchmarks.engines import FasterWhisperEngine

    engine = FasterWhisperEngine(config)
    for path in files:
        print(json.dumps(engine.transcribe_file(path), ensure_ascii=False), flush=True)
    return 0
