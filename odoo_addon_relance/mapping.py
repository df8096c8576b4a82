"""Rows read from Odoo's database -> core objects, and core results -> plain values.

This module imports nothing of Odoo, so its rules are tested in plain ``make test``
(tests/odoo_addon_relance/).  The Odoo side only runs the set-based queries and
hands their rows (dicts) to these functions; every decision about what a row means
for the engine is taken here, and written down in docs/odoo.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core.config import Config
from core.errors import InputError
from core.ledger import LEDGER_FORMAT
from core.model import Customer, Dispute, Invoice, Ledger, Reminder, ReminderLine
from core.penalties import DEFAULT_PAYMENT_DEADLINE_DAYS
from core.plans import Plan, Step
from core.segments import MANUAL_SEGMENT, ExpressionError, SegmentRule, compile_condition

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_TAG_SEPARATORS = re.compile(r"[^0-9a-z]+")


# --------------------------------------------------------------------------- customers


def tag_of(category: str) -> str:
    """A partner tag as segment rules read it: 'Key Account' -> 'key_account'."""
    return _TAG_SEPARATORS.sub("_", category.strip().lower()).strip("_")


def _money(value: Any) -> Decimal | None:
    """An Odoo amount (numeric column: Decimal; float field: float) as a cent Decimal."""
    if value is None or value is False:
        return None
    amount = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return amount.quantize(CENT)


def _day(value: Any) -> date | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _language(lang: str | None) -> str | None:
    """Odoo's 'fr_FR' / 'en_US' -> core's 'fr' / 'en'."""
    return lang.split("_", 1)[0].lower() if lang else None


def customer_from_row(row: Mapping[str, Any]) -> Customer:
    """A commercial partner.  The collection contact's address, when set, is where
    reminders go, so it comes first among the emails."""
    emails = [
        e for e in (row.get("collection_email"), row.get("email")) if isinstance(e, str) and e
    ]
    phone = row.get("mobile") or row.get("phone") or None
    limit = _money(row.get("credit_limit"))
    return Customer(
        id=str(row["id"]),
        name=row.get("name") or f"#{row['id']}",
        kind="company" if row.get("is_company") else "individual",
        emails=tuple(dict.fromkeys(emails)),
        phone=phone,
        language=_language(row.get("lang")),
        tags=frozenset(t for t in (tag_of(name) for name in row.get("tags") or ()) if t),
        excluded=bool(row.get("excluded")),
        plan=row.get("plan_code") or None,
        credit_limit=limit if limit else None,
        created=_day(row.get("create_date")),
    )


# --------------------------------------------------------------------------- invoices


def dispute_from_row(row: Mapping[str, Any] | None) -> Dispute | None:
    if row is None:
        return None
    return Dispute(
        reason=row.get("reason") or "",
        opened=_day(row.get("opened")),
        note=row.get("note") or "",
        closed=_day(row.get("closed")),
    )


def latest_disputes(rows: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """Per move, the dispute core sees: an open one if any, else the last closed one."""
    chosen: dict[int, Mapping[str, Any]] = {}
    for row in rows:
        move = row["move_id"]
        current = chosen.get(move)
        if current is None or _dispute_rank(row) > _dispute_rank(current):
            chosen[move] = row
    return chosen


def _dispute_rank(row: Mapping[str, Any]) -> tuple[bool, date, int]:
    return (
        row.get("closed") is None or row.get("closed") is False,
        _day(row.get("opened")) or date.min,
        int(row.get("id") or 0),
    )


def invoice_from_row(row: Mapping[str, Any], dispute: Dispute | None = None) -> Invoice:
    """One posted journal entry's receivable lines, summed in the entry's currency.

    ``balance`` and ``residual`` are the sums of ``amount_currency`` and
    ``amount_residual_currency`` over its receivable lines: positive for what the
    customer owes (an invoice), negative for what we owe them (a credit note or an
    unapplied payment, both deducted as credits).
    """
    balance = _money(row["balance"]) or ZERO
    residual = _money(row["residual"]) or ZERO
    kind = "invoice" if balance > 0 or (balance == 0 and residual >= 0) else "credit_note"
    amount = abs(balance)
    # A residual of the other sign (over-payment) leaves nothing to collect.
    open_amount = abs(residual) if (residual >= 0) == (kind == "invoice") else ZERO
    open_amount = min(open_amount, amount)
    issue = _day(row.get("invoice_date")) or _day(row["date"])
    due = _day(row.get("due_date")) or issue
    assert issue is not None and due is not None
    return Invoice(
        id=str(row["move_id"]),
        customer_id=str(row["partner_id"]),
        number=row.get("name") or f"#{row['move_id']}",
        kind=kind,
        issue_date=issue,
        due_date=due,
        amount=amount,
        open_amount=open_amount,
        currency=row.get("currency") or "EUR",
        paid_date=None if open_amount else _day(row.get("paid_date")) or due,
        dispute=dispute,
        promise_date=_day(row.get("promise_date")),
        escalated=bool(row.get("escalated")),
        factored=bool(row.get("factored")),
    )


# --------------------------------------------------------------------------- journal


def reminders_from_rows(rows: Iterable[Sequence[Any]]) -> list[Reminder]:
    """Journal lines -> reminders.  Each row is (key, partner_id, date, plan, channel,
    move_id, step), one per action and invoice (move_id None for an action without
    invoices), the rows of an action next to each other.  Tuples, not dicts: a
    journal that has run for a year is hundreds of thousands of rows."""
    reminders: list[Reminder] = []
    names: dict[int, str] = {}  # an invoice is named in many reminders: one string each
    lines: list[ReminderLine] = []
    last = None
    for key, partner_id, day, plan, channel, move_id, step in rows:
        if key != last:
            if lines:
                reminders[-1].invoices = tuple(sorted(lines))
                lines = []
            last = key
            when = day if type(day) is date else _day(day) or date.min
            reminders.append(Reminder(str(partner_id), when, plan, channel, key))
        if move_id is not None:
            name = names.get(move_id)
            if name is None:
                name = names[move_id] = str(move_id)
            lines.append(ReminderLine(name, int(step)))
    if lines:
        reminders[-1].invoices = tuple(sorted(lines))
    return reminders


def build_ledger(
    currency: str,
    customers: Iterable[Mapping[str, Any]],
    invoices: Iterable[Mapping[str, Any]],
    disputes: Iterable[Mapping[str, Any]],
    journal: Iterable[Sequence[Any]],
) -> Ledger:
    """The whole snapshot core plans from.  Invoices of partners not in ``customers``
    (none, when the queries agree) would be bad input for core, so they are dropped."""
    by_move = latest_disputes(disputes)
    people = [customer_from_row(row) for row in customers]
    known = {c.id for c in people}
    bills = [
        invoice_from_row(row, dispute_from_row(by_move.get(row["move_id"])))
        for row in invoices
        if str(row["partner_id"]) in known
    ]
    reminders = [r for r in reminders_from_rows(journal) if r.customer_id in known]
    return Ledger(currency=currency, customers=people, invoices=bills, reminders=reminders)


# --------------------------------------------------------------------------- configuration


@dataclass
class PlanRow:
    """A plan as configured in Odoo, with its steps in sequence order."""

    code: str
    steps: Sequence[Mapping[str, Any]]
    min_amount: Any = 0
    cooldown_days: int = 5
    business_days_only: bool = True


@dataclass
class SettingsRow:
    ecb_rate: Any = None
    late_interest_rate: Any = None
    language: str | None = "fr"
    payment_deadline_days: int | None = DEFAULT_PAYMENT_DEADLINE_DAYS
    sender: Mapping[str, str] = field(default_factory=dict)


def plan_from_row(row: PlanRow) -> Plan:
    steps = tuple(
        Step(
            offset=int(s["offset"]),
            channel=s["channel"],
            template=s["template"],
            min_amount=_money(s.get("min_amount")) or None,
        )
        for s in row.steps
    )
    return Plan(
        name=row.code,
        steps=steps,
        min_amount=_money(row.min_amount) or ZERO,
        cooldown_days=int(row.cooldown_days),
        business_days_only=bool(row.business_days_only),
    )


def plan_problems(row: PlanRow) -> list[str]:
    """Core's verdict on a plan, as sentences naming the step (1-based, as users count)."""
    found = []
    for field_name, message in plan_from_row(row).problems():
        match = re.match(r"steps\[(\d+)\]\.(\w+)", field_name)
        where = f"step {int(match.group(1)) + 1} ({match.group(2)})" if match else field_name
        found.append(f"{row.code}: {where}: {message}")
    return found


