"""The ledger arranged for lookups: built once, read by the engine and the KPIs.

A ledger is a snapshot.  Its index is built on first use and kept on the
ledger; the file decoder builds it while it creates each record, when the
record is still in the processor's cache (docs/decisions.md, "Ledger index").
The cached index is dropped when the ledger's lists are replaced or change
length; a ledger whose records are replaced in place must be built anew.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from core.model import Invoice, Ledger, Reminder

EFFECTIVENESS_WINDOW_DAYS = 14


class Reminded:
    """What the journal says about one invoice: its first reminder, its done step
    per plan, and when the invoice was fully paid (None: open, or no longer in
    the ledger)."""

    __slots__ = ("done", "first", "paid")

    def __init__(self, invoice: Invoice | None, first: date) -> None:
        self.first = first
        self.done: dict[str, int] = {}
        self.paid = None if invoice is None or invoice.open_amount else invoice.paid_date


class ReminderStats(NamedTuple):
    """One journal entry, summed up: its step (the highest of its invoices), how
    many invoices it listed, and how many of them were fully paid within 14 days."""

    step: int
    invoices: int
    paid_within_14_days: int


class LedgerIndex:
    __slots__ = (
        "by_customer",
        "by_id",
        "fingerprint",
        "last_reminder",
        "open_by_customer",
        "reminded",
        "reminder_stats",
    )

    def __init__(self) -> None:
        self.by_id: dict[str, Invoice] = {}
        self.by_customer: dict[str, list[Invoice]] = {}
        # Invoices and credit notes with an open amount, per customer.
        self.open_by_customer: dict[str, list[Invoice]] = {}
        # The journal joined to the invoices once, so that nothing later looks
        # an invoice up by id (each lookup in a million-entry dict is a cache miss).
        self.reminded: dict[str, Reminded] = {}
        # Parallel to the ledger's reminders.
        self.reminder_stats: list[ReminderStats] = []
        self.last_reminder: dict[str, date] = {}
        self.fingerprint: tuple[int, int, int, int] = (0, 0, 0, 0)

    def add_invoices(self, invoices: list[Invoice]) -> None:
        by_id, by_customer, open_by = self.by_id, self.by_customer, self.open_by_customer
        for inv in invoices:
            by_id[inv.id] = inv
            cid = inv.customer_id
            group = by_customer.get(cid)
            if group is None:
                by_customer[cid] = [inv]
            else:
                group.append(inv)
            if inv.open_amount:
                group = open_by.get(cid)
                if group is None:
                    open_by[cid] = [inv]
                else:
                    group.append(inv)

    def add_reminders(self, reminders: list[Reminder]) -> None:
        """Join the journal to the invoices (call after add_invoices)."""
        reminded, by_id, last = self.reminded, self.by_id, self.last_reminder
        stats = self.reminder_stats
        for reminder in reminders:
            sent, plan = reminder.date, reminder.plan
            top = paid_soon = 0
            for iid, step in reminder.invoices:
                record = reminded.get(iid)
                if record is None:
                    record = reminded[iid] = Reminded(by_id.get(iid), sent)
                elif sent < record.first:
                    record.first = sent
                if step > record.done.get(plan, 0):
                    record.done[plan] = step
                if step > top:
                    top = step
                paid = record.paid
                if paid is not None and 0 <= (paid - sent).days <= EFFECTIVENESS_WINDOW_DAYS:
                    paid_soon += 1
            stats.append(ReminderStats(top, len(reminder.invoices), paid_soon))
            known = last.get(reminder.customer_id)
            if known is None or sent > known:
                last[reminder.customer_id] = sent

    def done_step(self, invoice_id: str, plan: str) -> int:
        """The highest step recorded for the invoice under that plan (0 if none)."""
        record = self.reminded.get(invoice_id)
        return 0 if record is None else record.done.get(plan, 0)


def _fingerprint(ledger: Ledger) -> tuple[int, int, int, int]:
    return (id(ledger.invoices), len(ledger.invoices), id(ledger.reminders), len(ledger.reminders))


def ledger_index(ledger: Ledger) -> LedgerIndex:
    """The ledger's index, built now unless a current one is kept on the ledger."""
    index = ledger.index
    if index is not None and index.fingerprint == _fingerprint(ledger):
        return index
    index = LedgerIndex()
    index.add_invoices(ledger.invoices)
    index.add_reminders(ledger.reminders)
    keep(ledger, index)
    return index


def keep(ledger: Ledger, index: LedgerIndex) -> None:
    """Attach an index that describes the ledger as it is now."""
    index.fingerprint = _fingerprint(ledger)
    ledger.index = index
