"""The daemon's store: what was pulled, what was planned, what went out (DESIGN.md section 10).

One ``Store`` per database (a SQLite file by default, PostgreSQL for shared
deployments); every method takes the company (tenant) it works for.

Units of work follow SQLAlchemy's advice: the caller opens one with
``store.transaction()`` at the top and passes the handle (``Tx``) down to the
writers that must commit together (upserts and their cursor; the outbox and
the journal).  The outbox's state changes (claim, mark, record an attempt)
are each their own short transaction.  Every SQLAlchemy error leaves as a
``StoreError`` saying what the store was doing.

Decisions are written up in connectors/store/README.md.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from operator import itemgetter
from typing import Any, TypeVar

from alembic.util import CommandError
from sqlalchemy import (
    Boolean,
    Date,
    Engine,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from connectors.store import migrations
from connectors.store.engine import DEFAULT_URL, READ_ONLY, create_store_engine
from connectors.store.models import (
    OUTBOX_STATES,
    RUN_STATUSES,
    CursorRecord,
    CustomerRecord,
    InvoiceRecord,
    JsonText,
    Money,
    OutboxRecord,
    PushRecord,
    ReminderLineRecord,
    ReminderRecord,
    RunRecord,
    SnapshotDigestRecord,
    UtcDateTime,
    json_text,
    money_text,
    naive_utc,
)
from connectors.store.payload import action_from_payload, action_to_payload
from core.actions import Action
from core.collector import collector_paused
from core.engine import record
from core.model import Customer, Dispute, Invoice, Ledger, Reminder, ReminderLine

T = TypeVar("T")

# Invoices paid within this many days before `today` stay in the ledger (DESIGN §2).
PAID_WINDOW_DAYS = 365
# Rows per statement for batched writes, and ids per IN (...) list.
BATCH = 5_000
IN_CHUNK = 500

CUSTOMERS: Table = CustomerRecord.__table__  # type: ignore[assignment]
INVOICES: Table = InvoiceRecord.__table__  # type: ignore[assignment]
JOURNAL: Table = ReminderRecord.__table__  # type: ignore[assignment]
JOURNAL_LINES: Table = ReminderLineRecord.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxRecord.__table__  # type: ignore[assignment]
CURSORS: Table = CursorRecord.__table__  # type: ignore[assignment]
RUNS: Table = RunRecord.__table__  # type: ignore[assignment]
PUSHED: Table = PushRecord.__table__  # type: ignore[assignment]
DIGESTS: Table = SnapshotDigestRecord.__table__  # type: ignore[assignment]


class StoreError(Exception):
    """The store could not do what was asked; the message says what, where and why."""


class ClaimLost(StoreError):
    """The outbox row is no longer this worker's to act on (another worker took it
    over after the lease expired, or it was sent, cancelled or promoted meanwhile):
    do not send."""


class UnknownKey(StoreError):
    """No outbox row has this key for this company."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row as read (its payload is the serialized action)."""

    id: int
    company: str
    key: str
    state: str
    dry_run: bool
    channel: str
    customer_id: str
    payload: str
    subject: str | None
    body: str | None
    message_id: str | None
    claimed_by: str | None
    claim_expires_at: datetime | None
    attempts: int
    attempted_at: datetime | None
    not_before: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None

    @property
    def action(self) -> Action:
        return action_from_payload(self.payload)

    @property
    def may_have_been_sent(self) -> bool:
        """An attempt was recorded and its outcome never was (a crash mid-send):
        check with the channel (Message-ID) before sending again."""
        return self.attempted_at is not None


@dataclass(frozen=True, slots=True)
class Delivered:
    """A message its channel took (the SMTP server's 250, the file written), not yet
    marked sent: ``record_attempt(..., delivered=...)`` and ``mark_delivered`` do it."""

    key: str
    message_id: str
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    company: str
    started_at: datetime
    finished_at: datetime | None
    status: str | None  # None while the run is under way (or if it died)
    counts: dict[str, Any]
    error: str | None


@dataclass(frozen=True, slots=True)
class FlagState:
    """An invoice's dispute and escalation, as the store holds them."""

    invoice_id: str
    dispute_reason: str | None
    dispute_opened: date | None
    dispute_closed: date | None
    escalated: bool

    @property
    def dispute_open(self) -> bool:
        return self.dispute_reason is not None and self.dispute_closed is None


@dataclass(frozen=True, slots=True)
class StoredDigests:
    """The digests of the last full snapshot pulled for a company (``snapshot_digests``):
    ``context`` (None: no snapshot recorded), ``generation`` (a new random value with
    every change of them), and by id the digest of each customer, invoice and journal
    entry (by key)."""

    context: str | None
    generation: str | None
    customers: dict[str, str]
    invoices: dict[str, str]
    reminders: dict[str, str]


# (kind, id, digest, customer id): one row of ``snapshot_digests``.
DigestRow = tuple[str, str, str, str | None]


class Tx:
    """One unit of work, from ``Store.transaction()``: pass it to the writers."""

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection


