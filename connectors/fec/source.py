"""The ``fec`` source: a FEC file, re-read whenever it changes (``connectors.fec.parser``).

The cursor is ``<sha256 of the file>:<hash of the reading options>``: the
same file read with other options (payment terms, sales journals, accounts)
gives other invoices, so changing an option re-reads the file.  A changed
file gives a full snapshot, with the digest of each record it gives
(``LedgerSnapshot``: the runner then writes and plans only what changed);
an unchanged one, no changes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

from connectors.fec.parser import parse_fec_bytes
from connectors.sources import (
    Changes,
    Flag,
    LedgerSnapshot,
    SourceError,
    read_snapshot,
    sha256_hex,
)
from core.errors import InputError
from core.model import Ledger

__all__ = ["FecSource"]

_ZERO = Decimal("0.00")


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
        # The open amounts of the file last read, for refresh().
        self._cursor: str | None = None
        self._open: dict[str, Decimal] = {}

    def __repr__(self) -> str:
        return f"FecSource({str(self.path)!r}, {self.default_payment_days})"

    def pull(self, cursor: str | None) -> Changes:
        """Nothing when the file is the one the cursor saw; else all of it (``full``)."""
        data, _ = read_snapshot(self.path, source=self.name)
        new_cursor = f"{sha256_hex(data)}:{self._options}"
        if cursor == new_cursor:
            return Changes(cursor=cursor)
        ledger = self._parse(data, new_cursor)
        return Changes(
            customers=ledger.customers,
            invoices=ledger.invoices,
            cursor=new_cursor,
            full=True,
            snapshot=LedgerSnapshot(ledger, f"fec:{self._options}"),
        )

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal]:
        """Open amounts as the file says now; an invoice no longer in it is owed nothing."""
        data, _ = read_snapshot(self.path, source=self.name)
        cursor = f"{sha256_hex(data)}:{self._options}"
        if cursor != self._cursor:
            self._parse(data, cursor)
        return {invoice_id: self._open.get(invoice_id, _ZERO) for invoice_id in invoice_ids}

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        """A FEC is an export: nothing is written back."""
        return []

    def _parse(self, data: bytes, cursor: str) -> Ledger:
        try:
            ledger = parse_fec_bytes(
                data,
                file=str(self.path),
                default_payment_days=self.default_payment_days,
                encoding=self.encoding,
                sales_journals=self.sales_journals,
                accounts=self.accounts,
            )
        except InputError as error:
            raise SourceError(
                f"{error} (fix the export; it is read again on the next run)",
                kind="data",
                source=self.name,
            ) from error
        self._cursor = cursor
        self._open = {inv.id: inv.open_amount for inv in ledger.invoices if inv.open_amount}
        return ledger
