"""The batch report: one HTML page of charts an operator or analyst looks at, for one ingest batch or all of them.

Talk time agent vs customer, silence and overlap per call, the word-confidence histogram, quarantine reasons,
audio per batch, model versions, and the calls table. Everything comes from the analyst marts (redacted file
names) and from asr_raw.quarantine's reason codes (no file name), so the page holds no PII the marts do not.
Charts are plotly figures; the page loads plotly.js from a file beside it (`plotly.min.js`, written once per
folder), never from a CDN, so it opens offline.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

PLOTLY_JS = "plotly.min.js"
MAX_CALLS = 500  # per page: the per-call charts stay readable; the totals count every call

CALLS_SQL = """
select call_id, partition_key, file_name, coalesce(language, '') as language, duration_s, agent_talk_s,
       customer_talk_s, silence_s, overlap_s, count_words, mean_word_probability, is_suspect, suspect_reason,
       coalesce(model_name, '') as model_name, model_version, transcribed_at
from asr_marts.fct_calls
where partition_key = any(%(keys)s)
order by transcribed_at desc, call_id
"""
CONFIDENCE_SQL = """
select least(width_bucket(probability, 0, 1, 20), 20) as bucket, count(*)
from asr_marts.fct_words
where partition_key = any(%(keys)s)
group by 1 order by 1
"""
QUARANTINE_SQL = """
select reason_code, count(*) from asr_raw.quarantine
where partition_key = any(%(keys)s)
group by 1 order by 2 desc
"""
BATCHES_SQL = """
select partition_key, count(*) as calls, sum(duration_s) / 60 as audio_minutes, max(transcribed_at) as at
from asr_marts.fct_calls
where partition_key = any(%(latest)s)
group by partition_key order by max(transcribed_at) desc
"""


def _frame(cur, query: str, params: dict, columns: list[str] | None = None) -> pd.DataFrame:
    cur.execute(query, params)
    names = columns or [d[0] for d in cur.description]
    return pd.DataFrame(cur.fetchall(), columns=names)


LATEST_BATCHES_SQL = """
select partition_key from asr_raw.batch_loads order by loaded_at desc limit %(limit)s
"""
OVERALL_BATCHES = 50  # the overall page covers the latest batches: its cost stays flat as the archive grows


def report_data(conn, partition_key: str | None) -> dict[str, pd.DataFrame]:
    """The page's tables, read from the marts: one batch, or (None) the latest OVERALL_BATCHES batches."""
    with conn.cursor() as cur:
        cur.execute(LATEST_BATCHES_SQL, {"limit": OVERALL_BATCHES})
        latest = [k for (k,) in cur.fetchall()]
        params = {"keys": latest if partition_key is None else [partition_key], "latest": latest}
        return {
            "calls": _frame(cur, CALLS_SQL, params),
            "confidence": _frame(cur, CONFIDENCE_SQL, params, ["bucket", "words"]),
            "quarantine": _frame(cur, QUARANTINE_SQL, params, ["reason", "files"]),
            "batches": _frame(cur, BATCHES_SQL, params),
        }


def _figures(data: dict[str, pd.DataFrame]) -> list:
    import plotly.graph_objects as go

    calls = data["calls"].head(MAX_CALLS)
    label = calls["file_name"].str.slice(0, 40)
    layout = {"height": 360, "margin": {"l": 50, "r": 20, "t": 50, "b": 90}, "template": "plotly_white"}
    figures = [
        go.Figure(
            [
                go.Bar(name="agent", x=label, y=calls["agent_talk_s"]),
                go.Bar(name="customer", x=label, y=calls["customer_talk_s"]),
            ],
            layout={**layout, "title": "Talk time per call (s): agent vs customer", "barmode": "group"},
        ),
        go.Figure(
            [
                go.Bar(name="silence", x=label, y=calls["silence_s"]),
                go.Bar(name="overlap", x=label, y=calls["overlap_s"]),
            ],
            layout={**layout, "title": "Silence and overlap per call (s)", "barmode": "group"},
        ),
    ]
    confidence = data["confidence"]
    figures.append(
        go.Figure(
            go.Bar(x=(confidence["bucket"] - 0.5) / 20, y=confidence["words"], width=0.05),
            layout={
                **layout,
                "title": "Word confidence (words per probability bin)",
                "xaxis": {"range": [0, 1]},
            },
        )
    )
    quarantine = data["quarantine"]
    figures.append(
        go.Figure(
            go.Bar(x=quarantine["reason"], y=quarantine["files"]),
            layout={
                **layout,
                "title": f"Quarantined files by reason ({int(quarantine['files'].sum())} in all)",
            },
        )
    )
    batches = data["batches"].iloc[::-1]
    figures.append(
        go.Figure(
            go.Bar(x=batches["partition_key"], y=batches["audio_minutes"], text=batches["calls"]),
            layout={**layout, "title": "Audio per batch (minutes; calls on the bars), latest 50 batches"},
        )
    )
    models = (
        data["calls"]
        .assign(model=lambda f: f["model_name"] + " " + f["model_version"].str.slice(0, 12))
        .groupby("model")
        .size()
    )
    figures.append(
        go.Figure(
            go.Bar(x=list(models.index), y=list(models.values)),
            layout={**layout, "title": "Calls per model version"},
        )
    )
    return figures


def render(data: dict[str, pd.DataFrame], title: str) -> str:
    """The page: a summary line, the charts, the calls table."""
    calls = data["calls"]
    summary = (
        f"{len(calls)} calls, {calls['duration_s'].sum() / 60:.1f} min of audio, "
        f"{int(calls['is_suspect'].sum()) if len(calls) else 0} suspect, "
        f"{int(data['quarantine']['files'].sum())} quarantined; built {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    charts = "\n".join(
        figure.to_html(full_html=False, include_plotlyjs=False, default_width="100%")
        for figure in _figures(data)
    )
    shown = calls.drop(columns=["call_id"]).head(MAX_CALLS)
    table = shown.to_html(
        index=False, float_format=lambda v: f"{v:.2f}", na_rep="", border=0, classes="calls"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script src="{PLOTLY_JS}"></script>
<style>body{{font-family:sans-serif;margin:2em}} table.calls{{border-collapse:collapse;font-size:13px}}
table.calls td,table.calls th{{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(summary)}</p>
{charts}
<h2>Calls</h2>
{table}
</body></html>
"""


def plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode()


def write_local(page: str, path: Path) -> Path:
    """The page at `path`, with plotly.min.js beside it (written when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    script = path.parent / PLOTLY_JS
    if not script.exists():
        script.write_bytes(plotly_js())
    path.write_text(page, encoding="utf-8")
    return path
