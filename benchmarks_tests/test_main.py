"""`python -m benchmarks`: its own parser (the worker hidden), and the product kept free of the reference engine."""

import argparse
import ast
import subprocess
import sys
from pathlib import Path

from benchmarks.__main__ import FW_WORKER, MEASURES, WORKER, build_parser

REPO = Path(__file__).resolve().parents[1]


def test_help_lists_bench_and_profile_only():
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], capture_output=True, text=True, check=True, cwd=REPO
    )
    usage = " ".join(out.stdout.split())  # argparse wraps the usage line once it is long
    assert usage.startswith(
        "usage: python -m benchmarks [-h] [-v] {bench,profile,soak,langid,wer-languages,pg-volume,scaling,latency,tick-time} ..."
    )
    assert "bench" in out.stdout and "profile" in out.stdout
    assert WORKER not in out.stdout and FW_WORKER not in out.stdout


def test_every_option_has_help_text():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, p in [("benchmarks", parser), *sub.choices.items()]:
        for option in p._actions:
            if not isinstance(option, argparse._SubParsersAction):
                assert option.help and option.help != argparse.SUPPRESS, f"{name} {option.dest}: no help text"
    args = parser.parse_args(["bench", "d", "--skip", "ours-xla-float32-sequential-vad", "--beam-sizes", "1"])
    assert (args.dir, args.skip, args.beam_sizes) == ("d", "ours-xla-float32-sequential-vad", "1")
    assert (args.measure, args.repeats) == ("steady,process,cold", 1)  # everything by default
    args = parser.parse_args(["bench", "d", "--whole-process", "--repeats", "3"])
    assert (args.measure, args.repeats) == ("process,cold", 3)
    args = parser.parse_args([FW_WORKER, "--batched", "--beam-size", "1", "a.wav", "b.wav"])
    assert (args.files, args.batched, args.compute_type, args.beam_size) == (
        ["a.wav", "b.wav"],
        True,
        "int8",
        1,
    )


def test_measures_and_worker_names_agree_with_their_modules():
    from benchmarks import bench, process

    assert MEASURES == bench.MEASURES and FW_WORKER == process.FW_WORKER


def test_the_product_never_imports_the_reference_engine():
    for path in (REPO / "asr_assets").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in ("faster_whisper", "ctranslate2", "benchmarks"), f"{path} imports {name}"
