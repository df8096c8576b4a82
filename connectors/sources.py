"""What the sync daemon pulls from and pushes back to: the ``Source`` protocol.

A source is one accounting system (or file) of one company.  The runner
(DESIGN.md section 10, docs/daemon.md) calls:

* ``pull(cursor)``: the changes since ``cursor`` (``None`` on the first run),
  as a ``Changes`` carrying the next cursor.  The runner upserts them and saves
  the new cursor in one transaction, so a failed pull or upsert leaves both
  where they were and the same pull is simply asked again.  A source never
  stores its cursor itself: the cursor it is given is the truth.
* ``refresh(invoice_ids)``: just before a reminder goes out, the current open
  amount of each listed invoice; ``None`` when the source cannot answer
  cheaply (the runner then pulls and reads the store).
* ``push(flags)``: writes reminder levels, dispute and escalation flags back
  into the source, and returns the flags actually written (file sources write
  nothing and return ``[]``).

A full snapshot may come with a ``Snapshot``: a digest of each of its records,
so that the runner upserts, deletes and plans only what changed since the last
snapshot (the digests of which the store keeps), and the records themselves
decoded only for those (docs/daemon.md, "Snapshots").

Errors: a source raises ``SourceError`` with a ``kind`` that tells the runner
what to do (after Airbyte's failure types, STYLE.md section 4):

* ``config``: the settings are wrong (missing file, bad setting); stop this
  company's source and tell the user what to fix;
* ``transient``: try again later (file being rewritten, network), honouring
  ``retry_after`` when the source knows it;
* ``data``: the source's data is malformed (a bad ledger or FEC file); the
  message names the file, the record and the field.

``build_source(kind, settings, company=...)`` makes a source from the daemon
config's ``[[companies.sources]]``-style settings; see ``SOURCE_KINDS``.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    NamedTuple,
    NoReturn,
    Protocol,
    TypeVar,
    overload,
    runtime_checkable,
)

from pydantic import SecretStr

from core.model import Customer, Invoice, Ledger, Reminder

if TYPE_CHECKING:
    from connectors.demo.source import DemoSource
    from connectors.fec.source import FecSource
    from connectors.jsonfile.source import JsonFileSource
    from connectors.pennylane.source import PennylaneSource
    from connectors.sage.source import Sage100Source

__all__ = [
    "FLAG_KINDS",
    "SOURCE_KINDS",
    "Changes",
    "Deferred",
    "ErrorKind",
    "Flag",
    "FlagKind",
    "FlagValue",
    "LedgerSnapshot",
    "Records",
    "Snapshot",
    "Source",
    "SourceError",
    "build_source",
    "read_snapshot",
    "record_digest",
]

FlagKind = Literal["reminder_level", "dispute", "escalated"]
FLAG_KINDS: tuple[str, ...] = ("reminder_level", "dispute", "escalated")
FlagValue = str | int | bool | None
ErrorKind = Literal["config", "transient", "data"]
ERROR_KINDS: tuple[str, ...] = ("config", "transient", "data")

T = TypeVar("T")


class Records(NamedTuple):
    """Some records of a snapshot, decoded."""

    customers: list[Customer]
    invoices: list[Invoice]
    reminders: list[Reminder]


class Snapshot(Protocol):
    """A full snapshot described record by record: the runner compares each digest
    with the one the store kept from the last snapshot and asks for the records
    that differ.  Two records with the same digest (and the same ``context``) are
    the same record; a digest is any text up to 64 characters.

    ``context`` is what every record's meaning depends on (the format, the
    ledger's currency, the source's reading options): when it changes, every
    record counts as changed.  ``customers``, ``invoices`` and ``reminders`` (by
    journal key) map each record to its digest; ``invoice_owners`` and
    ``reminder_owners``, each invoice and journal entry to its customer.
    """

    @property
    def context(self) -> str: ...
    @property
    def customers(self) -> Mapping[str, str]: ...
    @property
    def invoices(self) -> Mapping[str, str]: ...
    @property
    def reminders(self) -> Mapping[str, str]: ...
    @property
    def invoice_owners(self) -> Mapping[str, str]: ...
    @property
    def reminder_owners(self) -> Mapping[str, str]: ...

    def records(
        self, customers: Collection[str], invoices: Collection[str], reminders: Collection[str]
    ) -> Records:
        """The records with these ids (journal keys for reminders), all in the snapshot,
        in the order asked; a ``SourceError`` (``data``) if one of them is malformed."""
        ...


@dataclass(frozen=True, slots=True)
class Changes:
    """What a pull brings: records to upsert, invoices to delete, and the next cursor.

    ``full`` means this is everything the source has: invoices the store holds
    for this source and that are absent from ``invoices`` are gone from the
    source and are to be deleted (``deleted_invoice_ids`` is then empty).
    An empty ``Changes`` with the cursor it was given back means "nothing new".
    """

    customers: Sequence[Customer] = ()
    invoices: Sequence[Invoice] = ()
    reminders: Sequence[Reminder] = ()
    deleted_invoice_ids: Sequence[str] = ()
    cursor: str | None = None
    full: bool = False
    # With ``full``: the snapshot's records by digest (see ``Snapshot``).
    snapshot: Snapshot | None = None

    @property
    def is_empty(self) -> bool:
        """Nothing to upsert or delete (a full snapshot is never empty: it may delete all)."""
        return not (
            self.full
            or self.customers
            or self.invoices
            or self.reminders
            or self.deleted_invoice_ids
        )


class Deferred(Sequence[T]):
    """A sequence built on first use: the records of a snapshot whose runner only
    needs the digests and a few records (``Snapshot``) are decoded for whoever
    reads them all."""

    def __init__(self, build: Callable[[], Sequence[T]]) -> None:
        self._build: Callable[[], Sequence[T]] | None = build
        self._items: Sequence[T] = ()

    def _get(self) -> Sequence[T]:
        if self._build is not None:
            self._items, self._build = self._build(), None
        return self._items

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator[T]:
        return iter(self._get())

    def __repr__(self) -> str:
        return "Deferred(...)" if self._build is not None else f"Deferred({self._items!r})"


def _digest(fields: tuple[Any, ...]) -> str:
    return hashlib.blake2b(repr(fields).encode(), digest_size=16).hexdigest()


def record_digest(record: Customer | Invoice | Reminder) -> str:
    """The digest of a decoded record: every field the store keeps, in a canonical
    form (tags sorted), so that two records with the same digest are stored alike."""
    if isinstance(record, Customer):
        c = record
        return _digest(
            (
                "c",
                c.id,
                c.name,
                c.kind,
                tuple(c.emails),
                c.phone,
                c.language,
                tuple(sorted(c.tags)),
                bool(c.excluded),
                c.plan,
                c.credit_limit,
                c.created,
            )
        )
    if isinstance(record, Invoice):
        i, d = record, record.dispute
        return _digest(
            (
                "i",
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
                None if d is None else (d.reason, d.opened, d.note, d.closed),
                i.promise_date,
                bool(i.escalated),
                bool(i.factored),
            )
        )
    r = record
    lines = tuple((line.invoice_id, line.step) for line in r.invoices)
    return _digest(("r", r.key, r.customer_id, r.date, r.plan, r.channel, lines))


class LedgerSnapshot:
    """The ``Snapshot`` of records already decoded (a FEC file, a ledger): digests
    computed from the records' fields."""

    def __init__(self, ledger: Ledger, context: str) -> None:
        self.context = f"ledger/1:{context}"
        self._ledger = ledger
        self._customers = {c.id: c for c in ledger.customers}
        self._invoices = {i.id: i for i in ledger.invoices}
        self._reminders = {r.key: r for r in ledger.reminders}
        self.customers = {k: record_digest(c) for k, c in self._customers.items()}
        self.invoices = {k: record_digest(i) for k, i in self._invoices.items()}
        self.reminders = {k: record_digest(r) for k, r in self._reminders.items()}
        self.invoice_owners = {k: i.customer_id for k, i in self._invoices.items()}
        self.reminder_owners = {k: r.customer_id for k, r in self._reminders.items()}

    def ledger(self) -> Ledger:
        return self._ledger

    def records(
        self, customers: Collection[str], invoices: Collection[str], reminders: Collection[str]
    ) -> Records:
        return Records(
            [self._customers[k] for k in customers],
            [self._invoices[k] for k in invoices],
            [self._reminders[k] for k in reminders],
        )


