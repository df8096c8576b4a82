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
    """The lines of one invoice (one piece, one due date) or of one credit."""

    customer: str
    ref: str
    due: date | None
    credit: bool
    lines: list[Line]
    allocated: Decimal = ZERO  # partial payments lettered against it

    def open(self) -> Decimal:
        signed = ZERO
        for line in self.lines:
            if not line.lettered:
                signed += line.amount if line.debit else -line.amount
        return signed - self.allocated


def drop_opening_duplicates(lines: Iterable[Line]) -> list[Line]:
    """Lines without the opening-balance copies of lines still present (see module docstring)."""
    kept = list(lines)
    pieces = {(line.customer, line.ref) for line in kept if line.opening}
    if not pieces:
        return kept  # no opening line, nothing to compare: the usual case
    candidates = [(i, ln) for i, ln in enumerate(kept) if (ln.customer, ln.ref) in pieces]
    originals: dict[tuple[object, ...], int] = defaultdict(int)
    for _, line in candidates:
        if not line.opening:
            originals[_same_debt(line)] += 1
    dropped: set[int] = set()
    for index, line in candidates:
        key = _same_debt(line)
        if line.opening and originals.get(key, 0) > 0:
            originals[key] -= 1
            dropped.add(index)
    return [line for i, line in enumerate(kept) if i not in dropped]


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
        customer, ref, code, debit = line.customer, line.ref, line.code, line.debit
        if debit:
            key = (customer, ref, line.due, False)
        elif code and (customer, code) in coded_debits:
            partial[(customer, code)].append(line)
            continue
        else:
            key = (customer, ref, line.due or line.day, True)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(customer, ref, key[2], not debit, [line])
        else:
            group.lines.append(line)
        if debit and code:
            debit_codes[(customer, code)][key] = group
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
    numbers = _numbers(groups.values())
    days: dict[date, str] = {}  # each day's text in the ids, formatted once
    invoices: list[Invoice] = []
    reminders: list[Reminder] = []
    for group in groups.values():
        if group.credit:
            invoice = _credit(group, currency, days)
            if invoice is not None:
                invoices.append(invoice)
            continue
        invoice = _invoice(group, numbers.get(id(group), group.ref), disputes, currency, days)
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


def _numbers(groups: Iterable[_Group]) -> dict[int, str]:
    """The number of each invoice whose piece has several due dates (by ``id`` of its
    group): ``FA00125 (1/2)``, ``(2/2)`` in due-date order.  The others keep the piece's."""
    by_ref: dict[tuple[str, str], list[_Group]] = defaultdict(list)
    for group in groups:
        if not group.credit:
            by_ref[(group.customer, group.ref)].append(group)
    numbers: dict[int, str] = {}
    for (_, ref), same in by_ref.items():
        if len(same) > 1:
            same.sort(key=lambda g: g.due or date.min)
            for position, group in enumerate(same, 1):
                numbers[id(group)] = f"{ref} ({position}/{len(same)})"
    return numbers


def _ymd(day: date, days: dict[date, str]) -> str:
    text = days.get(day)
    if text is None:
        text = days[day] = f"{day:%Y%m%d}"
    return text


def _credit(group: _Group, currency: str, days: dict[date, str]) -> Invoice | None:
    """A credit note or payment still open (its lines are all credit lines), else None."""
    amount = unlettered = ZERO
    issued = group.lines[0].day
    for line in group.lines:
        amount += line.amount
        if not line.lettered:
            unlettered += line.amount
        if line.day < issued:
            issued = line.day
    open_signed = -unlettered - group.allocated
    if open_signed >= 0:
        return None  # a settled credit note or payment: nothing to net
    day = group.due or issued
    return Invoice(
        id=f"{group.customer}|{group.ref}|{_ymd(day, days)}|credit",
        customer_id=group.customer,
        number=group.ref,
        kind="credit_note",
        issue_date=issued,
        due_date=day,
        amount=_money(amount),
        open_amount=_money(-open_signed),
        currency=currency,
    )


def _invoice(
    group: _Group,
    number: str,
    disputes: Mapping[int, Dispute],
    currency: str,
    days: dict[date, str],
) -> Invoice:
    """An invoice: its debit lines, with the payments lettered against it."""
    amount = signed = ZERO
    issued: date | None = None
    found: list[Dispute] = []
    paid_credit: date | None = None  # the latest payment day
    paid_debit: date | None = None  # without payments: the latest change of a debit line
    for line in group.lines:
        if line.debit:
            amount += line.amount
            if not line.lettered:
                signed += line.amount
            if issued is None or line.day < issued:
                issued = line.day
            if paid_debit is None or line.modified > paid_debit:
                paid_debit = line.modified
        else:
            if not line.lettered:
                signed -= line.amount
            if paid_credit is None or line.day > paid_credit:
                paid_credit = line.day
        if line.ec_no in disputes:
            found.append(disputes[line.ec_no])
    assert issued is not None  # an invoice's group starts with a debit line
    open_amount = max(signed - group.allocated, ZERO)
    due = group.due or issued
    paid = (paid_credit or paid_debit) if open_amount == 0 else None
    dispute = max(found, key=lambda d: (d.is_open(), d.opened or date.min)) if found else None
    return Invoice(
        id=f"{group.customer}|{group.ref}|{_ymd(due, days)}",
        customer_id=group.customer,
        number=number,
        kind="invoice",
        issue_date=issued,
        due_date=due,
        amount=_money(amount),
        open_amount=_money(open_amount),
        currency=currency,
        paid_date=paid,
        dispute=dispute,
    )


def _sage_reminder(group: _Group, invoice: Invoice, plan: str, step_offset: int) -> Reminder | None:
    """Sage's reminder level of this invoice as a journal entry (key stable across pulls)."""
    level = 0
    day: date | None = None
    for line in group.lines:
        if line.debit and line.level > 0:
            level = max(level, line.level)
            if line.reminded and (day is None or line.reminded > day):
                day = line.reminded
    if level == 0:
        return None
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
