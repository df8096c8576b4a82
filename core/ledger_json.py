"""Decode a ``relance.ledger/1`` JSON file (bytes) straight into a ``Ledger``.

msgspec decodes the bytes into typed structs without building a tree of
dicts first: a million-invoice file decodes in a few seconds and in about a
third of the memory (docs/decisions.md, "Ledger loading").  The structs are
then checked for what types cannot say (amounts not negative, open amount
within the amount, currency codes) and turned into model objects.

The error messages users read come from one place, ``core.ledger``'s
validator: when decoding fails, the document is parsed again with the
standard library and that validator names the record and field.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from operator import attrgetter
from typing import Any, Literal

import msgspec

from core.errors import InputError
from core.index import NEVER_PAID, LedgerIndex, PaidSummary, keep
from core.ledger import CURRENCY_CODE, LEDGER_FORMAT, ledger_problems
from core.model import Customer, Dispute, Invoice, Ledger, Reminder, ReminderLine

_ZERO = Decimal("0.00")

ChannelName = Literal["email", "sms", "letter", "phone", "formal_notice", "escalation"]


class _Dispute(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    reason: str | None = None
    opened: date | None = None
    note: str | None = None
    closed: date | None = None


class _Customer(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    id: str
    name: str
    kind: Literal["company", "individual"] = "company"
    emails: list[str] | None = None
    phone: str | None = None
    language: str | None = None
    tags: list[str] | None = None
    excluded: bool | None = None
    plan: str | None = None
    credit_limit: Decimal | None = None
    created: date | None = None


class _Invoice(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    id: str
    customer_id: str
    issue_date: date
    due_date: date
    # Read as written and turned into Decimals in customer order (see _invoices).
    amount: str | int | float
    open_amount: str | int | float
    number: str | None = None
    kind: Literal["invoice", "credit_note"] = "invoice"
    currency: str | None = None
    paid_date: date | None = None
    dispute: _Dispute | None = None
    promise_date: date | None = None
    escalated: bool | None = None
    factored: bool | None = None


class _Line(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    id: str
    step: int


class _Reminder(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    customer_id: str
    date: date
    plan: str
    channel: ChannelName
    key: str
    invoices: list[_Line]


class _Ledger(msgspec.Struct, forbid_unknown_fields=True):
    format: str | None = None
    currency: str = "EUR"
    customers: list[_Customer] | None = None
    invoices: list[_Invoice] | None = None
    reminders: list[_Reminder] | None = None


_DECODER = msgspec.json.Decoder(_Ledger)


class _Invalid(Exception):
    """The decoded structs break a rule the precise validator will name."""


def decode_ledger(data: bytes) -> Ledger:
    """A validated ``Ledger`` from the bytes of a JSON file; ``InputError`` otherwise."""
    try:
        raw = _DECODER.decode(data)
        return _build(raw)
    except (
        msgspec.DecodeError,
        msgspec.ValidationError,
        UnicodeDecodeError,
        InvalidOperation,
        _Invalid,
    ) as error:
        raise _precise_error(data, error) from None


def _precise_error(data: bytes, error: Exception) -> InputError:
    """Name the first problem as core.ledger's validator words it."""
    try:
        document = json.loads(data)
    except UnicodeDecodeError as bad:
        return InputError(f"not UTF-8 text (byte {bad.start})")
    except json.JSONDecodeError as bad:
        return InputError(f"not valid JSON: {bad.msg} (line {bad.lineno}, column {bad.colno})")
    except (ValueError, RecursionError) as bad:
        return InputError(f"not valid JSON: {bad}")
    problems = ledger_problems(document)
    if problems:
        return problems[0]
    return InputError(str(error))


def _money_ok(value: Decimal | None) -> bool:
    return value is None or (value.is_finite() and value >= 0)


