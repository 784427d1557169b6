"""The soak's corpus: N short distinct calls cut from the bundled sample calls, plus hostile files, with ground truth.

Every good file is a 1-4 s slice (8 kHz, PCM_16, the source's channels or a mono downmix) at a random offset of a
real recorded call, so each has its own content and sha256. The hostile files are the kinds the reliability audit
(issue 16) found breaking ingestion. The ground truth records per file its sha256 and, for content seen before
(the planned duplicate, a second empty file), which file it duplicates.
"""

from __future__ import annotations

import io
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from asr_assets.hashing import sha256_file

SAMPLE_CALLS = Path(__file__).resolve().parent.parent / "asr_assets" / "samples" / "calls"
SAMPLE_RATE = 8000
MIN_S, MAX_S = 1.0, 4.0
OLD_MTIME = 1577836800.0  # 2020-01-01: a file moved in with `mv`, `cp -p` or `rsync -a` keeps such a time
HOSTILE_KINDS = (
    "empty",
    "random_bytes",
    "truncated_wav",
    "nan_samples",
    "many_channels_1hz",  # a 256-channel header at 1 Hz: the audit's 110 GiB allocation
    "too_short",  # 0.2 s
    "old_mtime",
    "non_utf8_name",  # Latin-1 bytes in the name, as SMB/FTP uploaders write them
    "duplicate",  # the content of a good file under another name
)


@dataclass
class CorpusFile:
    path: str  # os.fsdecode of the path (surrogate escapes for a non-UTF-8 name)
    sha256: str
    kind: str  # "call" or one of HOSTILE_KINDS
    wave: int
    duplicate_of: str | None = None  # path of the first file with the same content

    @property
    def display_name(self) -> str:
        return os.fsencode(Path(self.path).name).decode("utf-8", "backslashreplace")

    def to_json(self) -> dict:
        return asdict(self) | {"path": self.display_name}


def load_sources() -> list[np.ndarray]:
    """The sample calls as float32 (frames, channels) at 8 kHz."""
    sources = [sf.read(p, dtype="float32", always_2d=True)[0] for p in sorted(SAMPLE_CALLS.glob("*.wav"))]
    if not sources:
        raise FileNotFoundError(f"no sample calls in {SAMPLE_CALLS}; run asr_assets/samples/build_calls.py")
    return sources


def random_slice(rng: random.Random, sources: list[np.ndarray], seconds: float) -> np.ndarray:
    """`seconds` of a random call from a random offset; mono or the call's own channels."""
    audio = rng.choice(sources)
    frames = int(seconds * SAMPLE_RATE)
    start = rng.randrange(0, len(audio) - frames)
    piece = audio[start : start + frames]
    if piece.shape[1] > 1 and rng.random() < 0.5:
        piece = piece.mean(axis=1, keepdims=True)
    return piece


def wav_bytes(audio: np.ndarray, subtype: str = "PCM_16", sample_rate: int = SAMPLE_RATE) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, sample_rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def good_call(rng: random.Random, sources: list[np.ndarray]) -> bytes:
    return wav_bytes(random_slice(rng, sources, rng.uniform(MIN_S, MAX_S)))


def hostile_content(kind: str, rng: random.Random, sources: list[np.ndarray]) -> bytes:
    """The bytes of one hostile file (its name and mtime are set by `write_corpus`)."""
    if kind == "empty":
        return b""
    if kind == "random_bytes":
        return rng.randbytes(rng.randrange(1000, 9000))
    if kind == "truncated_wav":  # the header declares every frame, the file stops a third of the way in
        data = good_call(rng, sources)
        return data[: 44 + (len(data) - 44) // 3]
    if kind == "nan_samples":
        audio = random_slice(rng, sources, rng.uniform(MIN_S, MAX_S)).copy()
        audio[rng.randrange(0, len(audio)) :: 97] = np.nan
        return wav_bytes(audio, subtype="FLOAT")
    if kind == "many_channels_1hz":  # random frame count: distinct content per file
        return wav_bytes(np.zeros((rng.randrange(20, 40), 256), np.float32), sample_rate=1)
    if kind == "too_short":
        return wav_bytes(random_slice(rng, sources, 0.2))
    if kind in ("old_mtime", "non_utf8_name"):  # a valid call: only its landing is hostile
        return good_call(rng, sources)
    raise ValueError(f"unknown hostile kind {kind!r}; known: {', '.join(HOSTILE_KINDS)}")


def plan_kinds(files: int, hostile_share: float, kinds: tuple[str, ...]) -> list[str]:
    """`files` good calls plus round(share * files) hostile ones (each kind at least once when any)."""
    count = max(len(kinds), round(hostile_share * files)) if kinds and hostile_share > 0 else 0
    return ["call"] * files + [kinds[i % len(kinds)] for i in range(count)]


def file_name(index: int, kind: str) -> bytes:
    if kind == "non_utf8_name":
        return f"call_{index:05d}_M".encode() + b"\xfcller.wav"  # Latin-1 u-umlaut: not UTF-8
    return f"call_{index:05d}_{kind}.wav".encode()


def write_corpus(
    source_dir: Path,
    files: int,
    waves: int,
    seed: int,
    hostile_share: float = 0.05,
    kinds: tuple[str, ...] = HOSTILE_KINDS,
) -> list[CorpusFile]:
    """Write the corpus into source_dir/wave-1 ... wave-W and return its ground truth.

    Files are shuffled over the waves (each wave lands into the same ASR_HOME after the previous one).
    A duplicate copies a good file written before it; content that repeats by chance is marked too.
    """
    rng = random.Random(seed)
    sources = load_sources()
    plan = plan_kinds(files, hostile_share, kinds)
    rng.shuffle(plan)
    wave_dirs = [source_dir / f"wave-{w + 1}" for w in range(waves)]
    for d in wave_dirs:
        d.mkdir(parents=True, exist_ok=True)
    truth: list[CorpusFile] = []
    first_path: dict[str, str] = {}
    for index, kind in enumerate(plan):
        wave = index * waves // len(plan)
        goods = [f for f in truth if f.kind == "call"]
        if kind == "duplicate" and goods:
            data = Path(rng.choice(goods).path).read_bytes()
        else:
            data = (
                good_call(rng, sources)
                if kind in ("call", "duplicate")
                else hostile_content(kind, rng, sources)
            )
        path = os.fsencode(wave_dirs[wave]) + b"/" + file_name(index, kind)
        with open(path, "wb") as out:
            out.write(data)
        if kind == "old_mtime":
            os.utime(path, (OLD_MTIME, OLD_MTIME))
        text_path = os.fsdecode(path)
        checksum = sha256_file(Path(text_path))
        truth.append(CorpusFile(text_path, checksum, kind, wave + 1, first_path.get(checksum)))
        first_path.setdefault(checksum, text_path)
    return truth
