"""The ``jsonfile`` source: a ``relance.ledger/1`` file (DESIGN.md section 9).

Whatever writes the file (an export script, another tool) owns it; each pull
looks at it and, when it changed, hands the whole ledger over as a full
snapshot (invoices no longer in it are deleted from the store).

The cursor is ``<sha256>:<size>:<mtime_ns>``.  A file whose size and
modification time match the cursor is not read again, as make and rsync do.
A file modified less than two seconds before it was read could be rewritten
within the same clock tick without its time changing (git's "racy" files):
its cursor records mtime 0, so the next pull hashes the file instead of
trusting its time.  Content decides: a file rewritten with the same bytes
gives no changes.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from connectors.sources import Changes, Flag, SourceError, read_snapshot, sha256_hex
from core.errors import InputError
from core.ledger_json import decode_ledger
from core.model import Ledger

__all__ = ["JsonFileSource"]

_ZERO = Decimal("0.00")
# A file modified this recently may change again without its mtime moving.
_RACY_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class _Stamp:
    """What a cursor says about the file: its content hash, size and (trusted) mtime."""

    digest: str
    size: int
    mtime_ns: int  # 0: do not trust the time, hash the file

    def __str__(self) -> str:
        return f"{self.digest}:{self.size}:{self.mtime_ns}"

    @staticmethod
    def parse(cursor: str | None) -> _Stamp | None:
        """The stamp of a cursor this source wrote; ``None`` for anything else."""
        if not cursor:
            return None
        parts = cursor.split(":")
        if len(parts) != 3 or len(parts[0]) != 64:
            return None
        try:
            int(parts[0], 16)
            return _Stamp(parts[0], int(parts[1]), int(parts[2]))
        except ValueError:
            return None

    def matches(self, stat: os.stat_result) -> bool:
        return self.mtime_ns != 0 and (stat.st_size, stat.st_mtime_ns) == (
            self.size,
            self.mtime_ns,
        )


class JsonFileSource:
    """A ``relance.ledger/1`` file: a full snapshot whenever it changes; nothing written back."""

    name: str = "jsonfile"

    def __init__(self, path: str | os.PathLike[str], *, now_ns: Callable[[], int] = time.time_ns):
        self.path = Path(path)
        self._now_ns = now_ns
        # The open amounts of the file last decoded, for refresh().
        self._stamp: _Stamp | None = None
        self._open: dict[str, Decimal] = {}

    def __repr__(self) -> str:
        return f"JsonFileSource({str(self.path)!r})"

    def pull(self, cursor: str | None) -> Changes:
        """Nothing when the file is as the cursor saw it; else the whole ledger (``full``)."""
        known = _Stamp.parse(cursor)
        if known is not None and self._unchanged(known):
            return Changes(cursor=cursor)
        data, stat = read_snapshot(self.path, source=self.name)
        stamp = self._stamp_of(data, stat)
        if known is not None and known.digest == stamp.digest:
            return Changes(cursor=str(stamp))
        ledger = self._decode(data, stamp)
        return Changes(
            customers=ledger.customers,
            invoices=ledger.invoices,
            reminders=ledger.reminders,
            cursor=str(stamp),
            full=True,
        )

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal]:
        """Open amounts as the file says now; an invoice no longer in it is owed nothing."""
        if self._stamp is None or not self._unchanged(self._stamp):
            data, stat = read_snapshot(self.path, source=self.name)
            stamp = self._stamp_of(data, stat)
            if self._stamp is None or self._stamp.digest != stamp.digest:
                self._decode(data, stamp)
            else:
                self._stamp = stamp
        return {invoice_id: self._open.get(invoice_id, _ZERO) for invoice_id in invoice_ids}

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        """A file is read-only for Relance: nothing is written back."""
        return []

    # ------------------------------------------------------------------ helpers

    def _unchanged(self, stamp: _Stamp) -> bool:
        try:
            return stamp.matches(os.stat(self.path))
        except OSError:
            return False  # read_snapshot says what is wrong

    def _stamp_of(self, data: bytes, stat: os.stat_result) -> _Stamp:
        racy = self._now_ns() - stat.st_mtime_ns < _RACY_NS
        return _Stamp(sha256_hex(data), stat.st_size, 0 if racy else stat.st_mtime_ns)

    def _decode(self, data: bytes, stamp: _Stamp) -> Ledger:
        # The ledger holds no reference cycles; the collector would only walk it
        # again and again while it grows (as connectors.inputs.open_ledger does).
        collecting = gc.isenabled()
        gc.disable()
        try:
            ledger = decode_ledger(data)
        except InputError as error:
            raise SourceError(
                f"{error.located(str(self.path))} (fix the file; it is read again on the next run)",
                kind="data",
                source=self.name,
            ) from error
        finally:
            if collecting:
                gc.enable()
        self._stamp = stamp
        self._open = {inv.id: inv.open_amount for inv in ledger.invoices if inv.open_amount}
        return ledger
