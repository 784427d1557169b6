"""A French and a Spanish call through the whole ingest graph (landing sensor -> raw_audio -> transcripts ->
asr_raw.* -> dbt): each is transcribed in its own language by the multilingual model, searchable with its own
text-search configuration, and its spoken numbers are redacted. The French one comes in a landing folder named
`fr`; the Spanish one comes with nothing and is identified."""

import hashlib
import re
import shutil

import dagster as dg
import pytest

from asr_assets.definitions import defs
from asr_assets.defs.partitions import ingest_batches
from asr_assets.defs.resources import LandingZoneResource, PostgresResource
from asr_assets.defs.sensors import landing_sensor
from asr_assets.samples import MULTILINGUAL_CALLS_DIR
from asr_assets_tests.conftest import query_rows as _query

pytestmark = [pytest.mark.slow]
FRENCH = MULTILINGUAL_CALLS_DIR / "call_fr_card_block.wav"
SPANISH = MULTILINGUAL_CALLS_DIR / "call_es_phone_update.wav"
DIGIT_WORDS = {
    "fr": "zéro|zero|un|deux|trois|quatre|cinq|six|sept|huit|neuf",
    "es": "cero|uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve",
}


def test_a_french_and_a_spanish_call_are_transcribed_searchable_and_redacted_in_their_language(
    asr_home, embedded_database_url, monkeypatch
):
    monkeypatch.setenv("ASR_DATABASE_URL", embedded_database_url)
    landing = asr_home / "landing"
    (landing / "fr").mkdir(parents=True)
    shutil.copyfile(FRENCH, landing / "fr" / FRENCH.name)
    shutil.copyfile(SPANISH, landing / SPANISH.name)
    ids = {
        "fr": hashlib.sha256(FRENCH.read_bytes()).hexdigest(),
        "es": hashlib.sha256(SPANISH.read_bytes()).hexdigest(),
    }
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"landing": LandingZoneResource(), "postgres": PostgresResource()}
        )
        (key,) = {k for r in landing_sensor(context).dynamic_partitions_requests for k in r.partition_keys}
        instance.add_dynamic_partitions(ingest_batches.name, [key])
        result = defs.resolve_job_def("ingest_job").execute_in_process(partition_key=key, instance=instance)
        assert result.success
        assert (
            defs.resolve_job_def("marts_job").execute_in_process(instance=instance).success
        )  # marts_sensor's
        suspect_check = {c.check_name: c for c in result.get_asset_check_evaluations()}[
            "no_suspect_transcripts"
        ]
    url = embedded_database_url
    rows = {
        call_id: rest
        for call_id, *rest in _query(
            url,
            "select call_id, language, language_source, model_name, decoding ->> 'language', is_suspect"
            " from asr_marts.fct_calls where call_id = any(%(ids)s)",
            {"ids": list(ids.values())},
        )
    }
    assert rows[ids["fr"]][:4] == ["fr", "folder", "base", "fr"]
    assert rows[ids["es"]][:4] == ["es", "detected", "base", "es"]
    # real speech raises no hallucination flag, and the batch's check says so
    assert [rows[ids[lang]][4] for lang in ("fr", "es")] == [False, False]
    assert suspect_check.passed
    texts = dict(
        _query(
            url,
            "select language, transcript_text from asr_marts.call_search where call_id = any(%(ids)s)",
            {"ids": list(ids.values())},
        )
    )
    # in the language spoken, not translated to English
    assert re.search(r"\bmerci\b", texts["fr"], re.I) and not re.search(r"\bthank", texts["fr"], re.I)
    assert re.search(r"\bgracias\b", texts["es"], re.I) and not re.search(r"\bthank", texts["es"], re.I)
    # the card number and the phone number are redacted, whether written as digits or as words
    assert "[CARD_NUMBER]" in texts["fr"] or "[NUMBER]" in texts["fr"], texts["fr"]
    assert "[PHONE]" in texts["es"] or "[NUMBER]" in texts["es"], texts["es"]
    for language, text in texts.items():
        digit = rf"(?:\b(?:{DIGIT_WORDS[language]})\b|[0-9])"
        assert not re.search(rf"({digit}[\s,.-]*){{6}}", text, re.I), f"{language} leaks a number: {text}"
    # searchable with each call's own configuration: French and Spanish stemming ("remerciements" is not
    # needed to find "merci"; "gracia" finds "gracias")
    for language, word in (("fr", "merci"), ("es", "gracia")):
        found = _query(
            url,
            "select call_id, search_config::text from asr_marts.call_search"
            " where call_id = any(%(ids)s) and search_vector @@ websearch_to_tsquery(search_config, %(q)s)",
            {"ids": list(ids.values()), "q": word},
        )
        assert found == [(ids[language], {"fr": "french", "es": "spanish"}[language])], (language, texts)