def segment_problem(name: str, condition: str) -> str | None:
    """Core's message for a condition it cannot compile, else None."""
    if name == MANUAL_SEGMENT:
        return f"'{MANUAL_SEGMENT}' is reserved for customers with a manual plan"
    try:
        compile_condition(condition, name)
    except ExpressionError as error:
        return str(error)
    return None


def _rate(value: Any) -> Decimal | None:
    """A rate typed in Odoo as a percentage (12.15) -> core's fraction (0.1215)."""
    if value is None or value is False:
        return None
    return (Decimal(repr(float(value))) / 100).quantize(Decimal("0.000001"))


def build_config(
    plans: Iterable[PlanRow],
    segments: Iterable[tuple[str, str, str]],
    settings: SettingsRow,
) -> Config:
    """Core's config from Odoo's plans, segment rules (name, condition, plan code, in
    order) and company settings.  Raises InputError naming the record at fault."""
    built: dict[str, Plan] = {}
    for row in plans:
        problems = plan_problems(row)
        if problems:
            raise InputError(problems[0], record=f"plan '{row.code}'")
        built[row.code] = plan_from_row(row)
    rules = []
    for name, condition, plan_code in segments:
        problem = segment_problem(name, condition)
        if problem is not None:
            raise InputError(problem, record=f"segment '{name}'", field="condition")
        if plan_code not in built:
            raise InputError(
                f"unknown plan '{plan_code}' (known: {', '.join(sorted(built))})",
                record=f"segment '{name}'",
                field="plan",
            )
        rules.append(SegmentRule(name, compile_condition(condition, name), plan_code))
    return Config(
        plans=built,
        segments=tuple(rules),
        ecb_rate=_rate(settings.ecb_rate),
        late_interest_rate=_rate(settings.late_interest_rate),
        company_language=_language(settings.language) or "fr",
        payment_deadline_days=settings.payment_deadline_days or DEFAULT_PAYMENT_DEADLINE_DAYS,
        sender=dict(settings.sender),
    )


