"""dbt_transcripts built on raw rows of known timing: the marts' numbers, redaction, search, incrementality."""

import pytest
from conftest import CALL_A, CALL_B, CALL_C, CALL_D, EXPECTED, RawCall, load_batch, timed

FCT_CALLS_QUERY = (
    "select agent_talk_s, customer_talk_s, overlap_s, silence_s, longest_silence_s, count_turns, count_words"
    " from asr_marts.fct_calls where call_id = %s"
)


def test_unit_tests_pass(built_marts, run_dbt):
    """The redaction, talk-span, turn and talk-time logic on fixed rows (unit_tests in the models' yml)."""
    out = run_dbt(built_marts, "test", "--select", "test_type:unit")
    assert "PASS=4" in out


@pytest.mark.parametrize("call_id", sorted(EXPECTED))
def test_fct_calls_measures_talk_silence_and_overlap(built_marts, sql, call_id):
    rows = sql(built_marts, FCT_CALLS_QUERY, (call_id,))
    assert len(rows) == 1
    actual = dict(zip(EXPECTED[call_id], rows[0], strict=True))
    assert actual == pytest.approx(EXPECTED[call_id], abs=1e-6)


def test_fct_calls_rates_and_confidence(built_marts, sql):
    (row,) = sql(
        built_marts,
        "select agent_customer_talk_ratio, agent_talk_share, words_per_minute, mean_word_probability,"
        " min_word_probability, low_confidence_word_share, is_mono, model_version, partition_key"
        " from asr_marts.fct_calls where call_id = 'call-a'",
    )
    ratio, share, wpm, mean_p, min_p, low_share, is_mono, version, batch = row
    assert ratio == pytest.approx(3.2 / 8.45)
    assert share == pytest.approx(3.2 / (3.2 + 8.45))
    assert wpm == pytest.approx(34 / ((3.2 + 8.45) / 60))
    assert min_p == pytest.approx(0.2)
    assert low_share == pytest.approx(3 / 34)  # " you." 0.4, " it's" 0.2, the e-mail 0.3
    assert mean_p == pytest.approx((31 * 0.9 + 0.4 + 0.2 + 0.3) / 34)
    assert (is_mono, version, batch) == (False, "m-tiny", "b1")
    (silent,) = sql(
        built_marts,
        "select mean_word_probability, words_per_minute from asr_marts.fct_calls where call_id = 'call-c'",
    )
    assert silent == (None, None)


def test_utterances_are_turns_with_redacted_text(built_marts, sql):
    rows = sql(
        built_marts,
        "select speaker_role, utterance_text, count_redactions from asr_marts.fct_utterances"
        " where call_id = %s order by turn_index",
        ("call-a",),
    )
    assert rows == [
        ("agent", "Hello, how can I help?", 0),
        ("customer", "My card number is [CARD_NUMBER],", 1),
        ("agent", "Thank you.", 0),
        ("agent", "I have cancelled it.", 0),
        ("customer", "Thanks, it's [EMAIL]", 1),
    ]
    (mono,) = sql(
        built_marts, "select utterance_text from asr_marts.fct_utterances where utterance_id = 'call-b:0'"
    )
    assert mono == ("Please call me on [PHONE],",)


def test_no_spoken_or_written_number_reaches_the_marts(built_marts, sql):
    digits = "zero|one|two|three|four|five|six|seven|eight|nine"
    leaks = sql(
        built_marts,
        "select utterance_text from asr_marts.fct_utterances where utterance_text ~* %s"
        " union all select transcript_text from asr_marts.call_search where transcript_text ~* %s",
        (f"(\\m({digits})\\M[ ,]*){{4}}", f"(\\m({digits})\\M[ ,]*){{4}}"),
    )
    assert leaks == []
    # fct_words has timings and confidence only: no column holds the words.
    columns = sql(
        built_marts, "select column_name from information_schema.columns where table_name = 'fct_words'"
    )
    assert not {"word", "word_text"} & {c for (c,) in columns}


def test_call_search_is_one_indexed_query(built_marts, sql):
    found = sql(
        built_marts,
        "select call_id from asr_marts.call_search where search_vector @@ websearch_to_tsquery('english', %s)",
        ("card cancelled",),
    )
    assert found == [("call-a",)]
    # Placeholders are not words: call B's [PHONE] must not make it a call about phones.
    assert sql(
        built_marts,
        "select count(*) from asr_marts.call_search where search_vector @@ to_tsquery('english', 'phone')",
    ) == [(0,)]
    indexes = sql(built_marts, "select indexdef from pg_indexes where tablename = 'call_search'")
    assert any("USING gin (search_vector)" in d for (d,) in indexes)
    (transcript,) = sql(
        built_marts, "select transcript_text from asr_marts.call_search where call_id = 'call-a'"
    )
    assert transcript[0].splitlines()[:2] == [
        "agent: Hello, how can I help?",
        "customer: My card number is [CARD_NUMBER],",
    ]


