"""The soak's verdict, from PostgreSQL directly: every generated file in asr_raw.calls or asr_raw.quarantine, once."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.soak_corpus import CorpusFile

# One row per row of either table holding a generated checksum (calls are keyed by content: call_id = checksum).
OUTCOME_ROWS_SQL = """
select checksum, count(*) from (
    select call_id as checksum from asr_raw.calls where call_id = any(%(c)s)
    union all
    select checksum from asr_raw.quarantine where checksum = any(%(c)s)
) outcomes
group by checksum
"""
MAX_LISTED = 50  # lost files / duplicated checksums named in the summary


def outcome_counts(conn, checksums: Sequence[str]) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.execute(OUTCOME_ROWS_SQL, {"c": sorted(set(checksums))})
        return dict(cur.fetchall())


def account(conn, truth: Sequence[CorpusFile]) -> dict:
    """lost: files whose content is in neither table (a duplicate is accounted when its original is);
    duplicated: checksums with more than one row across the two tables."""
    counts = outcome_counts(conn, [f.sha256 for f in truth])
    lost = [f.display_name for f in truth if counts.get(f.sha256, 0) == 0]
    duplicated = sorted(checksum for checksum, n in counts.items() if n > 1)
    return {
        "files": len(truth),
        "accounted": len(truth) - len(lost),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "lost_files": lost[:MAX_LISTED],
        "duplicated_checksums": duplicated[:MAX_LISTED],
    }
