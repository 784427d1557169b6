"""SQL of the local commands' report (one statement per file)."""

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent


@cache
def read_sql(name: str) -> str:
    """The text of local/sql/<name>.sql (statements take %(name)s parameters)."""
    return (SQL_DIR / f"{name}.sql").read_text()
