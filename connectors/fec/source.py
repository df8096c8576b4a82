"""The ``fec`` source: a FEC file, re-read whenever it changes (``connectors.fec.parser``).

The cursor is ``<sha256 of the file>:<hash of the reading options>``: the
same file read with other options (payment terms, sales journals, accounts)
gives other invoices, so changing an option re-reads the file.  A changed
file gives a full snapshot, with the digest of each record it gives (the
runner then writes and plans only what changed); an unchanged one, no changes.

A customer's invoices depend only on its own lines (pieces and lettering are
per customer), the header and the file's sales journals.  So the source keeps,
from the file it read last, each line's kind (whose customer it is, or a sales
line's journal) and each customer's lines; a changed file is split into lines,
only the lines not seen before are looked at, and only the customers whose
lines changed are parsed again (``_Accounts``), their digests replacing
theirs in the last snapshot's.  Any doubt (another header or other sales
journals, a new line the reader refuses, ids that collide across customers)
parses the whole file, which gives the error's message with its line number.
docs/daemon.md, "Snapshots".
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from connectors.fec.parser import (
    Split,
    Tracked,
    decode_fec,
    parse_fec_bytes,
    parse_fec_lines,
    parse_fec_tracked,
)
from connectors.sources import (
    Changes,
    Deferred,
    Flag,
    LedgerSnapshot,
    Records,
    SourceError,
    read_snapshot,
    record_digest,
    sha256_hex,
)
from core.errors import InputError
from core.model import Invoice, Ledger

__all__ = ["FecSource"]

_ZERO = Decimal("0.00")
# The kind of a line not seen in the file read before.
_NEW: tuple[str, ...] = ("",)
# Lines kept beyond those of the current file (lines changed since the full read)
# before the next change is read in full again, which forgets them.
_STALE_LINES = 1.5


class _Doubt(Exception):
    """The changed lines alone cannot say what the file gives: parse all of it."""


class _Accounts:
    """A FEC's records by customer, and what reading its next version needs: the
    header, sales journals, each line's kind and each customer's lines
    (``parser.Tracked``), and each customer's digests and open amounts."""

    def __init__(self, tracked: Tracked, snapshot: LedgerSnapshot) -> None:
        self.header = tracked.header
        self.sales = tracked.sales
        self.kinds = tracked.kinds
        self.groups = tracked.groups
        self.customers = dict(snapshot.customers)
        self.invoices = dict(snapshot.invoices)
        self.owners = dict(snapshot.invoice_owners)
        self.by_customer: dict[str, list[str]] = {}
        self.open: dict[str, Decimal] = {}
        self._add(tracked.ledger.invoices)

    def _add(self, invoices: Iterable[Invoice]) -> None:
        by_customer, opened = self.by_customer, self.open
        for invoice in invoices:
            by_customer.setdefault(invoice.customer_id, []).append(invoice.id)
            if invoice.open_amount:
                opened[invoice.id] = invoice.open_amount

    def replace(self, gone: Iterable[str], ledger: Ledger) -> None:
        """Forget the records of the customers ``gone`` and add those of ``ledger``
        (theirs as parsed now); ``_Doubt`` if an id is another customer's."""
        invoices, owners, opened = self.invoices, self.owners, self.open
        for customer in gone:
            self.customers.pop(customer, None)
            for invoice_id in self.by_customer.pop(customer, ()):
                del invoices[invoice_id], owners[invoice_id]
                opened.pop(invoice_id, None)
        for record in ledger.customers:
            self.customers[record.id] = record_digest(record)
        for invoice in ledger.invoices:
            if invoice.id in invoices:
                raise _Doubt  # the whole file tells which one is renamed
            invoices[invoice.id] = record_digest(invoice)
            owners[invoice.id] = invoice.customer_id
        self._add(ledger.invoices)


