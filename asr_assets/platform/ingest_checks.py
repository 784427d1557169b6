"""The ingest side's asset checks, evaluated in the step that loads the batch (raw_tables), next to dbt's in the UI.

- `every_file_accounted_once` (ERROR, blocking: the marts are not built on a batch that lost or doubled a file):
  every landed file of the batch is in asr_raw.calls or asr_raw.quarantine, exactly once;
- `quarantine_share` (WARN): the share of the batch's files quarantined is at most ASR_MAX_QUARANTINE_PCT percent
  (default 20); a batch whose files were all quarantined fails it, so it is never green in the UI;
- `rows_consistent` (ERROR): every call has one channel row per channel, the segment and word rows its channel
  rows count, no word outside its call, and as many words as the transcripts artifact holds for the calls loaded.
"""

from __future__ import annotations

import dagster as dg

from asr_assets.platform.sql import read_sql
from asr_assets.platform.text import one_line

ACCOUNTED = "every_file_accounted_once"
QUARANTINE_SHARE = "quarantine_share"
CONSISTENT = "rows_consistent"
DEFAULT_MAX_QUARANTINE_PCT = 20
LISTED = 20  # rows shown in a check's metadata


def check_specs(calls_key: dg.AssetKey, quarantine_key: dg.AssetKey, words_key: dg.AssetKey) -> list:
    return [
        dg.AssetCheckSpec(
            ACCOUNTED,
            asset=calls_key,
            blocking=True,
            description="Every landed file of the batch is in asr_raw.calls or asr_raw.quarantine, exactly once.",
        ),
        dg.AssetCheckSpec(
            QUARANTINE_SHARE,
            asset=quarantine_key,
            description="At most ASR_MAX_QUARANTINE_PCT % (default 20) of the batch's files are quarantined.",
        ),
        dg.AssetCheckSpec(
            CONSISTENT,
            asset=words_key,
            description="Channel, segment and word rows agree with their calls and with the transcripts artifact.",
        ),
    ]


def _table(header: list[str], rows: list[tuple]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(one_line(str(v)) for v in row) + " |" for row in rows[:LISTED]]
    return dg.MetadataValue.md("\n".join(lines) if rows else "none")


def accounted(cur, key: dg.AssetKey, partition_key: str) -> dg.AssetCheckResult:
    cur.execute(read_sql("select_file_places"), {"partition_key": partition_key})
    places = cur.fetchall()
    wrong = [(name, n) for name, n in places if n != 1]
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=ACCOUNTED,
        passed=not wrong,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "landed_files": len(places),
            "not_once": len(wrong),
            "files": _table(["file", "places (calls + quarantine)"], wrong),
        },
    )


def quarantine_share(
    key: dg.AssetKey, files: int, quarantined: list[tuple], max_pct: int
) -> dg.AssetCheckResult:
    """quarantined: (file name, reason code) of the batch's quarantined files."""
    share = len(quarantined) / files if files else 0.0
    codes: dict[str, int] = {}
    for _, code in quarantined:
        codes[code] = codes.get(code, 0) + 1
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=QUARANTINE_SHARE,
        passed=share * 100 <= max_pct,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "files": files,
            "quarantined": len(quarantined),
            "quarantine_pct": round(100 * share, 1),
            "max_pct": max_pct,
            "reasons": _table(["reason", "files"], sorted(codes.items(), key=lambda kv: -kv[1])),
        },
    )


def consistent(
    cur, key: dg.AssetKey, partition_key: str, artifact_words: dict[str, int]
) -> dg.AssetCheckResult:
    """artifact_words: words per call_id in the transcripts artifact (the loaded calls are compared)."""
    cur.execute(read_sql("select_inconsistent_calls"), {"partition_key": partition_key})
    bad = []
    for (
        call_id,
        name,
        channels,
        channel_rows,
        seg_said,
        seg_rows,
        words_said,
        word_rows,
        outside,
    ) in cur.fetchall():
        problems = []
        if channel_rows != channels:
            problems.append(f"{channel_rows} channel rows for {channels} channels")
        if seg_rows != seg_said:
            problems.append(f"{seg_rows} segment rows, channels say {seg_said}")
        if word_rows != words_said:
            problems.append(f"{word_rows} word rows, channels say {words_said}")
        if call_id in artifact_words and word_rows != artifact_words[call_id]:
            problems.append(f"{word_rows} word rows, the transcripts artifact has {artifact_words[call_id]}")
        if outside:
            problems.append(f"{outside} words outside the call")
        if problems:
            bad.append((name, "; ".join(problems)))
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=CONSISTENT,
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"inconsistent_calls": len(bad), "calls": _table(["file", "problem"], bad)},
    )
