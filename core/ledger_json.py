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
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import msgspec

from core.errors import InputError
from core.index import NEVER_PAID, LedgerIndex, PaidSummary, keep
from core.ledger import LEDGER_FORMAT, ledger_problems
from core.model import Customer, Dispute, Invoice, Ledger, Reminder, ReminderLine

_CURRENCY = re.compile(r"^[A-Z]{3}$")
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
    if raw.format != LEDGER_FORMAT or not _CURRENCY.match(raw.currency):
        raise _Invalid
    ledger = Ledger(currency=raw.currency)
    ledger.customers = [_customer(c) for c in raw.customers or ()]
    # One slot per customer: its own id string (every record refers to the
    # customer through it, so later lookups compare by identity), its open
    # invoices and its paid summary, so an invoice touches one object of its
    # customer's while it is read.
    slots = {c.id: _Slot(c.id) for c in ledger.customers}
    ids = {c.id: c.id for c in ledger.customers}
    index = LedgerIndex()
    ledger.invoices = _invoices(raw.invoices or [], raw.currency, slots, index)
    for slot in slots.values():
        if slot.open:
            index.open_by_customer[slot.id] = slot.open
        if slot.last:
            index.paid_summary[slot.id] = slot
    ledger.reminders = _reminders(raw.reminders or [], ids)
    raw.invoices = raw.reminders = None
    if len(slots) != len(ledger.customers) or len(index.by_id) != len(ledger.invoices):
        raise _Invalid  # duplicate ids
    index.add_reminders(ledger.reminders)
    index.set_history_source(ledger.invoices)
    keep(ledger, index)
    return ledger


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


def _invoices(
    items: list[_Invoice], default_currency: str, slots: dict[str, _Slot], index: LedgerIndex
) -> list[Invoice]:
    """Model invoices, in file order, indexed as they are made: the same work as
    LedgerIndex.add_invoices, done while each record is in the processor's cache
    (visiting records in any other order costs a cache miss per field)."""
    currencies: dict[str, str] = {}
    # One object per distinct date: a ledger has a few hundred dates but millions
    # of date fields, and shared objects stay in the processor's cache.
    dates: dict[date, date] = {}
    out: list[Invoice] = []
    append = out.append
    by_id = index.by_id
    sales, paid_sums, disputed = index.sales_by_day, index.paid_by_days, index.disputed
    for position, r in enumerate(items):
        slot = slots.get(r.customer_id)
        open_text = r.open_amount
        # Most invoices of a ledger are paid: one shared zero instead of a million.
        open_amount = _ZERO if open_text == "0.00" else _money(open_text)
        amount = _money(r.amount)
        currency = r.currency or default_currency
        shared = currencies.get(currency)
        if shared is None:
            if not _CURRENCY.match(currency):
                raise _Invalid
            shared = currencies[currency] = currency
        if (
            slot is None
            or not r.id
            or not amount.is_finite()
            or not open_amount.is_finite()
            or not 0 <= open_amount <= amount
        ):
            raise _Invalid
        dispute = r.dispute
        issue = dates.setdefault(r.issue_date, r.issue_date)
        due = dates.setdefault(r.due_date, r.due_date)
        paid, promise = r.paid_date, r.promise_date
        if paid is not None:
            paid = dates.setdefault(paid, paid)
        is_invoice = r.kind == "invoice"
        inv = Invoice(
            r.id,
            slot.id,
            r.number or r.id,
            "invoice" if is_invoice else "credit_note",
            issue,
            due,
            amount,
            open_amount or _ZERO,
            shared,
            paid,
            None
            if dispute is None
            else Dispute(dispute.reason or "", dispute.opened, dispute.note or "", dispute.closed),
            None if promise is None else dates.setdefault(promise, promise),
            bool(r.escalated),
            bool(r.factored),
        )
        append(inv)
        by_id[inv.id] = inv
        if open_amount:
            slot.open.append(inv)
        if dispute is not None:
            disputed.append(inv)
        if is_invoice:
            # LedgerIndex.add_to_sums, inlined: it runs once per invoice.
            day = issue.toordinal()
            sales[day] = sales.get(day, _ZERO) + amount
            if not open_amount:
                paid_day = NEVER_PAID if paid is None else paid.toordinal()
                key = (day, paid_day)
                paid_sums[key] = paid_sums.get(key, _ZERO) + amount
                if paid is not None:
                    # PaidSummary.add, inlined.
                    slot.weight += amount
                    late = paid_day - due.toordinal()
                    if late > 0:
                        slot.late_weighted += amount * late
                        slot.late += 1
                    if paid_day < slot.first:
                        slot.first = paid_day
                    if paid_day > slot.last:
                        slot.last = paid_day
        # The struct is not needed any more: free it as we go.
        items[position] = None  # type: ignore[call-overload]
    return out


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
            lines.append(ReminderLine(line.id, line.step))
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
