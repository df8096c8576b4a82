"""Small defaulting builders for delivery tests (STYLE.md, "Habits").

A French company customer, a French sender, and actions built either by hand (one
invoice overdue 12 days, 1 200,00 €) or by the core engine from a ledger, so the
statement and the messages are checked on what the engine really produces.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pypdf import PdfReader

from connectors.delivery.message import Attachment, OutgoingMessage, message_id_for
from core.actions import Action, ActionInvoice, ContextInvoice, Credit
from core.config import load_config
from core.engine import action_key, plan
from core.model import Customer, Invoice, Ledger
from core.penalties import late_interest, late_interest_rate, recovery_indemnity
from core.texts import Sender, template_ids

TODAY = date(2026, 3, 16)  # a Monday, not a holiday
DOMAIN = "dupont-freres.fr"


def customer(id: str = "C1", **overrides: Any) -> Customer:
    fields: dict[str, Any] = {
        "name": "Société Générale de Plâtrerie",
        "kind": "company",
        "emails": ("compta@sgp.fr",),
        "phone": "06 12 34 56 78",
        "language": "fr",
    }
    fields.update(overrides)
    return Customer(id=id, **fields)


def sender(**overrides: Any) -> Sender:
    fields: dict[str, Any] = {
        "name": "Dupont Frères SARL",
        "email": "compta@dupont-freres.fr",
        "phone": "01 23 45 67 89",
        "address": "12 rue de la Paix\n75002 Paris",
        "iban": "FR76 3000 6000 0112 3456 7890 189",
        "language": "fr",
    }
    fields.update(overrides)
    return Sender(**fields)


def listed(
    number: str = "FA-2026-0042",
    days: int = 12,
    amount: str = "1200.00",
    step: int = 2,
    *,
    penalties: bool = False,
    rate: Decimal = Decimal("0.1215"),
) -> ActionInvoice:
    open_amount = Decimal(amount)
    return ActionInvoice(
        id=number,
        number=number,
        step=step,
        days_overdue=days,
        open_amount=open_amount,
        interest=late_interest(open_amount, rate, days) if penalties else None,
        indemnity=recovery_indemnity(days) if penalties else None,
    )


def action(
    invoices: Sequence[ActionInvoice] = (),
    *,
    channel: str = "email",
    template: str = "reminder_2",
    context: Sequence[ContextInvoice] = (),
    credits: Sequence[Credit] = (),
    customer_id: str = "C1",
    currency: str = "EUR",
    interest_rate: Decimal | None = None,
    payment_deadline_days: int | None = None,
) -> Action:
    items = tuple(invoices) or (listed(),)
    overdue = sum((i.open_amount for i in items if i.days_overdue > 0), Decimal(0))
    overdue += sum((c.open_amount for c in context), Decimal(0))
    gross = sum((i.open_amount for i in items), Decimal(0)) + sum(
        (c.open_amount for c in context), Decimal(0)
    )
    net = max(Decimal(0), gross - sum((c.open_amount for c in credits), Decimal(0)))
    return Action(
        customer_id=customer_id,
        plan="standard",
        segment="default",
        step=max(i.step for i in items),
        channel=channel,
        template=template,
        key=action_key(customer_id, "standard", [(i.id, i.step) for i in items]),
        priority=overdue,
        currency=currency,
        overdue_amount=overdue,
        net_due=net,
        invoices=items,
        context=tuple(context),
        credits=tuple(credits),
        interest_rate=interest_rate,
        payment_deadline_days=payment_deadline_days,
    )


def formal_notice(customer_id: str = "C1", currency: str = "EUR") -> Action:
    """A formal notice for two invoices, with interest and the EUR 40 indemnity each."""
    rate = late_interest_rate(TODAY)
    return action(
        [
            listed("FA-2026-0042", 31, "1200.00", 5, penalties=True, rate=rate),
            listed("FA-2026-0057", 35, "3456.78", 5, penalties=True, rate=rate),
        ],
        channel="formal_notice",
        template="formal_notice",
        context=(ContextInvoice("FA-2026-0101", "FA-2026-0101", 4, Decimal("250.00")),),
        credits=(Credit("AV-2026-0003", "AV-2026-0003", Decimal("150.00")),),
        customer_id=customer_id,
        currency=currency,
        interest_rate=rate,
        payment_deadline_days=8,
    )


def engine_formal_notice() -> tuple[Action, Customer]:
    """The formal notice the core engine plans for a customer 31 days late (standard plan)."""
    who = customer()
    due = TODAY - timedelta(days=31)

    def invoice(id: str, amount: str, due_date: date, kind: str = "invoice") -> Invoice:
        return Invoice(
            id=id,
            customer_id=who.id,
            number=id,
            kind=kind,
            issue_date=due_date - timedelta(days=30),
            due_date=due_date,
            amount=Decimal(amount),
            open_amount=Decimal(amount),
            currency="EUR",
        )

    ledger = Ledger(
        customers=[who],
        invoices=[
            invoice("FA-2026-0042", "1200.00", due),
            invoice("FA-2026-0043", "980.40", due),
            invoice("AV-2026-0003", "150.00", TODAY - timedelta(days=40), "credit_note"),
        ],
    )
    actions = plan(ledger, load_config(None, template_ids()), TODAY)
    assert len(actions) == 1 and actions[0].channel == "formal_notice", actions
    return actions[0], who


def message(
    key: str = "3f9a1c0b7d2e4f60a1b2c3d4",
    *,
    channel: str = "email",
    to: Sequence[str] = ("compta@sgp.fr",),
    subject: str = "Relance : facture FA-2026-0042 échue – 1 200,00 €",
    body: str = "Madame, Monsieur,\n\nSauf erreur, la facture FA-2026-0042 reste impayée.",
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
    company: str = "dupont",
    customer_id: str = "C1",
) -> OutgoingMessage:
    return OutgoingMessage(
        key=key,
        channel=channel,
        company=company,
        customer_id=customer_id,
        to=tuple(to),
        subject=subject,
        body=body,
        message_id=message_id_for(key, DOMAIN, scope=company),
        html=html,
        attachments=tuple(attachments),
    )


def pdf_text(data: bytes) -> str:
    """All text of a PDF, with the typographic spaces of French amounts made plain."""
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return re.sub(r"[\u00a0\u202f\u2009]", " ", text)


def plain(text: str) -> str:
    """A formatted amount or label with the same spaces as ``pdf_text``."""
    return re.sub(r"[\u00a0\u202f\u2009]", " ", text)


def pdf_pages(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)
