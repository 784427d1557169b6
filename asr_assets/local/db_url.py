"""`asr-assets db-url [--user ROLE] [--stop]`: a connection string for the platform's database that psql, DBeaver
or pandas accept, e.g. `psql "$(asr-assets db-url)"`.

With no ASR_DATABASE_URL it is the embedded PostgreSQL of $ASR_HOME: started when it is not running (and left
running, so the string works; `--stop` stops it) and reached on its Unix socket, where it trusts local users (no
password is checked). With ASR_DATABASE_URL the password is printed as *** unless --show-password: the command may
be run where its output is logged.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit, urlunsplit

from asr_assets import settings
from asr_assets.platform import embedded_pg


def with_user(url: str, user: str, password: str | None = None) -> str:
    """The URL with another role (and its password, or none)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    credentials = user if password is None else f"{user}:{password}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def db_url(args: argparse.Namespace) -> int:
    config = settings.current()
    if args.stop:
        if config.database_url:
            print(
                "asr-assets db-url: ASR_DATABASE_URL is set; there is no embedded server to stop",
                file=sys.stderr,
            )
            return 2
        embedded_pg.stop_embedded_postgres()
        return 0
    if config.database_url:
        url = settings.libpq_url(settings.sqlalchemy_url(config.database_url))
        if args.user:
            url = with_user(url, args.user)
        print(url if args.show_password else settings.redact_url(url))
        return 0
    from asr_assets.platform.sql.migrate import migrate

    started = not embedded_pg.embedded_postgres_running()
    url = settings.libpq_url(embedded_pg.ensure_database_url())
    migrate(url)  # the analyst role and the schemas exist before anyone connects
    print(with_user(url, args.user) if args.user else url)
    if started:
        print(
            f"asr-assets db-url: started the embedded PostgreSQL in {settings.pgdata_dir()}; it keeps running "
            "(`asr-assets db-url --stop` stops it)",
            file=sys.stderr,
        )
    return 0
