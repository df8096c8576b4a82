"""The store's schema comes from its Alembic migrations (DESIGN §10: "Schema
migrations versioned"), run by ``Store.open`` on every start."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from store_builders import customer, dump, invoice

from connectors.store import Store, StoreError
from connectors.store.engine import create_store_engine
from connectors.store.migrations import current_revision, head_revision, upgrade
from connectors.store.models import Base

TABLES = {
    "customers",
    "invoices",
    "journal",
    "journal_lines",
    "outbox",
    "cursors",
    "runs",
    "pushed",
    "snapshot_digests",
}


def test_opening_an_empty_database_migrates_it_to_head(store_url: str) -> None:
    """DESIGN §10: the schema is created by the versioned migrations."""
    store = Store.open(store_url)
    try:
        with store.engine.connect() as connection:
            assert current_revision(connection) == head_revision() == "0002"
            tables = set(inspect(connection).get_table_names())
        assert tables >= TABLES | {"alembic_version"}
    finally:
        store.close()


def test_migrating_again_changes_nothing(store_url: str) -> None:
    """DESIGN §10: opening a store that is up to date is a no-op (data and schema kept)."""
    store = Store.open(store_url)
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer()])
        store.upsert_invoices(tx, "acme", [invoice()])
    before = dump(store)
    store.close()

    again = Store.open(store_url)
    try:
        with again.engine.connect() as connection:
            upgrade(connection)  # and once more, directly
            assert current_revision(connection) == "0002"
        assert dump(again) == before
    finally:
        again.close()


def test_a_store_of_the_first_revision_is_migrated_with_its_data(store_url: str) -> None:
    """0001 -> 0002 adds the snapshot digests and keeps what was pulled: the
    first snapshot after it upserts everything, as before (no digests yet)."""
    engine = create_store_engine(store_url)
    try:
        with engine.connect() as connection:
            upgrade(connection, "0001")
            connection.commit()
    finally:
        engine.dispose()
    old = Store(create_store_engine(store_url))
    try:
        with old.transaction() as tx:
            old.upsert_customers(tx, "acme", [customer()])
    finally:
        old.close()
    store = Store.open(store_url)
    try:
        with store.engine.connect() as connection:
            assert current_revision(connection) == "0002"
            assert "snapshot_digests" in inspect(connection).get_table_names()
        assert [c.id for c in store.ledger("acme", date(2026, 11, 24)).customers] == [customer().id]
        with store.transaction() as tx:
            assert store.snapshot_digests(tx, "acme").context is None
    finally:
        store.close()


def test_migrated_schema_matches_the_models(store: Store) -> None:
    """The initial revision creates exactly what models.py declares (no drift)."""
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(sqlite_url: str) -> None:
    """DESIGN §10 / STYLE §3: file-based SQLite in WAL mode, foreign keys enforced."""
    store = Store.open(sqlite_url)
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


def test_an_unusable_database_gives_a_store_error(tmp_path: Path) -> None:
    """Errors leave the store as StoreError naming the database and what failed."""
    missing = tmp_path / "no such folder" / "relance.db"
    with pytest.raises(StoreError, match=r"migrating the schema failed: unable to open"):
        Store.open(f"sqlite:///{missing}")


def test_a_malformed_url_gives_a_store_error_without_repeating_it() -> None:
    """The URL may carry a password: the message explains the form, never echoes it."""
    with pytest.raises(StoreError, match="URL is not usable: expected sqlite") as caught:
        Store.open("s3cret not a url")
    assert "s3cret" not in str(caught.value)


def test_a_database_from_a_newer_version_is_refused(store_url: str) -> None:
    """A schema at a revision this code does not know is an error, not a guess."""
    store = Store.open(store_url)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    store.close()
    with pytest.raises(StoreError, match="newer version of Relance"):
        Store.open(store_url)


def test_a_password_in_the_url_stays_out_of_messages_and_repr() -> None:
    """STYLE "Habits": secrets stay out of logs, messages and repr."""
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql://relance:s3cret@127.0.0.1:1/nowhere")
    assert "s3cret" not in str(caught.value)
    assert "***" in str(caught.value)
