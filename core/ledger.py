"""Turn an already-parsed ``relance.ledger/1`` document into a validated ``Ledger``.

A ledger can hold a million invoices, so validation here is written by hand
rather than through pydantic models (docs/decisions.md, "Ledger loading"):
each record is checked field by field, and each problem names the record
(``invoices[12] (id 'F00012')``) and the field.

``load_ledger`` raises the first problem; ``ledger_problems`` lists them all,
for ``relance validate``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import InputError
from core.model import (
    CHANNELS,
    CUSTOMER_KINDS,
    INVOICE_KINDS,
    Customer,
    Dispute,
    Invoice,
    Ledger,
    Reminder,
    ReminderLine,
)

LEDGER_FORMAT = "relance.ledger/1"

_TOP_FIELDS = frozenset({"format", "currency", "customers", "invoices", "reminders"})
_CUSTOMER_FIELDS = frozenset(
    {
        "id",
        "name",
        "kind",
        "emails",
        "phone",
        "language",
        "tags",
        "excluded",
        "plan",
        "credit_limit",
        "created",
    }
)
_INVOICE_FIELDS = frozenset(
    {
        "id",
        "customer_id",
        "number",
        "kind",
        "issue_date",
        "due_date",
        "amount",
        "open_amount",
        "currency",
        "paid_date",
        "dispute",
        "promise_date",
        "escalated",
        "factored",
    }
)
_FULL_INVOICE = len(_INVOICE_FIELDS)
_PAID = Decimal("0.00")
_INVOICE_REQUIRED = ("id", "customer_id", "issue_date", "due_date", "amount", "open_amount")
_DISPUTE_FIELDS = frozenset({"reason", "opened", "note", "closed"})
_REMINDER_FIELDS = frozenset({"customer_id", "date", "plan", "channel", "key", "invoices"})
_REMINDER_LINE_FIELDS = frozenset({"id", "step"})
# An ISO 4217 code, checked with fullmatch: with match, "^...$" also took "EUR\n".
# The one definition the ledger readers and the sources share.
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Problem(Exception):
    """A problem with one field of the record being read."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _Reader:
    """Field readers with caches: dates and currencies repeat across a ledger."""

    def __init__(self) -> None:
        self._dates: dict[str, date] = {}
        # Currency codes already checked, mapped to one shared string.
        self.currencies: dict[str, str] = {}

    def date(self, value: Any, field: str, *, required: bool = True) -> date | None:
        if value is None:
            if required:
                raise _Problem(field, "is required (a date YYYY-MM-DD)")
            return None
        cached = self._dates.get(value) if isinstance(value, str) else None
        if cached is not None:
            return cached
        if not isinstance(value, str) or not _DATE.match(value):
            raise _Problem(field, f"expected a date YYYY-MM-DD, got {_show(value)}")
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise _Problem(field, f"not a valid date: {_show(value)}") from None
        self._dates[value] = parsed
        return parsed

    def currency(self, value: Any) -> str:
        if not isinstance(value, str) or not CURRENCY_CODE.fullmatch(value):
            raise _Problem(
                "currency", f"expected an ISO 4217 code such as 'EUR', got {_show(value)}"
            )
        return self.currencies.setdefault(value, value)

    @staticmethod
    def money(value: Any, field: str, *, required: bool = True) -> Decimal | None:
        if value is None:
            if required:
                raise _Problem(field, 'is required (an amount such as "1200.00")')
            return None
        if isinstance(value, str):
            text = value.strip()
        elif isinstance(value, int | float) and not isinstance(value, bool):
            text = repr(value)
        else:
            raise _Problem(field, f'expected an amount such as "1200.00", got {_show(value)}')
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise _Problem(field, f"not a valid amount: {_show(value)}") from None
        if not amount.is_finite():
            raise _Problem(field, f"not a valid amount: {_show(value)}")
        if amount < 0:
            raise _Problem(field, f"must not be negative, got {_show(value)}")
        return amount

    @staticmethod
    def text(value: Any, field: str, *, required: bool = True) -> str | None:
        if value is None:
            if required:
                raise _Problem(field, "is required")
            return None
        if not isinstance(value, str):
            raise _Problem(field, f"expected a string, got {_show(value)}")
        if required and not value:
            raise _Problem(field, "must not be empty")
        return value

    @staticmethod
    def flag(value: Any, field: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise _Problem(field, f"expected true or false, got {_show(value)}")
        return value

    @staticmethod
    def strings(value: Any, field: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Problem(field, f"expected a list of strings, got {_show(value)}")
        return tuple(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _record_name(section: str, index: int, raw: Any) -> str:
    if isinstance(raw, dict):
        rid = raw.get("id") if section != "reminders" else raw.get("key")
        if isinstance(rid, str) and rid:
            label = "key" if section == "reminders" else "id"
            return f"{section}[{index}] ({label} '{rid}')"
    return f"{section}[{index}]"


def _check_fields(raw: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _Problem("", f"expected an object, got {_show(raw)}")
    if not raw.keys() <= allowed:
        unknown = sorted(set(raw) - allowed)[0]
        raise _Problem(unknown, "unknown field")
    return raw


def _customer(raw: Any, read: _Reader) -> Customer:
    d = _check_fields(raw, _CUSTOMER_FIELDS)
    kind = d.get("kind", "company")
    if kind not in CUSTOMER_KINDS:
        raise _Problem("kind", f"expected 'company' or 'individual', got {_show(kind)}")
    tags = read.strings(d.get("tags"), "tags")
    return Customer(
        id=read.text(d.get("id"), "id") or "",
        name=read.text(d.get("name"), "name") or "",
        kind=kind,
        emails=read.strings(d.get("emails"), "emails"),
        phone=read.text(d.get("phone"), "phone", required=False),
        language=read.text(d.get("language"), "language", required=False),
        tags=frozenset(tags),
        excluded=read.flag(d.get("excluded"), "excluded"),
        plan=read.text(d.get("plan"), "plan", required=False) or None,
        credit_limit=read.money(d.get("credit_limit"), "credit_limit", required=False),
        created=read.date(d.get("created"), "created", required=False),
    )


def _dispute(raw: Any, read: _Reader) -> Dispute | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _Problem("dispute", f"expected an object or null, got {_show(raw)}")
    if not raw.keys() <= _DISPUTE_FIELDS:
        raise _Problem(f"dispute.{sorted(set(raw) - _DISPUTE_FIELDS)[0]}", "unknown field")
    try:
        return Dispute(
            reason=read.text(raw.get("reason"), "reason", required=False) or "",
            opened=read.date(raw.get("opened"), "opened", required=False),
            note=read.text(raw.get("note"), "note", required=False) or "",
            closed=read.date(raw.get("closed"), "closed", required=False),
        )
    except _Problem as problem:
        raise _Problem(f"dispute.{problem.field}", problem.message) from None


def _invoice(raw: Any, read: _Reader, currency: str) -> Invoice:
    d = _check_fields(raw, _INVOICE_FIELDS)
    for name in _INVOICE_REQUIRED:
        if d.get(name) is None:
            raise _Problem(name, "is required")
    kind = d.get("kind", "invoice")
    if kind not in INVOICE_KINDS:
        raise _Problem("kind", f"expected 'invoice' or 'credit_note', got {_show(kind)}")
    inv_currency = read.currency(d.get("currency", currency))
    amount = read.money(d["amount"], "amount")
    open_amount = read.money(d["open_amount"], "open_amount")
    assert amount is not None and open_amount is not None
    if open_amount > amount:
        raise _Problem("open_amount", f"open amount {open_amount} exceeds the amount {amount}")
    issue_date = read.date(d["issue_date"], "issue_date")
    due_date = read.date(d["due_date"], "due_date")
    assert issue_date is not None and due_date is not None
    invoice_id = read.text(d["id"], "id") or ""
    number = read.text(d.get("number"), "number", required=False) or invoice_id
    return Invoice(
        id=invoice_id,
        customer_id=read.text(d["customer_id"], "customer_id") or "",
        number=number,
        kind=kind,
        issue_date=issue_date,
        due_date=due_date,
        amount=amount,
        open_amount=open_amount,
        currency=inv_currency,
        paid_date=read.date(d.get("paid_date"), "paid_date", required=False),
        dispute=_dispute(d.get("dispute"), read),
        promise_date=read.date(d.get("promise_date"), "promise_date", required=False),
        escalated=read.flag(d.get("escalated"), "escalated"),
        factored=read.flag(d.get("factored"), "factored"),
    )


class _FastPath:
    """Builds well-formed records without per-field calls.

    Anything unusual (a date not seen before, a number instead of a string, a
    bad value) goes to the precise readers above, which either accept it or
    name the problem; so both paths accept exactly the same documents.
    """

    def __init__(self, read: _Reader, currency: str) -> None:
        self.read = read
        self.currency = currency

    def invoice(self, d: Any) -> Invoice:
        built = self.try_invoice(d)
        return built if built is not None else _invoice(d, self.read, self.currency)

    def try_invoice(self, d: Any) -> Invoice | None:
        try:
            return self._invoice(d)
        except (KeyError, TypeError, InvalidOperation, ValueError, _Problem):
            return None

    def _invoice(self, d: Any) -> Invoice | None:
        if type(d) is not dict or len(d) != _FULL_INVOICE:
            return None
        # Exactly the known fields, all present: reading each one by key proves
        # there is no unknown field (a missing key raises KeyError: slow path).
        read, dates = self.read, self.read._dates
        iid, cid, number, kind = d["id"], d["customer_id"], d["number"], d["kind"]
        issue_s, due_s, paid_s, promise_s = (
            d["issue_date"],
            d["due_date"],
            d["paid_date"],
            d["promise_date"],
        )
        amount_s, open_s, currency_s = d["amount"], d["open_amount"], d["currency"]
        escalated, factored, dispute = d["escalated"], d["factored"], d["dispute"]
        if (
            type(iid) is not str
            or not iid
            or type(cid) is not str
            or not cid
            or type(number) is not str
            or not number
            or (kind != "invoice" and kind != "credit_note")
            or (escalated is not True and escalated is not False)
            or (factored is not True and factored is not False)
            or type(amount_s) is not str
            or type(open_s) is not str
        ):
            return None
        issue = dates.get(issue_s) or read.date(issue_s, "issue_date")
        due = dates.get(due_s) or read.date(due_s, "due_date")
        paid = None if paid_s is None else dates.get(paid_s) or read.date(paid_s, "paid_date")
        promise = (
            None
            if promise_s is None
            else dates.get(promise_s) or read.date(promise_s, "promise_date")
        )
        currency = read.currencies.get(currency_s) or read.currency(currency_s)
        if issue is None or due is None:
            return None
        amount = Decimal(amount_s)
        # Most invoices of a ledger are paid: share one zero instead of a million.
        open_amount = _PAID if open_s == "0.00" else Decimal(open_s)
        if not (amount.is_finite() and open_amount.is_finite() and 0 <= open_amount <= amount):
            return None
        return Invoice(
            iid,
            cid,
            number,
            "invoice" if kind == "invoice" else "credit_note",
            issue,
            due,
            amount,
            open_amount,
            currency,
            paid,
            None if dispute is None else _dispute(dispute, read),
            promise,
            escalated,
            factored,
        )

    def reminder(self, d: Any) -> Reminder:
        built = self.try_reminder(d)
        return built if built is not None else _reminder(d, self.read)

    def try_reminder(self, d: Any) -> Reminder | None:
        try:
            return self._reminder(d)
        except (TypeError, ValueError, _Problem):
            return None

    def _reminder(self, d: Any) -> Reminder | None:
        if type(d) is not dict or not d.keys() <= _REMINDER_FIELDS:
            return None
        get = d.get
        date_s = get("date")
        day = self.read._dates.get(date_s) if type(date_s) is str else None
        day = day or self.read.date(date_s, "date")
        cid, plan, channel, key = get("customer_id"), get("plan"), get("channel"), get("key")
        raw_lines = get("invoices")
        if (
            type(cid) is not str
            or not cid
            or day is None
            or type(plan) is not str
            or not plan
            or channel not in CHANNELS
            or type(key) is not str
            or not key
            or type(raw_lines) is not list
        ):
            return None
        lines = []
        for line in raw_lines:
            if type(line) is not dict or len(line) != 2:
                return None
            iid, step = line.get("id"), line.get("step")
            if type(iid) is not str or not iid or type(step) is not int or step < 1:
                return None
            lines.append(ReminderLine(iid, step))
        return Reminder(cid, day, plan, channel, key, tuple(lines))


def _reminder(raw: Any, read: _Reader) -> Reminder:
    d = _check_fields(raw, _REMINDER_FIELDS)
    channel = d.get("channel")
    if channel not in CHANNELS:
        raise _Problem("channel", f"expected one of {', '.join(CHANNELS)}, got {_show(channel)}")
    raw_lines = d.get("invoices")
    if not isinstance(raw_lines, list):
        raise _Problem("invoices", f"expected a list of {{id, step}}, got {_show(raw_lines)}")
    lines = []
    for position, line in enumerate(raw_lines):
        where = f"invoices[{position}]"
        if not isinstance(line, dict):
            raise _Problem(where, f"expected an object {{id, step}}, got {_show(line)}")
        if not line.keys() <= _REMINDER_LINE_FIELDS:
            raise _Problem(
                f"{where}.{sorted(set(line) - _REMINDER_LINE_FIELDS)[0]}", "unknown field"
            )
        step = line.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise _Problem(f"{where}.step", f"expected a step number >= 1, got {_show(step)}")
        lines.append(ReminderLine(read.text(line.get("id"), f"{where}.id") or "", step))
    reminder_date = read.date(d.get("date"), "date")
    assert reminder_date is not None
    return Reminder(
        customer_id=read.text(d.get("customer_id"), "customer_id") or "",
        date=reminder_date,
        plan=read.text(d.get("plan"), "plan") or "",
        channel=channel,
        key=read.text(d.get("key"), "key") or "",
        invoices=tuple(lines),
    )


def _section(document: dict[str, Any], name: str) -> list[Any]:
    value = document.get(name, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"expected a list, got {_show(value)}", record=name)
    return value


def _read_records(
    document: dict[str, Any],
    name: str,
    build: Callable[[Any], Any],
    keep: list[Any],
    release: bool,
    seen: _Seen,
) -> Iterator[InputError]:
    raw_records = _section(document, name)
    for index, raw in enumerate(raw_records):
        try:
            keep.append(build(raw))
            seen.positions[name].append(index)
        except _Problem as problem:
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                seen.rejected_ids[name].add(raw["id"])
            yield InputError(
                problem.message, record=_record_name(name, index, raw), field=problem.field or None
            )
        if release:
            # Free each parsed dict as soon as it is converted: the parsed JSON
            # of a large ledger is bigger than the model built from it.
            raw_records[index] = None


class _Seen:
    """Where each kept record stood in the file, and the ids of rejected records,
    so that checks across records name the right record and do not report
    consequences of a problem already reported."""

    def __init__(self) -> None:
        self.positions: dict[str, list[int]] = {"customers": [], "invoices": [], "reminders": []}
        self.rejected_ids: dict[str, set[str]] = {
            "customers": set(),
            "invoices": set(),
            "reminders": set(),
        }


def _iter_problems(document: Any, *, release: bool, out: Ledger) -> Iterator[InputError]:
    if not isinstance(document, dict):
        yield InputError("expected a JSON object with format, customers, invoices, reminders")
        return
    unknown = sorted(set(document) - _TOP_FIELDS)
    if unknown:
        yield InputError("unknown field", field=unknown[0])
    if document.get("format") != LEDGER_FORMAT:
        yield InputError(
            f"expected '{LEDGER_FORMAT}', got {_show(document.get('format'))}", field="format"
        )
    currency = document.get("currency", "EUR")
    if not isinstance(currency, str) or not CURRENCY_CODE.fullmatch(currency):
        yield InputError(
            f"expected an ISO 4217 code such as 'EUR', got {_show(currency)}", field="currency"
        )
        currency = "EUR"
    out.currency = currency
    read = _Reader()
    fast = _FastPath(read, currency)

    seen = _Seen()
    try:
        yield from _read_records(
            document, "customers", lambda r: _customer(r, read), out.customers, release, seen
        )
        yield from _read_records(document, "invoices", fast.invoice, out.invoices, release, seen)
        yield from _read_records(document, "reminders", fast.reminder, out.reminders, release, seen)
    except InputError as error:
        yield error
        return
    yield from cross_check(out, seen)


def cross_check(ledger: Ledger, seen: _Seen | None = None) -> Iterator[InputError]:
    """Checks across records: unique ids and keys, known customers."""

    def position(section: str, kept: int) -> int:
        return seen.positions[section][kept] if seen is not None else kept

    customer_ids: set[str] = set()
    for kept, customer in enumerate(ledger.customers):
        index = position("customers", kept)
        if customer.id in customer_ids:
            yield InputError(
                f"duplicate customer id '{customer.id}'",
                record=f"customers[{index}] (id '{customer.id}')",
                field="id",
            )
        customer_ids.add(customer.id)
    # A customer rejected above is not reported again as unknown.
    known = customer_ids | seen.rejected_ids["customers"] if seen else customer_ids
    invoice_ids: set[str] = set()
    for kept, invoice in enumerate(ledger.invoices):
        record = f"invoices[{position('invoices', kept)}] (id '{invoice.id}')"
        if invoice.id in invoice_ids:
            yield InputError(f"duplicate invoice id '{invoice.id}'", record=record, field="id")
        invoice_ids.add(invoice.id)
        if invoice.customer_id not in known:
            yield InputError(
                f"unknown customer '{invoice.customer_id}'", record=record, field="customer_id"
            )
    keys: set[str] = set()
    for kept, reminder in enumerate(ledger.reminders):
        record = f"reminders[{position('reminders', kept)}] (key '{reminder.key}')"
        if reminder.customer_id not in known:
            yield InputError(
                f"unknown customer '{reminder.customer_id}'", record=record, field="customer_id"
            )
        if reminder.key in keys:
            yield InputError(f"duplicate reminder key '{reminder.key}'", record=record, field="key")
        keys.add(reminder.key)


def load_ledger(document: Any, *, release: bool = False) -> Ledger:
    """Validate and convert; raise the first problem found as an ``InputError``.

    With ``release=True`` the records of ``document`` are freed as they are
    converted (the caller gives up the parsed document).
    """
    ledger = Ledger()
    for problem in _iter_problems(document, release=release, out=ledger):
        raise problem
    return ledger


def ledger_problems(document: Any) -> list[InputError]:
    """Every problem of the document, for ``relance validate``."""
    return list(_iter_problems(document, release=False, out=Ledger()))
