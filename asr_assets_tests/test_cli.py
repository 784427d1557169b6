import subprocess
import sys


def test_console_script_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "asr_assets.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "transcribe" in out.stdout and "ingest" in out.stdout


def test_unknown_command_fails_with_usage():
    out = subprocess.run([sys.executable, "-m", "asr_assets.cli", "nope"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown command" in out.stderr
