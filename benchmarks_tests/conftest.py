"""Fixtures shared with the platform tests: throwaway databases on the embedded server and on TEST_DATABASE_URL."""

from asr_assets_tests.conftest import any_server_url, database_url, embedded_server_url  # noqa: F401
