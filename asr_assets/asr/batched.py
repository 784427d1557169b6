"""The batched mode: faster-whisper 1.2.1's `BatchedInferencePipeline` rules, batched across files and channels.

Per (file, channel): Silero VAD with the pipeline's defaults (min silence 160 ms, regions at most 30 s, pad 400 ms),
the speech regions spliced back to back and packed greedily into chunks of at most 30 s (`vad.pack_chunks`, its
`collect_chunks`), features per chunk (normalised over the chunk, last frame dropped, zero-padded to 3000 frames).
Each chunk is decoded once: the start sequence + <|notimestamps|> as prompt, no previous text, temperature 0 (no
fallback, no no-speech skip), one segment from the chunk's offset to offset + duration. Word times come from the
forced alignment over ceil(duration) * 100 frames with `last_speech_timestamp` carried along the channel, and are
mapped back to the recording through the VAD regions by each word's midpoint.

The one difference is the schedule: faster-whisper batches 8 chunks of one channel; here a batch takes the next
`batch_size` chunks of all files and channels, so short calls fill batches too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from queue import Full, Queue
from threading import Event, Thread
from typing import Any

import numpy as np

from asr_assets.asr import segments as seg
from asr_assets.asr.audio import Audio
from asr_assets.asr.constants import FRAMES_PER_SECOND, N_FRAMES, SAMPLE_RATE
from asr_assets.asr.features import log_mel_spectrogram, pad_or_trim
from asr_assets.asr.rounds import WindowDecoder
from asr_assets.asr.segments import restore_times
from asr_assets.asr.types import Progress, Segment, TranscriptionOptions, Word
from asr_assets.asr.vad import SpeechMap, VadOptions, pack_chunks, speech_regions

CHUNK_S = 30.0  # faster-whisper's chunk_length
# BatchedInferencePipeline's VAD defaults: VadOptions(max_speech_duration_s=chunk_length, min_silence 160 ms).
BATCHED_VAD = VadOptions(max_speech_duration_s=CHUNK_S, min_silence_duration_ms=160)


@dataclass
class _Chunk:
    stream: int  # index into the list of (file, channel) streams
    offset_s: float  # start in the channel's speech-only time line
    duration_s: float
    mel: np.ndarray | None  # (n_mels, 3000); None for a channel without speech (progress only)
    share_s: float  # of the channel's duration, for progress


@dataclass
class _Channel:
    file: int
    channel: int
    speech_map: SpeechMap | None
    last_speech_timestamp: float = 0.0


def transcribe_batched(
    decoder: WindowDecoder,
    n_mels: int,
    audios: list[Audio],
    options: TranscriptionOptions,
    progress: Progress | None = None,
) -> list[list[Segment]]:
    """One list of segments per input (sorted by start, channel), decoded under the batched rules above with
    `decoder`'s runtime and language; n_mels: the checkpoint's mel bins."""
    stats = decoder.stats
    channels: list[_Channel] = []
    # TranscriptionOptions' default VadOptions() are the sequential mode's; the batched mode's own are
    # BATCHED_VAD. Any other detector settings given (EnergyVadOptions, a tuned VadOptions) are used as given.
    vad_options = BATCHED_VAD if options.vad_options == VadOptions() else options.vad_options
    front_end = _front_end(audios, channels, vad_options, n_mels, stats)
    if options.overlap_front_end:
        front_end = _prefetched(front_end, depth=2 * options.batch_size)

    runtime = decoder.runtime
    tokenizer = decoder.tokenizer
    prompt = seg.get_prompt(tokenizer, [], without_timestamps=True)
    gen = decoder.generate_options(options, temperature=options.temperatures[0], without_timestamps=True)
    out: list[list[Segment]] = [[] for _ in audios]
    for batch in _batches(front_end, options.batch_size, progress):
        mels = np.stack([ch.mel for ch in batch])

        start = time.perf_counter()
        encoded = runtime.encode(mels)
        stats.encoder_s += time.perf_counter() - start
        stats.windows += len(batch)

        start = time.perf_counter()
        results = runtime.generate(encoded, [prompt] * len(batch), gen)
        stats.decoder_s += time.perf_counter() - start
        stats.decoded_rows += len(batch)

        windows: list[list[dict[str, Any]]] = []
        sizes = []
        for ch, result in zip(batch, results, strict=True):
            size = int(math.ceil(ch.duration_s) * FRAMES_PER_SECOND)
            sizes.append(size)
            current, _, _ = seg.split_segments_by_timestamps(
                tokenizer.timestamp_begin, result.tokens, ch.offset_s, size, ch.duration_s, 0
            )
            for d in current:
                d["seek"] = int(ch.offset_s * FRAMES_PER_SECOND)
            windows.append(current)

        if options.word_timestamps:
            start = time.perf_counter()
            decoder.add_words(encoded, windows, sizes, [channels[ch.stream] for ch in batch], options)
            stats.alignment_s += time.perf_counter() - start

        for ch, result, current in zip(batch, results, windows, strict=True):
            stream = channels[ch.stream]
            for d in current:
                text = tokenizer.decode(d["tokens"])
                if not text.strip():
                    continue
                words = tuple(
                    Word(float(w["start"]), float(w["end"]), w["word"], float(w["probability"]))
                    for w in d.get("words") or ()
                )
                segment = Segment(
                    round(float(d["start"]), 3),
                    round(float(d["end"]), 3),
                    text,
                    words,
                    stream.channel,
                    float(result.avg_logprob),
                    float(result.no_speech_prob),
                    float(seg.compression_ratio(text)),
                    float(options.temperatures[0]),
                )
                if stream.speech_map is not None:
                    segment = restore_times(segment, stream.speech_map, clip=True)
                out[stream.file].append(segment)
            if progress and ch.share_s:
                progress(ch.share_s)
    return [sorted(segs, key=lambda s: (s.start, s.channel)) for segs in out]


def _front_end(audios, channels: list[_Channel], vad_options, n_mels: int, stats) -> Iterator[_Chunk]:
    """VAD, packing and features, channel after channel, as the batches need them (appends to `channels`)."""
    for i, audio in enumerate(audios):
        for c, samples in enumerate(audio.channels):
            start = time.perf_counter()
            duration_s = len(samples) / SAMPLE_RATE
            regions = speech_regions(samples, vad_options)
            channels.append(_Channel(i, c, SpeechMap(regions) if regions else None))
            speech_s = sum(e - s for s, e in regions) / SAMPLE_RATE
            stats.channel_s += duration_s
            stats.speech_s += speech_s
            stats.front_end_s += time.perf_counter() - start
            if not regions:
                yield _Chunk(len(channels) - 1, 0.0, 0.0, None, duration_s)
            start = time.perf_counter()
            for offset, duration, piece in pack_chunks(samples, regions, CHUNK_S):
                mel = pad_or_trim(log_mel_spectrogram(piece, n_mels)[:, :-1], N_FRAMES)  # last frame dropped
                stats.front_end_s += time.perf_counter() - start
                yield _Chunk(len(channels) - 1, offset, duration, mel, duration_s * duration / speech_s)
                start = time.perf_counter()


def _prefetched(items: Iterator[_Chunk], depth: int) -> Iterator[_Chunk]:
    """`items` produced by a background thread, at most `depth` ahead: the next channel's VAD and features run
    while the model works (LiteRT and onnxruntime release the GIL). An exception is raised where it is consumed."""
    queue: Queue = Queue(maxsize=depth)
    done, stop = object(), Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False  # the consumer went away (an error downstream): stop producing

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            put(e)
        put(done)

    Thread(target=produce, name="asr-front-end", daemon=True).start()
    try:
        while (item := queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _batches(chunks: Iterator[_Chunk], size: int, progress) -> Iterator[list[_Chunk]]:
    """Consecutive chunks with speech in groups of `size`; channels without speech only report progress."""
    batch: list[_Chunk] = []
    for chunk in chunks:
        if chunk.mel is None:
            if progress:
                progress(chunk.share_s)
            continue
        batch.append(chunk)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