def test_dim_model_versions(built_marts, sql):
    rows = sql(
        built_marts,
        "select model_version, count_calls, count_words, audio_s from asr_marts.dim_model_versions order by 1",
    )
    assert rows == [("m-base", 1, 0, 5.0), ("m-tiny", 2, 52, 33.0)]


def test_a_new_batch_costs_its_own_size_and_a_reload_replaces(scratch_database, run_dbt, sql):
    """Batch b1 is left alone (a value tampered with in fct_calls survives), the reloaded b2 and new b3 are built."""
    url = scratch_database
    load_batch(url, "b1", [CALL_A, CALL_B])
    load_batch(url, "b2", [CALL_C])
    run_dbt(url, "run")
    sql(url, "update asr_marts.fct_calls set file_name = 'untouched' where partition_key = 'b1' returning 1")
    before = sql(url, "select count(*) from asr_marts.fct_words where partition_key = 'b1'")
    reloaded_c = RawCall("call-c", 5.0, 2, tuple(timed(0, "Hello?", 1.0, 0.5)), model_version="m-base")
    load_batch(url, "b2", [reloaded_c])
    load_batch(url, "b3", [CALL_D])
    run_dbt(url, "run", "--select", "marts")

    assert sql(url, "select distinct file_name from asr_marts.fct_calls where partition_key = 'b1'") == [
        ("untouched",)
    ]
    assert sql(url, "select count(*) from asr_marts.fct_words where partition_key = 'b1'") == before
    assert sql(url, "select count_words, agent_talk_s from asr_marts.fct_calls where call_id = 'call-c'") == [
        (1, 0.5)
    ]
    assert sql(url, "select count(*) from asr_marts.fct_calls") == [(4,)]
    assert sql(url, "select count(*) from asr_marts.fct_utterances where call_id = 'call-c'") == [(1,)]
    found = sql(
        url,
        "select call_id from asr_marts.call_search where search_vector @@ websearch_to_tsquery('english', 'mortgage cancel')",
    )
    assert found == [("call-d",)]
    assert sql(
        url, "select count_calls from asr_marts.dim_model_versions where model_version = 'm-tiny'"
    ) == [(3,)]


def test_mono_call_counts_as_agent(built_marts, sql):
    rows = sql(
        built_marts,
        "select distinct speaker_role from asr_marts.fct_talk_spans where call_id = %s",
        (CALL_B.call_id,),
    )
    assert rows == [("agent",)]
    assert CALL_C.words == ()


def test_an_emptied_or_shrunk_batch_is_followed_by_every_mart(scratch_database, run_dbt, sql):
    """A rerun that quarantines every file of b2 (no call left) empties b2 in the marts; b1 losing call B (as an
    erasure does) is rebuilt without it; the other batch is left alone."""
    url = scratch_database
    load_batch(url, "b1", [CALL_A, CALL_B])
    load_batch(url, "b2", [CALL_C])
    load_batch(url, "b3", [CALL_D])
    run_dbt(url, "run")
    untouched = sql(url, "select batch_loaded_at from asr_marts.fct_calls where partition_key = 'b3'")
    load_batch(url, "b2", [])
    load_batch(url, "b1", [CALL_A])
    run_dbt(url, "run", "--select", "marts")

    marts = ("fct_calls", "fct_words", "fct_utterances", "fct_talk_spans", "call_search")
    for mart in marts:
        rows = sql(url, f"select distinct partition_key, call_id from asr_marts.{mart} order by 1, 2")  # noqa: S608
        assert rows == [("b1", "call-a"), ("b3", "call-d")], mart
    assert sql(url, "select model_version from asr_marts.dim_model_versions") == [("m-tiny",)]
    assert sql(url, "select batch_loaded_at from asr_marts.fct_calls where partition_key = 'b3'") == untouched
    # Nothing pending any more: a second build changes nothing.
    run_dbt(url, "run", "--select", "marts")
    assert sql(url, "select count(*) from asr_marts.fct_calls") == [(2,)]


def test_file_names_reach_analysts_redacted(scratch_database, run_dbt, sql):
    url = scratch_database
    named = RawCall(
        "call-n", 5.0, 1, tuple(timed(0, "Hello.", 1.0, 0.5)), file_name="+447700900123_acct_40512345.wav"
    )
    load_batch(url, "b1", [named])
    run_dbt(url, "run")
    assert sql(url, "select file_name from asr_marts.fct_calls") == [("[PHONE]_acct_[NUMBER].wav",)]
    assert sql(url, "select file_name from asr_marts.call_search") == [("[PHONE]_acct_[NUMBER].wav",)]
    assert sql(url, "select file_name from asr_raw.calls") == [("+447700900123_acct_40512345.wav",)]


