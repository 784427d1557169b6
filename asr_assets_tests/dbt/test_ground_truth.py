"""The marts on the real sample calls, transcribed by the real engine, against the timing the build script knows.

The calls go through the pipeline's own code (raw_audio.check_file, the Transcriber, transcripts.call_record,
raw_tables.build_rows/load_partition) into asr_raw, then through the dbt assets. Talk time per channel must be
within 0.5 s of asr_assets/samples/calls/ground_truth.json (issue 5).
"""

import hashlib
import json
import logging
import re
from dataclasses import asdict

import psycopg2
import pytest
from conftest import REPO, materialize_dbt_assets

from asr_assets.samples import CALLS_DIR, GROUND_TRUTH_PATH
from asr_assets_tests.conftest import query_rows

TALK_TOLERANCE_S = 0.5  # per channel, issue 5
PARTITION = "samples"
ANALYSES = sorted((REPO / "dbt_transcripts" / "analyses").glob("*.sql"))
GROUND_TRUTH = {c["file_name"]: c for c in json.loads(GROUND_TRUTH_PATH.read_text(encoding="utf-8"))["calls"]}

pytestmark = [
    pytest.mark.slow,
]


def load_samples(url: str, mode: str) -> None:
    """Check, transcribe and load the sample calls as one batch, with the pipeline's functions."""
    from asr_assets.defs.raw_audio import LandedFile, RawAudioConfig, check_file
    from asr_assets.defs.raw_tables import build_rows, load_partition
    from asr_assets.defs.resources import WhisperModelResource
    from asr_assets.defs.transcripts import transcribe_calls

    paths = sorted(CALLS_DIR.glob("*.wav"))
    calls = []
    for path in paths:
        data = path.read_bytes()
        landed = LandedFile(hashlib.sha256(data).hexdigest(), path.name, path.as_uri(), len(data))
        checked, _ = check_file(landed, data, RawAudioConfig())
        calls.append(asdict(checked))
    resource = WhisperModelResource(mode=mode)  # the pipeline's transcribers, options and language rule
    records, _ = transcribe_calls(resource, calls, [str(p) for p in paths], logging.getLogger(__name__))
    rows = build_rows(PARTITION, {"calls": calls, "quarantine": []}, records)
    conn = psycopg2.connect(url)
    try:
        with conn:
            load_partition(conn, PARTITION, rows)
    finally:
        conn.close()


@pytest.fixture(scope="module", params=["batched", "sequential"])
def sample_marts(request, embedded_server_url: str):
    """The marts of the sample calls as each transcription mode of the pipeline (WhisperModelResource.mode) has
    them; the batched mode is the default."""
    from conftest import _create_database

    from asr_assets.platform.sql.migrate import migrate

    for url in _create_database(embedded_server_url):
        migrate(url)
        load_samples(url, request.param)
        result = materialize_dbt_assets(url)
        assert result.success
        assert [e.check_name for e in result.get_asset_check_evaluations() if not e.passed] == []
        yield url


FCT_CALLS_COLUMNS = (
    "file_name", "duration_s", "agent_talk_s", "customer_talk_s", "silence_s", "overlap_s", "count_turns",
    "channel_count",
)  # fmt: skip


def _fct_calls(url: str) -> dict[str, dict]:
    rows = query_rows(url, f"select {', '.join(FCT_CALLS_COLUMNS)} from asr_marts.fct_calls")  # noqa: S608
    return {row[0]: dict(zip(FCT_CALLS_COLUMNS, row, strict=True)) for row in rows}


# Measured with the TensorFlow engine and tiny.en (2026-11-25): talk time is off by 0.09-0.35 s per channel on
# calls 1, 2 and 4. On call 3 tiny.en hears three extra zeros after the spelled-out IBAN (25 digits for 22) and
# times them, with the customer's "goodbye", 0.4 s early; its agent turn starts 0.3 s before the voice. Result:
# +0.51 s agent, +0.73 s customer. A transcription error, not a measurement one: kept visible as an xfail.
# The batched mode (faster-whisper's BatchedInferencePipeline rules, LiteRT int8; measured 2026-12-02): calls 1-3
# as above within tolerance (call 3 still misses); on call 4 (mono, IVR prompts with pauses) the words come out
# shorter than spoken: without timestamp tokens DTW alone places them, and the agent's talk time is 20.38 s for
# 21.21 s (-0.83 s). Kept visible as an xfail of that mode only.
KNOWN_MISSES = {
    ("batched", "call_03_iban_transfer.wav"): "tiny.en adds 3 digits to the IBAN",
    ("sequential", "call_03_iban_transfer.wav"): "tiny.en adds 3 digits to the IBAN: talk +0.51 s / +0.73 s",
    ("batched", "call_04_mono_hold_time.wav"): "batched mode: DTW-only word times, agent talk -0.83 s",
}


