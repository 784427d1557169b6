"""`asr-assets ingest` / `asr-assets ui` argument parsing, until cli.py calls `asr_assets.local.commands` itself."""

from __future__ import annotations

import argparse

from asr_assets.local import commands


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="asr-assets")
    sub = parser.add_subparsers(dest="command", required=True)
    p_ingest = sub.add_parser("ingest", help="land the audio files of DIR and wait until they are loaded")
    p_ingest.add_argument("dir", help="folder of recordings (WAV, FLAC, MP3, Ogg, ...)")
    p_ingest.add_argument("--all", action="store_true", help="land every file, not only audio extensions")
    p_ingest.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the runs")
    p_ui = sub.add_parser("ui", help="Dagster UI and daemon on the same instance (dagster dev)")
    p_ui.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    return commands.ingest(args) if args.command == "ingest" else commands.ui(args)
