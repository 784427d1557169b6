"""`asr-assets transcribe` and `asr-assets eval`: the engine's commands, and the only engine module that prints.

Results go to stdout (JSON lines for `transcribe`, a short table for `eval`); progress bars and logs go to
stderr. `asr_assets.cli` builds the one `asr-assets` parser: it calls `add_transcribe_arguments` /
`add_eval_arguments` for the subcommands and runs `cmd_transcribe` / `cmd_eval`. TensorFlow is imported only
inside the commands, when the Transcriber is built.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr_assets import settings
from asr_assets.asr import transcribe
from asr_assets.asr.modes import COMPUTE_TYPES, ENGINES, MODES, Mode, choose_mode

if TYPE_CHECKING:
    from asr_assets.asr.audio import Audio
    from asr_assets.asr.transcribe import Transcriber
    from asr_assets.asr.types import Progress, Segment, TranscriptionOptions


FILES_PER_GROUP = 8  # files transcribed together by `transcribe` before their results are printed
PROGRESS_MIN_S = 60.0  # channel-seconds of a group from which `transcribe` shows a progress bar on stderr


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mode",
        choices=MODES,
        default="batched",
        help="batched: faster-whisper's BatchedInferencePipeline rules (VAD chunks, no timestamps, fastest); "
        "sequential: its long-form transcribe, token for token (default: %(default)s)",
    )
    p.add_argument(
        "--compute-type",
        choices=COMPUTE_TYPES,
        default=None,
        help="weights' precision: int8 (LiteRT, batched mode) or float32 (default: int8 in batched mode, "
        "float32 in sequential mode)",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="runtime: litert (TensorFlow Lite, no TensorFlow import) or xla (TensorFlow, float32; the only one "
        "for the sequential mode) (default: litert in batched mode, xla in sequential mode)",
    )
    p.add_argument(
        "--beam-size",
        type=int,
        default=5,
        help="beam width; 1 = greedy (default: %(default)s, as faster-whisper)",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="DIR|NAME",
        help="Whisper checkpoint directory (CTranslate2 or Hugging Face), or an installed one by name: tiny.en, "
        "base (multilingual) (default: tiny.en)",
    )
    p.add_argument(
        "--language",
        default="en",
        metavar="CODE",
        help="spoken language, a Whisper code (en, fr, es, de, ...), or auto: identified per file from its first "
        "30 s (printed as language / language_probability). Other than en needs a multilingual model "
        "(--model base) (default: %(default)s)",
    )
    vad = p.add_mutually_exclusive_group()
    vad.add_argument(
        "--vad",
        dest="vad",
        action="store_true",
        default=None,
        help="sequential mode: skip silence per channel with the Silero VAD (the batched mode always does)",
    )
    vad.add_argument(
        "--no-vad", dest="vad", action="store_false", help="transcribe every 30 s window, silence included"
    )


def add_transcribe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="recordings to transcribe (WAV, FLAC, MP3, Ogg, ...)"
    )
    _add_model_arguments(p)


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "dir",
        metavar="DIR",
        help="an evaluation set (a folder with transcripts.tsv or durations.tsv) or a folder of such sets",
    )
    _add_model_arguments(p)
    p.add_argument(
        "--json", dest="json_out", default=None, metavar="OUT", help="also write the full report (JSON) here"
    )
    p.add_argument(
        "--limit", type=int, default=None, metavar="N", help="evaluate N files spread evenly over the sets"
    )


def progress_bar(total_s: float, desc: str):
    """A tqdm bar on stderr counting (fractional) audio seconds, shown rounded."""
    from tqdm import tqdm

    if total_s:
        fmt = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} audio s [{elapsed}<{remaining}, {rate_fmt}]"
    else:
        fmt = "{desc}: {n:.0f} audio s [{elapsed}, {rate_fmt}]"
    return tqdm(
        total=round(total_s, 1) if total_s else None,
        unit="audio s",
        desc=desc,
        file=sys.stderr,
        leave=False,
        bar_format=fmt,
    )


def file_result(path: str, duration: float, model_version: str, channels: list[list[Any]]) -> dict[str, Any]:
    """The JSON object `asr-assets transcribe` prints for one file.

    `channels[c]` is the list of segments of channel c; each segment has `.text` and `.words` (objects with
    word/start/end/probability), as our `Segment` and faster-whisper's segments both do.
    """
    out = []
    for c, segments in enumerate(channels):
        words = [
            {
                "word": w.word,
                "start": round(float(w.start), 3),
                "end": round(float(w.end), 3),
                "probability": round(float(w.probability), 4),
            }
            for s in segments
            for w in s.words or ()
        ]
        out.append({"channel": c, "text": "".join(s.text for s in segments).strip(), "words": words})
    return {"file": path, "duration": round(duration, 3), "model_version": model_version, "channels": out}


def file_results(
    paths: Sequence[str | Path], audios: list[Audio], per_file: list[list[Segment]], model_version: str
) -> list[dict[str, Any]]:
    """`file_result` of each file, its segments split by channel."""
    results = []
    for path, audio, segments in zip(paths, audios, per_file, strict=True):
        channels = [[s for s in segments if s.channel == c] for c in range(audio.channels.shape[0])]
        results.append(file_result(str(path), audio.duration_s, model_version, channels))
    return results


def chosen_mode(args: argparse.Namespace) -> Mode:
    """The Mode of --mode / --compute-type / --vad / --engine (modes.py; --vad is Silero's, sequential mode only)."""
    vad = None if args.vad is None else "silero" if args.vad else "none"
    return choose_mode(args.mode, compute_type=args.compute_type, vad=vad, engine=args.engine)


def transcription_options(args: argparse.Namespace) -> TranscriptionOptions:
    language = "en" if args.language == "auto" else args.language
    return chosen_mode(args).options(beam_size=args.beam_size, word_timestamps=True, language=language)


def options_label(args: argparse.Namespace) -> str:
    """litert-int8-batched-beam5, xla-float32-sequential-vad-beam1: the setting's name in reports."""
    mode = chosen_mode(args)
    vad = "" if args.vad is None or args.mode == "batched" else ("-vad" if args.vad else "-novad")
    return f"{mode.engine}-{mode.compute_type}-{args.mode}{vad}-beam{args.beam_size}"


def build_transcriber(args: argparse.Namespace) -> Transcriber:
    mode = chosen_mode(args)
    return transcribe.Transcriber(args.model, engine=mode.engine, compute_type=mode.compute_type)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from asr_assets.asr.audio import load_audio
    from asr_assets.asr.errors import AsrError

    if not getattr(args, "verbose", False):  # -v keeps TensorFlow's start-up lines
        settings.quiet_tensorflow_logs()
    missing = [path for path in args.files if not os.path.isfile(path)]
    if missing:  # before the model loads: a typo should not cost the engine's start-up
        for path in missing:
            what = "is a folder, not a recording" if os.path.isdir(path) else "no such file"
            print(f"asr-assets transcribe: {path}: {what}", file=sys.stderr)
        return 2
    try:
        transcriber = build_transcriber(args)
    except (AsrError, ValueError) as e:
        print(f"asr-assets transcribe: {e}", file=sys.stderr)
        return 2
    options = transcription_options(args)
    status = 0
    # Files go through in groups, so that short calls share batches; results print as each group finishes.
    for start in range(0, len(args.files), FILES_PER_GROUP):
        paths, audios = [], []
        for path in args.files[start : start + FILES_PER_GROUP]:
            try:
                audios.append(load_audio(path))
                paths.append(path)
            except (AsrError, OSError) as e:  # one bad file must not hide the others' results
                print(
                    f"asr-assets transcribe: {path}: {e}"
                    if isinstance(e, OSError)
                    else f"asr-assets transcribe: {e}",
                    file=sys.stderr,
                )
                status = 1
        # A bar on stderr when the group holds a minute or more of channel audio (stdout stays one JSON per file).
        channel_s = sum(a.duration_s * len(a.channels) for a in audios)
        bar = progress_bar(channel_s, "transcribing") if channel_s >= PROGRESS_MIN_S else None
        try:
            per_file, guesses = _transcribe_group(
                transcriber,
                audios,
                options,
                auto=args.language == "auto",
                progress=bar.update if bar else None,
            )
        except ValueError as e:  # a language the model does not have
            print(f"asr-assets transcribe: {e}", file=sys.stderr)
            return 2
        finally:
            if bar is not None:
                bar.close()
        for i, result in enumerate(file_results(paths, audios, per_file, transcriber.model_version)):
            if guesses:
                result["language"], result["language_probability"] = (
                    guesses[i].language,
                    round(guesses[i].probability, 3),
                )
            print(json.dumps(result, ensure_ascii=False), flush=True)
    return status


def _transcribe_group(transcriber, audios, options, auto: bool, progress=None):
    """(segments per file, language guesses or []): with auto, each file is identified and the files of each
    language are transcribed together in it."""
    if not auto or not audios:
        return (transcriber.transcribe_batch(audios, options, progress=progress) if audios else []), []
    from asr_assets.asr.language import detect_language

    guesses = [detect_language(transcriber, audio) for audio in audios]
    per_file: list = [None] * len(audios)
    for language in sorted({g.language for g in guesses}):
        rows = [i for i, g in enumerate(guesses) if g.language == language]
        segments = transcriber.transcribe_batch(
            [audios[i] for i in rows], replace(options, language=language), progress=progress
        )
        for i, segs in zip(rows, segments, strict=True):
            per_file[i] = segs
    return per_file, guesses


def transcribe_files(
    transcriber: Transcriber,
    paths: Sequence[str | Path],
    options: TranscriptionOptions,
    progress: Progress | None = None,
) -> tuple[list[dict[str, Any]], float, float, dict[str, float]]:
    """All files batched together: (results, wall s, audio s, seconds per stage including audio decoding)."""
    from asr_assets.asr.audio import load_audio

    transcriber.reset_stats()
    start = time.perf_counter()
    audios = [load_audio(p) for p in paths]
    decode_s = time.perf_counter() - start
    per_file = transcriber.transcribe_batch(audios, options, progress=progress)
    wall_s = time.perf_counter() - start
    stage_s = transcriber.stats.as_dict()
    stage_s["audio_decode"] = decode_s
    results = file_results(paths, audios, per_file, transcriber.model_version)
    return results, wall_s, sum(a.duration_s for a in audios), stage_s


def cmd_eval(args: argparse.Namespace) -> int:
    from asr_assets.asr.evaluation import score, select_items

    items = select_items(args.dir, args.limit)
    label = options_label(args)
    start = time.perf_counter()
    transcriber = build_transcriber(args)
    load_s = time.perf_counter() - start
    bar = progress_bar(0.0, label)
    results, wall_s, audio_s, stage_s = transcribe_files(
        transcriber, [str(i.path) for i in items], transcription_options(args), bar.update
    )
    bar.close()
    # the normaliser of the language spoken (English's for English and for auto, which scores mixed sets)
    scored = score(items, results, args.language if args.language not in (None, "auto") else "en")
    durations: dict[str, float] = {}
    for item, result in zip(items, results, strict=True):
        durations[item.set_name] = durations.get(item.set_name, 0.0) + result["duration"]
    for name, s in scored["sets"].items():
        # Per-set speed is not measured separately when files are batched together: use the overall rate.
        s["audio_s"] = durations[name]
        s["speed"] = audio_s / wall_s
    mode = chosen_mode(args)
    report = {
        "config": {
            "engine": mode.engine,
            "compute_type": mode.compute_type,
            "mode": args.mode,
            "beam_size": args.beam_size,
            "model_path": args.model,
            "vad": args.vad,
            "label": label,
        },
        "files": len(items),
        "audio_s": audio_s,
        "wall_s": wall_s,
        "load_s": load_s,
        "speed": audio_s / wall_s,
        "stage_s": stage_s,
        "wer": scored["wer"],
        "sets": scored["sets"],
        "results": results,
    }
    _print_eval(report)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def _print_eval(report: dict[str, Any]) -> None:
    print(f"{report['config']['label']}: {report['files']} files, {report['audio_s']:.0f} s of audio")
    print(f"{'set':45} {'files':>5} {'WER':>7} {'x real time':>11}")
    for name, s in report["sets"].items():
        print(f"{name:45} {s['files']:5d} {_fmt(s['wer']):>7} {s['speed']:11.1f}")
    print(f"{'ALL':45} {report['files']:5d} {_fmt(report['wer']):>7} {report['speed']:11.1f}")
    print(f"model load {report['load_s']:.1f} s, transcription {report['wall_s']:.1f} s")
