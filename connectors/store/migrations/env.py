"""Alembic environment of the store (run by ``connectors.store.migrations.upgrade``).

The caller normally hands a connection over in ``config.attributes["connection"]``;
otherwise ``sqlalchemy.url`` is used, through the store's own engine factory so
that SQLite gets the same settings as the daemon.  SQLite runs in batch mode
(tables are rebuilt for ALTERs it cannot do).  On PostgreSQL an advisory lock
makes two daemons starting at once migrate one after the other.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from connectors.store.engine import create_store_engine
from connectors.store.models import Base

# Any constant will do; it only has to be the same for every process.
MIGRATION_LOCK_ID = 0x52454C41  # "RELA"

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        run_migrations(given)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url given to the migrations")
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
