"""`asr-assets report [--batch KEY] [--open]`: the report page (asr_assets/report_page.py) of the latest batches,
or of one, written to $ASR_HOME/reports/ and, with --open, opened in the default browser."""

from __future__ import annotations

import argparse
import sys
import webbrowser

from asr_assets import report_page, settings
from asr_assets.platform import embedded_pg


def report(args: argparse.Namespace) -> int:
    from asr_assets.defs.resources import PostgresResource

    started_pg = settings.current().database_url is None and not embedded_pg.embedded_postgres_running()
    try:
        with PostgresResource().connect() as conn:
            data = report_page.report_data(conn, args.batch)
    finally:
        if started_pg:
            embedded_pg.stop_embedded_postgres()
    if data["calls"].empty and data["quarantine"].empty:
        what = f"batch {args.batch!r}" if args.batch else "any batch"
        print(
            f"asr-assets report: no call or quarantined file in {what} yet; run `make demo` first",
            file=sys.stderr,
        )
        return 1
    title = f"Ingest batch {args.batch}" if args.batch else "Latest ingest batches"
    path = settings.asr_home() / "reports" / (f"{args.batch}.html" if args.batch else "report.html")
    report_page.write_local(report_page.render(data, title), path)
    print(path)
    if args.open:
        webbrowser.open(path.as_uri())
    return 0