class _FecSnapshot:
    """The ``Snapshot`` of a FEC read by customer: digests from ``_Accounts``, the
    records of the customers parsed for it, the others parsed when asked for."""

    def __init__(
        self,
        context: str,
        accounts: _Accounts,
        parsed: Ledger,
        parse: _Parse,
        parse_all: Callable[[], Ledger],
    ) -> None:
        self.context = context
        self.customers: Mapping[str, str] = accounts.customers
        self.invoices: Mapping[str, str] = accounts.invoices
        self.invoice_owners: Mapping[str, str] = accounts.owners
        self.reminders: Mapping[str, str] = {}
        self.reminder_owners: Mapping[str, str] = {}
        self._parse, self._parse_all = parse, parse_all
        self._customers = {c.id: c for c in parsed.customers}
        self._invoices = {i.id: i for i in parsed.invoices}

    def records(
        self, customers: Collection[str], invoices: Collection[str], reminders: Collection[str]
    ) -> Records:
        missing = {k for k in customers if k not in self._customers}
        missing.update(self.invoice_owners[k] for k in invoices if k not in self._invoices)
        if missing:
            try:
                more = self._parse(sorted(missing))
            except (_Doubt, InputError):
                more = self._parse_all()  # its error, if the file is malformed after all
            self._customers.update((c.id, c) for c in more.customers)
            self._invoices.update((i.id, i) for i in more.invoices)
        return Records(
            [self._customers[k] for k in customers],
            [self._invoices[k] for k in invoices],
            [],
        )


class _Parse:
    """Parses the lines of some customers of a file (``parse_fec_lines``)."""

    def __init__(self, source: FecSource, accounts: _Accounts) -> None:
        self.source, self.accounts = source, accounts

    def __call__(self, customers: Sequence[str]) -> Ledger:
        groups = self.accounts.groups
        lines = [line for customer in customers for line in groups.get(customer, ())]
        ledger, renamed = self.source._parse_lines(self.accounts, lines)
        if renamed:
            raise _Doubt
        return ledger


