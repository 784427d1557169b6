"""What `ingest` prints: per file what asr_raw holds, and the talk-time columns of the fct_calls mart."""

from __future__ import annotations

from decimal import Decimal

from asr_assets.local.landing import LandedCopy
from asr_assets.local.sql import read_sql

TEXT_PREVIEW_CHARS = 48
REASON_PREVIEW_CHARS = 100
MART = "asr_marts.fct_calls"  # the dbt mart with one row per call (dbt_transcripts/models)
MART_COLUMNS = (
    "agent_talk_s",
    "customer_talk_s",
    "silence_s",
    "overlap_s",
    "count_turns",
    "words_per_minute",
)
MART_LABELS = ("agent s", "customer s", "silence s", "overlap s", "turns", "words/min")


def report_rows(conn, checksums: list[str]) -> dict[str, tuple]:
    """Per checksum: (status, duration_s, channels, words, mean probability, text preview or reason)."""
    rows: dict[str, tuple] = {}
    with conn.cursor() as cur:
        cur.execute(read_sql("report_calls"), {"c": checksums})
        for checksum, duration, channels, words, mean_p, text in cur.fetchall():
            rows[checksum] = ("ok", duration, channels, words, mean_p, " ".join((text or "").split()))
        cur.execute(read_sql("report_quarantine"), {"c": checksums})
        for checksum, code, reason in cur.fetchall():
            rows[checksum] = ("quarantined", None, None, None, None, f"{code}: {reason}")
    return rows


def mart_rows(conn, checksums: list[str]) -> dict[str, tuple]:
    """Per call id: the talk-time columns of the fct_calls mart, or {} when dbt has not built it (yet)."""
    import psycopg2
    from psycopg2 import sql

    with conn.cursor() as cur:
        cur.execute(read_sql("relation_exists"), {"relation": MART})
        if cur.fetchone()[0] is None:
            return {}
        query = sql.SQL(read_sql("mart_rows")).format(
            columns=sql.SQL(", ").join(map(sql.Identifier, MART_COLUMNS)),
            mart=sql.Identifier(*MART.split(".")),
        )
        try:
            cur.execute(query, {"c": checksums})
        except psycopg2.Error:  # the mart's columns changed: the per-call table above still stands
            conn.rollback()
            return {}
        return {row[0]: row[1:] for row in cur.fetchall()}


def print_marts(landed: list[LandedCopy], marts: dict[str, tuple]) -> None:
    if not marts:
        return
    print()
    print(f"{MART} (dbt):")
    header = f"{'file':<32} " + " ".join(f"{label:>10}" for label in MART_LABELS)
    print(header)
    print("-" * len(header))
    seen = set()
    for item in landed:
        if item.checksum in marts and item.checksum not in seen:
            seen.add(item.checksum)
            values = " ".join(f"{_cell(v):>10}" for v in marts[item.checksum])
            print(f"{item.name[:32]:<32} {values}")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float | Decimal):
        return f"{value:.1f}"
    return str(value)


def print_report(
    landed: list[LandedCopy], rows: dict[str, tuple], keys: dict[str, str]
) -> tuple[int, int, int]:
    """One line per file of DIR; returns (transcribed, quarantined, duplicates)."""
    header = f"{'file':<32} {'batch':<16} {'dur s':>7} {'ch':>2} {'words':>5} {'mean p':>6}  text / status"
    print(header)
    print("-" * len(header))
    first_of: dict[str, str] = {}
    ok = quarantined = duplicates = 0
    for item in landed:
        status, duration, channels, words, mean_p, text = rows.get(item.checksum, ("missing",) + (None,) * 5)
        note = text or ""
        if item.checksum in first_of:
            note, status = f"duplicate of {first_of[item.checksum]}", "duplicate"
            duplicates += 1
        first_of.setdefault(item.checksum, item.name)
        ok += status == "ok"
        quarantined += status == "quarantined"
        if status == "missing":
            note = "not loaded (see the run's logs)"
        if status == "quarantined":
            code, _, reason = note.partition(": ")
            note = f"{code}: {reason.removeprefix(item.name + ': ')}"
        limit = TEXT_PREVIEW_CHARS if status == "ok" else REASON_PREVIEW_CHARS
        if len(note) > limit:  # the full reason is in asr_raw.quarantine
            note = note[: limit - 1] + "…"
        print(
            f"{item.name[:32]:<32} {keys.get(item.checksum, '-'):<16} "
            f"{'' if duration is None else f'{duration:.1f}':>7} {'' if channels is None else channels:>2} "
            f"{'' if words is None else words:>5} {'' if mean_p is None else f'{mean_p:.3f}':>6}  "
            f"{'QUARANTINED ' if status == 'quarantined' else ''}{note}"
        )
    return ok, quarantined, duplicates
