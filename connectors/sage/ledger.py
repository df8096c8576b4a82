"""Sage 100 accounting lines -> Relance invoices, credits and imported reminders (pure code).

Rules (docs/sage.md):

* An invoice is the customer-account lines of one piece (``EC_RefPiece``, else
  ``EC_Piece``) and one due date (``EC_Echeance``): an invoice with several
  due dates is several Relance invoices, numbered ``FA00125 (1/2)``, ``(2/2)``.
* The open amount is the signed sum (``EC_Sens`` 0 debit +, 1 credit -) of the
  group's unlettered lines (``EC_Lettre = 0``).  A payment partially lettered
  against an invoice (same ``EC_Lettrage`` code, still ``EC_Lettre = 0``)
  reduces that invoice, earliest due date first; what is left of it, and every
  unlettered credit note or payment on account, is a credit (``credit_note``).
* An opening-balance line (``EC_ANType`` not 0, or an opening journal) that
  repeats a line of the previous fiscal year still present (same account,
  piece, due date, side and amount) is dropped: the same debt is not counted twice.
* Sage's own reminder level (``EC_Rappel``) and date (``EC_DateRelance``) become
  a journal entry, so nobody receives again a reminder Sage already sent.
* Empty dates (NULL, 1900-01-01, 1753-01-01) are "none".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from core.model import ZERO, Dispute, Invoice, Reminder, ReminderLine

__all__ = ["DisputeLink", "Line", "build_invoices", "customer_of", "sage_date"]

EMPTY_DATES = frozenset({date(1900, 1, 1), date(1753, 1, 1)})
CENT = Decimal("0.01")


def sage_date(value: datetime | date | None) -> date | None:
    """A Sage date, ``None`` for the empty-date sentinels."""
    if value is None:
        return None
    day = value.date() if isinstance(value, datetime) else value
    return None if day in EMPTY_DATES else day


class Line(NamedTuple):
    """One customer-account line of F_ECRITUREC, as read."""

    marq: int
    ec_no: int
    journal: str
    ref: str  # EC_RefPiece, else EC_Piece
    customer: str
    due: date | None
    day: date  # EC_Date, else the accounting date
    debit: bool
    amount: Decimal
    lettered: bool
    code: str  # EC_Lettrage ('' when none)
    level: int  # EC_Rappel
    reminded: date | None  # EC_DateRelance
    opening: bool  # an opening-balance (à-nouveau) line
    modified: date


@dataclass(frozen=True, slots=True)
class DisputeLink:
    """A line in a recovery dossier that has a dispute reason (P_LITIGE)."""

    ec_no: int
    dispute: Dispute


def customer_of(invoice_id: str) -> str:
    """The Sage account (CT_Num) of an invoice id built here, or the id itself."""
    return invoice_id.split("|", 1)[0]


@dataclass(slots=True)
class _Group:
    customer: str
    ref: str
    due: date | None
    credit: bool
    lines: list[Line]
    allocated: Decimal = ZERO  # partial payments lettered against it

    def debits(self) -> list[Line]:
        return [line for line in self.lines if line.debit]

    def open(self) -> Decimal:
        signed = sum(
            (
                line.amount if line.debit else -line.amount
                for line in self.lines
                if not line.lettered
            ),
            ZERO,
        )
        return signed - self.allocated


def drop_opening_duplicates(lines: Iterable[Line]) -> list[Line]:
    """Lines without the opening-balance copies of lines still present (see module docstring)."""
    kept = list(lines)
    originals: dict[tuple[object, ...], int] = defaultdict(int)
    for line in kept:
        if not line.opening:
            originals[_same_debt(line)] += 1
    result = []
    for line in kept:
        key = _same_debt(line)
        if line.opening and originals.get(key, 0) > 0:
            originals[key] -= 1
            continue
        result.append(line)
    return result


def _same_debt(line: Line) -> tuple[object, ...]:
    return (line.customer, line.ref, line.due, line.debit, line.amount)


def build_invoices(
    lines: Iterable[Line],
    disputes: Mapping[int, Dispute],
    *,
    currency: str,
    history_plan: str,
    step_offset: int,
) -> tuple[list[Invoice], list[Reminder]]:
    """Invoices and credits of these lines (all the lines of their customers), and
    the journal entries of Sage's own reminders."""
    groups: dict[tuple[str, str, date | None, bool], _Group] = {}
    partial: dict[tuple[str, str], list[Line]] = defaultdict(list)
    debit_codes: dict[tuple[str, str], dict[tuple[str, str, date | None, bool], _Group]] = (
        defaultdict(dict)
    )
    kept = drop_opening_duplicates(lines)
    coded_debits = {(ln.customer, ln.code) for ln in kept if ln.debit and ln.code}
    for line in kept:
        if not line.debit and line.code and (line.customer, line.code) in coded_debits:
            partial[(line.customer, line.code)].append(line)
            continue
        when = line.due if line.debit else line.due or line.day
        key = (line.customer, line.ref, when, not line.debit)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(line.customer, line.ref, key[2], not line.debit, [])
        group.lines.append(line)
        if line.debit and line.code:
            debit_codes[(line.customer, line.code)][key] = group
    leftovers: list[tuple[str, str, Decimal, list[Line]]] = []
    for (customer, code), payments in partial.items():
        targets = sorted(debit_codes[(customer, code)].values(), key=lambda g: g.due or date.min)
        pool = sum((p.amount for p in payments if not p.lettered), ZERO)
        for target in targets:
            target.lines.extend(p for p in payments if p.lettered)
            take = min(max(target.open(), ZERO), pool)
            target.allocated += take
            pool -= take
        if pool > 0:
            leftovers.append((customer, code, pool, payments))
    invoices: list[Invoice] = []
    reminders: list[Reminder] = []
    by_ref: dict[tuple[str, str], list[_Group]] = defaultdict(list)
    for group in groups.values():
        if not group.credit:
            by_ref[(group.customer, group.ref)].append(group)
    numbers: dict[int, str] = {}
    for (_, ref), same in by_ref.items():
        same.sort(key=lambda g: g.due or date.min)
        for position, group in enumerate(same, 1):
            numbers[id(group)] = ref if len(same) == 1 else f"{ref} ({position}/{len(same)})"
    for group in groups.values():
        invoice = _invoice(group, numbers.get(id(group), group.ref), disputes, currency)
        if invoice is None:
            continue
        invoices.append(invoice)
        reminder = _sage_reminder(group, invoice, history_plan, step_offset)
        if reminder is not None:
            reminders.append(reminder)
    for customer, code, pool, payments in leftovers:
        first = min(payments, key=lambda p: p.marq)
        invoices.append(
            Invoice(
                id=f"{customer}|{first.ref}|{first.day:%Y%m%d}|{code}|credit",
                customer_id=customer,
                number=first.ref,
                kind="credit_note",
                issue_date=first.day,
                due_date=first.day,
                amount=_money(sum((p.amount for p in payments), ZERO)),
                open_amount=_money(pool),
                currency=currency,
            )
        )
    return invoices, reminders