@dataclass(frozen=True, slots=True)
class Flag:
    """One piece of collection state to write back into the source.

    ``ref`` is an invoice id (``reminder_level``, ``dispute``, ``escalated``)
    or a customer id (a customer-level ``reminder_level``).  ``value``: the
    reminder step reached (int), the dispute reason (str; ``None`` when the
    dispute is closed), or whether the invoice is escalated (bool).  ``date``
    is the day the state was reached.
    """

    kind: FlagKind
    ref: str
    value: FlagValue
    date: date

    def __post_init__(self) -> None:
        if self.kind not in FLAG_KINDS:
            raise ValueError(f"unknown flag kind {self.kind!r}: expected one of {FLAG_KINDS}")
        if not self.ref:
            raise ValueError("a flag needs the id of the invoice or customer it is about")


class SourceError(Exception):
    """A source failed; ``kind`` says what the runner does about it (see the module docstring).

    The message says what to fix and never carries a secret.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        source: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}: expected one of {ERROR_KINDS}")
        super().__init__(message)
        self.message = message
        self.kind: ErrorKind = kind
        self.source = source
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind == "transient"

    def __str__(self) -> str:
        return f"source '{self.source}': {self.message}" if self.source else self.message


@runtime_checkable
class Source(Protocol):
    """One accounting system (or file) of one company; see the module docstring."""

    name: str

    def pull(self, cursor: str | None) -> Changes:
        """The changes since ``cursor`` (``None``: from scratch) and the next cursor."""
        ...

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal] | None:
        """Current open amounts of these invoices, or ``None`` if the source cannot tell cheaply.

        Every asked id is in the answer: an invoice the source no longer has
        maps to zero (there is nothing left to ask the customer for).
        """
        ...

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        """Write these flags into the source; return the ones actually written."""
        ...


# --------------------------------------------------------------------------- files


def read_snapshot(path: Path, *, source: str) -> tuple[bytes, os.stat_result]:
    """The bytes of a source file and its status as of that read, or a ``SourceError``.

    A missing or unreadable file is a ``config`` error (the path is wrong);
    a file rewritten while it was being read is ``transient`` (read it again
    next time).
    """
    try:
        with path.open("rb") as handle:
            before = os.fstat(handle.fileno())
            data = handle.read()
            after = os.fstat(handle.fileno())
    except FileNotFoundError:
        raise SourceError(
            f"file not found: {path} (check the source's 'path' setting)",
            kind="config",
            source=source,
        ) from None
    except IsADirectoryError:
        raise SourceError(
            f"{path} is a folder, not a file (check the source's 'path' setting)",
            kind="config",
            source=source,
        ) from None
    except PermissionError:
        raise SourceError(
            f"cannot read {path}: permission denied (let the daemon's user read it)",
            kind="config",
            source=source,
        ) from None
    except OSError as error:
        raise SourceError(
            f"cannot read {path}: {error.strerror or error}", kind="transient", source=source
        ) from error
    if (before.st_mtime_ns, before.st_size) != (after.st_mtime_ns, after.st_size) or len(
        data
    ) != after.st_size:
        raise SourceError(
            f"{path} changed while it was being read; it will be read again",
            kind="transient",
            source=source,
        )
    return data, after


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- registry


class _Settings:
    """Reads one source's settings, each problem a ``config`` error naming the setting."""

    def __init__(self, kind: str, settings: Mapping[str, Any], company: str, allowed: set[str]):
        self.kind = kind
        self.settings = settings
        self.company = company
        unknown = sorted(str(key) for key in settings if key not in allowed | {"kind"})
        if unknown:
            self.fail(
                unknown[0],
                f"unknown setting (a '{kind}' source takes: {', '.join(sorted(allowed))})",
            )

    def fail(self, key: str, message: str) -> NoReturn:
        raise SourceError(
            f"company '{self.company}', source '{self.kind}', setting '{key}': {message}",
            kind="config",
            source=self.kind,
        )

    def path(self, key: str) -> Path:
        value = self.settings.get(key)
        if value is None:
            self.fail(key, "is required (the path of the file to read)")
        if not isinstance(value, str | os.PathLike) or not os.fspath(value):
            self.fail(key, f"expected a file path, got {value!r}")
        return Path(value)

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        value = self.settings.get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(key, f"expected a whole number, got {value!r}")
        if not low <= value <= high:
            self.fail(key, f"expected a number from {low} to {high}, got {value}")
        return int(value)

    def day(self, key: str) -> date | None:
        value = self.settings.get(key)
        if value is None or type(value) is date:
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.fail(key, f"expected a date YYYY-MM-DD, got {value!r}")

    def text(self, key: str) -> str | None:
        value = self.settings.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            self.fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.settings.get(key)
        if value is None:
            return None
        if (
            isinstance(value, str)
            or not isinstance(value, Sequence)
            or not all(isinstance(v, str) and v for v in value)
        ):
            self.fail(key, f"expected a list of non-empty strings, got {value!r}")
        return tuple(value)