def _build(raw: _Ledger) -> Ledger:
    if raw.format != LEDGER_FORMAT or not CURRENCY_CODE.fullmatch(raw.currency):
        raise _Invalid
    ledger = Ledger(currency=raw.currency)
    ledger.customers = [_customer(c) for c in raw.customers or ()]
    # One slot per customer: its own id string (every record refers to the
    # customer through it, so later lookups compare by identity), its open
    # invoices and its paid summary, so an invoice touches one
    # object of its customer's while it is read.
    slots = {c.id: _Slot(c.id) for c in ledger.customers}
    ids = {c.id: c.id for c in ledger.customers}
    if len(slots) != len(ledger.customers):
        raise _Invalid  # duplicate customer ids
    index = LedgerIndex()
    items = raw.invoices or []
    raw.invoices = None
    currencies = {raw.currency: raw.currency}
    records = _invoices(items, raw.currency, currencies, slots, index)
    del items
    # Unique invoice ids, and each id's record for the journal join; C-level
    # passes over the million records instead of one dict insert per record in
    # the loop above.
    by_id = dict(zip(map(_record_id, records), records, strict=True))
    if len(by_id) != len(records):
        raise _Invalid  # duplicate invoice ids
    for slot in slots.values():
        if slot.open:
            index.open_by_customer[slot.id] = slot.open
        if slot.last:
            index.paid_summary[slot.id] = slot
    ledger.reminders = _reminders(raw.reminders or [], ids)
    raw.reminders = None
    index.add_reminders(ledger.reminders, by_id)
    del by_id
    # The day-independent parts of planning and KPIs, built while loading.
    index.candidates()
    index.open_sums()
    index.days_to_pay_after_first_reminder()
    build = _PaidInvoices(raw.currency, currencies)
    index.set_records(records, build)
    ledger.defer_invoices(len(records), partial(build.all, records, ids))
    keep(ledger, index)
    return ledger


_record_id = attrgetter("id")


def _customer(c: _Customer) -> Customer:
    if not c.id or not c.name or not _money_ok(c.credit_limit):
        raise _Invalid
    return Customer(
        id=c.id,
        name=c.name,
        kind=c.kind,
        emails=tuple(c.emails or ()),
        phone=c.phone,
        language=c.language,
        tags=frozenset(c.tags or ()),
        excluded=bool(c.excluded),
        plan=c.plan or None,
        credit_limit=c.credit_limit,
        created=c.created,
    )


def _money(value: str | int | float) -> Decimal:
    """An amount as written: "1200.00", or a JSON number (its shortest repr)."""
    return Decimal(value if type(value) is str else repr(value))


class _Slot(PaidSummary):
    __slots__ = ("id", "open")

    def __init__(self, customer_id: str) -> None:
        super().__init__()
        self.id = customer_id
        self.open: list[Invoice] = []


class _PaidInvoices:
    """Builds the invoices of records left unbuilt (fully paid, undisputed, an amount
    written as a string: see _invoices), with the ledger's shared currency strings."""

    def __init__(self, default_currency: str, currencies: dict[str, str]) -> None:
        self.default_currency = default_currency
        self.currencies = currencies

    def __call__(self, r: _Invoice, customer_id: str) -> Invoice:
        return Invoice(
            r.id,
            customer_id,
            r.number or r.id,
            "invoice",
            r.issue_date,
            r.due_date,
            _money(r.amount),
            _ZERO,
            self.currencies[r.currency or self.default_currency],
            r.paid_date,
            None,
            r.promise_date,
            bool(r.escalated),
            bool(r.factored),
        )

    def all(self, records: list[Invoice | _Invoice], ids: dict[str, str]) -> list[Invoice]:
        """Every invoice, in file order."""
        return [
            record if isinstance(record, Invoice) else self(record, ids[record.customer_id])
            for record in records
        ]


