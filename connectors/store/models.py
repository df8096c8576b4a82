"""The daemon's tables, as SQLAlchemy 2 typed mappings (DESIGN.md section 10).

Every table carries ``company``, the tenant: one store can serve several
companies, and every query filters on it.  The Alembic revisions in
``migrations/versions`` create these tables; a test compares the two so they
never drift apart.

Storage choices (connectors/store/README.md):

- Money is stored as text (``Money``): ``str(Decimal)`` reads back as the very
  same Decimal on SQLite and PostgreSQL alike (SQLite's NUMERIC is a float).
  Because text does not compare as a number, an invoice also stores
  ``is_open`` (open amount above zero), which ``Store.ledger`` filters on.
- Timestamps are stored as naive UTC (``UtcDateTime``) and read back as aware
  UTC datetimes, so they compare the same way in SQL on both databases.
- Lists (emails, tags) and the outbox payload are JSON text.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

OUTBOX_STATES: tuple[str, ...] = ("pending", "claimed", "sent", "cancelled", "failed", "dry_run")
RUN_STATUSES: tuple[str, ...] = ("ok", "failed")

# Named constraints, so that Alembic's batch mode (SQLite) can find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer primary keys: BIGINT on PostgreSQL, INTEGER on SQLite (the only type
# SQLite makes an alias of its rowid, hence autoincrementing).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def money_text(value: Decimal) -> str:
    """The stored form of an amount; floats are refused (they are not exact)."""
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        raise TypeError(f"money must be a Decimal, not {type(value).__name__}: {value!r}")
    return str(value)


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def naive_utc(value: datetime) -> datetime:
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


class Money(TypeDecorator[Decimal]):
    """A Decimal stored as its exact text (``Decimal("1200.00")`` stays ``1200.00``)."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else money_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, stored as naive UTC and read back as an aware UTC datetime.

    A naive datetime given to the store is taken to be UTC already.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else naive_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class JsonText(TypeDecorator[Any]):
    """Plain JSON data stored as text (the same on both databases, and readable in a shell)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


# Tables keyed by (company, id) are clustered on that key on SQLite ("WITHOUT
# ROWID"): one B-tree less to write per row.  A batch migration of such a table
# must pass ``table_kwargs={"sqlite_with_rowid": False}``.
CLUSTERED = {"sqlite_with_rowid": False}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CustomerRecord(Base):
    """A customer as last pulled from its source (core.model.Customer)."""

    __tablename__ = "customers"
    __table_args__ = (CLUSTERED,)

    company: Mapped[str] = mapped_column(String(100), primary_key=True)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    emails: Mapped[list[str]] = mapped_column(JsonText)
    phone: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(20))
    tags: Mapped[list[str]] = mapped_column(JsonText)
    excluded: Mapped[bool] = mapped_column(Boolean)
    plan: Mapped[str | None] = mapped_column(String(100))
    credit_limit: Mapped[Decimal | None] = mapped_column(Money)
    created: Mapped[date | None] = mapped_column(Date)


class InvoiceRecord(Base):
    """An invoice or credit note (core.model.Invoice), its dispute flattened into columns.

    ``dispute_reason`` is NULL when there is no dispute (an empty reason is a
    dispute without a stated reason).
    """

    __tablename__ = "invoices"
    __table_args__ = (
        Index(None, "company", "customer_id"),
        Index(None, "company", "is_open"),
        Index(None, "company", "paid_date"),
        CLUSTERED,
    )

    company: Mapped[str] = mapped_column(String(100), primary_key=True)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    open_amount: Mapped[Decimal] = mapped_column(Money)
    is_open: Mapped[bool] = mapped_column(Boolean)
    currency: Mapped[str] = mapped_column(String(3))
    paid_date: Mapped[date | None] = mapped_column(Date)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    dispute_opened: Mapped[date | None] = mapped_column(Date)
    dispute_note: Mapped[str | None] = mapped_column(Text)
    dispute_closed: Mapped[date | None] = mapped_column(Date)
    promise_date: Mapped[date | None] = mapped_column(Date)
    escalated: Mapped[bool] = mapped_column(Boolean)
    factored: Mapped[bool] = mapped_column(Boolean)


class ReminderRecord(Base):
    """A journal entry (core.model.Reminder): a reminder that went out, unique by key."""

    __tablename__ = "journal"
    __table_args__ = (Index(None, "company", "customer_id", "date"), CLUSTERED)

    company: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    date: Mapped[date] = mapped_column(Date)
    plan: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))


class ReminderLineRecord(Base):
    """One invoice of a journal entry, with the step it had reached (in the entry's order)."""

    __tablename__ = "journal_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company", "reminder_key"],
            ["journal.company", "journal.key"],
            ondelete="CASCADE",
        ),
        CLUSTERED,
    )

    company: Mapped[str] = mapped_column(String(100), primary_key=True)
    reminder_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(200))
    step: Mapped[int] = mapped_column(Integer)


class OutboxRecord(Base):
    """One message to deliver, unique by action key: ``pending → claimed → sent |
    cancelled | failed``, or ``dry_run`` when it was only rendered."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("company", "key"),
        Index(None, "company", "state"),
        CheckConstraint(
            "state IN ({})".format(", ".join(f"'{s}'" for s in OUTBOX_STATES)), name="state"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    company: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    # Enqueued in dry run: rendered and recorded, never sent nor journaled.
    dry_run: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer)
    # Set by record_attempt, cleared when the attempt's outcome is recorded:
    # while set, a send may have happened.
    attempted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Back-off after a failure: not claimed before this time.
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The last change of state (claim, attempt, outcome).
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CursorRecord(Base):
    """Where a source's next pull starts."""

    __tablename__ = "cursors"
    __table_args__ = (CLUSTERED,)

    company: Mapped[str] = mapped_column(String(100), primary_key=True)
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RunRecord(Base):
    """One daemon cycle for one company; ``status`` is NULL while it runs."""

    __tablename__ = "runs"
    __table_args__ = (
        Index(None, "company", "started_at"),
        CheckConstraint(
            "status IS NULL OR status IN ({})".format(", ".join(f"'{s}'" for s in RUN_STATUSES)),
            name="status",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    company: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str | None] = mapped_column(String(20))
    counts: Mapped[dict[str, Any] | None] = mapped_column(JsonText)
    error: Mapped[str | None] = mapped_column(Text)


class PushRecord(Base):
    """What was last written back to the source for one invoice or customer and kind
    (``reminder_level``, ``dispute``, ``escalated``...): a push is never repeated."""

    __tablename__ = "pushed"
    __table_args__ = (CLUSTERED,)

    company: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), primary_key=True)
    ref: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    pushed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SnapshotDigestRecord(Base):
    """The digest of one record of the last full snapshot a source handed over
    (``connectors.sources.Snapshot``): the next snapshot upserts only the records
    whose digest changed.  ``kind`` is ``customer``, ``invoice``, ``reminder``
    (``id`` is then the journal key), ``context`` (one row, ``id`` empty: what
    every record's meaning depends on, the source and its reading options) or
    ``generation`` (one row: a random value saved with every change of the
    digests, so that a process that saved them knows whether they changed since).
    ``customer_id``: the customer an invoice or reminder belonged to, so that the
    customer is planned again when it changes hands or goes."""

    __tablename__ = "snapshot_digests"
    __table_args__ = (CLUSTERED,)

    company: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(200))
