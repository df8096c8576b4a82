"""The ``fec`` source: a FEC file, re-read whenever it changes (``connectors.fec.parser``).

The cursor is ``<sha256 of the file>:<hash of the reading options>``: the
same file read with other options (payment terms, sales journals, accounts)
gives other invoices, so changing an option re-reads the file.  A changed
file gives a full snapshot, with the digest of each record it gives (the
runner then writes and plans only what changed); an unchanged one, no changes.

A customer's invoices depend only on its own lines (pieces and lettering are
per customer), the header and the file's sales journals.  So the source keeps,
from the file it read last, each line's kind (``parser.Kind``: whose customer
line, with its piece and lettering code; or a sales line's journal) and each
customer's lines; a changed file is split into lines, only the lines not seen
before are checked, and of the customers whose lines changed only the sets of
lines that a piece or a lettering code joins and that changed are parsed
again (``_Accounts``), their digests replacing theirs in the last snapshot's.
Any doubt (another header or other sales journals, a new line the reader
refuses, ids that collide across customers) parses the whole file, which
gives the error's message with its line number.
docs/daemon.md, "Snapshots".
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from itertools import compress
from operator import is_
from pathlib import Path

from connectors.fec.parser import (
    Kind,
    Tracked,
    customer_record,
    decode_fec,
    parse_fec_bytes,
    parse_fec_lines,
    parse_fec_tracked,
    read_kinds,
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
from core.model import Customer, Invoice, Ledger

__all__ = ["FecSource"]

_ZERO = Decimal("0.00")
# Lines kept beyond those of the current file (lines changed since the full read)
# before the next change is read in full again, which forgets them.
_STALE_LINES = 1.5


class _Doubt(Exception):
    """The changed lines alone cannot say what the file gives: parse all of it."""


def _group(
    lines: Iterable[str], kinds: Iterable[Kind | str | bool | None]
) -> tuple[dict[str, list[str]], set[str]]:
    """Each customer's lines, in file order, and the journals of the sales lines,
    from the lines and their kinds."""
    groups: dict[str, list[str]] = {}
    sales: set[str] = set()
    add = sales.add
    for line, kind in zip(lines, kinds, strict=True):
        if type(kind) is tuple:
            group = groups.get(kind[0])
            if group is None:
                groups[kind[0]] = [line]
            else:
                group.append(line)
        elif kind.__class__ is str:
            add(kind)
    return groups, sales


class _Accounts:
    """A FEC's records by customer, and what reading its next version needs: the
    header, sales journals, each line's kind and each customer's lines
    (``parser.Tracked``), each record's digest and each invoice's open amount."""

    def __init__(self, tracked: Tracked, snapshot: LedgerSnapshot) -> None:
        self.header = tracked.header
        self.sales = tracked.sales
        self.kinds = tracked.kinds
        self.groups = tracked.groups
        self.customers = dict(snapshot.customers)
        self.invoices = dict(snapshot.invoices)
        self.owners = dict(snapshot.invoice_owners)
        self.open = {i.id: i.open_amount for i in tracked.ledger.invoices if i.open_amount}

    def pieces(self, lines: Sequence[str]) -> list[list[str]]:
        """A customer's lines split into the sets that pieces and lettering codes
        join (each line is in the set of its piece, lines lettered alike in the
        same set), each in file order: what a piece's records depend on."""
        kinds = [self.kinds[line] for line in lines]
        parent: dict[str, str] = {}

        def root(piece: str) -> str:
            while (up := parent[piece]) != piece:
                parent[piece] = parent[up]
                piece = up
            return piece

        letters: dict[str, str] = {}
        joined = False
        for kind in kinds:
            assert type(kind) is tuple
            piece, letter = kind[1], kind[2]
            if piece not in parent:
                parent[piece] = piece
            if letter:
                other = letters.setdefault(letter, piece)
                if other != piece:
                    a, b = root(piece), root(other)
                    if a != b:
                        parent[a] = b
                        joined = True
        sets: dict[str, list[str]] = {}
        for line, kind in zip(lines, kinds, strict=True):
            assert type(kind) is tuple
            key = root(kind[1]) if joined else kind[1]
            found = sets.get(key)
            if found is None:
                sets[key] = [line]
            else:
                found.append(line)
        return list(sets.values())

    def forget(self, customer: str, lines: Sequence[str]) -> None:
        """Forget the invoices of these lines of a customer (sets of ``pieces``)."""
        invoices, owners, opened, kinds = self.invoices, self.owners, self.open, self.kinds
        for line in lines:
            kind = kinds[line]
            assert isinstance(kind, tuple)
            for invoice_id in (f"{customer}/{kind[1]}", f"{customer}/{kind[1]}/excess"):
                # "C/X" + "excess" and "C" + "X/excess" spell the same id: only
                # this customer's own invoice is forgotten.
                if owners.get(invoice_id) == customer:
                    del invoices[invoice_id], owners[invoice_id]
                    opened.pop(invoice_id, None)

    def add(self, invoices: Iterable[Invoice]) -> None:
        """Add invoices as parsed now; ``_Doubt`` if an id is another's (the whole
        file tells which one is renamed)."""
        digests, owners, opened = self.invoices, self.owners, self.open
        for invoice in invoices:
            if invoice.id in digests:
                raise _Doubt
            digests[invoice.id] = record_digest(invoice)
            owners[invoice.id] = invoice.customer_id
            if invoice.open_amount:
                opened[invoice.id] = invoice.open_amount


