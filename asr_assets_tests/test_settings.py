import yaml

from asr_assets import settings


def test_redact_url_hides_the_password_only():
    assert settings.redact_url("postgresql://bob:s3cr3t@db:5432/asr") == "postgresql://bob:***@db:5432/asr"
    assert (
        settings.redact_url("postgresql://postgres:@/postgres?host=/x")
        == "postgresql://postgres:***@/postgres?host=/x"
    )
    assert settings.redact_url("postgresql://db/asr") == "postgresql://db/asr"


def test_urls_for_sqlalchemy_use_psycopg2_and_libpq_gets_a_plain_url():
    url = settings.sqlalchemy_url("postgresql://u:p@h/db")
    assert url == "postgresql+psycopg2://u:p@h/db"
    assert settings.sqlalchemy_url("postgres://h/db") == "postgresql+psycopg2://h/db"
    assert settings.libpq_url(url) == "postgresql://u:p@h/db"


def test_non_postgres_database_url_is_rejected_with_the_fix():
    try:
        settings.sqlalchemy_url("mysql://h/db")
    except ValueError as e:
        assert "ASR_DATABASE_URL" in str(e)
    else:
        raise AssertionError("mysql URL accepted")


def test_locations_default_under_asr_home(asr_home, monkeypatch):
    assert settings.asr_home() == asr_home
    assert settings.landing_url() == str(asr_home / "landing")
    assert settings.storage_url() == str(asr_home / "artifacts")
    monkeypatch.setenv("ASR_LANDING_URL", "s3://bucket/landing")
    assert settings.landing_url() == "s3://bucket/landing"


def test_dagster_home_has_one_run_per_lane_at_a_time_on_sqlite(asr_home):
    """One engine run (TensorFlow and the model) and, beside it, one marts build at a time."""
    home = settings.ensure_dagster_home()
    assert home == asr_home / "dagster"
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    runs = config["concurrency"]["runs"]
    assert runs["max_concurrent_runs"] == 2
    lanes = {
        limit["value"]: limit["limit"]
        for limit in runs["tag_concurrency_limits"]
        if limit["key"] == "asr/lane"
    }
    assert lanes == {"engine": 1, "marts": 1}
    assert config["storage"]["sqlite"]["base_dir"].startswith(str(home))
    assert config["run_queue"]["dequeue_interval_seconds"] <= 5