def _jsonfile(settings: Mapping[str, Any], company: str) -> JsonFileSource:
    from connectors.jsonfile.source import JsonFileSource

    read = _Settings("jsonfile", settings, company, {"path"})
    return JsonFileSource(read.path("path"))


def _fec(settings: Mapping[str, Any], company: str) -> FecSource:
    import codecs

    from connectors.fec.source import FecSource

    read = _Settings(
        "fec",
        settings,
        company,
        {
            "path",
            "default_payment_days",
            "encoding",
            "sales_journals",
            "accounts",
            "account_prefix",
        },
    )
    path = read.path("path")
    days = read.integer("default_payment_days", 30, low=0, high=366)
    encoding = read.text("encoding")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            read.fail("encoding", f"unknown text encoding {encoding!r} (try 'utf-8' or 'cp1252')")
    accounts = read.strings("accounts")
    prefix = read.text("account_prefix")
    if prefix is not None:
        if accounts is not None:
            read.fail("account_prefix", "give either 'accounts' or 'account_prefix', not both")
        accounts = (prefix,)
    return FecSource(
        path,
        days,
        encoding=encoding,
        sales_journals=read.strings("sales_journals"),
        accounts=accounts if accounts is not None else ("411",),
    )


def _demo(settings: Mapping[str, Any], company: str) -> DemoSource:
    from connectors.demo.source import DemoSource

    read = _Settings("demo", settings, company, {"seed", "customers", "invoices", "start", "today"})
    # Two demo companies look different unless told otherwise; the seed stays
    # the same from one run to the next (crc32 does not depend on PYTHONHASHSEED).
    seed = read.integer("seed", zlib.crc32(company.encode()), low=0, high=2**63 - 1)
    customers = read.integer("customers", 300, low=1, high=100_000)
    invoices = read.integer("invoices", 5000, low=0, high=1_000_000)
    today = read.day("today")
    clock: Callable[[], date] = (lambda: today) if today is not None else date.today
    # Without a configured start, the simulation starts on the day the daemon
    # starts; set `start` to keep one simulation across restarts.
    start = read.day("start") or clock()
    if today is not None and start > today:
        read.fail("start", f"the simulation starts {start}, after 'today' ({today})")
    return DemoSource(seed, customers, invoices, start, clock=clock)


