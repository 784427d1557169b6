"""Bundled sample calls and per-language evaluation prompts (built from CC-BY-SA-3.0 Asterisk prompts)."""

from pathlib import Path

CALLS_DIR = Path(__file__).resolve().parent / "calls"
GROUND_TRUTH_PATH = CALLS_DIR / "ground_truth.json"
MULTILINGUAL_CALLS_DIR = Path(__file__).resolve().parent / "calls_multilingual"
MULTILINGUAL_GROUND_TRUTH_PATH = MULTILINGUAL_CALLS_DIR / "ground_truth.json"
EVAL_DIR = Path(__file__).resolve().parent / "eval"  # eval/<lang>/: *.flac, transcripts.tsv, durations.tsv
