"""Engines for the store: SQLite tuned for a daemon, PostgreSQL as given.

SQLite (connectors/store/README.md, "SQLite"):

- WAL journal, so readers never wait for the writer, and ``foreign_keys`` on
  (SQLite leaves them off by default), on every new connection.
- The sqlite3 module's own transaction handling is switched off and each
  transaction begins with an explicit ``BEGIN IMMEDIATE`` (SQLAlchemy's
  documented recipe): the write lock is taken at the start, so two writers
  queue on the busy timeout instead of one failing with "database is locked"
  when it upgrades a read to a write.  Read-only work begins a plain deferred
  ``BEGIN`` (``READ_ONLY`` execution option), which gives it a stable snapshot
  without blocking writers.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import StaticPool

DEFAULT_URL = "sqlite:///relance.db"
# Seconds a SQLite writer waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT = 30
# Execution option marking a connection whose transactions only read.
READ_ONLY = "relance_read_only"


def create_store_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://...``)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername=f"postgresql+{_postgresql_driver()}")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
    if parsed.database in (None, "", ":memory:"):
        # One shared connection, or every connection would see its own empty database.
        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"]["check_same_thread"] = False
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _postgresql_driver() -> str:
    """The driver for a plain ``postgresql://`` URL: psycopg2 (what Relance installs)
    unless only psycopg 3 is there (SQLAlchemy 2.1's own default)."""
    if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg"):
        return "psycopg"
    return "psycopg2"


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
