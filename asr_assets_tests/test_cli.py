"""The one `asr-assets` parser: commands, options, help text, and a light import."""

import argparse
import subprocess
import sys
import types

import pytest

from asr_assets import cli
from asr_assets.asr import cli as engine_cli

COMMANDS = ("transcribe", "eval", "ingest", "erase", "evaluate", "db-url", "report", "ui")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_console_script_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "asr_assets.cli", "--help"], capture_output=True, text=True, check=True
    )
    usage = out.stdout.splitlines()[0]
    assert usage == "usage: asr-assets [-h] [-v] COMMAND ..."
    for command in COMMANDS:
        assert f"    {command} " in out.stdout
    assert "bench" not in out.stdout and "profile" not in out.stdout and "_" not in usage


def test_unknown_command_fails_with_usage():
    out = subprocess.run([sys.executable, "-m", "asr_assets.cli", "nope"], capture_output=True, text=True)
    assert (
        out.returncode == 2 and "invalid choice: 'nope'" in out.stderr and "usage: asr-assets" in out.stderr
    )


def test_verbose_is_global_and_reaches_transcribe():
    args = cli.build_parser().parse_args(["-v", "transcribe", "x.wav", "--beam-size", "1", "--vad"])
    assert args.verbose and args.files == ["x.wav"] and args.beam_size == 1 and args.vad is True
    assert args.handler is engine_cli.cmd_transcribe
    assert not cli.build_parser().parse_args(["eval", "d"]).verbose


def test_every_command_and_option_has_help_text():
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert {c.dest for c in action._choices_actions} == set(COMMANDS)
    assert all(c.help for c in action._choices_actions)
    for name, sub in [("asr-assets", parser), *_subparsers(parser).items()]:
        assert sub.description or name == "asr-assets"
        for option in sub._actions:
            if isinstance(option, argparse._SubParsersAction):
                continue
            assert option.help and option.help != argparse.SUPPRESS, f"{name} {option.dest}: no help text"


@pytest.mark.parametrize(
    ("argv", "command", "expected"),
    [
        (["ingest", "calls"], "ingest", {"dir": "calls", "all": False, "timeout": 3600.0}),
        (
            ["ingest", "calls", "--all", "--timeout", "5"],
            "ingest",
            {"dir": "calls", "all": True, "timeout": 5.0},
        ),
        (["ui"], "ui", {"port": 3000}),
        (["ui", "--port", "3001"], "ui", {"port": 3001}),
    ],
)
def test_platform_commands_hand_their_namespace_to_local_commands(monkeypatch, argv, command, expected):
    seen = {}

    def record(args):
        seen.update(vars(args))
        return 7

    fake = types.ModuleType("asr_assets.local.commands")
    fake.ingest = fake.ui = record
    monkeypatch.setitem(sys.modules, "asr_assets.local.commands", fake)
    assert cli.main(argv) == 7
    assert seen["command"] == command and expected.items() <= seen.items()


def test_importing_the_cli_loads_neither_tensorflow_nor_dagster():
    code = (
        "import sys, asr_assets.cli; print(sorted(m for m in ('tensorflow', 'dagster') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