def _pennylane(settings: Mapping[str, Any], company: str) -> PennylaneSource:
    from connectors.pennylane.client import DEFAULT_BASE_URL, PennylaneClient
    from connectors.pennylane.source import PennylaneSource

    read = _Settings(
        "pennylane",
        settings,
        company,
        {
            "base_url",
            "token",
            "token_env",
            "token_file",
            "category_group",
            "levels",
            "contacts",
            "native_reminders_off",
            "timeout",
        },
    )
    token = settings.get("token")
    # The daemon config hands the token over as a SecretStr (connectors.settings).
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    if not isinstance(secret, str) or not secret:
        read.fail(
            "token_env",
            "Pennylane needs an API token: name the environment variable that holds it with "
            "token_env, or a file only its owner can read (mode 0600) with token_file",
        )
    timeout = settings.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        read.fail("timeout", f"expected a number of seconds, got {timeout!r}")
    contacts = settings.get("contacts", True)
    if not isinstance(contacts, bool):
        read.fail("contacts", f"expected true or false, got {contacts!r}")
    client = PennylaneClient(
        secret, read.text("base_url") or DEFAULT_BASE_URL, timeout=float(timeout)
    )
    return PennylaneSource(
        client,
        category_group=read.text("category_group") or "Relance",
        levels=read.integer("levels", 4, low=1, high=20),
        contacts=contacts,
    )


