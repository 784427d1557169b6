"""Shared fixtures for the engine tests (E1/E2/E3 append fixtures here; never rewrite others')."""

from pathlib import Path

import pytest

REPO_ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())
EVAL_DIR = REPO_ROOT.parent / "shared" / "eval"  # real speech, never copied into the repo


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    """../shared/eval next to the checkout; skips the test when it is absent (e.g. on a clean CI clone)."""
    if not EVAL_DIR.is_dir():
        pytest.skip(f"needs the evaluation audio at {EVAL_DIR} (absent on this machine)")
    return EVAL_DIR


@pytest.fixture(scope="session")
def jfk_path(eval_dir: Path) -> Path:
    """The JFK clip (44.1 kHz stereo FLAC, 11 s) whose faster-whisper outputs are in notes/whisper-ct2.md §11."""
    path = eval_dir / "en" / "en-misc-jfk" / "jfk.flac"
    if not path.is_file():
        pytest.skip(f"needs {path} (absent on this machine)")
    return path


@pytest.fixture(scope="session")
def transcriber():
    """One Transcriber (the bundled tiny.en) per test session: building it and compiling its XLA programs is the
    expensive part, so test_transcribe and test_cli share it (E3)."""
    from asr_assets.asr.transcribe import Transcriber

    return Transcriber()
