"""Small defaulting builders for core test data (STYLE.md, "Habits").

Every builder takes only what a test is about and defaults the rest to a
plain, unremarkable value: a French company, an invoice issued 30 days before
its due date, fully open, in EUR.  Amounts may be given as strings; they are
turned into ``Decimal`` here so tests read like the ledger they describe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from core.config import Config, load_config
from core.engine import action_key
from core.model import Customer, Dispute, Invoice, Ledger, Reminder, ReminderLine

KNOWN_TEMPLATES = frozenset(
    {"pre_due", "reminder_1", "reminder_2", "phone", "sms", "formal_notice", "escalation"}
)

Money = Decimal | str | int


def money(value: Money | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def customer(id: str = "C1", **overrides: Any) -> Customer:
    """A company customer, reachable by email, created long ago, no tags, no plan override."""
    fields: dict[str, Any] = {
        "name": f"Client {id}",
        "kind": "company",
        "emails": (f"{id.lower()}@example.fr",),
        "language": "fr",
        "created": date(2020, 1, 1),
    }
    fields.update(overrides)
    fields["tags"] = frozenset(fields.get("tags", ()))
    fields["credit_limit"] = money(fields.get("credit_limit"))
    return Customer(id=id, **fields)


def invoice(
    id: str = "F1",
    customer_id: str = "C1",
    due: date = date(2026, 3, 2),
    amount: Money = "1000.00",
    open: Money | None = None,
    **overrides: Any,
) -> Invoice:
    """An invoice issued 30 days before ``due``; ``open`` defaults to the whole amount."""
    fields: dict[str, Any] = {
        "number": id,
        "kind": "invoice",
        "issue_date": due - timedelta(days=30),
        "currency": "EUR",
    }
    fields.update(overrides)
    total = Decimal(amount)
    return Invoice(
        id=id,
        customer_id=customer_id,
        due_date=due,
        amount=total,
        open_amount=total if open is None else Decimal(open),
        **fields,
    )


def paid_invoice(
    id: str = "P1",
    customer_id: str = "C1",
    due: date = date(2026, 1, 15),
    paid: date = date(2026, 1, 15),
    amount: Money = "1000.00",
    **overrides: Any,
) -> Invoice:
    """An invoice fully paid on ``paid`` (open amount 0)."""
    return invoice(id, customer_id, due, amount, open="0.00", paid_date=paid, **overrides)


def credit_note(
    id: str = "A1",
    customer_id: str = "C1",
    amount: Money = "100.00",
    open: Money | None = None,
    issued: date = date(2026, 2, 1),
    **overrides: Any,
) -> Invoice:
    """A credit note (avoir) issued on ``issued``, fully open unless ``open`` says otherwise."""
    return invoice(
        id,
        customer_id,
        due=overrides.pop("due", issued),
        amount=amount,
        open=open,
        kind="credit_note",
        issue_date=issued,
        **overrides,
    )


def dispute(
    reason: str = "goods damaged",
    opened: date | None = date(2026, 1, 10),
    closed: date | None = None,
    note: str = "",
) -> Dispute:
    return Dispute(reason=reason, opened=opened, note=note, closed=closed)


def reminder(
    customer_id: str,
    day: date,
    plan: str,
    lines: Iterable[tuple[str, int]],
    channel: str = "email",
    key: str | None = None,
) -> Reminder:
    """A journal entry; its key defaults to the engine's key for the same lines."""
    pairs = list(lines)
    return Reminder(
        customer_id=customer_id,
        date=day,
        plan=plan,
        channel=channel,
        key=key if key is not None else action_key(customer_id, plan, pairs),
        invoices=tuple(ReminderLine(iid, step) for iid, step in pairs),
    )


def ledger(
    customers: Iterable[Customer] = (),
    invoices: Iterable[Invoice] = (),
    reminders: Iterable[Reminder] = (),
    currency: str = "EUR",
) -> Ledger:
    return Ledger(
        currency=currency,
        customers=list(customers),
        invoices=list(invoices),
        reminders=list(reminders),
    )


def config(**data: Any) -> Config:
    """A config built from TOML-like data (``plans=[{...}]``, ``ecb_rate=0.0215``, ...)."""
    return load_config(data, KNOWN_TEMPLATES)


def plan_spec(
    name: str,
    steps: Iterable[tuple[int, str, str] | tuple[int, str, str, Money]],
    **options: Any,
) -> Mapping[str, Any]:
    """A ``[[plans]]`` table: steps as (offset, channel, template[, min_amount])."""
    rows = []
    for step in steps:
        row: dict[str, Any] = {"offset": step[0], "channel": step[1], "template": step[2]}
        if len(step) == 4:
            row["min_amount"] = str(step[3])
        rows.append(row)
    return {"name": name, "steps": rows, **options}


def with_changes(inv: Invoice, **changes: Any) -> Invoice:
    """A copy of ``inv`` with some fields changed (model objects are never mutated in tests)."""
    return replace(inv, **changes)
