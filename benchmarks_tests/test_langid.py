"""`python -m benchmarks langid`: the expected language from the set's folder name, and the table it prints."""

from benchmarks.langid import expected_language, format_langid


def test_the_set_folder_names_the_language():
    assert expected_language("asterisk-fr-ca-8k") == "fr"
    assert expected_language("multilang/asterisk-es-mx-8k") == "es"
    assert expected_language("nonen-librivox-aeneas-de-es") is None  # two languages: left out
    assert expected_language("nonen-mfa-es-ja-sv") is None


def test_the_table_shows_accuracy_and_confusions_per_language():
    report = {
        "min_s": 3.0, "files": 3, "skipped_short": 2, "accuracy": 2 / 3, "wall_s": 1.0,
        "per_language": {
            "es": {"files": 2, "correct": 1, "accuracy": 0.5, "mistaken_for": {"pt": 1}},
            "fr": {"files": 1, "correct": 1, "accuracy": 1.0, "mistaken_for": {}},
        },
    }  # fmt: skip
    table = format_langid(report)
    assert "es             2        1     50.0%  pt 1" in table
    assert "66.7%" in table and "2 file(s) under 3 s left out" in table