class _FecSnapshot:
    """The ``Snapshot`` of a FEC read by customer (``_Accounts``): the records of
    the lines parsed for it, and those of the other lines parsed when asked for
    (the records are not kept from one read to the next: a daemon would keep
    100k objects more for the cyclic collector to walk)."""

    def __init__(
        self,
        context: str,
        accounts: _Accounts,
        customers: Iterable[Customer],
        parsed: Ledger,
        parse: Callable[[Sequence[str]], Ledger],
    ) -> None:
        self.context = context
        self.customers: Mapping[str, str] = accounts.customers
        self.invoices: Mapping[str, str] = accounts.invoices
        self.invoice_owners: Mapping[str, str] = accounts.owners
        self.reminders: Mapping[str, str] = {}
        self.reminder_owners: Mapping[str, str] = {}
        self._accounts, self._parse = accounts, parse
        self._customers = {c.id: c for c in customers}
        self._invoices = {i.id: i for i in parsed.invoices}

    def records(
        self, customers: Collection[str], invoices: Collection[str], reminders: Collection[str]
    ) -> Records:
        accounts, have = self._accounts, self._invoices
        kinds, groups = accounts.kinds, accounts.groups
        wanted: dict[str, set[str]] = {}
        for k in invoices:
            if k not in have:
                wanted.setdefault(accounts.owners[k], set()).add(k)
        lines: list[str] = []
        for customer, ids in wanted.items():
            for piece_lines in accounts.pieces(groups[customer]):
                pieces = {kinds[line][1] for line in piece_lines}  # type: ignore[index]
                if any(f"{customer}/{p}" in ids or f"{customer}/{p}/excess" in ids for p in pieces):
                    lines += piece_lines
        if lines:
            have.update((i.id, i) for i in self._parse(lines).invoices)
        people: list[Customer] = []
        for k in customers:
            record = self._customers.get(k) or customer_record(k, groups[k], kinds)
            assert record is not None  # a customer of the snapshot
            people.append(record)
        return Records(people, [have[k] for k in invoices], [])


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
        self._by_customer = not any(a.startswith("70") or "70".startswith(a) for a in self.accounts)
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

        snapshot = self._read(data, new_cursor)
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
            self._read(data, cursor)
        return {invoice_id: self._open.get(invoice_id, _ZERO) for invoice_id in invoice_ids}

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        """A FEC is an export: nothing is written back."""
        return []

    # ------------------------------------------------------------------ helpers

    def _read(self, data: bytes, cursor: str) -> _FecSnapshot | LedgerSnapshot:
        """The snapshot of these bytes: by customer from the file read before when
        it can, else the whole file parsed (a ``SourceError`` if malformed)."""
        snapshot: _FecSnapshot | LedgerSnapshot
        try:
            if self._accounts is None:
                raise _Doubt
            snapshot = self._read_changes(data, self._accounts)
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

    def _read_changes(self, data: bytes, before: _Accounts) -> _FecSnapshot:
        """The file read by customer, from ``before`` (the file read last, which
        becomes this one); ``_Doubt`` or ``InputError`` when it has to be read in
        full."""
        text = decode_fec(data, self.encoding, str(self.path))
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()  # not a line of its own (parser._lines)
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        if lines[0] != before.header:
            raise _Doubt
        del lines[0]
        kinds = before.kinds
        found = list(map(kinds.get, lines))
        if None in found:
            # Lines not seen before, each checked on its own (their kinds kept).
            at = list(compress(range(len(found)), map(partial(is_, None), found)))
            fresh = [lines[n] for n in at]
            read_kinds(before.header, fresh, kinds, file=str(self.path), accounts=self.accounts)
            for n, line in zip(at, fresh, strict=True):
                found[n] = kinds[line]
        groups, sales = _group(lines, found)
        wanted = before.sales if self.sales_journals is not None else frozenset(sales)
        if wanted != before.sales:
            raise _Doubt
        # The customers whose lines changed: their sets of pieces that changed are
        # parsed again, their customer record rebuilt from the kinds of its lines.
        self._accounts = None  # ``before`` is changed below
        accounts, old = before, before.groups
        changed = [k for k, group in groups.items() if old.get(k) != group]
        changed += [k for k in old if k not in groups]
        again: list[str] = []
        customers: list[Customer] = []
        for customer in changed:
            new_sets = accounts.pieces(groups.get(customer, ()))
            old_sets = accounts.pieces(old.get(customer, ()))
            kept = {tuple(piece_lines) for piece_lines in new_sets}
            for piece_lines in old_sets:
                if tuple(piece_lines) not in kept:
                    accounts.forget(customer, piece_lines)
            known = {tuple(piece_lines) for piece_lines in old_sets}
            for piece_lines in new_sets:
                if tuple(piece_lines) not in known:
                    again += piece_lines
            record = customer_record(customer, groups.get(customer, ()), kinds)
            if record is None:
                accounts.customers.pop(customer, None)
            else:
                accounts.customers[customer] = record_digest(record)
                customers.append(record)
        accounts.groups = groups
        parsed, renamed = self._parse_lines(accounts, again)
        if renamed:
            raise _Doubt
        accounts.add(parsed.invoices)
        if len(kinds) <= _STALE_LINES * len(lines) + 1000:
            self._accounts = accounts
        self._open = accounts.open
        return _FecSnapshot(
            self._context,
            accounts,
            customers,
            parsed,
            lambda lines: self._parse_lines(accounts, lines)[0],
        )

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