@pytest.mark.parametrize("file_name", sorted(GROUND_TRUTH))
def test_talk_time_per_channel_matches_the_ground_truth(request, sample_marts, file_name):
    mode = request.node.callspec.params["sample_marts"]
    if (mode, file_name) in KNOWN_MISSES:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_MISSES[mode, file_name], strict=False))
    truth = GROUND_TRUTH[file_name]
    row = _fct_calls(sample_marts)[file_name]
    assert row["duration_s"] == pytest.approx(truth["duration_s"], abs=1e-3)
    expected_customer = truth["talk_s"].get("1", 0.0)
    measured = {"agent": row["agent_talk_s"], "customer": row["customer_talk_s"]}
    expected = {"agent": truth["talk_s"]["0"], "customer": expected_customer}
    assert measured == pytest.approx(expected, abs=TALK_TOLERANCE_S), f"{file_name}: {measured} vs {expected}"
    # Silence and overlap add the channels' errors, so they get the sum of the per-channel tolerances.
    tolerance = TALK_TOLERANCE_S * truth["channels"]
    assert row["silence_s"] == pytest.approx(truth["silence_s"], abs=tolerance)
    assert row["overlap_s"] == pytest.approx(truth["overlap_s"], abs=tolerance)


def test_spoken_numbers_are_redacted_in_the_real_transcripts(sample_marts):
    transcripts = dict(
        query_rows(
            sample_marts,
            "select c.file_name, s.transcript_text from asr_marts.call_search s"
            " join asr_marts.fct_calls c using (call_id) order by 1",
        )
    )
    found = query_rows(
        sample_marts,
        "select s.call_id from asr_marts.call_search s,"
        " websearch_to_tsquery('english', 'number cancelled') q where s.search_vector @@ q",
    )
    assert "[CARD_NUMBER]" in transcripts["call_01_card_block.wav"]
    assert "[PHONE]" in transcripts["call_02_phone_update.wav"]
    assert (
        "[IBAN]" in transcripts["call_03_iban_transfer.wav"]
        or "[NUMBER]" in transcripts["call_03_iban_transfer.wav"]
    )
    digits = "zero|oh|one|two|three|four|five|six|seven|eight|nine|[0-9]"
    for name, text in transcripts.items():
        assert not re.search(rf"(\b({digits})\b[\s,.-]*){{6}}", text, re.I), f"{name} leaks a number: {text}"
    assert len(found) == 1


@pytest.mark.parametrize("path", ANALYSES, ids=[p.stem for p in ANALYSES])
def test_analyst_examples_answer_on_the_sample_calls(sample_marts, path):
    rows = query_rows(sample_marts, path.read_text(encoding="utf-8"), role="analyst")
    assert rows, f"{path.name} returned nothing on the sample calls"


def test_the_sample_calls_are_identified_as_english_and_not_suspect(sample_marts):
    """No language comes with the sample calls: the multilingual model identifies them, tiny.en (the primary,
    English) transcribes them, and real calls raise no hallucination flag (the flags' false positives)."""
    rows = query_rows(
        sample_marts,
        "select file_name, language, language_source, language_probability, model_name, is_suspect,"
        " suspect_reason, decoding ->> 'language' from asr_marts.fct_calls order by 1",
    )
    assert len(rows) == len(GROUND_TRUTH)
    for name, language, source, probability, model, suspect, reason, decoded_as in rows:
        assert (language, source, model, decoded_as) == ("en", "detected", "tiny.en", "en"), name
        assert probability > 0.5, name
        assert not suspect and reason == "", f"{name}: {reason}"
