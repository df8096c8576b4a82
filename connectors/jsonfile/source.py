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

A changed file comes with a ``Snapshot`` whose digests are hashes of each
record's bytes as the file spells them (``_FileSnapshot``): splitting the
file into records is a fraction of decoding it, and the runner then asks for
the few records whose digest changed, which are the only ones decoded.  A
record whose bytes the source has already decoded without error (in this
process) is not checked again; the rules between records (unique ids, known
customers) are checked on the ids of every record.  Any doubt (a rule broken,
a record that does not decode) decodes the whole file, whose error message
names the record and field.  docs/daemon.md, "Snapshots".
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from connectors.sources import (
    Changes,
    Deferred,
    Flag,
    LedgerSnapshot,
    Records,
    SourceError,
    read_snapshot,
    sha256_hex,
)
from core.collector import collector_paused
from core.errors import InputError
from core.ledger import CURRENCY_CODE, LEDGER_FORMAT
from core.ledger_json import decode_ledger
from core.model import Customer, Invoice, Ledger, Reminder

__all__ = ["JsonFileSource"]

_ZERO = Decimal("0.00")
# A file modified this recently may change again without its mtime moving.
_RACY_NS = 2_000_000_000
# Part of every record digest's context: a new way of reading records changes it.
_READING = "jsonfile-bytes/1"


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


# The file split into records: each record's bytes, and the few fields that the
# rules between records need.  Unknown top-level fields are refused, as the
# ledger decoder does; unknown fields in a record are the decoder's to refuse.
class _Records(msgspec.Struct, forbid_unknown_fields=True):
    format: str | None = None
    currency: str = "EUR"
    customers: list[msgspec.Raw] | None = None
    invoices: list[msgspec.Raw] | None = None
    reminders: list[msgspec.Raw] | None = None


class _CustomerId(msgspec.Struct, gc=False):
    id: str


class _CustomerKey(msgspec.Struct, gc=False):
    """A customer record's id, as its own customer (for ``_ids_after``)."""

    id: str

    @property
    def customer_id(self) -> str:
        return self.id


class _InvoiceIds(msgspec.Struct, gc=False):
    id: str
    customer_id: str


class _ReminderIds(msgspec.Struct, gc=False):
    key: str
    customer_id: str


class _ReminderKey(msgspec.Struct, gc=False):
    """A journal entry's key as its id (for ``_ids_after``)."""

    id: str = msgspec.field(name="key")
    customer_id: str


class _Ids(msgspec.Struct):
    customers: list[_CustomerId] | None = None
    invoices: list[_InvoiceIds] | None = None
    reminders: list[_ReminderIds] | None = None


_RECORDS = msgspec.json.Decoder(_Records)
_IDS = msgspec.json.Decoder(_Ids)
_KEYS: tuple[msgspec.json.Decoder[Any], ...] = (
    msgspec.json.Decoder(_CustomerKey),
    msgspec.json.Decoder(_InvoiceIds),
    msgspec.json.Decoder(_ReminderKey),
)


class _Doubt(Exception):
    """The records alone cannot say the file is valid: decode all of it."""


def _digest(raw: msgspec.Raw) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def _digests(
    raws: Sequence[msgspec.Raw],
    old_raws: Sequence[msgspec.Raw],
    old_digests: Sequence[str],
    fresh: list[int],
) -> list[str]:
    """The digest of each record; a record with the same bytes at the same place in
    the file read before keeps its digest, the others (their places added to
    ``fresh``) are hashed."""
    out: list[str] = []
    append, known = out.append, len(old_raws)
    for n, raw in enumerate(raws):
        if n < known and raw == old_raws[n]:
            append(old_digests[n])
        else:
            append(_digest(raw))
            fresh.append(n)
    return out


def _digest_all(raws: Sequence[msgspec.Raw]) -> list[str]:
    return list(map(_digest, raws))


def _ids(data: bytes) -> tuple[tuple[list[str], ...], tuple[list[str], ...]]:
    """The id of each record of the file (journal key for reminders), and the customer
    of each (the customer's own id for a customer)."""
    try:
        ids = _IDS.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise _Doubt from error
    customers = [c.id for c in ids.customers or ()]
    return (
        customers,
        [i.id for i in ids.invoices or ()],
        [r.key for r in ids.reminders or ()],
    ), (
        customers,
        [i.customer_id for i in ids.invoices or ()],
        [r.customer_id for r in ids.reminders or ()],
    )


