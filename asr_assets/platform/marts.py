"""Which loaded batches the marts do not hold yet: what a coalesced `dbt build` (defs/marts.py) has to pick up.

A batch's load (asr_raw.batch_loads: partition_key, loaded_at) is in the marts once fct_calls holds its calls with
that load's time, the rule each incremental mart applies to itself (dbt_transcripts/macros/get_pending_batch_keys.sql);
fct_calls is read because a build writes it after the marts it reads. Only loads since a point in time are probed,
so asking costs what was loaded lately, not the archive (the caller keeps that point: `next_since`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asr_assets.platform.sql import read_sql

MARTS_JOB = "marts_job"  # defined in defs/marts.py; named here for what reads its runs (local/runs.py)
COVERAGE_MART = "asr_marts.fct_calls"
# A load's time is its transaction's start, and a transaction may commit that much later (the statement timeout is
# 30 min): a load that started before the newest one seen may still appear, so the next probe starts this far back.
LATE_COMMIT_MARGIN = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Unbuilt:
    batches: list[tuple[str, datetime]]  # (partition_key, loaded_at), oldest load first
    newest_load: datetime | None  # the newest load of all (built or not), for the next probe's start

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.batches]

    def next_since(self) -> datetime:
        """Where the next probe starts: the oldest load still unbuilt, else the newest load less the margin."""
        if self.batches:
            return self.batches[0][1]
        return self.newest_load - LATE_COMMIT_MARGIN if self.newest_load else EPOCH


def unbuilt_batches(conn, since: datetime = EPOCH) -> Unbuilt:
    """The batches loaded since `since` whose current load is not in the marts (every loaded batch while fct_calls
    does not exist yet)."""
    with conn.cursor() as cur:
        cur.execute("select max(loaded_at) from asr_raw.batch_loads")
        newest = cur.fetchone()[0]
        cur.execute("select to_regclass(%(name)s)", {"name": COVERAGE_MART})
        if cur.fetchone()[0] is None:
            cur.execute(
                "select partition_key, loaded_at from asr_raw.batch_loads where loaded_at >= %(since)s "
                "order by loaded_at",
                {"since": since},
            )
        else:
            cur.execute(read_sql("select_unbuilt_batches"), {"since": since})
        return Unbuilt(batches=list(cur.fetchall()), newest_load=newest)