def _invoice(
    group: _Group, number: str, disputes: Mapping[int, Dispute], currency: str
) -> Invoice | None:
    open_signed = group.open()
    issued = min(line.day for line in group.lines)
    if group.credit:
        if open_signed >= 0:
            return None  # a settled credit note or payment: nothing to net
        day = group.due or issued
        return Invoice(
            id=f"{group.customer}|{group.ref}|{day:%Y%m%d}|credit",
            customer_id=group.customer,
            number=group.ref,
            kind="credit_note",
            issue_date=issued,
            due_date=day,
            amount=_money(sum((ln.amount for ln in group.lines if not ln.debit), ZERO)),
            open_amount=_money(-open_signed),
            currency=currency,
        )
    debits = group.debits()
    issued = min(line.day for line in debits)
    due = group.due or issued
    open_amount = max(open_signed, ZERO)
    paid: date | None = None
    if open_amount == 0:
        settled = [ln for ln in group.lines if not ln.debit] or group.lines
        paid = max(ln.day if not ln.debit else ln.modified for ln in settled)
    found = [disputes[ln.ec_no] for ln in group.lines if ln.ec_no in disputes]
    dispute = max(found, key=lambda d: (d.is_open(), d.opened or date.min)) if found else None
    return Invoice(
        id=f"{group.customer}|{group.ref}|{due:%Y%m%d}",
        customer_id=group.customer,
        number=number,
        kind="invoice",
        issue_date=issued,
        due_date=due,
        amount=_money(sum((ln.amount for ln in debits), ZERO)),
        open_amount=_money(open_amount),
        currency=currency,
        paid_date=paid,
        dispute=dispute,
    )


def _sage_reminder(group: _Group, invoice: Invoice, plan: str, step_offset: int) -> Reminder | None:
    """Sage's reminder level of this invoice as a journal entry (key stable across pulls)."""
    debits = [ln for ln in group.debits() if ln.level > 0]
    if not debits:
        return None
    level = max(ln.level for ln in debits)
    day = max((ln.reminded for ln in debits if ln.reminded), default=None)
    if day is None:
        day = invoice.due_date + timedelta(days=1)
    return Reminder(
        customer_id=invoice.customer_id,
        date=day,
        plan=plan,
        channel="letter",
        key=f"sage100:{invoice.id}:{level}",
        invoices=(ReminderLine(invoice.id, level + step_offset),),
    )


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT)
