"""`python -m benchmarks wer-languages`: the language from the set's folder, the sets found, and the table (no model
runs: the engines' results are faked)."""

from pathlib import Path

from asr_assets.asr.evaluation import EvalItem
from benchmarks.engines import EngineConfig
from benchmarks.wer_languages import compare, find_language_sets, format_report, set_language


def test_the_set_folder_names_the_language():
    assert set_language("asr_assets/samples/eval/fr") == "fr"
    assert set_language(Path("/x/eval/en")) == "en"
    assert set_language("multilang/asterisk-es-mx-8k") == "es"
    assert set_language("asterisk-it-it-8k") == "it"
    assert set_language("nonen-librivox-aeneas-de-es") is None  # two languages: left out
    assert set_language("nonen-mfa-es-ja-sv") is None
    assert set_language("wav") is None and set_language("zz") is None  # not Whisper language codes


def _set(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True)
    (folder / "transcripts.tsv").write_text("".join(f"{n}\tref\n" for n in names))


def test_sets_are_found_limited_per_set_and_absent_roots_reported(tmp_path):
    _set(tmp_path / "multi" / "asterisk-fr-ca-8k", [f"{i}.wav" for i in range(6)])
    _set(tmp_path / "multi" / "nonen-mfa-es-ja-sv", ["a.wav"])
    _set(tmp_path / "es", ["b.wav", "c.wav"])
    sets, absent, left_out = find_language_sets(
        [tmp_path / "multi", tmp_path / "es", tmp_path / "missing"], limit=3
    )
    assert [(Path(s["set"]).name, s["language"], len(s["items"])) for s in sets] == [
        ("asterisk-fr-ca-8k", "fr", 3),
        ("es", "es", 2),  # the root itself is the set
    ]
    assert absent == [str(tmp_path / "missing")]
    assert [Path(p).name for p in left_out] == ["nonen-mfa-es-ja-sv"]


def _result(text: str) -> dict:
    return {"file": "f", "duration": 1.0, "model_version": "v", "channels": [{"channel": 0, "text": text}]}


def test_rows_per_set_and_language_and_the_table():
    fr = [EvalItem(".", Path(f"fr{i}.flac"), "un deux trois quatre cinq") for i in range(2)]
    es = [EvalItem(".", Path("es.flac"), "uno dos tres cuatro")]
    sets = [
        {"set": "eval/fr", "language": "fr", "items": fr},
        {"set": "multilang/asterisk-es-mx-8k", "language": "es", "items": es},
    ]
    runs = {
        "ours": {"results": [[_result("un deux trois quatre cinq"), _result("un deux trois")], [_result("Uno, dos.")]]},
        "faster-whisper": {
            "results": [[_result("un deux trois quatre cinq"), _result("un deux trois quatre")], [_result("uno dos")]]
        },
    }  # fmt: skip
    rows = compare(sets, runs)
    fr_row, es_row = rows["per_set"]
    assert (fr_row["reference_words"], fr_row["errors_ours"], fr_row["errors_faster-whisper"]) == (10, 2, 1)
    assert fr_row["wer_ours"] == 0.2 and fr_row["diff_pp"] == 10.0
    assert (fr_row["within_pp"], fr_row["within_fraction"]) == (False, True)
    assert es_row["diff_pp"] == 0.0 and es_row["within_pp"]  # case and punctuation normalised away
    assert [r["language"] for r in rows["per_language"]] == ["es", "fr"]
    assert len(rows["files"]) == 3 and rows["files"][1]["text_ours"] == "un deux trois"

    report = {"model": "base", "limit_per_set": 2, "absent": ["../shared/eval/multilang"], "left_out": []}
    table = format_report({**report, **rows})
    assert (
        "eval/fr                                      fr       2        10   20.00 %   10.00 %     +10.00"
        in table
    )
    assert "all es" in table and "NO" in table
    assert "ABSENT: ../shared/eval/multilang does not exist" in table
    assert "at most that many files per set" in table


def test_both_engines_get_the_language_on_their_command_lines():
    assert "--language" not in EngineConfig().transcribe_args()
    assert EngineConfig(engine="faster-whisper", language="fr").transcribe_args()[-2:] == ["--language", "fr"]