class _FileSnapshot:
    """A ``Snapshot`` of a ledger file, record digests from the record bytes.
    ``previous``: the snapshot of the file as last read and checked, if any."""

    # Per kind (customers, invoices, reminders): by id, the digests and the customers.
    _maps: list[list[dict[str, str]]]

    def __init__(
        self, data: bytes, decode_all: Callable[[], Ledger], previous: _FileSnapshot | None
    ) -> None:
        try:
            split = _RECORDS.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as error:
            raise _Doubt from error
        if split.format != LEDGER_FORMAT or not CURRENCY_CODE.fullmatch(split.currency):
            raise _Doubt
        self._decode_all = decode_all
        self._head = (
            b'{"format":'
            + msgspec.json.encode(split.format)
            + b',"currency":'
            + msgspec.json.encode(split.currency)
        )
        self.context = f"{_READING}:{split.format}:{split.currency}"
        if previous is not None and previous.context != self.context:
            previous = None
        self._previous = previous
        self._raw: tuple[list[msgspec.Raw], ...] = (
            split.customers or [],
            split.invoices or [],
            split.reminders or [],
        )
        self._fresh: tuple[list[int], ...] = ([], [], [])
        if previous is None:
            self._digest_lists = tuple(map(_digest_all, self._raw))
            self._ids, self._owners = _ids(data)
        else:
            self._digest_lists = tuple(
                _digests(raws, previous._raw[n], previous._digest_lists[n], self._fresh[n])
                for n, raws in enumerate(self._raw)
            )
            self._ids, self._owners = previous._ids_after(self._raw, self._fresh)
        # By id: each record's digest, and each invoice's and reminder's customer; the
        # maps of a kind of records whose bytes all stayed are the previous ones.
        maps: list[list[dict[str, str]]] = []
        for n, ids in enumerate(self._ids):
            if previous is not None and not self._fresh[n] and len(ids) == len(previous._ids[n]):
                maps.append(previous._maps[n])
            else:
                maps.append(
                    [
                        dict(zip(ids, self._digest_lists[n], strict=True)),
                        dict(zip(ids, self._owners[n], strict=True)),
                    ]
                )
        self._maps = maps
        self.customers = maps[0][0]
        self.invoices, self.invoice_owners = maps[1]
        self.reminders, self.reminder_owners = maps[2]
        # The rules between records (the decoder checks them too, with the message).
        known = self.customers
        if (
            any(len(m[0]) != len(ids) for m, ids in zip(maps, self._ids, strict=True))
            or not known.keys() >= set(self._owners[1])
            or not known.keys() >= set(self._owners[2])
        ):
            raise _Doubt
        self._positions: dict[str, dict[str, int]] | None = None
        # Records decoded already (by id), and the whole ledger if it was decoded.
        self._decoded: tuple[dict[str, Customer], dict[str, Invoice], dict[str, Reminder]] = (
            {},
            {},
            {},
        )
        self._ledger: Ledger | None = None

    def _ids_after(
        self, raws: tuple[list[msgspec.Raw], ...], fresh: tuple[list[int], ...]
    ) -> tuple[tuple[list[str], ...], tuple[list[str], ...]]:
        """The ids and customers of records that are these, this snapshot's at the
        places not ``fresh`` (same bytes), decoded at the others."""
        ids: list[list[str]] = []
        owners: list[list[str]] = []
        for n, records in enumerate(raws):
            size = len(records)
            kind_ids, kind_owners = self._ids[n][:size], self._owners[n][:size]
            missing = size - len(kind_ids)
            kind_ids += [""] * missing
            kind_owners += [""] * missing
            decoder = _KEYS[n]
            try:
                for p in fresh[n]:
                    key = decoder.decode(records[p])
                    kind_ids[p], kind_owners[p] = key.id, key.customer_id
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                raise _Doubt from error
            ids.append(kind_ids)
            owners.append(kind_owners)
        return tuple(ids), tuple(owners)

    def validate(self) -> None:
        """Decode every record whose bytes the previous snapshot (checked already) does
        not have, which raises the file's ``SourceError`` if one is malformed."""
        previous = self._previous
        if previous is None:
            self._use(self.ledger())
            return
        wanted: list[list[str]] = []
        olds: tuple[Mapping[str, str], ...] = (
            previous.customers,
            previous.invoices,
            previous.reminders,
        )
        for n, old in enumerate(olds):
            ids, digests = self._ids[n], self._digest_lists[n]
            wanted.append([ids[p] for p in self._fresh[n] if old.get(ids[p]) != digests[p]])
        self._decode(*wanted)
        self._previous = None  # not needed any more: let it go

    def ledger(self) -> Ledger:
        """Every record, in file order."""
        if self._ledger is None:
            self._ledger = self._decode_all()
        return self._ledger

    def records(
        self, customers: Collection[str], invoices: Collection[str], reminders: Collection[str]
    ) -> Records:
        with collector_paused():
            self._decode(customers, invoices, reminders)
        c, i, r = self._decoded
        found = Records(
            [c[k] for k in customers], [i[k] for k in invoices], [r[k] for k in reminders]
        )
        # Asked for once per pull: what was decoded is not kept beyond it.
        self.forget_decoded()
        return found

    def forget_decoded(self) -> None:
        """Keep the digests and bytes only (a snapshot kept for the next comparison)."""
        self._decoded = ({}, {}, {})
        self._ledger = None

    # ------------------------------------------------------------------ helpers

    def _use(self, ledger: Ledger) -> None:
        self._decoded = (
            {c.id: c for c in ledger.customers},
            {i.id: i for i in ledger.invoices},
            {r.key: r for r in ledger.reminders},
        )

    def _decode(
        self, customers: Collection[str], invoices: Collection[str], reminders: Collection[str]
    ) -> None:
        """Decode the records of these ids not decoded yet, as a ledger of their own
        (with the customers they refer to)."""
        have_c, have_i, have_r = self._decoded
        want_c = [k for k in customers if k not in have_c]
        want_i = [k for k in invoices if k not in have_i]
        want_r = [k for k in reminders if k not in have_r]
        if not (want_c or want_i or want_r):
            return
        if self._positions is None:
            self._positions = {
                kind: dict(zip(ids, range(len(ids)), strict=True))
                for kind, ids in zip(("customers", "invoices", "reminders"), self._ids, strict=True)
            }
        at = self._positions
        raw_c, raw_i, raw_r = self._raw
        needed = set(want_c)
        needed.update(self.invoice_owners[k] for k in want_i)
        needed.update(self.reminder_owners[k] for k in want_r)
        document = b"".join(
            (
                self._head,
                b',"customers":[',
                b",".join(raw_c[n] for n in sorted(at["customers"][k] for k in needed)),
                b'],"invoices":[',
                b",".join(raw_i[n] for n in sorted(at["invoices"][k] for k in want_i)),
                b'],"reminders":[',
                b",".join(raw_r[n] for n in sorted(at["reminders"][k] for k in want_r)),
                b"]}",
            )
        )
        try:
            part = decode_ledger(document)
        except InputError:
            # Decoding the whole file names the record and the field (or, should it
            # decode after all, gives the records).
            part = self.ledger()
        c, i, r = self._decoded
        c.update((x.id, x) for x in part.customers if x.id in needed)
        i.update((x.id, x) for x in part.invoices)
        r.update((x.key, x) for x in part.reminders)


