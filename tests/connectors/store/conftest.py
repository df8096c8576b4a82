"""Fixtures of the store contract suite: every test runs once on a SQLite file
and once on PostgreSQL (STYLE.md section 3: one suite, every backend).

PostgreSQL: the server on 127.0.0.1:5432 (trust authentication, user ``root``
or ``postgres``, database ``test``).  A fresh database is created for the test
session and dropped afterwards; each test gets its own empty schema in it.
When no server answers, the PostgreSQL half is skipped and says why.
Set RELANCE_TEST_PG_URL to use another server (an admin URL, as above).
"""

from __future__ import annotations

import itertools
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from connectors.store import Store  # noqa: E402
from connectors.store.engine import create_store_engine  # noqa: E402

PG_CANDIDATES = [
    "postgresql://root@127.0.0.1:5432/test",
    "postgresql://postgres@127.0.0.1:5432/test",
]
_schemas = itertools.count(1)


def _pg_admin() -> tuple[Engine, str] | str:
    """An autocommit engine on the admin database and its URL, or why there is none."""
    env = os.environ.get("RELANCE_TEST_PG_URL")
    reasons = []
    for url in [env] if env else PG_CANDIDATES:
        engine = create_store_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as error:
            engine.dispose()
            cause = getattr(error, "orig", None) or error
            reasons.append(f"{url}: {' '.join(str(cause).split())}")
            continue
        return engine, url
    return "PostgreSQL unreachable: " + "; ".join(reasons)


def _execute(engine: Engine, sql: str) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql(sql)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The URL of a database created for this session and dropped afterwards
    (every PostgreSQL test is skipped, with the reason, when there is no server)."""
    admin = _pg_admin()
    if isinstance(admin, str):
        pytest.skip(admin)
    engine, url = admin
    name = f"relance_store_test_{os.getpid()}_{secrets.token_hex(3)}"
    _execute(engine, f'CREATE DATABASE "{name}"')
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        _execute(engine, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def _pg_schema(database_url: str) -> str:
    """A new empty schema in the session database; the URL puts it first on the search path."""
    schema = f"t{next(_schemas)}"
    engine = create_store_engine(database_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        _execute(engine, f'CREATE SCHEMA "{schema}"')
    finally:
        engine.dispose()
    return f"{database_url}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'relance.db'}"
    database: str = request.getfixturevalue("pg_database")
    return _pg_schema(database)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'relance.db'}"
