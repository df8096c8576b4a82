"""Fixtures: a Sage 100 test database on SQLite and on the local PostgreSQL (sage_db.py).

PostgreSQL: 127.0.0.1:5432, trust authentication (user ``root`` or ``postgres``,
database ``test``; RELANCE_TEST_PG_URL for another admin URL).  A database is
created for the session and dropped after it; each test gets its own schema.
When no server answers, the PostgreSQL half is skipped and says why.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import sage_db  # noqa: E402
from sage_support import pg_admin, pg_schema  # noqa: E402


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    admin = pg_admin()
    if isinstance(admin, str):
        pytest.skip(admin)
    engine, url = admin
    name = f"relance_sage_test_{os.getpid()}_{secrets.token_hex(3)}"
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def sage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a filled Sage test database (SQLite file or PostgreSQL schema)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sage.db'}"
    else:
        url = pg_schema(request.getfixturevalue("pg_database"))
    engine = create_engine(url)
    sage_db.build(engine)
    engine.dispose()
    yield url


@pytest.fixture
def sage_engine(sage_url: str) -> Iterator[Engine]:
    engine = create_engine(sage_url)
    yield engine
    engine.dispose()
