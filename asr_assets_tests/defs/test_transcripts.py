"""The transcripts step's engine batches: bounded by files and by audio, so the step's memory does not grow with
the ingest batch's size."""

from asr_assets.defs.transcripts import CHUNK_MAX_CHANNEL_S, FILES_PER_CHUNK, engine_chunks


def test_engine_batches_are_bounded_by_files_and_by_audio():
    many_short = engine_chunks(list(range(40)), [120.0] * 40)
    assert [len(c) for c in many_short] == [FILES_PER_CHUNK, FILES_PER_CHUNK, 40 - 2 * FILES_PER_CHUNK]
    # 200 five-minute stereo calls: each engine batch within the measured bound, every call once, in order
    long_calls = engine_chunks(list(range(200)), [600.0] * 200)
    assert [m for c in long_calls for m in c] == list(range(200))
    assert all(len(c) * 600.0 <= CHUNK_MAX_CHANNEL_S for c in long_calls)
    # a call longer than the bound goes alone; nothing is dropped
    assert engine_chunks([7, 8, 9], [CHUNK_MAX_CHANNEL_S * 2, 10.0, 10.0]) == [[7], [8, 9]]
    assert engine_chunks([], []) == []