# --------------------------------------------------------------------------- export


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def ledger_document(ledger: Ledger) -> dict[str, Any]:
    """The ``relance.ledger/1`` document of a ledger (DESIGN §9), as plain JSON data."""
    return {
        "format": LEDGER_FORMAT,
        "currency": ledger.currency,
        "customers": [
            {
                "id": c.id,
                "name": c.name,
                "kind": c.kind,
                "emails": list(c.emails),
                "phone": c.phone,
                "language": c.language,
                "tags": sorted(c.tags),
                "excluded": c.excluded,
                "plan": c.plan,
                "credit_limit": None if c.credit_limit is None else str(c.credit_limit),
                "created": _iso(c.created),
            }
            for c in ledger.customers
        ],
        "invoices": [
            {
                "id": i.id,
                "customer_id": i.customer_id,
                "number": i.number,
                "kind": i.kind,
                "issue_date": i.issue_date.isoformat(),
                "due_date": i.due_date.isoformat(),
                "amount": str(i.amount),
                "open_amount": str(i.open_amount),
                "currency": i.currency,
                "paid_date": _iso(i.paid_date),
                "dispute": _dispute_document(i.dispute),
                "promise_date": _iso(i.promise_date),
                "escalated": i.escalated,
                "factored": i.factored,
            }
            for i in ledger.invoices
        ],
        "reminders": [
            {
                "customer_id": r.customer_id,
                "date": r.date.isoformat(),
                "plan": r.plan,
                "channel": r.channel,
                "key": r.key,
                "invoices": [{"id": line.invoice_id, "step": line.step} for line in r.invoices],
            }
            for r in ledger.reminders
        ],
    }


def _dispute_document(dispute: Dispute | None) -> dict[str, Any] | None:
    if dispute is None:
        return None
    out: dict[str, Any] = {
        "reason": dispute.reason,
        "opened": _iso(dispute.opened),
        "note": dispute.note,
    }
    if dispute.closed is not None:
        out["closed"] = dispute.closed.isoformat()
    return out
