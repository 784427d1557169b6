"""Shared fixtures for the engine tests."""

from pathlib import Path

import pytest

REPO_ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())
DATA_DIR = REPO_ROOT / "asr_assets_tests" / "data"  # public-domain clips bundled with the tests (README.md)
EVAL_DIR = REPO_ROOT.parent / "shared" / "eval"  # the team's evaluation audio, read in place, never copied


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    """../shared/eval next to the checkout; skips the test when it is absent (e.g. on a clean CI clone)."""
    if not EVAL_DIR.is_dir():
        pytest.skip(f"needs the evaluation audio at {EVAL_DIR} (absent on this machine)")
    return EVAL_DIR


@pytest.fixture(scope="session")
def jfk_path() -> Path:
    """The JFK clip (44.1 kHz stereo FLAC, 11 s, public domain) the golden values were computed on.

    asr_assets_tests/data/jfk.flac when bundled (data/README.md names the expected file and its sha256), else the
    same file in ../shared/eval; skips when neither is there.
    """
    for path in (DATA_DIR / "jfk.flac", EVAL_DIR / "en" / "en-misc-jfk" / "jfk.flac"):
        if path.is_file():
            return path
    pytest.skip(f"needs jfk.flac in {DATA_DIR} (see its README.md)")


@pytest.fixture(scope="session")
def transcriber():
    """One Transcriber (the bundled tiny.en) per test session: building it and compiling its XLA programs is the
    expensive part, so the engine tests share it."""
    from asr_assets.asr.transcribe import Transcriber

    return Transcriber()


@pytest.fixture(scope="session")
def xla_runtime(transcriber):
    """The session Transcriber's XLA runtime (its WhisperEngine and Aligner): the decoder and alignment tests reuse
    its compiled programs instead of compiling tiny.en again."""
    return transcriber.runtime


@pytest.fixture(scope="session")
def litert_transcribers() -> dict:
    """Transcribers on the LiteRT programs of the bundled tiny.en, one per compute type (built into the model
    cache on first use: ASR_MODEL_CACHE, which `make test` shares between runs)."""
    from asr_assets.asr.transcribe import Transcriber

    return {ct: Transcriber(engine="litert", compute_type=ct) for ct in ("int8", "float32")}
