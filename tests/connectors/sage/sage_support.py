"""Helpers of the Sage tests (a module of its own: every test folder has a conftest)."""

from __future__ import annotations

import itertools
import os
import secrets
from datetime import datetime

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from connectors.sage.source import Sage100Source, SageOptions, WriteBack

PG_CANDIDATES = [
    "postgresql+psycopg2://root@127.0.0.1:5432/test",
    "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
]
TODAY = datetime(2026, 12, 2, 9, 0)
_schemas = itertools.count(1)


def pg_admin() -> tuple[Engine, str] | str:
    env = os.environ.get("RELANCE_TEST_PG_URL")
    reasons = []
    for url in [env] if env else PG_CANDIDATES:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as error:
            engine.dispose()
            reasons.append(f"{url}: {' '.join(str(getattr(error, 'orig', error)).split())}")
            continue
        return engine, url
    return "PostgreSQL unreachable: " + "; ".join(reasons)


def pg_schema(database_url: str) -> str:
    schema = f"sage{next(_schemas)}_{secrets.token_hex(3)}"
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    return f"{database_url}?options=-csearch_path%3D{schema}"


def make_source(url: str, **options: object) -> Sage100Source:
    write = options.pop("write_back", WriteBack())
    assert isinstance(write, WriteBack)
    return Sage100Source(
        SageOptions(url=url, write_back=write, **options),  # type: ignore[arg-type]
        clock=lambda: TODAY,
    )
