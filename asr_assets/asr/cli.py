"""`asr-assets transcribe | eval | bench | profile`: the engine's command line, and the only engine module that prints.

Results go to stdout (JSON lines for `transcribe`, a short table for `eval` and `bench`); progress bars and
logs go to stderr. `main(argv)` takes the command name as argv[0], as `asr_assets.cli` passes it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from asr_assets.asr.engines import ENGINES, EngineConfig


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine", choices=ENGINES, default="tf", help="tf (ours, default) or faster-whisper (reference)"
    )
    p.add_argument("--beam-size", type=int, default=5, help="1 = greedy; default 5 (as faster-whisper)")
    p.add_argument(
        "--model", default=None, help="Whisper checkpoint directory (default: the bundled tiny.en)"
    )
    vad = p.add_mutually_exclusive_group()
    vad.add_argument(
        "--vad", dest="vad", action="store_true", default=None, help="tf: skip silence per channel"
    )
    vad.add_argument("--no-vad", dest="vad", action="store_false", help="tf: transcribe every window")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asr-assets", description="Whisper (TensorFlow) speech to text")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("transcribe", help="print one JSON object per file: channels, text, timed words")
    p.add_argument("files", nargs="+", metavar="FILE")
    _add_engine_args(p)

    p = sub.add_parser("eval", help="WER and throughput over a folder of sets with transcripts.tsv")
    p.add_argument("dir", metavar="DIR")
    _add_engine_args(p)
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the full report here")
    p.add_argument("--limit", type=int, default=None, help="evaluate N files spread evenly over the sets")

    p = sub.add_parser("bench", help="ours vs faster-whisper on the same files, weights and options")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT")
    p.add_argument("--limit", type=int, default=None, help="use N files spread evenly over the sets")
    p.add_argument(
        "--rescore",
        default=None,
        metavar="REPORT",
        help="score a saved --json report of DIR again (same --limit) instead of transcribing",
    )
    p.add_argument(
        "--model", default=None, help="Whisper checkpoint directory (default: the bundled tiny.en)"
    )
    p.add_argument(
        "--beam-sizes", default="5,1", help="comma-separated beam sizes (default 5,1: beam and greedy)"
    )
    p.add_argument(
        "--skip",
        default="",
        help="comma-separated groups to leave out: tf, tf-vad, fw-float32, fw-int8-batched",
    )

    p = sub.add_parser("profile", help="time per stage on W windows of one file, ours next to CTranslate2's")
    p.add_argument("file", metavar="FILE", nargs="?", help="a recording of at least 30 s")
    p.add_argument(
        "--kernels", action="store_true", help="instead: matmul rates, float32/bfloat16, XLA vs oneDNN"
    )
    p.add_argument("--windows", type=int, default=8, help="30 s windows in the batch (default 8)")
    p.add_argument("--repeat", type=int, default=2, help="timed repeats per stage, fastest kept (default 2)")

    p = sub.add_parser(
        "_bench-worker", help=argparse.SUPPRESS
    )  # one engine in its own process (separate RSS)
    p.add_argument("spec")
    return parser


def _progress_bar(total_s: float, desc: str):
    from tqdm import tqdm

    # Progress is counted in (fractional) audio seconds: show them rounded, not as 414.0259999999997.
    if total_s:
        fmt = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} audio s [{elapsed}<{remaining}, {rate_fmt}]"
    else:
        fmt = "{desc}: {n:.0f} audio s [{elapsed}, {rate_fmt}]"
    return tqdm(
        total=round(total_s, 1) if total_s else None,
        unit="audio s",
        desc=desc,
        file=sys.stderr,
        leave=False,
        bar_format=fmt,
    )


def _config(args: argparse.Namespace) -> EngineConfig:
    return EngineConfig(engine=args.engine, beam_size=args.beam_size, model_path=args.model, vad=args.vad)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from asr_assets.asr.engines import load_engine
    from asr_assets.asr.errors import AsrError

    engine = load_engine(_config(args))
    status = 0
    for path in args.files:
        try:
            run = engine.run([path])
        except AsrError as e:  # one bad file must not hide the others' results
            print(f"asr-assets transcribe: {e}", file=sys.stderr)
            status = 1
            continue
        print(json.dumps(run.results[0], ensure_ascii=False), flush=True)
    return status


def cmd_eval(args: argparse.Namespace) -> int:
    from asr_assets.asr.bench import evaluate, select_items

    items = select_items(args.dir, args.limit)
    report = evaluate(_config(args), items, _progress_bar)
    _print_eval(report)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def _print_eval(report: dict[str, Any]) -> None:
    print(f"{report['config']['label']}: {report['files']} files, {report['audio_s']:.0f} s of audio")
    print(f"{'set':45} {'files':>5} {'WER':>7} {'x real time':>11}")
    for name, s in report["sets"].items():
        print(f"{name:45} {s['files']:5d} {_fmt(s['wer']):>7} {s['speed']:11.1f}")
    print(f"{'ALL':45} {report['files']:5d} {_fmt(report['wer']):>7} {report['speed']:11.1f}")
    print(f"model load {report['load_s']:.1f} s, transcription {report['wall_s']:.1f} s")


def cmd_bench(args: argparse.Namespace) -> int:
    from asr_assets.asr.bench import format_bench, run_bench, select_items

    items = select_items(args.dir, args.limit)
    if args.rescore:
        from asr_assets.asr.bench import rescore

        report = rescore(json.loads(Path(args.rescore).read_text()), items)
    else:
        beams = [int(b) for b in args.beam_sizes.split(",") if b.strip()]
        skip = {s.strip() for s in args.skip.split(",") if s.strip()}
        report = run_bench(items, beams, args.model, skip, args.dir)
    print(format_bench(report))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from asr_assets.asr.profile import format_kernels, format_profile, kernel_rates, run_profile

    if args.kernels:
        print(format_kernels(kernel_rates()))
        return 0
    if not args.file:
        print("asr-assets profile: give a FILE (a recording of at least 30 s) or --kernels", file=sys.stderr)
        return 2
    print(format_profile(run_profile(args.file, args.windows, args.repeat)))
    return 0


def cmd_bench_worker(args: argparse.Namespace) -> int:
    from asr_assets.asr.bench import worker

    worker(Path(args.spec), _progress_bar)
    return 0


COMMANDS = {
    "transcribe": cmd_transcribe,
    "eval": cmd_eval,
    "bench": cmd_bench,
    "profile": cmd_profile,
    "_bench-worker": cmd_bench_worker,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
