"""Build the bundled sample calls from Debian's Asterisk English prompts, with exact ground truth.

Run by developers, never at install time (the output is committed):

    apt-get install asterisk-core-sounds-en-wav      # Allison Smith's prompts, CC-BY-SA-3.0
    .venv/bin/python -m asr_assets.samples.build_calls

Each call is a scripted dialogue: turns alternate between the agent (channel 0) and the customer (channel 1) with
realistic gaps, one short overlap, a hold silence, and numbers read out digit by digit (a card number, a phone
number, an IBAN) so that PII redaction has real spoken numbers to work on. One call is mono (both speakers on one
channel, as some recorders write them) and stored as PCM16; the stereo ones are µ-law, as telephony recorders write.
The script is deterministic: a fixed seed sets the small timing jitter, so rebuilding gives the same bytes.

Ground truth (`calls/ground_truth.json`) records where every prompt was placed, trimmed to its voiced part, the
prompt's text from the package's description file, and per call the talk time per channel, silence and overlap.
Talk time bridges pauses shorter than MIN_PAUSE_S, as speech detectors do (a breath between two digits is not
silence); `voiced_s` is the same without bridging.
"""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from asr_assets.samples import CALLS_DIR, GROUND_TRUTH_PATH

SOUNDS_DIR = Path("/usr/share/asterisk/sounds/en")
DESCRIPTIONS_PATH = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
COPYRIGHT_PATH = Path("/usr/share/doc/asterisk-core-sounds-en-wav/copyright")
SAMPLE_RATE = 8000
SEED = 20261125
FRAME = SAMPLE_RATE // 100  # 80 samples = 10 ms frames for the voiced-part detector
VOICE_RMS = 0.005  # ≈ -46 dBFS: above the prompts' own noise floor, below soft fricatives
NOISE_RMS = 10 ** (-60 / 20)  # faint line noise, so no channel is ever digitally silent
MIN_PAUSE_S = 0.5  # pauses shorter than this count as talk (between words, digits, prompts of one turn)
TURN_PAUSE_S = 1.5  # a pause longer than this (a hold) starts a new turn even on the same channel
WORD_GAP_S = (0.08, 0.18)  # jitter range between prompts inside one turn
DIGIT_GAP_S = (0.02, 0.06)  # digits read out in a row are nearly continuous
GROUP_GAP_S = 0.24  # the pause between digit groups ("4532 | 0151"), still below MIN_PAUSE_S
LEAD_IN_S = 0.4  # line noise before the first word
TAIL_S = 0.5  # line noise after the last word
# Every file costs 16 kB/s (µ-law stereo or PCM16 mono), so ~30 s calls keep the folder under 2 MB.


@dataclass(frozen=True)
class Turn:
    role: str  # "agent" or "customer"
    gap_s: float  # from the end of the latest speech on any channel; negative = overlap
    prompts: tuple[str, ...]  # prompt names under SOUNDS_DIR; "|" = pause between digit groups


@dataclass(frozen=True)
class CallSpec:
    file_name: str
    subtype: str  # libsndfile subtype: "ULAW" or "PCM_16"
    mono: bool
    turns: tuple[Turn, ...]


def say(text: str) -> tuple[str, ...]:
    """'hello auth-thankyou' -> prompt names; digits and letters as 'd:4532 0151' / 'l:de'."""
    names: list[str] = []
    for token in text.split():
        if token.startswith("d:"):
            names += [f"digits/{c}" for c in token[2:]] + ["|"]
        elif token.startswith("l:"):
            names += [f"letters/{c}" for c in token[2:]] + ["|"]
        else:
            names.append(token)
    while names and names[-1] == "|":
        names.pop()
    return tuple(names)


def turn(role: str, gap_s: float, text: str) -> Turn:
    return Turn(role, gap_s, say(text))


