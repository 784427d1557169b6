"""The README's analyst examples (dbt_transcripts/analyses/*.sql) run, as the analyst role, and answer."""

import pytest
from conftest import REPO

ANALYSES = sorted((REPO / "dbt_transcripts" / "analyses").glob("*.sql"))


def test_there_are_five_examples():
    assert {p.stem for p in ANALYSES} == {
        "talk_ratio_by_day",
        "low_confidence_calls",
        "keyword_search",
        "longest_silences",
        "calls_per_model_version",
    }


@pytest.mark.parametrize("path", ANALYSES, ids=[p.stem for p in ANALYSES])
def test_example_runs_as_analyst_and_returns_rows(built_marts, sql, path):
    rows = sql(built_marts, path.read_text(encoding="utf-8"), role="analyst")
    assert rows, f"{path.name} returned nothing on the test data"