SPOKEN_NUMBERS = [  # (phrase as Whisper writes it, what analysts see)
    ("my account number is one two three four five six", "my account number is [NUMBER]"),
    (
        "Vous pouvez me rappeler au zéro six, un deux, trois quatre, cinq six, sept huit. Merci.",
        "Vous pouvez me rappeler au [PHONE]. Merci.",
    ),
    (
        "El número de la tarjeta es cuatro cinco tres dos cero uno cinco uno nueve ocho siete seis cinco cuatro "
        "tres dos.",
        "El número de la tarjeta es [CARD_NUMBER].",
    ),
    ("Meine Kundennummer ist sieben acht neun null eins zwei drei.", "Meine Kundennummer ist [NUMBER]."),
    ("Ich habe ein Auto und zwei Kinder.", "Ich habe ein Auto und zwei Kinder."),  # a few number words stay
    ("J'ai un chat, deux chiens et trois poules.", "J'ai un chat, deux chiens et trois poules."),
    ("Tengo dos hijos y una hija.", "Tengo dos hijos y una hija."),
]


def test_spoken_numbers_are_redacted_in_english_french_spanish_and_german(scratch_database, run_dbt):
    """The digit words of each supported language (en, fr, es, de) count as digits, in realistic phrases; a few
    number words in ordinary speech are kept."""
    import json

    rows = " union all ".join(
        f'select {i} as n, {{{{ redact_pii("\'" ~ {json.dumps(phrase.replace(chr(39), chr(39) * 2))} ~ "\'") }}}} '
        "as redacted"
        for i, (phrase, _) in enumerate(SPOKEN_NUMBERS)
    )
    query = f"select * from ({rows}) as t order by n"  # noqa: S608 - the test's own constant phrases
    out = run_dbt(
        scratch_database,
        "show",
        "--inline",
        query,
        "--limit",
        "50",
        "--output",
        "json",
        "--log-format",
        "json",
    )
    shown = next(json.loads(line)["data"]["preview"] for line in out.splitlines() if '"preview"' in line)
    got = [row["redacted"] for row in json.loads(shown)]
    assert got == [expected for _, expected in SPOKEN_NUMBERS]


def test_a_looping_transcript_is_flagged_suspect_in_fct_calls(scratch_database, run_dbt, sql, tmp_path):
    """A synthetic hallucination as Whisper makes them, through the pipeline's own functions (raw_audio's check,
    transcripts' suspect reasons, raw_tables' load) into the marts: the agent's channel loops on one phrase over
    seconds of silence after 4 s of speech, and the customer's channel, digital silence, gets a "Thank you."."""
    import hashlib
    from dataclasses import asdict

    import numpy as np
    import psycopg2
    import soundfile as sf

    from asr_assets import settings
    from asr_assets.defs.raw_audio import LandedFile, RawAudioConfig, check_file
    from asr_assets.defs.raw_tables import build_rows, load_partition
    from asr_assets.defs.transcripts import suspect_reasons

    sr, t = 8000, np.arange(14 * 8000) / 8000
    agent = np.where(t < 4.0, 0.3 * np.sin(2 * np.pi * 440 * t), 1e-4 * np.sin(2 * np.pi * 50 * t))
    path = tmp_path / "loop.wav"
    sf.write(path, np.stack([agent, np.zeros_like(t)], axis=1).astype(np.float32), sr, subtype="PCM_16")
    data = path.read_bytes()
    landed = LandedFile(hashlib.sha256(data).hexdigest(), path.name, path.as_uri(), len(data))
    checked, _ = check_file(landed, data, RawAudioConfig())
    call = asdict(checked)
    assert call["peak_dbfs"][1] is None  # digital silence

    def segment(channel, text, start, word_s=0.25):
        words = [
            {
                "word": " " + w,
                "start": start + i * word_s,
                "end": start + (i + 1) * word_s,
                "probability": 0.8,
            }
            for i, w in enumerate(text.split())
        ]
        return {"channel": channel, "start": start, "end": words[-1]["end"], "text": " " + text, "words": words,
                "avg_logprob": -0.2, "no_speech_prob": 0.1, "compression_ratio": None, "temperature": 0.0}  # fmt: skip

    record = {
        "call_id": call["call_id"], "language": "en", "language_source": "folder", "language_probability": None,
        "model_name": "tiny.en", "model_version": "m-loop", "decoding": {"mode": "batched"},
        "transcribed_at": "2026-12-04T10:00:00+00:00",
        "segments": [
            segment(0, "I would like to block my card please", 0.5, 0.4),
            segment(0, "thank you for calling " * 8, 4.5, 0.2),
            segment(1, "Thank you.", 6.0),
        ],
    }  # fmt: skip
    record["suspect_reasons"] = suspect_reasons(call, str(path), record, uncertain=False)
    expected = ["compression_ratio", "repetition_loop", "words_in_silence", "text_on_silent_channel"]
    assert record["suspect_reasons"] == expected
    rows = build_rows("loop-batch", {"calls": [call], "quarantine": []}, [record])
    conn = psycopg2.connect(settings.libpq_url(scratch_database))
    try:
        with conn:
            load_partition(conn, "loop-batch", rows)
    finally:
        conn.close()
    run_dbt(scratch_database, "run")
    assert sql(scratch_database, "select is_suspect, suspect_reason from asr_marts.fct_calls") == [
        (True, ", ".join(expected))
    ]