CALLS = (
    CallSpec(
        "call_01_card_block.wav",
        "ULAW",
        mono=False,
        turns=(
            turn("agent", 0.0, "hello queue-thankyou"),
            turn("customer", 0.7, "something-terribly-wrong"),
            turn("agent", 0.6, "enter-num-blacklist"),
            turn("customer", 0.9, "d:4532 d:0151 d:1283 d:0366"),
            # The agent's "thank you" starts before the customer's last digit ends: the call's overlap.
            turn("agent", -0.45, "auth-thankyou one-moment-please"),
            turn("agent", 3.0, "vm-num-i-have d:0366"),  # after a hold
            turn("agent", 0.5, "cancelled goodbye"),
            turn("customer", 0.4, "goodbye"),
        ),
    ),
    CallSpec(
        "call_02_phone_update.wav",
        "ULAW",
        mono=False,
        turns=(
            turn("agent", 0.0, "hello telephone-number"),
            turn("customer", 0.8, "d:020 d:7946 d:0958"),
            turn("agent", 0.7, "you-entered d:020 d:7946 d:0958"),
            turn("customer", 0.5, "auth-thankyou"),
            turn("agent", 0.6, "one-moment-please"),
            turn("agent", 2.0, "num-was-successfully added"),
            turn("customer", 0.5, "goodbye"),
            turn("agent", 0.3, "goodbye"),
        ),
    ),
    CallSpec(
        "call_03_iban_transfer.wav",
        "ULAW",
        mono=False,
        turns=(
            turn("agent", 0.0, "hello vm-enter-num-to-call"),
            turn("customer", 0.9, "l:de d:89 d:3704 d:0044 d:0532 d:0130 d:00"),
            turn("agent", 0.6, "auth-thankyou pls-hold-while-try"),
            turn("agent", 3.5, "queue-thankyou"),
            turn("customer", 0.7, "goodbye"),
        ),
    ),
    CallSpec(
        "call_04_mono_hold_time.wav",
        "PCM_16",
        mono=True,
        turns=(
            turn("agent", 0.0, "hello queue-holdtime queue-less-than digits/5 queue-minutes"),
            turn("customer", 0.8, "tt-weasels"),
            turn("agent", 0.7, "im-sorry feature-not-avail-line"),
            turn("customer", 0.9, "digits/day-2 digits/at digits/10 digits/a-m"),
            turn("agent", 0.6, "auth-thankyou one-moment-please"),
            turn("agent", 3.5, "num-was-successfully activated"),
            turn("customer", 0.5, "auth-thankyou goodbye"),
        ),
    ),
)


def read_descriptions(path: Path = DESCRIPTIONS_PATH) -> dict[str, str]:
    """Prompt name -> the text the package says it speaks."""
    texts: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith(";") or ": " not in line:
                continue
            name, text = line.rstrip("\n").split(": ", 1)
            texts[name.strip()] = text.strip()
    return texts


def load_prompt(name: str, sounds_dir: Path = SOUNDS_DIR) -> tuple[np.ndarray, float, float]:
    """Samples of one prompt and its voiced part (start_s, end_s) inside the file."""
    audio, sr = sf.read(sounds_dir / f"{name}.wav", dtype="float32")
    if sr != SAMPLE_RATE or audio.ndim != 1:
        raise ValueError(f"{name}.wav: expected 8 kHz mono, got {sr} Hz, shape {audio.shape}")
    n_frames = len(audio) // FRAME
    rms = np.sqrt((audio[: n_frames * FRAME].reshape(n_frames, FRAME) ** 2).mean(axis=1))
    voiced = np.flatnonzero(rms > VOICE_RMS)
    if len(voiced) == 0:
        raise ValueError(f"{name}.wav has no voiced frame above {VOICE_RMS} RMS")
    return audio, voiced[0] * FRAME / SAMPLE_RATE, (voiced[-1] + 1) * FRAME / SAMPLE_RATE