def _invoices(
    items: list[_Invoice],
    default_currency: str,
    currencies: dict[str, str],
    slots: dict[str, _Slot],
    index: LedgerIndex,
) -> list[Invoice | _Invoice]:
    """Each record, checked and added to the index's sums while it is in the
    processor's cache (visiting records in any other order costs a cache miss
    per field).  A fully paid, undisputed invoice only feeds sums (sales per day,
    paid amounts per (issue, paid) day, its customer's paid summary), so it is
    kept as the decoded record and built only if someone reads it
    (docs/decisions.md, "Paid invoices are not built"); the others become
    ``Invoice`` objects.  Returns the records in file order."""
    # One object per distinct date: a ledger has a few hundred dates but millions
    # of date fields, and shared objects stay in the processor's cache.
    dates: dict[date, date] = {}
    out: list[Invoice | _Invoice] = []
    append = out.append
    sales, paid_sums, disputed = index.sales_by_day, index.paid_by_days, index.disputed
    for r in items:
        slot = slots.get(r.customer_id)
        if slot is None or not r.id:
            raise _Invalid
        amount_text = r.amount
        if (
            r.open_amount == "0.00"
            and r.dispute is None
            and r.kind == "invoice"
            and type(amount_text) is str
            and (r.currency is None or r.currency in currencies)
        ):
            # Fully paid: sums only.  LedgerIndex.add_to_sums, inlined.
            amount = Decimal(amount_text)
            if not amount.is_finite() or amount < 0:
                raise _Invalid
            day = r.issue_date.toordinal()
            sales[day] = sales.get(day, _ZERO) + amount
            paid = r.paid_date
            if paid is None:
                key = (day, NEVER_PAID)
                paid_sums[key] = paid_sums.get(key, _ZERO) + amount
            else:
                paid_day = paid.toordinal()
                key = (day, paid_day)
                paid_sums[key] = paid_sums.get(key, _ZERO) + amount
                # PaidSummary.add, inlined.
                slot.weight += amount
                late = paid_day - r.due_date.toordinal()
                if late > 0:
                    slot.late_weighted += amount * late
                    slot.late += 1
                if paid_day < slot.first:
                    slot.first = paid_day
                if paid_day > slot.last:
                    slot.last = paid_day
            # The journal join reads a record's open amount (see add_reminders).
            r.open_amount = _ZERO  # type: ignore[assignment]
            append(r)
            continue
        inv = _invoice(r, slot.id, default_currency, currencies, dates)
        append(inv)
        open_amount = inv.open_amount
        if open_amount:
            slot.open.append(inv)
        if inv.dispute is not None:
            disputed.append(inv)
        if inv.kind == "invoice":
            amount = inv.amount
            day = inv.issue_date.toordinal()
            sales[day] = sales.get(day, _ZERO) + amount
            if not open_amount:
                paid = inv.paid_date
                paid_day = NEVER_PAID if paid is None else paid.toordinal()
                key = (day, paid_day)
                paid_sums[key] = paid_sums.get(key, _ZERO) + amount
                if paid is not None:
                    slot.add(amount, inv.due_date.toordinal(), paid_day)
    return out


def _invoice(
    r: _Invoice,
    customer_id: str,
    default_currency: str,
    currencies: dict[str, str],
    dates: dict[date, date],
) -> Invoice:
    """A checked ``Invoice`` from its record."""
    open_text = r.open_amount
    # Most invoices of a ledger are paid: one shared zero instead of a million.
    open_amount = _ZERO if open_text == "0.00" else _money(open_text)
    amount = _money(r.amount)
    currency = r.currency or default_currency
    shared = currencies.get(currency)
    if shared is None:
        if not CURRENCY_CODE.fullmatch(currency):
            raise _Invalid
        shared = currencies[currency] = currency
    if not amount.is_finite() or not open_amount.is_finite() or not 0 <= open_amount <= amount:
        raise _Invalid
    dispute = r.dispute
    paid, promise = r.paid_date, r.promise_date
    return Invoice(
        r.id,
        customer_id,
        r.number or r.id,
        r.kind,
        dates.setdefault(r.issue_date, r.issue_date),
        dates.setdefault(r.due_date, r.due_date),
        amount,
        open_amount or _ZERO,
        shared,
        None if paid is None else dates.setdefault(paid, paid),
        None
        if dispute is None
        else Dispute(dispute.reason or "", dispute.opened, dispute.note or "", dispute.closed),
        None if promise is None else dates.setdefault(promise, promise),
        bool(r.escalated),
        bool(r.factored),
    )


# A named tuple built without its Python-level __new__: a C call, several times
# faster, for the hundreds of thousands of lines of a large journal.
_new_tuple: Any = tuple.__new__


def _reminders(items: list[_Reminder], ids: dict[str, str]) -> list[Reminder]:
    out: list[Reminder] = []
    keys: set[str] = set()
    dates: dict[date, date] = {}
    for r in items:
        customer_id = ids.get(r.customer_id)
        if customer_id is None or not r.plan or not r.key or r.key in keys:
            raise _Invalid
        keys.add(r.key)
        lines = []
        for line in r.invoices:
            if not line.id or line.step < 1:
                raise _Invalid
            lines.append(_new_tuple(ReminderLine, (line.id, line.step)))
        out.append(
            Reminder(
                customer_id,
                dates.setdefault(r.date, r.date),
                r.plan,
                r.channel,
                r.key,
                tuple(lines),
            )
        )
    return out


def ledger_document(data: bytes) -> Any:
    """The parsed document (dicts and lists), for ``relance validate``."""
    return json.loads(data)
