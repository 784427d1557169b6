"""The `asr-assets` console script: one entry point, subcommands imported lazily.

Engine commands (transcribe, eval, bench, profile) live in `asr_assets.asr.cli` and never import Dagster;
platform commands (ingest, ui) live in `asr_assets.ingest` and never import TensorFlow at module load.
"""

from __future__ import annotations

import sys

ENGINE_COMMANDS = ("transcribe", "eval", "bench", "profile")
PLATFORM_COMMANDS = ("ingest", "ui")
USAGE = f"usage: asr-assets {{{','.join(ENGINE_COMMANDS + PLATFORM_COMMANDS)}}} ...  (asr-assets COMMAND --help for details)"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command = args[0]
    if command in ENGINE_COMMANDS:
        from asr_assets.asr.cli import main as engine_main

        return engine_main(args)
    if command in PLATFORM_COMMANDS:
        from asr_assets.ingest import main as platform_main

        return platform_main(args)
    print(f"asr-assets: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
