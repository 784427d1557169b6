"""SQL used by the loaders (one statement per file) and the schema migrations."""

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent


@cache
def read_sql(name: str) -> str:
    """The text of platform/sql/<name>.sql (statements take %(name)s parameters, identifiers via psycopg2.sql)."""
    return (SQL_DIR / f"{name}.sql").read_text()
