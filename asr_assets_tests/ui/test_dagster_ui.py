"""The Dagster UI in a real browser (Debian's chromium, driven by Playwright; `make browser` installs it) against
`asr-assets ui` on an instance that has ingested a sample call and a batch of only bad files: the asset graph, a
partition's metadata, the ingest checks (the bad batch is not green), and the report page with its charts.

Every test writes a screenshot to screenshots/ui/ (git-ignored) so a person can look at what the browser saw.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg2
import pytest

from asr_assets.platform import embedded_pg
from asr_assets_tests.conftest import free_port, private_temp_dir

pytestmark = [pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = REPO / "screenshots" / "ui"
LOAD_MS = 60_000  # the most a page may take to show what a test waits for (its GraphQL queries answer first)


def _cli(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "asr_assets.cli", *args], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a batch had quarantined files
    return done


@pytest.fixture(scope="module")
def ui(sample_calls):
    """(base URL, {"good": key, "bad": key}, ASR_HOME) of a running `asr-assets ui` on a fresh instance."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (make test does)")
    home = private_temp_dir("asr-ui-home-")
    env = {k: v for k, v in os.environ.items() if k not in ("ASR_DATABASE_URL", "DAGSTER_HOME")}
    env["ASR_HOME"] = str(home)
    good, bad = home / "in-good", home / "in-bad"
    good.mkdir()
    bad.mkdir()
    shutil.copyfile(sample_calls[3], good / sample_calls[3].name)  # the mono call: short
    (bad / "noise.wav").write_bytes(os.urandom(30_000))
    (bad / "empty.wav").write_bytes(b"")
    _cli(env, "ingest", str(good))
    _cli(env, "ingest", str(bad))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "asr_assets.cli", "ui", "--port", str(port)], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=5):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "asr-assets ui did not come up"
                time.sleep(2)
        url = _cli(env, "db-url").stdout.strip()
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("select partition_key from asr_raw.ingest_batches order by batch_id")
                keys = [k for (k,) in cur.fetchall()]
        finally:
            conn.close()
        assert len(keys) == 2, keys
        yield base, {"good": keys[0], "bad": keys[1]}, home
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
        embedded_pg.stop_embedded_postgres(home / "pgdata")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser, ui, request):
    base, _, _ = ui
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.goto(base + "/")
    page.wait_for_timeout(2000)
    skip = page.get_by_role("button", name="Skip")  # Dagster's community pop-up on a fresh instance
    if skip.count():
        skip.click()
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def _open(page, url: str, *shown: str, any_of: tuple[str, ...] = ()) -> str:
    """The page's text once every string of `shown` (and one of `any_of`) is on it: the UI renders after its
    GraphQL queries answer, so the test waits for what it reads rather than for a fixed time."""
    page.goto(url)
    page.wait_for_function(
        "([all, any]) => { const text = document.body.innerText;"
        " return all.every(s => text.includes(s)) && (any.length === 0 || any.some(s => text.includes(s))); }",
        arg=[list(shown), list(any_of)],
        timeout=LOAD_MS,
    )
    return page.inner_text("body")


def test_the_asset_graph_shows_audio_to_transcripts_to_raw_tables_to_the_dbt_models(page, ui):
    base, _, _ = ui
    nodes = ("raw_audio", "transcripts", "calls", "words", "quarantine", "stg_calls", "fct_calls", "call_search",
             "batch_report")  # fmt: skip
    text = _open(page, f"{base}/assets/raw_audio?view=lineage&lineageScope=downstream&lineageDepth=5", *nodes)
    for node in nodes:
        assert node in text, node


def test_a_transcripts_partition_shows_its_metadata(page, ui):
    base, keys, _ = ui
    fields = (
        "real_time_factor",
        "transcribe_seconds",
        "startup_seconds",
        "mean_word_probability",
        "languages",
    )
    text = _open(page, f"{base}/assets/transcripts?view=partitions&partition={keys['good']}", *fields)
    for field in fields:
        assert field in text, field
    assert "whisper tiny.en (litert int8)" in text and "en (detected)" in text


def test_the_ingest_checks_show_and_a_batch_of_bad_files_is_not_green(page, ui):
    base, keys, _ = ui
    text = _open(page, f"{base}/assets/asr_raw/calls?view=checks", "every_file_accounted_once")
    assert (
        "every_file_accounted_once" in text and "rows_consistent" not in text
    )  # rows_consistent is on words
    text = _open(
        page, f"{base}/assets/asr_raw/quarantine?view=checks", "quarantine_share", "quarantine_pct",
        any_of=("Warning", "Failed"),
    )  # fmt: skip
    assert "quarantine_share" in text
    assert "Passed" not in text and ("Warning" in text or "Failed" in text), text[:2000]
    assert "quarantine_pct" in text and "100" in text


def test_the_report_link_opens_a_page_with_its_charts(page, ui):
    base, keys, home = ui
    report = home / "artifacts" / "reports" / f"{keys['good']}.html"
    text = _open(page, f"{base}/assets/batch_report?view=partitions&partition={keys['good']}", str(report))
    assert "report" in text
    assert str(report) in text  # the path the metadata links to
    page.goto(report.as_uri())
    page.wait_for_selector(".plotly-graph-div .main-svg", timeout=30_000)
    assert page.locator(".plotly-graph-div").count() == 6
    assert page.locator(".plotly-graph-div .main-svg").count() >= 6  # drawn: plotly.js loaded from beside it
    assert "Talk time per call" in page.inner_text("body")


def test_a_call_dropped_into_the_landing_folder_while_the_ui_runs_reaches_the_marts(ui, sample_calls):
    """The README's loop with the platform running: a recording renamed into the landing folder is found by its
    filesystem event, transcribed by a batch run and built into asr_marts.fct_calls by the marts build."""
    import numpy as np
    import soundfile as sf

    _, _, home = ui
    audio, rate = sf.read(str(sample_calls[0]), dtype="int16", always_2d=True)
    audio[-1, 0] ^= 1  # content of its own: not a duplicate of a call the fixture landed
    temp = home / "landing" / ".dropped.wav.part"
    sf.write(str(temp), np.ascontiguousarray(audio), rate, format="WAV", subtype="PCM_16")
    os.replace(temp, home / "landing" / "dropped.wav")
    env = {k: v for k, v in os.environ.items() if k not in ("ASR_DATABASE_URL", "DAGSTER_HOME")}
    url = _cli(env | {"ASR_HOME": str(home)}, "db-url").stdout.strip()
    deadline = time.monotonic() + 300
    rows: list = []
    while not rows and time.monotonic() < deadline:
        time.sleep(2)
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("select to_regclass('asr_marts.fct_calls') is not null")
                if cur.fetchone()[0]:
                    cur.execute("select count_words from asr_marts.fct_calls where file_name = 'dropped.wav'")
                    rows = cur.fetchall()
        finally:
            conn.close()
    assert rows and rows[0][0] > 10, "dropped.wav did not reach asr_marts.fct_calls within 300 s"
