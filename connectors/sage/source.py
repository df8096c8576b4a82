"""The ``sage100`` source: Sage 100's SQL Server database, read with SQLAlchemy Core.

``pull`` reads customers (F_COMPTET, ``CT_Type`` 0), their collection contacts
(F_CONTACTT), open items (F_ECRITUREC, see ``connectors.sage.ledger``) and
disputes (recovery dossiers with a P_LITIGE reason).  The cursor is a small JSON
object: ``since`` (the latest ``cbModification`` seen, the database's clock) and
``full`` (when the last full read was, the daemon's clock).

* The first pull, and one every ``full_every_hours``, reads everything and says
  ``full``: invoices the store holds and Sage no longer has (deleted lines,
  the cbMarq sets compared) are deleted by the runner.
* Other pulls read the accounts with a line, customer record, contact or dossier
  changed since ``since`` minus ``overlap_minutes``, in (cbModification, cbMarq)
  order, and send those accounts' invoices again whole: upserts are idempotent,
  so reading a change twice is harmless and none is missed at a second's edge.

``push`` writes only the configured information libre columns of F_COMPTET,
only for the customers concerned, one short transaction per chunk, and only
where the value differs.  Sage's native reminder fields are never written.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from connectors.sage import queries
from connectors.sage.ledger import DisputeLink, Line, build_invoices, customer_of, sage_date
from connectors.sage.schema import comptet_table
from connectors.sources import Changes, Flag, SourceError
from core.collector import collector_paused
from core.model import Customer, Dispute, Invoice, Reminder

__all__ = ["Sage100Source", "SageOptions", "WriteBack"]

log = logging.getLogger("relance.sage")

PUSH_CHUNK = 50
# Positions in queries.LINE_COLUMNS (rows are unpacked by position, see _line).
ACCOUNT = [column.name for column in queries.LINE_COLUMNS].index("CT_Num")
MODIFIED = [column.name for column in queries.LINE_COLUMNS].index("cbModification")
FLAG_TEXT = {True: "Oui", False: ""}


@dataclass(frozen=True, slots=True)
class WriteBack:
    """Information libre columns of F_COMPTET the daemon may write (None: not written)."""

    reminder_level: str | None = None
    dispute: str | None = None
    escalated: str | None = None

    def columns(self) -> dict[str, str]:
        """Flag kind -> column, for the kinds that are written."""
        return {k: v for k, v in self._pairs() if v is not None}

    def _pairs(self) -> Iterator[tuple[str, str | None]]:
        yield "reminder_level", self.reminder_level
        yield "dispute", self.dispute
        yield "escalated", self.escalated


@dataclass(frozen=True, slots=True)
class SageOptions:
    url: str
    password: str | None = field(default=None, repr=False)
    accounts: tuple[str, ...] = ("411",)
    currency: str = "EUR"
    overlap_minutes: int = 10
    full_every_hours: int = 24
    paid_days: int = 400
    opening_journals: tuple[str, ...] = ("RAN",)
    contact_functions: tuple[str, ...] = ("compta", "recouvrement")
    history_plan: str = "standard"
    history_step_offset: int = 1
    write_back: WriteBack = WriteBack()


class Sage100Source:
    """One Sage 100 company database (one "dossier") as a Relance source."""

    name = "sage100"

    def __init__(
        self,
        options: SageOptions,
        *,
        clock: Callable[[], datetime] = datetime.now,
        engine: Engine | None = None,
    ) -> None:
        self.options = options
        self.clock = clock
        self._engine = engine
        self.comptet: Table = comptet_table(options.write_back.columns().values())

    def __repr__(self) -> str:
        return f"Sage100Source({safe_url(self.options.url)!r})"

    # -- connection ----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.options.url, self.options.password)
        return self._engine

    @contextmanager
    def _connected(self, doing: str) -> Iterator[Connection]:
        """A connection; every database error a ``SourceError`` that says what to do."""
        try:
            with self.engine.connect() as connection:
                yield connection
        except SourceError:
            raise
        except SQLAlchemyError as error:
            raise database_error(error, doing, self.options.url) from None

    # -- pull --------------------------------------------------------------------------

    def pull(self, cursor: str | None) -> Changes:
        """The changes since ``cursor`` (everything without one, or when a full read is due).

        The cyclic garbage collector is paused meanwhile (``core.collector``): a full
        read builds some 500,000 rows, lines and invoices that live until the pull
        ends, and the collector would walk them again and again (half of the build
        time); none of them is in a reference cycle.
        """
        with collector_paused():
            return self._pull(cursor)

    def _pull(self, cursor: str | None) -> Changes:
        state = _Cursor.parse(cursor)
        now = self.clock()
        # A database empty at the last full read has no watermark to start from:
        # what was entered since is read in full.
        full = (
            state is None
            or state.since is None
            or now - state.full >= timedelta(hours=self.options.full_every_hours)
        )
        with self._connected("reading the ledger") as connection:
            if full or state is None or state.since is None:  # (narrows state for the else)
                marks = connection.execute(queries.watermark()).one()
                customers = self._customers(connection, None)
                invoices, reminders = self._invoices(connection, None)
                next_cursor = _Cursor(_latest(marks), now)
            else:
                marks = connection.execute(queries.watermark(lines=False)).one()
                start = state.since - timedelta(minutes=self.options.overlap_minutes)
                touched = self._touched(connection, start)
                read = self._pieces(connection, touched, since=start)
                # The lines' part of the watermark: the latest change read (never back).
                since = _latest((*marks, read.latest, state.since))
                next_cursor = _Cursor(since, state.full)
                if not (read.accounts or touched.accounts or touched.records):
                    return Changes(cursor=next_cursor.dump())
                whole, whole_reminders = self._invoices(connection, sorted(touched.accounts))
                invoices = read.invoices + whole
                reminders = read.reminders + whole_reminders
                everyone = read.accounts | touched.accounts | touched.records
                customers = self._customers(connection, sorted(everyone))
        log.info(
            "sage100 pull full=%s customers=%d invoices=%d", full, len(customers), len(invoices)
        )
        return Changes(
            customers=customers,
            invoices=invoices,
            reminders=reminders,
            cursor=next_cursor.dump(),
            full=full,
        )

    def _touched(self, connection: Connection, start: datetime) -> _Touched:
        """The accounts whose record, contacts or dossiers changed since ``start``
        (changed lines are found by ``_pieces``)."""
        touched = _Touched()
        for row in connection.execute(queries.changed_accounts(), {"since": start}):
            if row.CT_Num:
                touched.records.add(row.CT_Num)
        for row in connection.execute(queries.changed_dossiers(), {"since": start}):
            if row.CT_Num:
                touched.accounts.add(row.CT_Num)  # disputes: read the whole account again
        return touched

    def _pieces(
        self, connection: Connection, touched: _Touched, *, since: datetime | None = None
    ) -> _Pieces:
        """The invoices and credits of some pieces, each read whole: every line of the
        piece, and every line sharing one of its lettering codes (until nothing new);
        the accounts they belong to, and the latest change among the lines read.

        Without ``since``: the pieces and codes of ``touched``.  With it: those that have
        a line changed since then, found by one statement in the database (whatever the
        number of changes; the accounts of ``touched.accounts``, read whole by the
        caller, are left out).  Later reads, usually small, name the pieces and codes found.
        """
        refs, codes = set(touched.refs), set(touched.codes)
        found: dict[int, Line] = {}
        cutoff = self._cutoff()
        if since is None:
            rows = self._piece_rows(connection, refs, codes, cutoff)
        else:
            query = queries.lines_of_changes(self.options.accounts)
            result: Iterable[Any] = connection.execute(query, {"since": since, "cutoff": cutoff})
            rows = [row for row in result if row[ACCOUNT] not in touched.accounts]
        first = since is not None
        latest: datetime | None = None
        while rows:
            lines = [self._line(row) for row in rows]
            if since is not None and first:
                # Read whole already: the pieces and codes of the changed lines.
                for row, line in zip(rows, lines, strict=True):
                    modified = row[MODIFIED]
                    if modified is not None and modified >= since:
                        refs.add((line.customer, line.ref))
                        if line.code:
                            codes.add((line.customer, line.code))
                        latest = modified if latest is None else max(latest, modified)
            wanted_refs: set[tuple[str, str]] = set()
            wanted_codes: set[tuple[str, str]] = set()
            for line in lines:
                key, code = (line.customer, line.ref), (line.customer, line.code)
                if not first and key not in refs and not (line.code and code in codes):
                    continue  # another piece with the same number, or another account
                found[line.marq] = line
                if line.code and code not in codes:
                    codes.add(code)
                    wanted_codes.add(code)
                if line.debit and key not in refs:
                    refs.add(key)
                    wanted_refs.add(key)
            first = False
            rows = self._piece_rows(connection, wanted_refs, wanted_codes, cutoff)
        accounts = {line.customer for line in found.values()}
        invoices, reminders = self._build(
            list(found.values()), self._disputes(connection, sorted(accounts))
        )
        return _Pieces(invoices, reminders, accounts, latest)

    def _piece_rows(
        self,
        connection: Connection,
        refs: set[tuple[str, str]],
        codes: set[tuple[str, str]],
        cutoff: datetime,
    ) -> list[Any]:
        if not refs and not codes:
            return []
        pairs = [("ref", *key) for key in sorted(refs)] + [("code", *key) for key in sorted(codes)]
        rows: list[Any] = []
        query = queries.piece_lines(self.options.accounts)
        for start in range(0, len(pairs), queries.PAIR_CHUNK):
            chunk = pairs[start : start + queries.PAIR_CHUNK]
            params = {
                "accounts": sorted({p[1] for p in chunk}),
                "refs": sorted({p[2] for p in chunk if p[0] == "ref"}),
                "codes": sorted({p[2] for p in chunk if p[0] == "code"}),
                "cutoff": cutoff,
            }
            rows += connection.execute(query, params).all()
        return rows

    def _rows(
        self,
        connection: Connection,
        build: Callable[..., Any],
        accounts: Sequence[str] | None,
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[Any]:
        """Rows of ``build(some=...)``, for every account or chunk by chunk."""
        if accounts is None:
            yield from connection.execute(build(some=False), dict(params or {}))
            return
        for start in range(0, len(accounts), queries.IN_CHUNK):
            chunk = list(accounts[start : start + queries.IN_CHUNK])
            yield from connection.execute(build(some=True), {**(params or {}), "accounts": chunk})

    def _customers(self, connection: Connection, accounts: Sequence[str] | None) -> list[Customer]:
        contacts: dict[str, list[Any]] = defaultdict(list)
        for row in self._rows(connection, queries.contacts, accounts):
            if self._collects(row):
                contacts[row.CT_Num].append(row)
        return [
            _customer(row, contacts.get(row.CT_Num, []))
            for row in self._rows(connection, queries.customers, accounts)
        ]

    def _collects(self, contact: Any) -> bool:
        """A contact marked for collections: its function names accounting or recovery."""
        function = (contact.CT_Fonction or "").casefold()
        return any(word.casefold() in function for word in self.options.contact_functions)

    def _cutoff(self) -> datetime:
        """Lettered lines changed since this day are read (invoices paid recently)."""
        today = datetime.combine(self.clock().date(), datetime.min.time())
        return today - timedelta(days=self.options.paid_days)

    def _invoices(
        self, connection: Connection, accounts: Sequence[str] | None
    ) -> tuple[list[Invoice], list[Reminder]]:
        """The invoices and credits of these accounts (None: every account), read whole."""
        if accounts is not None and not accounts:
            return [], []
        lines_query = _LinesQuery(self.options.accounts)
        rows = self._rows(connection, lines_query, accounts, {"cutoff": self._cutoff()})
        lines = [self._line(row) for row in rows]
        return self._build(lines, self._disputes(connection, accounts))

    def _disputes(
        self, connection: Connection, accounts: Sequence[str] | None
    ) -> dict[int, Dispute]:
        rows = self._rows(connection, queries.disputes, accounts)
        return {link.ec_no: link.dispute for link in map(_dispute, rows)}

    def _build(
        self, lines: list[Line], disputes: Mapping[int, Dispute]
    ) -> tuple[list[Invoice], list[Reminder]]:
        return build_invoices(
            lines,
            disputes,
            currency=self.options.currency,
            history_plan=self.options.history_plan,
            step_offset=self.options.history_step_offset,
        )

    def _line(self, row: Any) -> Line:
        """One row of ``queries.LINE_COLUMNS`` (unpacked by position: a named lookup per
        column costs a third of a full read)."""
        (
            marq,
            ec_no,
            journal,
            month,
            day_in_month,
            ec_date,
            piece,
            ref_piece,
            account,
            due,
            sens,
            amount,
            lettered,
            code,
            level,
            reminded,
            opening_type,
            modified,
        ) = row
        day = sage_date(ec_date)
        if day is None:
            first = sage_date(month) or date(2000, 1, 1)
            day = first + timedelta(days=max((day_in_month or 1) - 1, 0))
        journal = (journal or "").strip()
        return Line(
            marq,
            ec_no or 0,
            journal,
            (ref_piece or "").strip() or (piece or "").strip(),
            account,
            sage_date(due),
            day,
            sens == 0,
            amount if isinstance(amount, Decimal) else Decimal(amount),
            lettered == 1,
            (code or "").strip(),
            level or 0,
            sage_date(reminded),
            bool(opening_type) or journal in self.options.opening_journals,
            modified.date() if isinstance(modified, datetime) else day,
        )

    # -- refresh -------------------------------------------------------------------------

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal]:
        """Open amounts as Sage has them now (the invoices' pieces read again)."""
        touched = _Touched()
        for invoice_id in invoice_ids:
            parts = invoice_id.split("|")
            if len(parts) >= 3:
                touched.refs.add((parts[0], parts[1]))
        with self._connected("reading open amounts") as connection:
            invoices = self._pieces(connection, touched).invoices
        amounts = {inv.id: inv.open_amount for inv in invoices}
        return {i: amounts.get(i, Decimal("0.00")) for i in invoice_ids}

    # -- push ----------------------------------------------------------------------------

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        """Write the flags' values into the configured information libre columns.

        Flags about invoices go to their customer's row: the reminder level is the
        highest one sent, the dispute the reason of an open one ('' when all are
        closed), escalation 'Oui' or ''.  Flags of kinds with no column are not written.
        """
        columns = self.options.write_back.columns()
        wanted = [f for f in flags if f.kind in columns]
        if not wanted:
            return []
        by_account: dict[str, list[Flag]] = defaultdict(list)
        for flag in wanted:
            by_account[customer_of(flag.ref)].append(flag)
        names = list(dict.fromkeys(columns.values()))
        written: list[Flag] = []
        accounts = sorted(by_account)
        with self._connected("writing the information libre columns") as connection:
            for start in range(0, len(accounts), PUSH_CHUNK):
                chunk = accounts[start : start + PUSH_CHUNK]
                written += self._push_chunk(connection, chunk, by_account, columns, names)
        return written

    def _push_chunk(
        self,
        connection: Connection,
        chunk: Sequence[str],
        by_account: Mapping[str, list[Flag]],
        columns: Mapping[str, str],
        names: Sequence[str],
    ) -> list[Flag]:
        """One short transaction: read the rows, update those whose values differ."""
        written: list[Flag] = []
        with connection.begin():
            rows = connection.execute(
                queries.libre_values(self.comptet, names), {"accounts": list(chunk)}
            ).all()
            for row in rows:
                flags = by_account[row.CT_Num]
                values = _values(flags, columns)
                current: dict[str, Any] = dict(zip(names, row[2:], strict=True))
                merged = {name: values.get(name, current[name]) for name in names}
                if any((current[n] or "") != (merged[n] or "") for n in names):
                    params = {f"v{i}": merged[n] for i, n in enumerate(names)}
                    connection.execute(
                        queries.write_libres(self.comptet, names), {"marq": row.cbMarq, **params}
                    )
                written += flags
        return written


def _values(flags: Iterable[Flag], columns: Mapping[str, str]) -> dict[str, str]:
    """Column -> text to write for one customer's flags."""
    levels = [int(f.value) for f in flags if f.kind == "reminder_level" and f.value is not None]
    disputes = [f for f in flags if f.kind == "dispute"]
    escalated = [f for f in flags if f.kind == "escalated"]
    out: dict[str, str] = {}
    if levels and "reminder_level" in columns:
        out[columns["reminder_level"]] = str(max(levels))
    if disputes and "dispute" in columns:
        reasons = [str(f.value) for f in sorted(disputes, key=lambda f: f.date) if f.value]
        out[columns["dispute"]] = reasons[-1][:69] if reasons else ""
    if escalated and "escalated" in columns:
        out[columns["escalated"]] = FLAG_TEXT[any(bool(f.value) for f in escalated)]
    return out


class _LinesQuery:
    """``queries.lines`` with the account prefixes bound, called like the other builders."""

    def __init__(self, accounts: Sequence[str]) -> None:
        self.accounts = accounts

    def __call__(self, *, some: bool) -> Any:
        return queries.lines(self.accounts, some=some)


def _customer(row: Any, contacts: Sequence[Any]) -> Customer:
    emails = [e for c in contacts for e in _emails(c.CT_EMail)] or _emails(row.CT_EMail)
    phone = next(
        (p for c in contacts for p in (c.CT_TelPortable, c.CT_Telephone) if p and p.strip()),
        (row.CT_Telephone or "").strip() or None,
    )
    limit = Decimal(row.CT_Encours) if row.CT_Encours else None
    created = sage_date(row.cbCreation)
    return Customer(
        id=row.CT_Num,
        name=(row.CT_Intitule or row.CT_Num).strip(),
        emails=tuple(dict.fromkeys(emails)),
        phone=phone.strip() if phone else None,
        tags=frozenset({f"collector:{row.CO_No}"} if row.CO_No else ()),
        excluded=bool(row.CT_Sommeil) or bool(row.CT_NotRappel),
        credit_limit=limit if limit and limit > 0 else None,
        created=created,
    )


def _emails(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace(",", ";").split(";") if "@" in part]


def _dispute(row: Any) -> DisputeLink:
    label = (row.L_Intitule or "").strip() or f"Litige {row.N_Litige}"
    note = " ".join(p for p in ((row.DR_Num or "").strip(), (row.DR_Resume or "").strip()) if p)
    return DisputeLink(
        row.EC_No,
        Dispute(
            reason=label,
            opened=sage_date(row.DR_DateDebut),
            note=f"Sage: {note}",
            closed=sage_date(row.DR_DateFin),
        ),
    )


def _latest(marks: Iterable[Any]) -> datetime | None:
    """The latest of some cbModification values (None: none)."""
    latest: datetime | None = max((mark for mark in marks if mark is not None), default=None)
    return latest


class _Pieces(NamedTuple):
    """What ``Sage100Source._pieces`` read."""

    invoices: list[Invoice]
    reminders: list[Reminder]
    accounts: set[str]  # the accounts of the lines read
    latest: datetime | None  # the latest cbModification of the changed lines


@dataclass(slots=True)
class _Touched:
    """What an incremental pull reads again."""

    refs: set[tuple[str, str]] = field(default_factory=set)  # (account, piece) of changed lines
    codes: set[tuple[str, str]] = field(default_factory=set)  # (account, lettering code)
    accounts: set[str] = field(default_factory=set)  # read whole (a dossier changed)
    records: set[str] = field(default_factory=set)  # customer record or contacts changed

    @property
    def empty(self) -> bool:
        return not (self.refs or self.codes or self.accounts or self.records)

    def all_accounts(self) -> list[str]:
        keys = self.refs | self.codes
        return sorted({k[0] for k in keys} | self.accounts | self.records)


@dataclass(frozen=True, slots=True)
class _Cursor:
    since: datetime | None
    full: datetime

    @classmethod
    def parse(cls, cursor: str | None) -> _Cursor | None:
        if not cursor:
            return None
        try:
            data = json.loads(cursor)
            since = datetime.fromisoformat(data["since"]) if data.get("since") else None
            return cls(since, datetime.fromisoformat(data["full"]))
        except (ValueError, KeyError, TypeError):
            return None  # a cursor of another version: read everything again

    def dump(self) -> str:
        since = self.since.isoformat() if self.since else None
        return json.dumps({"v": 1, "since": since, "full": self.full.isoformat()})


# -- engine and errors ---------------------------------------------------------------------


def make_engine(url: str, password: str | None) -> Engine:
    """The engine for ``url`` with the password put in (never logged, never in messages)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SourceError(
            f"'{safe_url(url)}' is not a database URL (e.g. mssql+pymssql://relance@srv-sage/BIJOU)",
            kind="config",
            source="sage100",
        ) from None
    if password is not None:
        parsed = parsed.set(password=password)
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ModuleNotFoundError, NoSuchModuleError) as error:
        raise SourceError(
            f"cannot load the database driver for '{parsed.drivername}' ({error}); "
            f"for SQL Server install pymssql: pip install pymssql",
            kind="config",
            source="sage100",
        ) from None


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "..."


PERMISSION_MARKERS = ("permission denied", "permission was denied", "insufficient privilege")
MISSING_MARKERS = (
    "no such table",
    "no such column",
    "does not exist",
    "invalid object name",
    "invalid column name",
)
CONNECTION_MARKERS = ("could not connect", "connection refused", "unable to connect", "timeout")


def database_error(error: SQLAlchemyError, doing: str, url: str) -> SourceError:
    """What the user is told about a database error (no password, one line)."""
    cause = getattr(error, "orig", None) or error
    detail = " ".join(str(cause).split())[:300]
    lowered = detail.casefold()
    where = safe_url(url)
    if any(marker in lowered for marker in PERMISSION_MARKERS):
        return SourceError(
            f"{where}: {doing}: the login lacks a permission ({detail}); "
            f"run `relance sage check` to see which, and have the DBA grant it",
            kind="config",
            source="sage100",
        )
    if any(marker in lowered for marker in MISSING_MARKERS):
        return SourceError(
            f"{where}: {doing}: {detail} (is this a Sage 100 database, and are the "
            f"configured columns there? `relance sage check` tells)",
            kind="config",
            source="sage100",
        )
    if (isinstance(error, DBAPIError) and error.connection_invalidated) or any(
        marker in lowered for marker in CONNECTION_MARKERS
    ):
        return SourceError(
            f"{where}: {doing}: cannot reach the database ({detail}); it will be tried again",
            kind="transient",
            source="sage100",
        )
    if "login failed" in lowered or "authentication failed" in lowered:
        return SourceError(
            f"{where}: {doing}: the login was refused ({detail}); check the user and password",
            kind="config",
            source="sage100",
        )
    if isinstance(error, DBAPIError) and type(cause).__name__ in ("OperationalError",):
        return SourceError(f"{where}: {doing}: {detail}", kind="transient", source="sage100")
    return SourceError(
        f"{where}: {doing}: {detail} (is this a Sage 100 database? `relance sage check` tells)",
        kind="config",
        source="sage100",
    )
