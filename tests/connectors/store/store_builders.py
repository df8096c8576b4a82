"""Small defaulting builders for the store tests (STYLE.md, "Habits").

Each builder takes only what a test is about and defaults the rest: a French
company customer, an open EUR invoice due on 2 March 2026, an email action.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from core.actions import Action, ActionInvoice
from core.engine import action_key
from core.model import Customer, Invoice, Reminder, ReminderLine

TODAY = date(2026, 3, 20)


def customer(id: str = "C1", **overrides: Any) -> Customer:
    fields: dict[str, Any] = {
        "name": f"Client {id}",
        "kind": "company",
        "emails": (f"{id.lower()}@example.fr",),
        "language": "fr",
        "created": date(2020, 1, 1),
    }
    fields.update(overrides)
    return Customer(id=id, **fields)


def invoice(
    id: str = "F1",
    customer_id: str = "C1",
    due: date = date(2026, 3, 2),
    amount: str = "1000.00",
    open: str | None = None,
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
    return Invoice(
        id=id,
        customer_id=customer_id,
        due_date=due,
        amount=Decimal(amount),
        open_amount=Decimal(amount if open is None else open),
        **fields,
    )


def paid(id: str, paid_date: date, customer_id: str = "C1", **overrides: Any) -> Invoice:
    """An invoice fully paid on ``paid_date``."""
    return invoice(id, customer_id, open="0.00", paid_date=paid_date, **overrides)


def reminder(
    customer_id: str = "C1",
    day: date = TODAY,
    plan: str = "standard",
    lines: tuple[tuple[str, int], ...] = (("F1", 2),),
    channel: str = "email",
) -> Reminder:
    return Reminder(
        customer_id=customer_id,
        date=day,
        plan=plan,
        channel=channel,
        key=action_key(customer_id, plan, lines),
        invoices=tuple(ReminderLine(i, s) for i, s in lines),
    )


def action(
    customer_id: str = "C1",
    lines: tuple[tuple[str, int], ...] = (("F1", 2),),
    channel: str = "email",
    plan: str = "standard",
    open_amount: str = "1000.00",
) -> Action:
    """An action listing ``lines`` (invoice id, step), each with ``open_amount`` open."""
    return Action(
        customer_id=customer_id,
        plan=plan,
        segment="default",
        step=max(step for _, step in lines),
        channel=channel,
        template="reminder_1",
        key=action_key(customer_id, plan, lines),
        priority=Decimal("1600.00"),
        currency="EUR",
        overdue_amount=Decimal(open_amount) * len(lines),
        net_due=Decimal(open_amount) * len(lines),
        invoices=tuple(
            ActionInvoice(iid, iid, step, 18, Decimal(open_amount)) for iid, step in lines
        ),
        explanation={"plan": plan},
    )


def actions(n: int, customer_prefix: str = "C") -> list[Action]:
    """``n`` actions for ``n`` customers, one invoice each."""
    return [action(f"{customer_prefix}{i}", ((f"F{i}", 2),)) for i in range(n)]


def dump(store: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store, in primary-key order (for before/after checks)."""
    from sqlalchemy import select

    from connectors.store.models import Base

    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            out[table.name] = [tuple(row) for row in connection.execute(query)]
    return out