def _sage100(settings: Mapping[str, Any], company: str) -> Sage100Source:
    from connectors.sage.build import sage_source

    return sage_source(settings, company)


_BUILDERS: dict[str, Callable[[Mapping[str, Any], str], Source]] = {
    "jsonfile": _jsonfile,
    "demo": _demo,
    "fec": _fec,
    "pennylane": _pennylane,
    "sage100": _sage100,
}
SOURCE_KINDS: tuple[str, ...] = tuple(_BUILDERS)


def build_source(kind: str, settings: Mapping[str, Any], *, company: str) -> Source:
    """The source of this kind, configured by ``settings``; a ``config`` ``SourceError`` otherwise.

    Settings by kind (a ``kind`` key in ``settings`` is ignored):

    * ``jsonfile``: ``path`` (a ``relance.ledger/1`` file).
    * ``fec``: ``path``; ``default_payment_days`` (30); ``encoding`` (UTF-8,
      else Windows-1252); ``sales_journals`` (found from sales accounts 70x);
      ``accounts`` (customer account prefixes, ``["411"]``) or ``account_prefix``
      (one prefix).
    * ``pennylane``: ``token`` (the API token, a ``SecretStr`` or text; the
      daemon config reads it from ``token_env``/``token_file``), ``base_url``,
      ``category_group`` ("Relance"), ``levels`` (4), ``contacts`` (true),
      ``timeout`` (30 s); see docs/pennylane.md.
    * ``demo``: ``seed`` (from the company name), ``customers`` (300),
      ``invoices`` (5000), ``start`` (the simulation's first day; the day the
      daemon starts), ``today`` (pins the simulated day; the clock otherwise).
    * ``sage100``: the keys of ``connectors.settings.Sage100Source`` (``url``,
      ``password`` as read at load, ``accounts``, ``write_back``...; docs/sage.md).
    """
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise SourceError(
            f"company '{company}': unknown source kind {kind!r} "
            f"(expected one of: {', '.join(SOURCE_KINDS)})",
            kind="config",
        )
    if not isinstance(settings, Mapping):
        raise SourceError(
            f"company '{company}', source '{kind}': expected a table of settings, got {settings!r}",
            kind="config",
            source=kind,
        )
    return builder(settings, company)