def merge(intervals: list[tuple[float, float]], bridge_s: float = 0.0) -> list[tuple[float, float]]:
    """Union of intervals; gaps shorter than bridge_s are closed."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and (start <= merged[-1][1] or start - merged[-1][1] < bridge_s):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def total(intervals: list[tuple[float, float]]) -> float:
    return float(sum(end - start for start, end in intervals))


def intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return float(sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b))


def count_turns(turns: list[dict]) -> int:
    """Turns as the marts count them: a change of channel, or a pause longer than TURN_PAUSE_S."""
    count, previous = 0, None
    for t in sorted(turns, key=lambda t: t["start_s"]):
        if (
            previous is None
            or t["channel"] != previous["channel"]
            or t["start_s"] - previous["end_s"] > TURN_PAUSE_S
        ):
            count += 1
        previous = t
    return count


def build_call(
    spec: CallSpec, texts: dict[str, str], rng: np.random.Generator, sounds_dir: Path = SOUNDS_DIR
) -> tuple[np.ndarray, dict]:
    """Audio (n_samples, n_channels) float32 and the call's ground truth."""
    placements: list[tuple[int, int, np.ndarray]] = []  # (channel, offset sample, samples)
    speech: list[dict] = []
    turns: list[dict] = []
    cursor = LEAD_IN_S  # end of the latest speech on any channel
    for turn_index, t in enumerate(spec.turns):
        channel = 0 if spec.mono or t.role == "agent" else 1
        at = cursor + t.gap_s if turn_index else LEAD_IN_S
        turn_start, words = at, []
        previous = ""
        for name in t.prompts:
            if name == "|":
                at += GROUP_GAP_S - DIGIT_GAP_S[0]
                continue
            audio, v_start, v_end = load_prompt(name, sounds_dir)
            if previous:
                spelled = all(p.startswith(("digits/", "letters/")) for p in (previous, name))
                at += rng.uniform(*(DIGIT_GAP_S if spelled else WORD_GAP_S))
            previous = name
            offset = round((at - v_start) * SAMPLE_RATE)
            placements.append((channel, offset, audio))
            start_s, end_s = offset / SAMPLE_RATE + v_start, offset / SAMPLE_RATE + v_end
            speech.append(
                {
                    "channel": channel,
                    "role": t.role,
                    "turn_index": turn_index,
                    "start_s": round(start_s, 4),
                    "end_s": round(end_s, 4),
                    "prompt": name,
                    "text": texts[name],
                }
            )
            words.append(texts[name])
            at = end_s
        turns.append(
            {
                "turn_index": turn_index,
                "channel": channel,
                "role": t.role,
                "start_s": round(turn_start, 4),
                "end_s": round(at, 4),
                "text": " ".join(words),
            }
        )
        cursor = max(cursor, at)
    n_channels = 1 if spec.mono else 2
    n_samples = round((cursor + TAIL_S) * SAMPLE_RATE)
    out = rng.normal(0.0, NOISE_RMS, size=(n_samples, n_channels)).astype(np.float32)
    for channel, offset, audio in placements:
        out[offset : offset + len(audio), channel] += audio
    out = np.clip(out, -1.0, 1.0)
    duration_s = n_samples / SAMPLE_RATE

    per_channel = {
        c: [(s["start_s"], s["end_s"]) for s in speech if s["channel"] == c] for c in range(n_channels)
    }
    talk = {c: merge(iv, MIN_PAUSE_S) for c, iv in per_channel.items()}
    anyone = merge([iv for c in talk for iv in talk[c]])
    truth = {
        "file_name": spec.file_name,
        "format": f"WAV/{spec.subtype}",
        "sample_rate": SAMPLE_RATE,
        "channels": n_channels,
        "roles": {"0": "agent+customer (mono)"} if spec.mono else {"0": "agent", "1": "customer"},
        "duration_s": round(duration_s, 4),
        "talk_s": {str(c): round(total(iv), 3) for c, iv in talk.items()},
        "voiced_s": {str(c): round(total(merge(iv)), 3) for c, iv in per_channel.items()},
        "silence_s": round(duration_s - total(anyone), 3),
        "overlap_s": round(intersect(talk[0], talk[1]) if n_channels == 2 else 0.0, 3),
        "turn_pause_s": TURN_PAUSE_S,
        "n_turns": count_turns(turns),
        "turns": turns,
        "speech": speech,
    }
    return out, truth


def main() -> None:
    texts = read_descriptions()
    rng = np.random.default_rng(SEED)
    CALLS_DIR.mkdir(parents=True, exist_ok=True)
    calls = []
    for spec in CALLS:
        audio, truth = build_call(spec, texts, rng)
        sf.write(CALLS_DIR / spec.file_name, audio, SAMPLE_RATE, format="WAV", subtype=spec.subtype)
        calls.append(truth)
        print(
            f"{spec.file_name}: {truth['duration_s']:.1f} s, talk {truth['talk_s']}, overlap {truth['overlap_s']}"
        )
    ground_truth = {
        "source": "Debian asterisk-core-sounds-en-wav (Allison Smith, CC-BY-SA-3.0), see COPYRIGHT",
        "built_by": "python -m asr_assets.samples.build_calls",
        "seed": SEED,
        "min_pause_s": MIN_PAUSE_S,
        "voice_rms_threshold": VOICE_RMS,
        "calls": calls,
    }
    GROUND_TRUTH_PATH.write_text(
        json.dumps(ground_truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    shutil.copyfile(COPYRIGHT_PATH, CALLS_DIR / "COPYRIGHT")


if __name__ == "__main__":
    main()
