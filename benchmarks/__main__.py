"""`python -m benchmarks bench DIR | profile FILE`: the benchmarks' own command line (results on stdout)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asr_assets.cli import parse_args
from benchmarks.engines import GROUPS
from benchmarks.latency import add_parser as add_latency_parser
from benchmarks.latency import cmd_latency
from benchmarks.scaling_report import add_parser as add_scaling_parser
from benchmarks.scaling_report import cmd_scaling
from benchmarks.tick_time import add_parser as add_tick_time_parser
from benchmarks.tick_time import cmd_tick_time

COMMANDS = (
    "bench",
    "profile",
    "soak",
    "langid",
    "wer-languages",
    "pg-volume",
    "scaling",
    "latency",
    "tick-time",
)  # the public ones; the two below are the bench's own subprocesses, not listed
WORKER = "_worker"
FW_WORKER = (
    "_fw_transcribe"  # benchmarks.process.FW_WORKER (not imported here: it is the faster-whisper process)
)
MEASURES = ("steady", "process", "cold")  # benchmarks.bench.MEASURES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Our TensorFlow Whisper against faster-whisper / CTranslate2 on the same files, weights "
        "and options (needs the dev dependencies: uv sync). Results are recorded in BENCHMARKS.md.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")

    p = sub.add_parser(
        "bench",
        help="WER, speed, load time, peak memory and parity, ours vs faster-whisper",
        description="Every engine group over the same files, one process at a time: steady state (engine "
        "loaded once in a worker, warm-up untimed), whole process (a fresh `asr-assets transcribe` or "
        "faster-whisper process over all files, spawn to exit) and cold start (a fresh process on a 5 s clip). "
        "Prints a table; --json keeps every result.",
    )
    p.add_argument(
        "dir",
        metavar="DIR",
        help="an evaluation set (a folder with transcripts.tsv or durations.tsv) or a folder of such sets",
    )
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the full report here")
    p.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use N files spread evenly over the sets"
    )
    p.add_argument(
        "--rescore",
        default=None,
        metavar="REPORT",
        help="score a saved --json report of DIR again (same --limit) instead of transcribing",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="MODEL_DIR",
        help="CTranslate2 Whisper directory both engines load (default: the bundled tiny.en)",
    )
    p.add_argument(
        "--beam-sizes",
        default="5,1",
        metavar="LIST",
        help="comma-separated beam sizes (default %(default)s: beam search and greedy)",
    )
    p.add_argument(
        "--skip",
        default="",
        metavar="GROUPS",
        help=f"comma-separated engine groups to leave out, of: {', '.join(GROUPS)}",
    )
    p.add_argument(
        "--measure",
        default=",".join(MEASURES),
        metavar="LIST",
        help="comma-separated measurements, of: steady (engine loaded once, warm), process (a fresh process per "
        "setting over all files, start-up included), cold (a fresh process on one 5 s clip) "
        "(default %(default)s)",
    )
    p.add_argument(
        "--whole-process",
        dest="measure",
        action="store_const",
        const="process,cold",
        help="shorthand for --measure process,cold (no steady state)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        metavar="N",
        help="whole-process and cold-start runs per setting, ours and the peer alternating; medians reported "
        "(default %(default)s)",
    )

    p = sub.add_parser(
        "profile",
        help="time per stage on W windows of one file, ours next to CTranslate2's",
        description="Encoder, greedy and beam-5 generation and (ours) the alignment pass on the same 30 s "
        "windows, each stage compiled/warmed once, then timed --repeat times (fastest kept).",
    )
    p.add_argument("file", metavar="FILE", nargs="?", help="a recording of at least 30 s")
    p.add_argument(
        "--kernels",
        action="store_true",
        help="instead: matmul rates at tiny.en's shapes, float32 vs bfloat16, XLA vs oneDNN",
    )
    p.add_argument(
        "--first-run",
        action="store_true",
        help="instead: what the LiteRT decoder-step program costs the first time it runs at a larger shape",
    )
    p.add_argument(
        "--no-xnnpack",
        action="store_true",
        help="with --first-run: TFLite's builtin kernels instead of XNNPACK",
    )
    p.add_argument(
        "--windows", type=int, default=8, metavar="W", help="30 s windows in the batch (default %(default)s)"
    )
    p.add_argument(
        "--repeat", type=int, default=2, help="timed repeats per stage, fastest kept (default %(default)s)"
    )

    p = sub.add_parser(
        "soak",
        help="generated calls through the real daemon with faults; exit 0 when none is lost or duplicated",
        description="N short generated calls (plus hostile files) landed in waves by `asr-assets ingest` into a "
        "temp ASR_HOME (embedded PostgreSQL, the real dagster-daemon), with kill -9 of the run worker and of "
        "the daemon, then every file looked up in asr_raw.calls / asr_raw.quarantine.",
    )
    p.add_argument("--files", type=int, default=2000, metavar="N", help="good calls (default %(default)s)")
    p.add_argument(
        "--faults",
        default="kill-worker,kill-daemon,hostile",
        metavar="LIST",
        help="comma-separated, of: kill-worker, kill-daemon, hostile; 'none' for none (default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default %(default)s)")
    p.add_argument("--waves", type=int, default=4, help="ingests of N/W files each (default %(default)s)")
    p.add_argument(
        "--batch-files", type=int, default=100, metavar="B", help="ASR_BATCH_MAX_FILES (default %(default)s)"
    )
    p.add_argument(
        "--ingest-timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="each ingest's --timeout (default %(default)s)",
    )
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the report here")
    p.add_argument("--keep", action="store_true", help="keep the temp corpus, ASR_HOME and ingest log")

    p = sub.add_parser(
        "langid",
        help="language identification accuracy per language (the set folder names the language)",
        description="Identify the language of every file of at least --min-seconds under DIR (e.g. "
        "../shared/eval/multilang) with the multilingual model and compare with the language the set's folder "
        "names (asterisk-fr-ca-8k -> fr).",
    )
    p.add_argument("dir", metavar="DIR", help="a folder of evaluation sets")
    p.add_argument("--model", default="base", help="a multilingual checkpoint (default %(default)s)")
    p.add_argument(
        "--engine",
        choices=("litert", "xla"),
        default="litert",
        help="litert: the pipeline's identifier, int8 programs; xla: TensorFlow float32 (default %(default)s)",
    )
    p.add_argument(
        "--min-seconds", type=float, default=3.0, help="shortest file counted (default %(default)s)"
    )
    p.add_argument("--limit", type=int, default=None, metavar="N", help="N files spread evenly over the sets")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the full report here")

    p = sub.add_parser(
        "wer-languages",
        help="WER per language, ours (product default) vs faster-whisper on the same weights and options",
        description="Every set under each DIR whose folder names one language (en, fr, es, ... or "
        "asterisk-fr-ca-8k) transcribed in that language by ours (LiteRT int8, batched, beam 5) and by "
        "faster-whisper (int8, BatchedInferencePipeline batch 8, beam 5, word timestamps), one engine after the "
        "other, scored with the language's normaliser. A DIR that does not exist is reported as absent.",
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="evaluation sets or folders of sets")
    p.add_argument(
        "--model", default="base", help="a multilingual checkpoint, name or folder (default %(default)s)"
    )
    p.add_argument(
        "--limit", type=int, default=None, metavar="N", help="at most N files per set, spread evenly"
    )
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the full report here")

    add_latency_parser(sub)  # `latency`: landed -> fct_calls on a warm local platform (benchmarks/latency.py)
    add_tick_time_parser(sub)  # `tick-time`: landing ticks over 1,000 vs 1,000,000 registered files
    add_scaling_parser(sub)  # `scaling`: the scaling model (benchmarks/scaling.py, docs/scaling.md)

    p = sub.add_parser(
        "pg-volume",
        help="PostgreSQL per-batch cost (COPY load, reload, erasure, dbt build) as asr_raw.words grows",
        description="Two scratch databases on the server of --database-url, the current design (migrations up to "
        "0007) and the partitioned one (every migration), grown to 0, 1/4, 1/2 and all of --rows generated words; "
        "at each size one new batch of 200 calls (280,000 words) is loaded, reloaded, has a call erased and is "
        "built by dbt, through the project's own code, timed. The databases are dropped at the end.",
    )
    p.add_argument(
        "--database-url", required=True, metavar="URL", help="a server to create the scratch databases on"
    )
    p.add_argument(
        "--rows", type=int, default=20_000_000, help="words at the largest size (default %(default)s)"
    )
    p.add_argument(
        "--sizes",
        default=None,
        metavar="LIST",
        help="comma-separated word counts instead of 0, rows/4, rows/2, rows",
    )
    p.add_argument("--calls-per-batch", type=int, default=200, help="calls per batch (default %(default)s)")
    p.add_argument(
        "--words-per-channel", type=int, default=700, help="words per call channel (default %(default)s)"
    )
    p.add_argument("--no-upgrade", action="store_true", help="skip migrating the current design's database")
    p.add_argument("--keep", action="store_true", help="keep the scratch databases")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the full report here")

    # One engine group in its own process, started by `bench`. Added without `help`, so the command list leaves
    # it out; the subparsers' metavar leaves it out of the usage line.
    p = sub.add_parser(WORKER)
    p.add_argument("spec", help="the JSON spec `bench` wrote (settings, files, where to write the output)")

    # faster-whisper as a whole process (bench's whole-process and cold-start runs): the same JSON lines as
    # `asr-assets transcribe`. Hidden like the worker.
    p = sub.add_parser(FW_WORKER)
    p.add_argument("files", nargs="+", metavar="FILE", help="recordings to transcribe, every channel")
    p.add_argument("--compute-type", choices=("int8", "float32"), default="int8", help="CTranslate2 weights")
    p.add_argument(
        "--batched", action="store_true", help="BatchedInferencePipeline (batch_size 8) and its VAD"
    )
    p.add_argument("--beam-size", type=int, default=5, help="beam width; 1 = greedy")
    p.add_argument(
        "--model", default=None, metavar="DIR", help="CTranslate2 directory (default: bundled tiny.en)"
    )
    p.add_argument("--language", default="en", help="spoken language, a Whisper code (default %(default)s)")
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    from asr_assets.asr.evaluation import select_items
    from benchmarks.bench import format_bench, rescore, run_bench

    items = select_items(args.dir, args.limit)
    if args.rescore:
        report = rescore(json.loads(Path(args.rescore).read_text()), items)
    else:
        beams = [int(b) for b in args.beam_sizes.split(",") if b.strip()]
        skip = {s.strip() for s in args.skip.split(",") if s.strip()}
        measures = [m.strip() for m in args.measure.split(",") if m.strip()]
        try:
            report = run_bench(items, beams, args.model, skip, args.dir, measures, args.repeats)
        except ValueError as e:
            print(f"python -m benchmarks bench: {e}", file=sys.stderr)
            return 2
    print(format_bench(report))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from benchmarks.profile import first_run_costs, format_kernels, format_profile, kernel_rates, run_profile

    if args.kernels:
        print(format_kernels(kernel_rates()))
        return 0
    if args.first_run:
        for row in first_run_costs(xnnpack=not args.no_xnnpack):
            print(row)
        return 0
    if not args.file:
        print(
            "python -m benchmarks profile: give a FILE (at least 30 s long), --kernels or --first-run",
            file=sys.stderr,
        )
        return 2
    print(format_profile(run_profile(args.file, args.windows, args.repeat)))
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    from benchmarks.soak import FAULTS, format_summary, run_soak

    faults = [f.strip() for f in args.faults.split(",") if f.strip() and f.strip() != "none"]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown or args.files < 1 or args.waves < 1:
        print(
            f"python -m benchmarks soak: unknown faults {unknown} (known: {', '.join(FAULTS)}), "
            "or --files/--waves below 1",
            file=sys.stderr,
        )
        return 2
    report = run_soak(
        args.files, faults, args.seed, args.waves, args.batch_files, args.ingest_timeout, args.keep
    )
    print(format_summary(report))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0 if report["lost"] == 0 and report["duplicated"] == 0 else 1


def cmd_worker(args: argparse.Namespace) -> int:
    from asr_assets.asr.cli import progress_bar
    from benchmarks.bench import worker

    worker(Path(args.spec), progress_bar)
    return 0


def cmd_fw_transcribe(args: argparse.Namespace) -> int:
    from benchmarks.engines import EngineConfig
    from benchmarks.process import fw_transcribe

    config = EngineConfig(
        engine="faster-whisper",
        compute_type=args.compute_type,
        batched=args.batched,
        beam_size=args.beam_size,
        model_path=args.model,
        language=args.language,
    )
    return fw_transcribe(args.files, config)


def cmd_langid(args: argparse.Namespace) -> int:
    from benchmarks.langid import format_langid, run_langid

    report = run_langid(args.dir, args.model, args.min_seconds, args.limit, args.engine)
    print(format_langid(report))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def cmd_wer_languages(args: argparse.Namespace) -> int:
    from asr_assets.asr.cli import progress_bar
    from benchmarks.wer_languages import format_report, run_wer_languages

    report = run_wer_languages(args.dirs, args.model, args.limit, progress_bar)
    print(format_report(report))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    if not report["sets"]:
        print("python -m benchmarks wer-languages: no set naming a language found", file=sys.stderr)
        return 2
    return 0


def cmd_pg_volume(args: argparse.Namespace) -> int:
    from benchmarks.pg_volume import run_pg_volume
    from benchmarks.pg_volume_data import Shape
    from benchmarks.pg_volume_report import format_report

    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else None
    shape = Shape(calls=args.calls_per_batch, words_per_channel=args.words_per_channel)
    report = run_pg_volume(
        args.database_url, args.rows, sizes, shape, keep=args.keep, upgrade=not args.no_upgrade
    )
    print(format_report(report))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1))
    return 0


HANDLERS = {
    "bench": cmd_bench,
    "profile": cmd_profile,
    "soak": cmd_soak,
    "langid": cmd_langid,
    "wer-languages": cmd_wer_languages,
    "pg-volume": cmd_pg_volume,
    "scaling": cmd_scaling,
    "latency": cmd_latency,
    "tick-time": cmd_tick_time,
    WORKER: cmd_worker,
    FW_WORKER: cmd_fw_transcribe,
}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    return HANDLERS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
