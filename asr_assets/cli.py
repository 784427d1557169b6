"""The `asr-assets` console script: one argparse parser, each command's heavy imports inside its handler.

`transcribe` and `eval` run the engine (`asr_assets.asr.cli`, no Dagster); `ingest` and `ui` run the local
platform (`asr_assets.local.commands`, Dagster). Importing this module imports neither TensorFlow nor Dagster.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from asr_assets.asr import cli as engine_cli


def _stop_on_signals() -> None:
    """SIGTERM (what systemd, docker and `kill` send) and SIGINT unwind like Ctrl-C, so the command's `finally`
    blocks stop what it started (webserver, daemon, run workers, the embedded PostgreSQL). SIGINT is installed
    too because a shell that starts a command in the background (`cmd &`) starts it with SIGINT ignored."""

    def interrupt(signum, frame):
        for sig in (signal.SIGTERM, signal.SIGINT):  # one is enough: let the clean-up finish
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, interrupt)


def _ingest(args: argparse.Namespace) -> int:
    from asr_assets.local.commands import ingest

    _stop_on_signals()
    return ingest(args)


def _erase(args: argparse.Namespace) -> int:
    from asr_assets.local.commands import erase

    return erase(args)


def _evaluate(args: argparse.Namespace) -> int:
    from asr_assets.local.models import evaluate

    return evaluate(args)


def _db_url(args: argparse.Namespace) -> int:
    from asr_assets.local.db_url import db_url

    return db_url(args)


def _report(args: argparse.Namespace) -> int:
    from asr_assets.local.report import report

    return report(args)


def _ui(args: argparse.Namespace) -> int:
    from asr_assets.local.commands import ui

    _stop_on_signals()
    return ui(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asr-assets",
        description="Call recordings to word-level transcripts: Whisper in TensorFlow, as Dagster assets "
        "loaded into PostgreSQL and curated with dbt.",
        epilog="asr-assets COMMAND --help describes a command's arguments.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log at INFO on stderr (default: warnings only)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "transcribe",
        help="print one JSON object per file: channels, text, timed words",
        description="Transcribe recordings with the TensorFlow Whisper engine; one JSON line per file on "
        "stdout ({file, duration, model_version, channels: [{channel, text, words}]}).",
    )
    engine_cli.add_transcribe_arguments(p)
    p.set_defaults(handler=engine_cli.cmd_transcribe)

    p = sub.add_parser(
        "eval",
        help="WER and throughput over a folder of evaluation sets",
        description="Transcribe every file of the evaluation sets under DIR and print the corpus WER and the "
        "speed (x real time) per set and overall.",
    )
    engine_cli.add_eval_arguments(p)
    p.set_defaults(handler=engine_cli.cmd_eval)

    p = sub.add_parser(
        "ingest",
        help="land the audio files of DIR and wait until they are loaded",
        description="Copy the recordings of DIR into the landing zone, run the pipeline (a dagster-daemon is "
        "started if none runs) and print what was transcribed, quarantined or skipped.",
    )
    p.add_argument("dir", help="folder of recordings (WAV, FLAC, MP3, Ogg, ...)")
    p.add_argument("--all", action="store_true", help="land every file, not only audio extensions")
    p.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="seconds to wait for the runs (default %(default)s)",
    )
    p.set_defaults(handler=_ingest)

    p = sub.add_parser(
        "erase",
        help="erase calls on request: audio, raw rows, marts, search index; writes an erasure record",
        description="Remove every trace the platform keeps of the given calls (landing copies under the landing "
        "zone, artifacts, asr_raw rows, dbt marts and the search index) and record the erasure in "
        "asr_raw.erasures (no file name or text kept). A later upload of the same content is refused.",
    )
    p.add_argument(
        "--call-id", action="append", default=[], metavar="ID", help="asr_raw.calls.call_id (repeat)"
    )
    p.add_argument(
        "--source-uri",
        action="append",
        default=[],
        metavar="URI",
        help="a landed file's URI or path, as in asr_raw.calls.source_uri (repeat)",
    )
    p.add_argument("--requested-by", required=True, help="who asked for it, e.g. a ticket id (recorded)")
    p.add_argument("--reason", help="why, e.g. 'GDPR art. 17 request' (recorded)")
    p.add_argument("--no-vacuum", action="store_true", help="do not VACUUM the tables rows were deleted from")
    p.set_defaults(handler=_erase)

    p = sub.add_parser(
        "evaluate",
        help="register a model, measure its WER per language, and promote it behind the quality gate",
        description="Run asr_model and asr_model_eval (and with --promote asr_model_promotion) for MODEL on the "
        "local instance: WER per language on the shipped evaluation set and on ../shared/eval's telephone "
        "sets where present; the gate refuses a model worse than the promoted one by more than the margin.",
    )
    p.add_argument("model", metavar="MODEL", help="tiny.en, base, or a name from ASR_CANDIDATE_MODELS")
    p.add_argument("--promote", action="store_true", help="promote it if the quality gate passes")
    p.add_argument(
        "--languages", help="comma-separated languages to evaluate and promote (default: all it speaks)"
    )
    p.add_argument("--no-shared-eval", action="store_true", help="score on the shipped set only")
    p.add_argument(
        "--max-wer-increase", type=float, help="the gate's margin (default 0.01 = one point of WER)"
    )
    p.set_defaults(handler=_evaluate)

    p = sub.add_parser(
        "db-url",
        help='print a connection string for the local database (psql "$(asr-assets db-url)")',
        description="Print a libpq connection string for the platform's database: the embedded PostgreSQL of "
        "$ASR_HOME (started if needed and left running) or ASR_DATABASE_URL (password shown as *** unless "
        "--show-password).",
    )
    p.add_argument(
        "--user", metavar="ROLE", help="connect as this role, e.g. an analyst's (default: the owner)"
    )
    p.add_argument("--show-password", action="store_true", help="print ASR_DATABASE_URL's password as is")
    p.add_argument("--stop", action="store_true", help="stop the embedded PostgreSQL instead")
    p.set_defaults(handler=_db_url)

    p = sub.add_parser(
        "report",
        help="write the report page (charts of talk time, silence, confidence, quarantine, models) and print its path",
        description="Write $ASR_HOME/reports/report.html (every batch) or <batch>.html (--batch): talk time agent vs "
        "customer, silence and overlap per call, word confidence, quarantine reasons, audio per batch, model "
        "versions. It opens offline (plotly.js is written beside it).",
    )
    p.add_argument("--batch", metavar="KEY", help="one ingest batch (partition key) instead of all")
    p.add_argument("--open", action="store_true", help="open it in the default browser")
    p.set_defaults(handler=_report)

    p = sub.add_parser(
        "ui",
        help="Dagster UI and daemon on the same instance (dagster dev)",
        description="Start `dagster dev` on the local instance, with the embedded PostgreSQL if no "
        "ASR_DATABASE_URL is set.",
    )
    p.add_argument("--port", type=int, default=3000, help="port of the web UI (default %(default)s)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the web UI listens on (default %(default)s; 0.0.0.0: all)",
    )
    p.set_defaults(handler=_ui)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The command line (argv, else the process's) parsed, and logging set up on stderr: INFO with -v/--verbose,
    else warnings only. `python -m benchmarks` starts the same way."""
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    try:
        return args.handler(args)
    except Exception as e:
        from asr_assets import settings

        if isinstance(e, settings.ConfigurationError):
            print(f"asr-assets {args.command}: {e}", file=sys.stderr)
            return 2
        if not _is_database_unreachable(e):
            raise

        url = settings.current().database_url
        where = settings.redact_url(url) if url else "the embedded PostgreSQL"
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        print(
            f"asr-assets {args.command}: cannot reach the database {where}: {reason}; check ASR_DATABASE_URL and "
            "that the server is up",
            file=sys.stderr,
        )
        return 1


def _is_database_unreachable(error: Exception) -> bool:
    """A psycopg2 connection failure (psycopg2 is only imported by the commands that use the database)."""
    psycopg2 = sys.modules.get("psycopg2")
    return psycopg2 is not None and isinstance(error, psycopg2.OperationalError)


if __name__ == "__main__":
    sys.exit(main())