class FecSource:
    """A FEC export as a source: full snapshots when it changes, nothing written back."""

    name: str = "fec"

    def __init__(
        self,
        path: str | os.PathLike[str],
        default_payment_days: int = 30,
        *,
        encoding: str | None = None,
        sales_journals: Iterable[str] | None = None,
        accounts: Iterable[str] = ("411",),
    ) -> None:
        if default_payment_days < 0:
            raise ValueError("default_payment_days must not be negative")
        self.path = Path(path)
        self.default_payment_days = default_payment_days
        self.encoding = encoding
        self.sales_journals = None if sales_journals is None else tuple(sales_journals)
        self.accounts = tuple(accounts)
        options = repr(
            (default_payment_days, encoding, self.sales_journals, self.accounts)
        ).encode()
        self._options = hashlib.sha256(options).hexdigest()[:16]
        self._context = f"ledger/1:fec:{self._options}"  # as LedgerSnapshot's
        # A customer account that is a sales account too would make the sales
        # journals depend on customer lines: such a source always reads in full.
        self._by_customer = not any(
            a.startswith("70") or "70".startswith(a) for a in self.accounts
        )
        # The file last read: its cursor and records by customer (None: read in full).
        self._cursor: str | None = None
        self._accounts: _Accounts | None = None
        self._open: dict[str, Decimal] = {}

    def __repr__(self) -> str:
        return f"FecSource({str(self.path)!r}, {self.default_payment_days})"

    def pull(self, cursor: str | None) -> Changes:
        """Nothing when the file is the one the cursor saw; else all of it (``full``)."""
        data, _ = read_snapshot(self.path, source=self.name)
        new_cursor = f"{sha256_hex(data)}:{self._options}"
        if cursor == new_cursor:
            return Changes(cursor=cursor)
        whole: list[Ledger] = []

        def parse_all() -> Ledger:
            if not whole:
                whole.append(self._parse(data))
            return whole[0]

        snapshot = self._read(data, new_cursor, parse_all)
        if isinstance(snapshot, LedgerSnapshot):
            ledger = snapshot.ledger()
            return Changes(
                customers=ledger.customers,
                invoices=ledger.invoices,
                cursor=new_cursor,
                full=True,
                snapshot=snapshot,
            )
        return Changes(
            customers=Deferred(lambda: parse_all().customers),
            invoices=Deferred(lambda: parse_all().invoices),
            cursor=new_cursor,
            full=True,
            snapshot=snapshot,
        )

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal]:
        """Open amounts as the file says now; an invoice no longer in it is owed nothing."""
        data, _ = read_snapshot(self.path, source=self.name)
        cursor = f"{sha256_hex(data)}:{self._options}"
        if cursor != self._cursor:
            self._read(data, cursor, lambda: self._parse(data))
        return {invoice_id: self._open.get(invoice_id, _ZERO) for invoice_id in invoice_ids}

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        """A FEC is an export: nothing is written back."""
        return []

    # ------------------------------------------------------------------ helpers

    def _read(
        self, data: bytes, cursor: str, parse_all: Callable[[], Ledger]
    ) -> _FecSnapshot | LedgerSnapshot:
        """The snapshot of these bytes: by customer from the file read before when
        it can, else the whole file parsed (a ``SourceError`` if malformed)."""
        snapshot: _FecSnapshot | LedgerSnapshot
        try:
            if self._accounts is None:
                raise _Doubt
            snapshot = self._read_changes(data, self._accounts, parse_all)
        except (_Doubt, InputError):
            snapshot = self._read_all(data)
        self._cursor = cursor
        return snapshot

    def _read_all(self, data: bytes) -> LedgerSnapshot:
        self._accounts = None
        if not self._by_customer:
            ledger = self._parse(data)
            self._open = {i.id: i.open_amount for i in ledger.invoices if i.open_amount}
            return LedgerSnapshot(ledger, f"fec:{self._options}")
        try:
            tracked = parse_fec_tracked(
                decode_fec(data, self.encoding, str(self.path)),
                file=str(self.path),
                default_payment_days=self.default_payment_days,
                sales_journals=self.sales_journals,
                accounts=self.accounts,
            )
        except InputError as error:
            raise self._error(error) from error
        snapshot = LedgerSnapshot(tracked.ledger, f"fec:{self._options}")
        accounts = _Accounts(tracked, snapshot)
        self._open = accounts.open
        if not tracked.renamed:
            self._accounts = accounts
        return snapshot

    def _read_changes(
        self, data: bytes, before: _Accounts, parse_all: Callable[[], Ledger]
    ) -> _FecSnapshot:
        """The file read by customer, from ``before`` (the file read last); ``_Doubt``
        or ``InputError`` when it has to be read in full."""
        text = decode_fec(data, self.encoding, str(self.path))
        lines = text.split("\n")
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        if lines[0] != before.header:
            raise _Doubt
        split: Split | None = None
        kinds = before.kinds
        known = kinds.get
        groups: dict[str, list[str]] = {}
        sales: set[str] = set()
        fresh: list[str] = []  # lines not seen before, of no customer
        for line in lines[1:]:
            kind = known(line, _NEW)
            if kind is _NEW:
                if split is None:
                    split = Split(before.header, self.accounts)
                kind = split.line_kind(line)
                if kind is None:
                    raise _Doubt  # the reader's message
                kinds[line] = kind
                if not isinstance(kind, str):
                    fresh.append(line)
            if isinstance(kind, str):
                group = groups.get(kind)
                if group is None:
                    groups[kind] = [line]
                else:
                    group.append(line)
            elif kind:
                sales.add(kind[0])
        if fresh:
            self._parse_lines(before, fresh)  # each line checked on its own
        wanted = before.sales if self.sales_journals is not None else frozenset(sales)
        if wanted != before.sales:
            raise _Doubt
        old = before.groups
        changed = [k for k, group in groups.items() if old.get(k) != group]
        gone = [k for k in old if k not in groups]
        # The records of the customers read again replace theirs in ``before``,
        # which becomes the file read last.
        self._accounts = None
        accounts = before
        accounts.groups = groups
        parse = _Parse(self, accounts)
        parsed = parse(changed)
        accounts.replace([*changed, *gone], parsed)
        if len(kinds) > _STALE_LINES * len(lines) + 1000:
            self._accounts = None  # the next change reads the file in full
        else:
            self._accounts = accounts
        self._open = accounts.open
        return _FecSnapshot(self._context, accounts, parsed, parse, parse_all)

    def _parse_lines(self, accounts: _Accounts, lines: Sequence[str]) -> tuple[Ledger, bool]:
        return parse_fec_lines(
            accounts.header,
            lines,
            file=str(self.path),
            default_payment_days=self.default_payment_days,
            sales=accounts.sales,
            accounts=self.accounts,
        )

    def _parse(self, data: bytes) -> Ledger:
        try:
            return parse_fec_bytes(
                data,
                file=str(self.path),
                default_payment_days=self.default_payment_days,
                encoding=self.encoding,
                sales_journals=self.sales_journals,
                accounts=self.accounts,
            )
        except InputError as error:
            raise self._error(error) from error

    def _error(self, error: InputError) -> SourceError:
        return SourceError(
            f"{error} (fix the export; it is read again on the next run)",
            kind="data",
            source=self.name,
        )
