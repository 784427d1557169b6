"""Bundled sample calls (built from CC-BY-SA-3.0 Asterisk prompts) and their known timing."""

from pathlib import Path

CALLS_DIR = Path(__file__).resolve().parent / "calls"
GROUND_TRUTH_PATH = CALLS_DIR / "ground_truth.json"
