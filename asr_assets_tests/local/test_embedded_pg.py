import pytest

from asr_assets.platform.embedded_pg import ensure_database_url


def test_database_url_prefers_the_environment(asr_home, monkeypatch):
    monkeypatch.setenv("ASR_DATABASE_URL", "postgresql://u:p@db.example:5432/asr")
    assert ensure_database_url() == "postgresql+psycopg2://u:p@db.example:5432/asr"


def test_k8s_executor_refuses_the_embedded_database(monkeypatch):
    monkeypatch.delenv("ASR_DATABASE_URL", raising=False)
    monkeypatch.setenv("ASR_EXECUTOR", "k8s")
    with pytest.raises(RuntimeError, match="ASR_DATABASE_URL"):
        ensure_database_url()