def utc_now() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _upsert_statement(
    stmt: postgresql.Insert | sqlite.Insert, table: Table, keys: Sequence[str]
) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` of every other column, skipped when
    none of them changed (a full re-import rewrites nothing)."""
    others = [c.name for c in table.columns if c.name not in keys]
    return stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: stmt.excluded[name] for name in others},
        where=tuple_(*(table.c[name] for name in others)).is_distinct_from(
            tuple_(*(stmt.excluded[name] for name in others))
        ),
    )


@cache
def _sqlite_upsert(
    table: Table, keys: tuple[str, ...]
) -> tuple[str, list[tuple[int, Callable[[Any], Any]]]]:
    """The upsert statement of ``table`` as SQLite SQL, and the columns whose values
    need converting, each with the function giving what SQLAlchemy's type would
    store (the others are stored as they are)."""
    compiled = _upsert_statement(sqlite.insert(table), table, keys).compile(
        dialect=sqlite.dialect()
    )
    names = [c.name for c in table.columns]
    if list(compiled.positiontup or ()) != names:
        raise AssertionError(f"unexpected parameter order for {table.name}")
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, column in enumerate(table.columns):
        kind = column.type
        if isinstance(kind, Money):
            converters.append((index, money_text))
        elif isinstance(kind, JsonText):
            converters.append((index, json_text))
        elif isinstance(kind, UtcDateTime):
            converters.append((index, _sqlite_datetime))
        elif isinstance(kind, Date):
            converters.append((index, date.isoformat))
        elif not isinstance(kind, String | Integer | Boolean):  # pragma: no cover
            raise AssertionError(f"no SQLite converter for {table.name}.{column.name}")
    return compiled.string, converters


def _in_key_order(table: Table, rows: list[tuple[Any, ...]], keys: Sequence[str]) -> list[Any]:
    """The rows sorted by primary key: SQLite then fills its B-trees from one end
    instead of all over (a third faster for 100k invoices).  Keys that do not
    compare (a None) leave the rows as they are, for the database to refuse."""
    names = [c.name for c in table.columns]
    key = itemgetter(*(names.index(name) for name in keys))
    try:
        return sorted(rows, key=key)
    except TypeError:
        return rows


def _sqlite_datetime(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format (always with microseconds).
    return naive_utc(value).isoformat(sep=" ", timespec="microseconds")


def _driver_rows(connection: Connection, query: Any) -> list[Any]:
    """The rows of a query of plain text and number columns, as the driver returns
    them: for 100k rows, SQLAlchemy's row objects would cost more than the query."""
    compiled = query.compile(dialect=connection.dialect)
    params = compiled.construct_params()
    args: Any = (
        tuple(params[name] for name in compiled.positiontup or ())
        if compiled.positional
        else params
    )
    cursor = connection.connection.cursor()
    try:
        cursor.execute(compiled.string, args)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _copy_text(value: str | None) -> str:
    """A value in PostgreSQL's COPY text format (NULL is \\N)."""
    if value is None:
        return "\\N"
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


# The statements of each message's bookkeeping, built once with bound parameters:
# building and compiling them per call cost more than SQLite's own work.
@cache
def _attempt_statement(with_worker: bool, with_subject: bool, with_body: bool) -> Any:
    o = OUTBOX.c
    condition = and_(o.company == bindparam("c"), o.key == bindparam("k"), o.state == "claimed")
    if with_worker:
        condition = and_(condition, o.claimed_by == bindparam("w"))
    values: dict[str, Any] = {
        "message_id": bindparam("mid"),
        "attempted_at": bindparam("at"),
        "updated_at": bindparam("at"),
        "attempts": o.attempts + 1,
    }
    if with_subject:
        values["subject"] = bindparam("s")
    if with_body:
        values["body"] = bindparam("b")
    return update(OUTBOX).where(condition).values(**values)


@cache
def _sent_statement() -> Any:
    """Marks a row sent unless it is sent, cancelled or a dry run (mark_sent's usual case)."""
    o = OUTBOX.c
    return (
        update(OUTBOX)
        .where(
            o.company == bindparam("c"),
            o.key == bindparam("k"),
            o.state.not_in(("sent", "cancelled")),
            o.dry_run.is_(False),
        )
        .values(
            state="sent",
            message_id=bindparam("mid"),
            sent_at=bindparam("at"),
            updated_at=bindparam("at"),
            claimed_by=None,
            claim_expires_at=None,
            attempted_at=None,
        )
    )


def _outbox_row(row: Any) -> OutboxRow:
    m = row._mapping
    return OutboxRow(**{name: m[name] for name in OutboxRow.__slots__})


class Store:
    """The store of one database.  ``Store.open(url)`` creates or migrates its schema."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        self._where = engine.url.render_as_string(hide_password=True)

    # -- opening ----------------------------------------------------------

    @classmethod
    def open(cls, url: str = DEFAULT_URL, *, migrate: bool = True) -> Store:
        """Open the store at ``url`` and bring its schema to the latest revision."""
        try:
            engine = create_store_engine(url)
        except (SQLAlchemyError, ValueError, ImportError) as error:
            # The URL may hold a password: never repeat it.
            raise StoreError(
                "the store's database URL is not usable: expected sqlite:///path/to/file.db"
                f" or postgresql://user@host/database ({type(error).__name__})"
            ) from error
        store = cls(engine)
        if migrate:
            try:
                store.migrate()
            except BaseException:
                engine.dispose()
                raise
        return store

    def migrate(self) -> None:
        """Run the Alembic migrations up to head (a no-op when already there)."""
        with self._errors("migrating the schema"), self.engine.connect() as connection:
            try:
                migrations.upgrade(connection)
            except CommandError as error:
                raise StoreError(
                    f"store {self._where}: its schema cannot be brought up to date ({error});"
                    " was it written by a newer version of Relance?"
                ) from error

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._where!r})"

    # -- plumbing ---------------------------------------------------------

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as error:
            cause = getattr(error, "orig", None) or error
            detail = " ".join(str(cause).split())
            raise StoreError(f"store {self._where}: {doing} failed: {detail}") from error

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One unit of work: everything written through the handle commits together
        when the block ends, or nothing does if it raises (the exception goes on)."""
        with self._errors("starting a transaction"):
            connection = self.engine.connect()
        try:
            with self._errors("starting a transaction"):
                connection.begin()
            try:
                yield Tx(connection)
            except BaseException:
                with self._errors("rolling back"):
                    connection.rollback()
                raise
            with self._errors("committing"):
                connection.commit()
        finally:
            with self._errors("closing a connection"):
                connection.close()

    @contextmanager
    def _write(self, doing: str) -> Iterator[Connection]:
        with self._errors(doing), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _read(self, doing: str, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read-only transaction; ``snapshot``: every query sees the same state
        (REPEATABLE READ on PostgreSQL; SQLite's read transactions always do)."""
        with self._errors(doing), self.engine.connect() as connection:
            options: dict[str, Any] = {READ_ONLY: True}
            if snapshot and self._dialect == "postgresql":
                options["isolation_level"] = "REPEATABLE READ"
            connection.execution_options(**options)
            with connection.begin():
                yield connection

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """The dialect's INSERT, which knows ON CONFLICT."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        if self._dialect == "sqlite":
            return sqlite.insert(table)
        raise StoreError(f"store {self._where}: unsupported database {self._dialect!r}")

    def _upsert(
        self, connection: Connection, table: Table, rows: list[tuple[Any, ...]], keys: list[str]
    ) -> None:
        """Insert rows (tuples in the table's column order), or update the other
        columns of the rows already there when one of them differs, in batches.

        On SQLite the values are converted here and handed to the driver's
        executemany as they are: SQLAlchemy's per-value processing would cost more
        than the database itself for 100k rows (connectors/store/README.md, "Speed").
        """
        if not rows:
            return
        if self._dialect == "sqlite":
            sql, converters = _sqlite_upsert(table, tuple(keys))
            for chunk in _chunks(_in_key_order(table, rows, keys), BATCH):
                values = []
                try:
                    for row in chunk:
                        out = list(row)
                        for index, convert in converters:
                            value = out[index]
                            if value is not None:
                                out[index] = convert(value)
                        values.append(tuple(out))
                except TypeError as error:
                    raise StoreError(f"store {self._where}: {table.name}: {error}") from error
                connection.exec_driver_sql(sql, values)
        elif self._dialect == "postgresql":
            stmt = _upsert_statement(postgresql.insert(table), table, keys)
            names = [c.name for c in table.columns]
            for chunk in _chunks(rows, BATCH):
                connection.execute(stmt, [dict(zip(names, row, strict=True)) for row in chunk])
        else:
            raise StoreError(f"store {self._where}: unsupported database {self._dialect!r}")

    @staticmethod
    def _unique(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """One row per id (the second value), the last one winning: PostgreSQL refuses
        to upsert a row twice in one statement."""
        return list({row[1]: row for row in rows}.values())

    # -- pulled data ------------------------------------------------------

    @collector_paused()
    def upsert_customers(self, tx: Tx, company: str, customers: Iterable[Customer]) -> int:
        """Insert or update customers by id; running it twice changes nothing."""
        rows = self._unique(
            (
                company,
                c.id,
                c.name,
                c.kind,
                list(c.emails),
                c.phone,
                c.language,
                sorted(c.tags),
                bool(c.excluded),
                c.plan,
                c.credit_limit,
                c.created,
            )
            for c in customers
        )
        with self._errors(f"upserting {len(rows)} customers of {company!r}"):
            self._upsert(tx.connection, CUSTOMERS, rows, ["company", "id"])
        return len(rows)

    @collector_paused()
    def upsert_invoices(self, tx: Tx, company: str, invoices: Iterable[Invoice]) -> int:
        """Insert or update invoices and credit notes by id; running it twice changes nothing."""
        rows = []
        for i in invoices:
            d = i.dispute
            rows.append(
                (
                    company,
                    i.id,
                    i.customer_id,
                    i.number,
                    i.kind,
                    i.issue_date,
                    i.due_date,
                    i.amount,
                    i.open_amount,
                    i.open_amount > 0,
                    i.currency,
                    i.paid_date,
                    None if d is None else d.reason,
                    None if d is None else d.opened,
                    None if d is None else d.note,
                    None if d is None else d.closed,
                    i.promise_date,
                    bool(i.escalated),
                    bool(i.factored),
                )
            )
        rows = self._unique(rows)
        with self._errors(f"upserting {len(rows)} invoices of {company!r}"):
            self._upsert(tx.connection, INVOICES, rows, ["company", "id"])
        return len(rows)

    def delete_invoices(self, tx: Tx, company: str, ids: Iterable[str]) -> int:
        """Forget invoices deleted at the source (the journal keeps naming them)."""
        wanted = sorted(set(ids))
        deleted = 0
        with self._errors(f"deleting {len(wanted)} invoices of {company!r}"):
            for chunk in _chunks(wanted, IN_CHUNK):
                result = tx.connection.execute(
                    delete(INVOICES).where(INVOICES.c.company == company, INVOICES.c.id.in_(chunk))
                )
                deleted += result.rowcount
        return deleted

    def invoice_ids(self, company: str, tx: Tx | None = None) -> set[str]:
        """Every invoice and credit-note id the store holds for ``company`` (open or not):
        what a full snapshot is compared with to find the invoices gone from the source.
        With ``tx``, read inside that unit of work (so the deletion that follows sees
        the same state)."""
        query = select(INVOICES.c.id).where(INVOICES.c.company == company)
        if tx is not None:
            with self._errors(f"listing the invoices of {company!r}"):
                return set(tx.connection.scalars(query))
        with self._read(f"listing the invoices of {company!r}") as connection:
            return set(connection.scalars(query))

    def present_invoice_ids(self, company: str, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` the store still holds for ``company``: a lookup by key,
        where listing every invoice would read the whole table for a handful."""
        wanted = sorted(set(ids))
        found: set[str] = set()
        with self._read(f"looking up invoices of {company!r}") as connection:
            for chunk in _chunks(wanted, IN_CHUNK):
                query = select(INVOICES.c.id).where(
                    INVOICES.c.company == company, INVOICES.c.id.in_(chunk)
                )
                found.update(connection.scalars(query))
        return found

    @collector_paused()
    def upsert_reminders(self, tx: Tx, company: str, reminders: Iterable[Reminder]) -> int:
        """Write journal entries by key; an entry written again replaces its lines."""
        entries = {r.key: r for r in reminders}
        heads = [
            (company, r.key, r.customer_id, r.date, r.plan, r.channel) for r in entries.values()
        ]
        lines = [
            (company, r.key, position, line.invoice_id, line.step)
            for r in entries.values()
            for position, line in enumerate(r.invoices)
        ]
        with self._errors(f"writing {len(heads)} journal entries of {company!r}"):
            connection = tx.connection
            self._upsert(connection, JOURNAL, heads, ["company", "key"])
            # Lines past an entry's new last one go; the others are upserted, so an
            # entry pulled again unchanged writes nothing.
            by_count: dict[int, list[str]] = {}
            for r in entries.values():
                by_count.setdefault(len(r.invoices), []).append(r.key)
            for count, keys in by_count.items():
                for chunk in _chunks(keys, IN_CHUNK):
                    connection.execute(
                        delete(JOURNAL_LINES).where(
                            JOURNAL_LINES.c.company == company,
                            JOURNAL_LINES.c.reminder_key.in_(chunk),
                            JOURNAL_LINES.c.position >= count,
                        )
                    )
            self._upsert(connection, JOURNAL_LINES, lines, ["company", "reminder_key", "position"])
        return len(heads)

    # -- pulls -------------------------------------------------------------

    def lock_company_pull(self, tx: Tx, company: str) -> None:
        """Wait until no other transaction is pulling into ``company``, and make the
        next ones wait until ``tx`` ends.  Two workers pulling one company at once
        both read the same stored digests and both write the same rows: the second
        failed on a primary key and its pull was retried (PostgreSQL; a no-op on
        SQLite, where one file has one writer at a time)."""
        if self._dialect != "postgresql":
            return
        with self._errors(f"waiting for the pull of {company!r} by another worker"):
            key = func.hashtextextended(f"relance pull {company}", 0)
            tx.connection.execute(select(func.pg_advisory_xact_lock(key)))

    # -- snapshot digests -------------------------------------------------

    def snapshot_digests(self, tx: Tx, company: str) -> StoredDigests:
        """The digests recorded by the last full snapshot of ``company``, read in ``tx``."""
        d = DIGESTS.c
        found: dict[str, dict[str, str]] = {"customer": {}, "invoice": {}, "reminder": {}}
        with self._errors(f"reading the snapshot digests of {company!r}"):
            for kind, digests in found.items():
                query = select(d.id, d.digest).where(d.company == company, d.kind == kind)
                digests.update(_driver_rows(tx.connection, query))
            context = tx.connection.scalar(
                select(d.digest).where(d.company == company, d.kind == "context", d.id == "")
            )
        generation = self.snapshot_generation(tx, company)
        return StoredDigests(
            context, generation, found["customer"], found["invoice"], found["reminder"]
        )

    def snapshot_generation(self, tx: Tx, company: str) -> str | None:
        """The value saved with the last change of the company's snapshot digests (a
        reader that saved it itself knows they are as it left them)."""
        d = DIGESTS.c
        with self._errors(f"reading the snapshot digests of {company!r}"):
            value: str | None = tx.connection.scalar(
                select(d.digest).where(d.company == company, d.kind == "generation", d.id == "")
            )
        return value

    def snapshot_owners(
        self, tx: Tx, company: str, kind: str, ids: Iterable[str]
    ) -> dict[str, str | None]:
        """The customer each of these snapshot records (invoices, reminders) had."""
        d = DIGESTS.c
        found: dict[str, str | None] = {}
        with self._errors(f"reading snapshot records of {company!r}"):
            for chunk in _chunks(sorted(set(ids)), IN_CHUNK):
                found.update(
                    tx.connection.execute(
                        select(d.id, d.customer_id).where(
                            d.company == company, d.kind == kind, d.id.in_(chunk)
                        )
                    ).all()
                )
        return found

    def save_snapshot_digests(
        self, tx: Tx, company: str, rows: Iterable[DigestRow], *, new: bool = False
    ) -> None:
        """Record (or replace) digests of snapshot records, in the transaction of the
        upserts they describe.  ``new``: the company has none (they were just
        forgotten), so the rows are inserted in bulk, not upserted."""
        table_rows = [(company, kind, id_, digest, cid) for kind, id_, digest, cid in rows]
        with self._errors(f"saving {len(table_rows)} snapshot digests of {company!r}"):
            if new:
                self._insert_text_rows(tx.connection, DIGESTS, table_rows)
            else:
                self._upsert(tx.connection, DIGESTS, table_rows, ["company", "kind", "id"])

    def _insert_text_rows(
        self, connection: Connection, table: Table, rows: Sequence[tuple[str | None, ...]]
    ) -> None:
        """Insert rows of text (or NULL) values that are not in the table yet, in bulk:
        COPY on PostgreSQL with psycopg2 (an upsert of 130k digests takes seconds
        there), the driver's executemany on SQLite, batched INSERTs otherwise."""
        names = [c.name for c in table.columns]
        if self._dialect == "sqlite":
            marks = ", ".join("?" * len(names))
            sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"
            for chunk in _chunks(rows, BATCH):
                connection.exec_driver_sql(sql, list(chunk))
        elif self._dialect == "postgresql" and connection.dialect.driver == "psycopg2":
            text = "".join("\t".join(map(_copy_text, row)) + "\n" for row in rows)
            cursor = connection.connection.cursor()
            try:
                cursor.copy_expert(
                    f"COPY {table.name} ({', '.join(names)}) FROM STDIN", io.StringIO(text)
                )
            finally:
                cursor.close()
        else:
            for chunk in _chunks(rows, BATCH):
                connection.execute(insert(table), [dict(zip(names, r, strict=True)) for r in chunk])

    def forget_snapshot_digests(
        self, tx: Tx, company: str, kind: str | None = None, ids: Iterable[str] = ()
    ) -> None:
        """Forget every digest of ``company`` (its store no longer matches a snapshot),
        or only those of ``kind`` and ``ids`` (invoices deleted)."""
        d = DIGESTS.c
        with self._errors(f"forgetting snapshot digests of {company!r}"):
            if kind is None:
                tx.connection.execute(delete(DIGESTS).where(d.company == company))
                return
            for chunk in _chunks(sorted(set(ids)), IN_CHUNK):
                tx.connection.execute(
                    delete(DIGESTS).where(d.company == company, d.kind == kind, d.id.in_(chunk))
                )

    def owners(
        self, tx: Tx, company: str, invoice_ids: Iterable[str], reminder_keys: Iterable[str]
    ) -> set[str]:
        """The customers the store has for these invoices and journal entries (the
        ones it holds), read in ``tx`` before a pull rewrites or deletes them."""
        found: set[str] = set()
        with self._errors(f"reading the customers of records of {company!r}"):
            for table, column, ids in (
                (INVOICES, INVOICES.c.id, invoice_ids),
                (JOURNAL, JOURNAL.c.key, reminder_keys),
            ):
                for chunk in _chunks(sorted(set(ids)), IN_CHUNK):
                    found.update(
                        tx.connection.scalars(
                            select(table.c.customer_id)
                            .where(table.c.company == company, column.in_(chunk))
                            .distinct()
                        )
                    )
        return found

    def escalated_invoice_ids(self, tx: Tx, company: str) -> set[str]:
        """The invoices the store holds as escalated (the source's value, or set by
        the enqueue of an escalation until the source says otherwise)."""
        i = INVOICES.c
        with self._errors(f"listing the escalated invoices of {company!r}"):
            return set(
                tx.connection.scalars(
                    select(i.id).where(i.company == company, i.escalated.is_(True))
                )
            )

    def outbox_keys(self, tx: Tx, company: str) -> set[str]:
        """The keys of every outbox row of ``company`` (whose enqueue, sending or
        cancelling may have written or removed the journal entry of that key)."""
        o = OUTBOX.c
        with self._errors(f"listing the outbox keys of {company!r}"):
            return set(tx.connection.scalars(select(o.key).where(o.company == company)))

    # -- cursors ------------------------------------------------------------

    def get_cursor(self, company: str, source: str) -> str | None:
        with self._read(f"reading the cursor of {company!r}/{source!r}") as connection:
            value: str | None = connection.scalar(
                select(CURSORS.c.value).where(
                    CURSORS.c.company == company, CURSORS.c.source == source
                )
            )
        return value

    def set_cursor(
        self, tx: Tx, company: str, source: str, value: str, *, now: datetime | None = None
    ) -> None:
        """Save where the next pull starts, in the transaction of the upserts it covers."""
        row = (company, source, value, now or utc_now())
        with self._errors(f"saving the cursor of {company!r}/{source!r}"):
            self._upsert(tx.connection, CURSORS, [row], ["company", "source"])

    # -- the ledger -------------------------------------------------------

    def ledger(
        self,
        company: str,
        today: date,
        *,
        currency: str = "EUR",
        customers: Iterable[str] | None = None,
        journal_from: date | None = None,
    ) -> Ledger:
        """The company's ledger as of ``today`` (DESIGN §2): its customers, its open
        invoices and credit notes and those paid in the last 365 days, and the
        whole journal.  Invoices whose customer is not in the store are left out,
        as a ledger file may not hold them.  With ``customers``, only those
        customers, their invoices and their journal (a partial plan).

        With ``journal_from``, only the journal planning reads: the entries dated
        from that day on, and those naming an open invoice.  Planning needs each
        open invoice's done step and each customer's last reminder, so a day before
        the longest cooldown gives the plan of the whole journal, without reading
        the months of reminders about invoices since paid."""
        if customers is not None:
            return self._partial_ledger(
                company, today, currency, sorted(set(customers)), journal_from
            )
        with self._read(f"reading the ledger of {company!r}", snapshot=True) as connection:
            return self._ledger_part(connection, company, today, currency, None, journal_from)

    def _ledger_part(
        self,
        connection: Connection,
        company: str,
        today: date,
        currency: str,
        only: Sequence[str] | None,
        journal_from: date | None = None,
    ) -> Ledger:
        """The ledger of the company, or of the customers ``only`` lists."""
        cutoff = today - timedelta(days=PAID_WINDOW_DAYS)
        i = INVOICES.c
        customer_filter = CUSTOMERS.c.company == company
        invoice_filter = i.company == company
        if only is not None:
            customer_filter = and_(customer_filter, CUSTOMERS.c.id.in_(only))
            invoice_filter = and_(invoice_filter, i.customer_id.in_(only))
        customer_rows = connection.execute(
            select(
                CUSTOMERS.c.id,
                CUSTOMERS.c.name,
                CUSTOMERS.c.kind,
                CUSTOMERS.c.emails,
                CUSTOMERS.c.phone,
                CUSTOMERS.c.language,
                CUSTOMERS.c.tags,
                CUSTOMERS.c.excluded,
                CUSTOMERS.c.plan,
                CUSTOMERS.c.credit_limit,
                CUSTOMERS.c.created,
            )
            .where(customer_filter)
            .order_by(CUSTOMERS.c.id)
        ).all()
        invoice_rows = connection.execute(
            select(
                i.id,
                i.customer_id,
                i.number,
                i.kind,
                i.issue_date,
                i.due_date,
                i.amount,
                i.open_amount,
                i.currency,
                i.paid_date,
                i.dispute_reason,
                i.dispute_opened,
                i.dispute_note,
                i.dispute_closed,
                i.promise_date,
                i.escalated,
                i.factored,
            )
            .where(invoice_filter, or_(i.is_open.is_(True), i.paid_date > cutoff))
            .order_by(i.customer_id, i.id)
        ).all()
        reminders = self._journal(connection, company, only, journal_from)

        customers = [
            Customer(
                id=r[0],
                name=r[1],
                kind=r[2],
                emails=tuple(r[3]),
                phone=r[4],
                language=r[5],
                tags=frozenset(r[6]),
                excluded=bool(r[7]),
                plan=r[8],
                credit_limit=r[9],
                created=r[10],
            )
            for r in customer_rows
        ]
        # Each invoice gets its customer's own id string (core/ledger_json.py does the same).
        ids = {c.id: c.id for c in customers}
        invoices = []
        for r in invoice_rows:
            cid = ids.get(r[1])
            if cid is None:
                continue
            dispute = None if r[10] is None else Dispute(r[10], r[11], r[12] or "", r[13])
            invoices.append(
                Invoice(
                    r[0],
                    cid,
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    r[8],
                    r[9],
                    dispute,
                    r[14],
                    bool(r[15]),
                    bool(r[16]),
                )
            )
        return Ledger(
            currency=currency, customers=customers, invoices=invoices, reminders=reminders
        )

    def _partial_ledger(
        self,
        company: str,
        today: date,
        currency: str,
        ids: Sequence[str],
        journal_from: date | None,
    ) -> Ledger:
        """The ledger of these customers only, read chunk by chunk in one snapshot."""
        parts: list[Ledger] = []
        with self._read(f"reading part of the ledger of {company!r}", snapshot=True) as connection:
            for chunk in _chunks(ids, IN_CHUNK):
                parts.append(
                    self._ledger_part(connection, company, today, currency, chunk, journal_from)
                )
        return Ledger(
            currency=currency,
            customers=[c for p in parts for c in p.customers],
            invoices=[inv for p in parts for inv in p.invoices],
            reminders=sorted(
                (r for p in parts for r in p.reminders), key=lambda r: (r.date, r.key)
            ),
        )

    def _journal(
        self,
        connection: Connection,
        company: str,
        customer_ids: Sequence[str] | None = None,
        journal_from: date | None = None,
    ) -> list[Reminder]:
        """Journal entries (oldest first), in two queries: the entries, then their lines;
        with ``customer_ids``, only those customers' entries; with ``journal_from``,
        only those dated from that day on or naming an open invoice."""
        j, jl, i = JOURNAL.c, JOURNAL_LINES.c, INVOICES.c
        chosen = [j.company == company]
        if customer_ids is not None:
            chosen.append(j.customer_id.in_(customer_ids))
        if journal_from is not None:
            # One set of keys (a union), not an OR of two conditions: PostgreSQL
            # ran the subquery of ``date >= x OR key IN (...)`` once per entry.
            recent = select(j.key).where(j.company == company, j.date >= journal_from)
            naming_open = (
                select(jl.reminder_key)
                .join(INVOICES, and_(i.company == jl.company, i.id == jl.invoice_id))
                .where(jl.company == company, i.is_open.is_(True))
            )
            chosen.append(j.key.in_(union(recent, naming_open)))
        heads = select(j.key, j.customer_id, j.date, j.plan, j.channel).where(*chosen)
        line_query = select(jl.reminder_key, jl.invoice_id, jl.step).where(jl.company == company)
        if customer_ids is not None or journal_from is not None:
            # The keys of the entries chosen first (by their index), then their lines by
            # key: a join would walk every line of the company to keep the key order.
            line_query = line_query.where(jl.reminder_key.in_(select(j.key).where(*chosen)))
        lines: dict[str, list[ReminderLine]] = {}
        for key, invoice_id, step in connection.execute(
            line_query.order_by(jl.reminder_key, jl.position)
        ):
            group = lines.get(key)
            if group is None:
                lines[key] = [ReminderLine(invoice_id, step)]
            else:
                group.append(ReminderLine(invoice_id, step))
        return [
            Reminder(cid, day, plan, channel, key, tuple(lines.get(key, ())))
            for key, cid, day, plan, channel in connection.execute(heads.order_by(j.date, j.key))
        ]

    def history(self, company: str, customer_id: str) -> list[Reminder]:
        """The journal entries of one customer, newest first."""
        with self._read(f"reading the history of {company!r}/{customer_id!r}") as connection:
            entries = self._journal(connection, company, [customer_id])
        entries.reverse()
        return entries

    def open_amounts(self, company: str, invoice_ids: Iterable[str]) -> dict[str, Decimal]:
        """The stored open amount of each invoice found (the fresh-at-send-time check
        when the source cannot answer); unknown ids are left out."""
        wanted = sorted(set(invoice_ids))
        found: dict[str, Decimal] = {}
        with self._read(f"reading open amounts of {company!r}") as connection:
            for chunk in _chunks(wanted, IN_CHUNK):
                for invoice_id, amount in connection.execute(
                    select(INVOICES.c.id, INVOICES.c.open_amount).where(
                        INVOICES.c.company == company, INVOICES.c.id.in_(chunk)
                    )
                ):
                    found[invoice_id] = amount
        return found

    # -- the outbox -------------------------------------------------------

    def enqueue(
        self,
        tx: Tx,
        company: str,
        actions: Sequence[Action],
        *,
        dry_run: bool,
        today: date,
        now: datetime | None = None,
    ) -> int:
        """One outbox row per action key, and (unless ``dry_run``) its journal entry,
        in the caller's transaction.  Keys already in the outbox are skipped, so
        planning the same day again adds nothing; a key recorded by a dry run is
        taken over by a real run (it becomes pending and is journaled).  Escalation
        actions mark their invoices escalated (DESIGN §5.7).  Returns how many
        actions were enqueued."""
        unique = list({a.key: a for a in actions}.values())
        created = now or utc_now()
        o = OUTBOX.c
        with self._errors(f"enqueueing {len(unique)} actions of {company!r}"):
            connection = tx.connection
            existing: dict[str, bool] = {}
            for chunk in _chunks([a.key for a in unique], IN_CHUNK):
                for key, was_dry in connection.execute(
                    select(o.key, o.dry_run).where(o.company == company, o.key.in_(chunk))
                ):
                    existing[key] = was_dry
            new = [a for a in unique if a.key not in existing]
            promoted = [] if dry_run else [a for a in unique if existing.get(a.key) is True]
            rows = [
                {
                    "company": company,
                    "key": a.key,
                    "state": "pending",
                    "dry_run": dry_run,
                    "channel": a.channel,
                    "customer_id": a.customer_id,
                    "payload": action_to_payload(a),
                    "subject": None,
                    "body": None,
                    "message_id": None,
                    "claimed_by": None,
                    "claim_expires_at": None,
                    "attempts": 0,
                    "attempted_at": None,
                    "not_before": None,
                    "last_error": None,
                    "created_at": created,
                    "updated_at": created,
                    "sent_at": None,
                }
                for a in new
            ]
            # ON CONFLICT DO NOTHING: a key another process enqueued meanwhile is
            # skipped (and not journaled twice), not an error.
            inserted: set[str] = set()
            insert_new = self._insert(OUTBOX).on_conflict_do_nothing(
                index_elements=["company", "key"]
            )
            for batch in _chunks(rows, BATCH):
                inserted.update(
                    connection.execute(insert_new.returning(o.key), list(batch)).scalars()
                )
            new = [a for a in new if a.key in inserted]
            taken_over = []
            for a in promoted:
                result = connection.execute(
                    update(OUTBOX)
                    .where(o.company == company, o.key == a.key, o.dry_run.is_(True))
                    .values(
                        state="pending",
                        dry_run=False,
                        channel=a.channel,
                        payload=action_to_payload(a),
                        subject=None,
                        body=None,
                        message_id=None,
                        claimed_by=None,
                        claim_expires_at=None,
                        attempts=0,
                        attempted_at=None,
                        not_before=None,
                        last_error=None,
                        created_at=created,
                        updated_at=created,
                        sent_at=None,
                    )
                )
                if result.rowcount == 1:
                    taken_over.append(a)
            if not dry_run:
                executed = new + taken_over
                self.upsert_reminders(tx, company, [record(a, today) for a in executed])
                escalated = sorted(
                    {inv.id for a in executed if a.channel == "escalation" for inv in a.invoices}
                )
                for chunk in _chunks(escalated, IN_CHUNK):
                    connection.execute(
                        update(INVOICES)
                        .where(INVOICES.c.company == company, INVOICES.c.id.in_(chunk))
                        .values(escalated=True)
                    )
        return len(new) + len(taken_over)

    def claim(
        self, company: str, worker: str, limit: int, lease_seconds: int, now: datetime
    ) -> list[OutboxRow]:
        """Take up to ``limit`` rows to deliver, oldest first: pending ones (past their
        back-off) and claimed ones whose lease has expired.  The candidates are
        taken by conditional UPDATEs (a row another worker took meanwhile no longer
        matches, so two workers never hold the same row), 500 ids a statement, and
        this worker's rows are those that carry its name and the new lease (on
        PostgreSQL the candidates are also read with SKIP LOCKED, so workers do
        not queue behind each other)."""
        if limit <= 0:
            return []
        o = OUTBOX.c
        expires = now + timedelta(seconds=lease_seconds)
        claimable = and_(
            o.company == company,
            or_(o.state == "pending", and_(o.state == "claimed", o.claim_expires_at <= now)),
            or_(o.not_before.is_(None), o.not_before <= now),
        )
        with self._write(f"claiming outbox rows of {company!r}") as connection:
            candidates = connection.scalars(
                select(o.id)
                .where(claimable)
                .order_by(o.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            taken: list[OutboxRow] = []
            for chunk in _chunks(candidates, IN_CHUNK):
                result = connection.execute(
                    update(OUTBOX)
                    .where(o.id.in_(chunk), claimable)
                    .values(
                        state="claimed", claimed_by=worker, claim_expires_at=expires, updated_at=now
                    )
                )
                if result.rowcount == 0:
                    continue
                mine = and_(
                    o.id.in_(chunk),
                    o.state == "claimed",
                    o.claimed_by == worker,
                    o.claim_expires_at == expires,
                )
                rows = connection.execute(select(OUTBOX).where(mine).order_by(o.id))
                taken.extend(_outbox_row(row) for row in rows)
            return taken

    def reap(self, company: str, now: datetime) -> int:
        """Put back claims whose lease expired (a worker died): they become pending
        again, keeping what they recorded of an attempt.  Returns how many."""
        o = OUTBOX.c
        with self._write(f"releasing stale claims of {company!r}") as connection:
            result = connection.execute(
                update(OUTBOX)
                .where(o.company == company, o.state == "claimed", o.claim_expires_at <= now)
                .values(state="pending", claimed_by=None, claim_expires_at=None, updated_at=now)
            )
        return int(result.rowcount)

    def claimants(self, company: str) -> set[str]:
        """The workers holding claimed rows of ``company`` (expired leases included)."""
        o = OUTBOX.c
        with self._read(f"listing the claimants of {company!r}") as connection:
            return set(
                connection.scalars(
                    select(o.claimed_by)
                    .where(o.company == company, o.state == "claimed", o.claimed_by.is_not(None))
                    .distinct()
                )
            )

    def release(self, company: str, worker: str, now: datetime) -> int:
        """Put back every row ``worker`` holds (it died, or it stops before sending
        them): pending again, keeping what they recorded of an attempt, so a row
        that may have gone out is checked before any resend.  Returns how many."""
        o = OUTBOX.c
        with self._write(f"releasing the claims of {worker!r}") as connection:
            result = connection.execute(
                update(OUTBOX)
                .where(o.company == company, o.state == "claimed", o.claimed_by == worker)
                .values(state="pending", claimed_by=None, claim_expires_at=None, updated_at=now)
            )
        return int(result.rowcount)

    def _state(self, connection: Connection, company: str, key: str) -> Any:
        o = OUTBOX.c
        row = connection.execute(
            select(o.state, o.dry_run, o.claimed_by, o.attempts, o.attempted_at, o.payload).where(
                o.company == company, o.key == key
            )
        ).first()
        if row is None:
            raise UnknownKey(f"store {self._where}: no outbox row {key!r} for {company!r}")
        return row

    def _set(self, connection: Connection, company: str, key: str, **values: Any) -> None:
        o = OUTBOX.c
        connection.execute(
            update(OUTBOX).where(o.company == company, o.key == key).values(**values)
        )

    def record_attempt(
        self,
        company: str,
        key: str,
        message_id: str,
        now: datetime,
        *,
        worker: str | None = None,
        subject: str | None = None,
        body: str | None = None,
        delivered: Sequence[Delivered] = (),
    ) -> None:
        """Record, before sending, that a send is about to happen with this Message-ID
        (and the rendered text): after a crash the row says a send may have
        happened.  With ``worker``, raises ``ClaimLost`` unless the row is still
        claimed by that worker; without it, unless it is still claimed at all.

        ``delivered``: messages that went out since the last attempt, marked sent
        first in the same transaction (one commit per message instead of two).
        They are committed even when this attempt raises ``ClaimLost``."""
        statement = _attempt_statement(worker is not None, subject is not None, body is not None)
        params = {"c": company, "k": key, "w": worker, "mid": message_id, "at": now}
        params.update(s=subject, b=body)
        lost: str | None = None
        with self._write(f"recording a send attempt for {key!r}") as connection:
            for done in delivered:
                self._mark_sent(connection, company, done.key, done.message_id, done.sent_at)
            result = connection.execute(statement, params)
            if result.rowcount != 1:
                row = self._state(connection, company, key)
                lost = (
                    f"outbox row {key!r} of {company!r} is {row.state}"
                    f" (claimed by {row.claimed_by!r}), not claimed by {worker or 'a worker'}:"
                    " not sending"
                )
        if lost is not None:  # raised once the delivered rows are committed
            raise ClaimLost(lost)

    def mark_sent(self, company: str, key: str, message_id: str, now: datetime) -> None:
        """The message went out.  Marking a sent row again changes nothing; a row
        cancelled meanwhile is marked sent all the same (it did go out) and its
        journal entry is written back."""
        with self._write(f"marking {key!r} sent") as connection:
            self._mark_sent(connection, company, key, message_id, now)

    def mark_delivered(self, company: str, delivered: Sequence[Delivered]) -> None:
        """``mark_sent`` for each of ``delivered``, in one transaction."""
        if not delivered:
            return
        with self._write(f"marking {len(delivered)} rows of {company!r} sent") as connection:
            for done in delivered:
                self._mark_sent(connection, company, done.key, done.message_id, done.sent_at)

    def _mark_sent(
        self, connection: Connection, company: str, key: str, message_id: str, now: datetime
    ) -> None:
        # The usual case in one statement: a row neither sent, cancelled nor a dry run.
        result = connection.execute(
            _sent_statement(), {"c": company, "k": key, "mid": message_id, "at": now}
        )
        if result.rowcount == 1:
            return
        row = self._state(connection, company, key)
        if row.state == "sent":
            return
        if row.dry_run:
            raise StoreError(f"outbox row {key!r} of {company!r} is a dry run: never sent")
        if row.state == "cancelled":
            action = action_from_payload(row.payload)
            self.upsert_reminders(Tx(connection), company, [record(action, now.date())])
        self._set(
            connection,
            company,
            key,
            state="sent",
            message_id=message_id,
            sent_at=now,
            updated_at=now,
            claimed_by=None,
            claim_expires_at=None,
            attempted_at=None,
        )

    def mark_dry_run(
        self, company: str, key: str, subject: str | None, body: str | None, now: datetime
    ) -> None:
        """A dry-run row was rendered: record what would have been sent."""
        with self._write(f"recording dry run {key!r}") as connection:
            row = self._state(connection, company, key)
            if not row.dry_run:
                raise ClaimLost(
                    f"outbox row {key!r} of {company!r} is no longer a dry run: not recording it"
                )
            self._set(
                connection,
                company,
                key,
                state="dry_run",
                subject=subject,
                body=body,
                sent_at=now,
                updated_at=now,
                claimed_by=None,
                claim_expires_at=None,
            )

    def mark_cancelled(
        self, company: str, key: str, reason: str, *, now: datetime | None = None
    ) -> None:
        """Nothing is to be sent (the invoices were paid since planning, or a user said
        so).  The journal entry goes too: the journal lists what went out.  A sent
        row cannot be cancelled."""
        with self._write(f"cancelling {key!r}") as connection:
            row = self._state(connection, company, key)
            if row.state == "cancelled":
                return
            if row.state == "sent":
                raise StoreError(f"outbox row {key!r} of {company!r} was sent: cannot cancel it")
            self._set(
                connection,
                company,
                key,
                state="cancelled",
                last_error=reason,
                updated_at=now or utc_now(),
                claimed_by=None,
                claim_expires_at=None,
                attempted_at=None,
            )
            connection.execute(
                delete(JOURNAL).where(JOURNAL.c.company == company, JOURNAL.c.key == key)
            )

    def mark_failed(
        self,
        company: str,
        key: str,
        error: str,
        now: datetime,
        max_attempts: int,
        *,
        retry_at: datetime | None = None,
    ) -> str:
        """A send failed (the channel said so: nothing went out).  The row goes back to
        pending (claimable again from ``retry_at``, if given) until it has had
        ``max_attempts`` attempts, then it is failed for good.  A failure before
        any attempt was recorded counts as one.  Returns the new state."""
        with self._write(f"recording the failure of {key!r}") as connection:
            row = self._state(connection, company, key)
            if row.state in ("sent", "cancelled", "failed", "dry_run"):
                return str(row.state)
            attempts = row.attempts if row.attempted_at is not None else row.attempts + 1
            state = "failed" if attempts >= max_attempts else "pending"
            self._set(
                connection,
                company,
                key,
                state=state,
                attempts=attempts,
                last_error=error,
                attempted_at=None,
                claimed_by=None,
                claim_expires_at=None,
                not_before=retry_at if state == "pending" else None,
                updated_at=now,
            )
        return state

    def defer(
        self, company: str, key: str, until: datetime, now: datetime, reason: str | None = None
    ) -> None:
        """Put a claimed row back, not to be claimed before ``until`` (outside sending
        hours, a channel's rate limit): not a failure, so no attempt is counted.
        A row already sent, cancelled, failed or recorded as a dry run is left alone."""
        with self._write(f"deferring {key!r}") as connection:
            row = self._state(connection, company, key)
            if row.state not in ("pending", "claimed"):
                return
            self._set(
                connection,
                company,
                key,
                state="pending",
                not_before=until,
                claimed_by=None,
                claim_expires_at=None,
                last_error=reason,
                updated_at=now,
            )

    def outbox_row(self, company: str, key: str) -> OutboxRow | None:
        o = OUTBOX.c
        with self._read(f"reading outbox row {key!r}") as connection:
            row = connection.execute(
                select(OUTBOX).where(o.company == company, o.key == key)
            ).first()
        return None if row is None else _outbox_row(row)

    def outbox_rows(
        self, company: str, states: Iterable[str] | None = None, limit: int = 1000
    ) -> list[OutboxRow]:
        """Outbox rows, oldest first, optionally only in the given states."""
        o = OUTBOX.c
        query = select(OUTBOX).where(o.company == company)
        if states is not None:
            query = query.where(o.state.in_(list(states)))
        with self._read(f"listing the outbox of {company!r}") as connection:
            return [_outbox_row(r) for r in connection.execute(query.order_by(o.id).limit(limit))]

    def outbox_counts(self, company: str) -> dict[str, int]:
        """How many rows are in each state (every state listed, zero included)."""
        o = OUTBOX.c
        counts = dict.fromkeys(OUTBOX_STATES, 0)
        with self._read(f"counting the outbox of {company!r}") as connection:
            for state, n in connection.execute(
                select(o.state, func.count()).where(o.company == company).group_by(o.state)
            ):
                counts[state] = n
        return counts

    # -- runs -------------------------------------------------------------

    def start_run(self, company: str, now: datetime) -> int:
        with self._write(f"starting a run of {company!r}") as connection:
            result = connection.execute(
                insert(RUNS).values(company=company, started_at=now, counts={})
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_run(
        self,
        run_id: int,
        status: str,
        counts: Mapping[str, Any],
        error: str | None = None,
        *,
        now: datetime | None = None,
    ) -> None:
        if status not in RUN_STATUSES:
            raise StoreError(f"run status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
        with self._write(f"finishing run {run_id}") as connection:
            result = connection.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id)
                .values(
                    status=status, counts=dict(counts), error=error, finished_at=now or utc_now()
                )
            )
            if result.rowcount != 1:
                raise StoreError(f"store {self._where}: no run {run_id}")

    def forget_run(self, run_id: int) -> None:
        """Remove a run record: a run stopped by bad input leaves the store as it was."""
        with self._write(f"forgetting run {run_id}") as connection:
            connection.execute(delete(RUNS).where(RUNS.c.id == run_id))

    def last_runs(self, company: str, n: int = 10) -> list[RunRow]:
        """The company's latest runs, newest first."""
        r = RUNS.c
        with self._read(f"reading the runs of {company!r}") as connection:
            rows = connection.execute(
                select(r.id, r.company, r.started_at, r.finished_at, r.status, r.counts, r.error)
                .where(r.company == company)
                .order_by(r.started_at.desc(), r.id.desc())
                .limit(n)
            ).all()
        return [RunRow(a, b, c, d, e, f or {}, g) for a, b, c, d, e, f, g in rows]

    # -- write-back -------------------------------------------------------

    def flag_states(self, company: str) -> list[FlagState]:
        """The invoices that have a dispute (open or closed) or are escalated: what
        the dispute and escalation flags pushed back to the source are read from."""
        i = INVOICES.c
        with self._read(f"reading the dispute and escalation state of {company!r}") as connection:
            rows = connection.execute(
                select(i.id, i.dispute_reason, i.dispute_opened, i.dispute_closed, i.escalated)
                .where(
                    i.company == company, or_(i.dispute_reason.is_not(None), i.escalated.is_(True))
                )
                .order_by(i.id)
            ).all()
        return [FlagState(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def sent_steps(self, company: str) -> list[tuple[str, int, datetime | None]]:
        """(invoice id, step, sent at) of every invoice listed in a sent outbox row,
        oldest first: the reminder levels to push back."""
        o = OUTBOX.c
        with self._read(f"reading the sent reminders of {company!r}") as connection:
            rows = connection.execute(
                select(o.payload, o.sent_at)
                .where(o.company == company, o.state == "sent")
                .order_by(o.sent_at, o.id)
            ).all()
        return [
            (inv.id, inv.step, sent_at)
            for payload, sent_at in rows
            for inv in action_from_payload(payload).invoices
        ]

    def record_push(
        self, tx: Tx, company: str, kind: str, ref: str, value: str, now: datetime
    ) -> None:
        """Remember what was written back to the source for ``ref`` (an invoice or
        customer id) and ``kind``, so the same value is not pushed twice."""
        row = (company, kind, ref, value, now)
        with self._errors(f"recording a {kind!r} push for {ref!r}"):
            self._upsert(tx.connection, PUSHED, [row], ["company", "kind", "ref"])

    def pushed_value(self, company: str, kind: str, ref: str) -> str | None:
        p = PUSHED.c
        with self._read(f"reading the {kind!r} push of {ref!r}") as connection:
            value: str | None = connection.scalar(
                select(p.value).where(p.company == company, p.kind == kind, p.ref == ref)
            )
        return value

    def pushed_values(self, company: str, kind: str) -> dict[str, str]:
        """Every value pushed for ``kind``, by ref (one query for a whole push run)."""
        p = PUSHED.c
        with self._read(f"reading the {kind!r} pushes of {company!r}") as connection:
            rows = connection.execute(
                select(p.ref, p.value).where(p.company == company, p.kind == kind)
            )
            return {ref: value for ref, value in rows}
