"""Pennylane records -> the core model (docs/pennylane.md, "Mapping").

Invoices:

- drafts, ``incomplete`` ("À traiter"), ``archived`` and quote-like statuses
  are not part of the ledger (``invoice`` returns ``None``);
- amounts are the invoice currency's (``currency_amount``, else ``amount``),
  positive for invoices and credit notes alike, as the core model wants;
- open amount: ``remaining_amount_with_tax``; zero when paid, ``cancelled``
  (fully covered by credit notes) or collected (e-invoicing);
- a credit note linked to the invoice it credits (``credited_invoice``) has
  already reduced that invoice's remaining amount: it is kept with nothing
  open, so its credit is not counted twice;
- due date: ``deadline``, else issue date + the customer's payment conditions;
- e-invoicing statuses (DESIGN §10): ``in_dispute``, ``refused``, ``suspended``
  open a dispute; a transmitted payment holds reminders (promise date);
  ``collected`` is paid; ``factored`` sets factored.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

from connectors.pennylane.models import Contact, PlCustomer, PlInvoice
from core.model import ZERO, Customer, Dispute, Invoice

__all__ = [
    "DISPUTE_STATUSES",
    "LITIGE_REASON",
    "customer",
    "due_date",
    "invoice",
    "language",
]

LITIGE_REASON = "Litige (Pennylane)"
EXCLUDED_STATUSES = frozenset(
    {
        "draft",
        "incomplete",
        "archived",
        "proforma",
        "shipping_order",
        "purchasing_order",
    }
)
CLOSED_STATUSES = frozenset({"paid", "cancelled"})
DISPUTE_STATUSES = frozenset({"in_dispute", "refused", "suspended"})
PAID_STATUSES = frozenset({"collected"})
HOLD_STATUSES = frozenset({"payment_transmitted", "payment_sent"})
FACTORED_STATUSES = frozenset({"factored"})
# A transmitted payment normally lands within days; reminders resume after this
# even if the status never moves on.
HOLD_DAYS = 30
LANGUAGES = {"fr": "fr", "en": "en", "de": "de"}
TERMS_DAYS = {
    "upon_receipt": 0,
    "7_days": 7,
    "15_days": 15,
    "30_days": 30,
    "45_days": 45,
    "60_days": 60,
}
TERMS_END_OF_MONTH = {"30_days_end_of_month": 30, "45_days_end_of_month": 45}


def language(billing_language: str | None) -> str | None:
    """``fr_FR`` -> ``fr``; unknown or missing -> ``None`` (the company's language is used)."""
    if not billing_language:
        return None
    return LANGUAGES.get(billing_language.replace("-", "_").split("_", 1)[0].lower())


def _names(record: PlCustomer) -> str:
    if record.name and record.name.strip():
        return record.name.strip()
    full = " ".join(p for p in (record.first_name, record.last_name) if p and p.strip())
    return full or f"Pennylane customer {record.id}"


def customer(record: PlCustomer, contacts: Sequence[Contact] = ()) -> Customer:
    """A customer; its contacts' addresses come after its own, as extra recipients."""
    emails: list[str] = []
    for address in [*(record.emails or ()), *(c.email for c in contacts)]:
        address = (address or "").strip()
        if address and address.lower() not in {e.lower() for e in emails}:
            emails.append(address)
    phone = record.phone or next(
        (
            c.mobile_number or c.telephone_number
            for c in contacts
            if c.mobile_number or c.telephone_number
        ),
        None,
    )
    return Customer(
        id=str(record.id),
        name=_names(record),
        kind="individual" if record.customer_type == "individual" else "company",
        emails=tuple(emails),
        phone=phone or None,
        language=language(record.billing_language),
        # The user's own customer code, for segments and searches.
        tags=frozenset({f"ref:{record.reference}"} if record.reference else ()),
        created=record.created_at.date() if record.created_at else None,
    )


def due_date(issued: date, terms: str | None) -> date:
    """Issue date + payment conditions (``30_days_end_of_month``: end of month, then 30 days
    as French practice reads it: the month's end, plus the days)."""
    if terms in TERMS_DAYS:
        return issued + timedelta(days=TERMS_DAYS[terms])
    if terms in TERMS_END_OF_MONTH:
        last = calendar.monthrange(issued.year, issued.month)[1]
        return issued.replace(day=last) + timedelta(days=TERMS_END_OF_MONTH[terms])
    return issued


def is_ledger_invoice(record: PlInvoice) -> bool:
    """Drafts, incomplete, archived and quote-like documents are not part of the ledger."""
    status = (record.status or "").lower()
    return (
        not (record.draft or status in EXCLUDED_STATUSES or status.startswith("estimate"))
        and record.customer is not None
        and record.customer.id is not None
    )


def invoice(
    record: PlInvoice,
    *,
    today: date,
    terms: Mapping[str, str | None] | None = None,
    litige: Mapping[str, date] | None = None,
    escalated: frozenset[str] = frozenset(),
) -> Invoice | None:
    """The core invoice, or ``None`` when it is not part of the ledger (see the module doc).

    ``terms``: payment conditions by customer id (for a missing deadline);
    ``litige``: invoices carrying the "Litige" category, with the day it was
    first seen; ``escalated``: those carrying "Contentieux".
    """
    if not is_ledger_invoice(record) or record.customer is None:
        return None
    ident = str(record.id)
    customer_id = str(record.customer.id)
    status = (record.status or "").lower()
    e_status = (record.e_invoicing.status or "").lower() if record.e_invoicing else ""
    credit_note = (
        bool(record.credit_note)
        or status == "credit_note"
        or (record.credited_invoice is not None and record.credited_invoice.id is not None)
    )
    amount = abs(_first(record.currency_amount, record.amount))
    issued = record.date or (record.created_at.date() if record.created_at else today)
    due = record.deadline or due_date(issued, (terms or {}).get(customer_id))
    closed = bool(record.paid) or status in CLOSED_STATUSES or e_status in PAID_STATUSES
    linked_credit = credit_note and record.credited_invoice is not None
    if closed or linked_credit:
        open_amount = ZERO
    elif record.remaining_amount_with_tax is not None:
        open_amount = min(abs(record.remaining_amount_with_tax), amount)
    else:
        open_amount = amount
    updated = record.updated_at.date() if record.updated_at else today
    dispute = _dispute(ident, e_status, record, litige or {}, updated)
    return Invoice(
        id=ident,
        customer_id=customer_id,
        number=record.invoice_number or record.label or ident,
        kind="credit_note" if credit_note else "invoice",
        issue_date=issued,
        due_date=max(due, issued),
        amount=amount,
        open_amount=open_amount,
        currency=(record.currency or "EUR").upper(),
        # Pennylane gives no payment date: the last update of a paid invoice is the
        # closest it tells (docs/pennylane.md).
        paid_date=updated
        if open_amount == ZERO and not credit_note and status != "cancelled"
        else None,
        dispute=dispute,
        promise_date=updated + timedelta(days=HOLD_DAYS) if e_status in HOLD_STATUSES else None,
        escalated=ident in escalated,
        factored=e_status in FACTORED_STATUSES,
    )


def _dispute(
    ident: str, e_status: str, record: PlInvoice, litige: Mapping[str, date], updated: date
) -> Dispute | None:
    if ident in litige:
        return Dispute(LITIGE_REASON, litige[ident])
    if e_status in DISPUTE_STATUSES:
        reason = record.e_invoicing.reason if record.e_invoicing else None
        text = f"e-invoicing status {e_status}" + (f": {reason}" if reason else "")
        return Dispute(text, updated)
    return None


def _first(*values: Decimal | None) -> Decimal:
    for value in values:
        if value is not None:
            return value
    return ZERO
