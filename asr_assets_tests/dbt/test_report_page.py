"""The report page (asr_assets/report_page.py) on the marts of known calls: every chart present, the numbers from
the marts, no file name the marts do not redact, and nothing fetched from a network (plotly.js beside the page).
The batch_report asset writes the same page per batch (asr_assets_tests/defs/test_jobs.py)."""

import re

import psycopg2

from asr_assets import report_page

CHART_TITLES = (
    "Talk time per call (s): agent vs customer",
    "Silence and overlap per call (s)",
    "Word confidence",
    "Quarantined files by reason",
    "Audio per batch",
    "Calls per model version",
)


def test_the_report_of_a_batch_has_its_charts_and_opens_offline(built_marts, tmp_path):
    conn = psycopg2.connect(built_marts)
    try:
        data = report_page.report_data(conn, "b1")
        everything = report_page.report_data(conn, None)
    finally:
        conn.close()
    assert sorted(data["calls"]["call_id"]) == ["call-a", "call-b"]
    assert len(everything["calls"]) == 3 and set(everything["batches"]["partition_key"]) == {"b1", "b2"}
    assert data["confidence"]["words"].sum() == 34 + 18  # every word of the batch in the histogram
    page = report_page.render(data, "Ingest batch b1")
    for title in CHART_TITLES:
        assert title in page, title
    assert page.count('class="plotly-graph-div"') == len(CHART_TITLES)
    assert "2 calls" in page
    # offline: the only script the page loads is the file beside it
    assert re.findall(r'<script src="([^"]+)"', page) == [report_page.PLOTLY_JS]
    assert "cdn" not in page.lower()
    path = report_page.write_local(page, tmp_path / "reports" / "b1.html")
    assert (path.parent / report_page.PLOTLY_JS).stat().st_size > 1_000_000  # plotly.js itself