class JsonFileSource:
    """A ``relance.ledger/1`` file: a full snapshot whenever it changes; nothing written back."""

    name: str = "jsonfile"

    def __init__(self, path: str | os.PathLike[str], *, now_ns: Callable[[], int] = time.time_ns):
        self.path = Path(path)
        self._now_ns = now_ns
        # The file as last read and checked: its stamp and records (refresh() and
        # the next pull's check start from it).
        self._stamp: _Stamp | None = None
        self._snapshot: _FileSnapshot | LedgerSnapshot | None = None

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
        snapshot = self._read(data, stamp)
        ledger = snapshot.ledger
        return Changes(
            customers=Deferred(lambda: ledger().customers),
            invoices=Deferred(lambda: ledger().invoices),
            reminders=Deferred(lambda: ledger().reminders),
            cursor=str(stamp),
            full=True,
            snapshot=snapshot,
        )

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal]:
        """Open amounts as the file says now; an invoice no longer in it is owed nothing."""
        if self._stamp is None or self._snapshot is None or not self._unchanged(self._stamp):
            data, stat = read_snapshot(self.path, source=self.name)
            stamp = self._stamp_of(data, stat)
            if self._stamp is None or self._stamp.digest != stamp.digest:
                self._read(data, stamp)
            else:
                self._stamp = stamp
        assert self._snapshot is not None
        snapshot = self._snapshot
        present = [k for k in invoice_ids if k in snapshot.invoices]
        found = {i.id: i.open_amount for i in snapshot.records((), present, ()).invoices}
        return {invoice_id: found.get(invoice_id) or _ZERO for invoice_id in invoice_ids}

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

    def _read(self, data: bytes, stamp: _Stamp) -> _FileSnapshot | LedgerSnapshot:
        """The snapshot of these bytes, checked (a ``SourceError`` if malformed)."""
        snapshot: _FileSnapshot | LedgerSnapshot
        previous = self._snapshot if isinstance(self._snapshot, _FileSnapshot) else None
        try:
            with collector_paused():
                snapshot = _FileSnapshot(data, lambda: self._decode(data), previous)
                snapshot.validate()
        except _Doubt:
            snapshot = LedgerSnapshot(self._decode(data), _READING)
        if isinstance(self._snapshot, _FileSnapshot):
            self._snapshot.forget_decoded()
        self._stamp, self._snapshot = stamp, snapshot
        return snapshot

    def _decode(self, data: bytes) -> Ledger:
        try:
            with collector_paused():
                return decode_ledger(data)
        except InputError as error:
            raise SourceError(
                f"{error.located(str(self.path))} (fix the file; it is read again on the next run)",
                kind="data",
                source=self.name,
            ) from error
