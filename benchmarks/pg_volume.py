"""`python -m benchmarks pg-volume`: what one ingest batch costs PostgreSQL as asr_raw.words grows to bank volume.

Two designs side by side, each in a database of its own on the server given: `current` (migrations 0001-0007,
plain tables) and `partitioned` (every migration: 0008 partitions words and segments by month of their batch).
At each table size the history is generated server-side, then one new batch (200 calls, 2 channels, 700 words per
channel: 280,000 words) goes through the project's own code paths, timed:

  load    raw_tables.load_partition of the new batch (COPY into temp tables, delete, insert, one transaction)
  reload  the same batch loaded again: its rows deleted and inserted
  erase   erasure.erase of one of its calls (every raw and dbt table, as `asr-assets erase`), then erasure.vacuum
          of the tables an erasure of a built call touches
  dbt     `dbt build` as a batch run calls it (models and data tests), only this batch pending; in the current
          design its data tests read whole tables, as every build's did before (`test_whole_tables`)
  scan    the delete the marts' former delete+insert strategy added to a build, on fct_words (rolled back)

The history: batches of the same shape made by generate_series (foreign-key triggers off, the rows are consistent
by construction), dated one a day from 2026-01-01, so the partitioned design holds them in past months as a
running platform does; every measured batch is dated 2027-02-01. Their marts rows are the first batch's, which dbt
built, with call ids and batch keys replaced: every generated call has the same words, so they are what dbt would
build. Tables are VACUUM ANALYZEd after each growth step (autovacuum's job in production).

The modules, one job each: pg_volume_data.py makes the batches (the history in SQL, a measured batch as the
ingest steps' files, kept side by side because they must stay identical: benchmarks_tests checks them),
pg_volume_designs.py the scratch databases and their designs, pg_volume_timing.py the timed runs on one batch,
pg_volume_report.py the ratios and the tables; this module runs them size by size.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from benchmarks.pg_volume_data import MEASURED_BASE, Shape, generate_history, replicate_marts
from benchmarks.pg_volume_designs import (
    DESIGNS,
    apply_design,
    create_database,
    drop_database,
    execute,
    table_words,
    vacuum_analyze,
)
from benchmarks.pg_volume_report import format_figures, ratios
from benchmarks.pg_volume_timing import measure_batch, run_dbt

DEFAULT_ROWS = 20_000_000


@contextmanager
def scratch_home() -> Iterator[Path]:
    """ASR_HOME and the artifact store in a temp folder: an erasure removes report pages there, not the user's."""
    from asr_assets import settings

    home = Path(tempfile.mkdtemp(prefix="pg-volume-"))
    try:
        with settings.environ_overrides({"ASR_HOME": str(home), "ASR_STORAGE_URL": str(home / "artifacts")}):
            yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def sizes_for(rows: int, steps: int = 4) -> list[int]:
    """0 and `steps - 1` sizes up to rows, evenly spaced (default 0, 5 M, 10 M, 20 M... of 20 M: 0, ¼, ½, all)."""
    return [0, *(rows >> (steps - 1 - i) for i in range(1, steps))] if steps > 1 else [rows]


def run_pg_volume(
    server_url: str,
    rows: int = DEFAULT_ROWS,
    sizes: list[int] | None = None,
    shape: Shape = Shape(),  # noqa: B008 - a frozen dataclass, as immutable as a tuple
    prefix: str = "asr_pg_volume",
    keep: bool = False,
    upgrade: bool = True,
    progress: Callable[[str], None] = print,
) -> dict:
    """Both designs at every size (interleaved: both measured at one size before either grows); see the module
    docstring. Returns the report (figures per design and size, ratios largest size / first)."""
    sizes = sorted(sizes if sizes is not None else sizes_for(rows))
    report: dict = {
        "shape": asdict(shape) | {"words_per_batch": shape.words_per_batch},
        "sizes": sizes,
        "load_1min_before": os.getloadavg()[0],
        "designs": {d: [] for d in DESIGNS},
        "setup_s": {},
    }
    names = {design: f"{prefix}_{design}" for design in DESIGNS}
    next_history = dict.fromkeys(DESIGNS, 0)
    with scratch_home() as scratch:
        dsns = {}
        for design in DESIGNS:
            start = time.perf_counter()
            dsns[design] = create_database(server_url, names[design])
            apply_design(dsns[design], design, scratch)
            # The template batch (number 0): its marts, built by dbt, are copied for every later history batch.
            generate_history(dsns[design], 0, 1, shape)
            run_dbt(dsns[design], scratch / f"target_{design}")
            next_history[design] = 1
            report["setup_s"][design] = round(time.perf_counter() - start, 1)
        try:
            for stage, size in enumerate(sizes):
                for design in DESIGNS:
                    dsn = dsns[design]
                    have = table_words(dsn)
                    count = max(0, -(-(size - have) // shape.words_per_batch))
                    start = time.perf_counter()
                    for first in range(next_history[design], next_history[design] + count, 8):
                        chunk = list(range(first, min(first + 8, next_history[design] + count)))
                        generate_history(dsn, chunk[0], len(chunk), shape)
                        replicate_marts(dsn, 0, chunk, shape)
                    next_history[design] += count
                    vacuum_analyze(dsn)
                    grow_s = time.perf_counter() - start
                    progress(
                        f"{design}: {table_words(dsn):,} words ({grow_s:.0f} s to grow); measuring a batch"
                    )
                    figures = measure_batch(
                        dsn, design, MEASURED_BASE + stage, shape, scratch, scratch / f"target_{design}"
                    )
                    figures["grow_s"] = round(grow_s, 1)
                    report["designs"][design].append(figures)
                    progress(format_figures(design, figures))
            if upgrade:
                start = time.perf_counter()
                from asr_assets.platform.sql.migrate import migrate

                execute(dsns["current"], "drop function asr_raw.create_month_partitions(text)")  # the shim
                applied = migrate(dsns["current"])
                report["upgrade"] = {
                    "migrations": applied,
                    "table_words": table_words(dsns["current"]),
                    "s": round(time.perf_counter() - start, 1),
                }
                progress(f"upgrade of the current design (migrations {applied}): {report['upgrade']['s']} s")
        finally:
            if not keep:
                for name in names.values():
                    drop_database(server_url, name)
    report["load_1min_after"] = os.getloadavg()[0]
    report["ratios"] = ratios(report)
    return report
