"""The transcripts step's own code path on local files, without Dagster storage or a database, to read its peak
memory: `/usr/bin/time -v python -m benchmarks.step_rss FILE...` (deployment/README.md, "Step resources").

It runs `transcribe_calls` of defs/transcripts.py as the step does: base identifies each call's language, the
model of that language transcribes it in engine batches (FILES_PER_CHUNK calls, CHUNK_MAX_CHANNEL_S of audio),
and the suspect checks run. Pass the files of one engine batch to measure that batch's peak.
"""

from __future__ import annotations

import logging
import math
import sys
import time

from asr_assets.asr.audio import load_audio, peak_dbfs
from asr_assets.defs.resources import WhisperModelResource
from asr_assets.defs.transcripts import transcribe_calls


def main(paths: list[str]) -> int:
    logging.basicConfig(level=logging.INFO)
    calls = []
    for i, path in enumerate(paths):
        audio = load_audio(path)
        calls.append(
            {
                "call_id": str(i),
                "file_name": path,
                "language": None,
                "language_source": None,
                "duration_s": audio.duration_s,
                "channels": audio.channels.shape[0],
                "peak_dbfs": [v if math.isfinite(v) else None for v in peak_dbfs(audio.channels)],
            }
        )
        del audio
    started = time.perf_counter()
    records, routes = transcribe_calls(WhisperModelResource(), calls, paths, logging.getLogger("step"))
    words = sum(len(s["words"] or []) for r in records for s in r["segments"])
    print(
        f"calls {len(records)}, languages {[r.decision.language for r in routes]}, words {words}, "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
