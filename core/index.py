"""The ledger arranged for lookups: built once, read by the engine and the KPIs.

A ledger is a snapshot.  Its index is built on first use and kept on the
ledger; the file decoder builds it while it creates each record, when the
record is still in the processor's cache (docs/decisions.md, "Ledger index").
The cached index is dropped when the ledger's lists are replaced or change
length; a ledger whose records are replaced in place must be built anew.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from core.model import Invoice, Ledger, Reminder

EFFECTIVENESS_WINDOW_DAYS = 14
# The paid-day ordinal given to a closed invoice without a paid date.
NEVER_PAID = 10**9
ZERO = Decimal(0)


class Reminded:
    """What the journal says about one invoice: its first reminder, its done step
    per plan, and when the invoice was fully paid (None: open, or no longer in
    the ledger)."""

    __slots__ = ("done", "first", "paid")

    def __init__(self, invoice: Any, first: date) -> None:
        """``invoice``: the invoice's record (see LedgerIndex.add_reminders), or None."""
        self.first = first
        self.done: dict[str, int] = {}
        self.paid = None if invoice is None or invoice.open_amount else invoice.paid_date


class PaidSummary:
    """A customer's fully paid invoices, summed: what avg_days_late and late_count
    need, and the span of paid days, so that when every payment falls inside the
    365-day window (the usual case: a ledger keeps one year of paid invoices)
    the metrics need not walk the history."""

    __slots__ = ("first", "last", "late", "late_weighted", "weight")

    def __init__(self) -> None:
        self.weight = ZERO
        self.late_weighted = ZERO
        self.late = 0
        self.first = NEVER_PAID
        self.last = 0

    def add(self, amount: Decimal, due: int, paid: int) -> None:
        self.weight += amount
        if paid > due:
            self.late_weighted += amount * (paid - due)
            self.late += 1
        if paid < self.first:
            self.first = paid
        if paid > self.last:
            self.last = paid


# The summary of a customer with no fully paid invoice.
NO_PAYMENTS = PaidSummary()


class OpenSums:
    """Open invoices' open amounts per due day and their full amounts per issue day
    (ordinals), open credit notes' total, and receivables per currency."""

    __slots__ = ("by_currency", "by_due", "by_issue", "credits")

    def __init__(self) -> None:
        self.by_due: dict[int, Decimal] = {}
        self.by_issue: dict[int, Decimal] = {}
        self.credits = ZERO
        self.by_currency: dict[str, Decimal] = {}


# (invoice, due day ordinal, promise day ordinal or 0, journal record or None)
CandidateRow = tuple[Invoice, int, int, "Reminded | None"]


class ReminderStats(NamedTuple):
    """One journal entry, summed up: its step (the highest of its invoices), how
    many invoices it listed, and how many of them were fully paid within 14 days."""

    step: int
    invoices: int
    paid_within_14_days: int


class LedgerIndex:
    __slots__ = (
        "_build",
        "_by_customer",
        "_candidates",
        "_days_to_pay",
        "_history_source",
        "_open_sums",
        "_records",
        "disputed",
        "fingerprint",
        "last_reminder",
        "open_by_customer",
        "paid_by_days",
        "paid_summary",
        "reminded",
        "reminder_stats",
        "sales_by_day",
    )

    def __init__(self) -> None:
        # Every invoice per customer: built on first use (most runs never need
        # it: metrics read the open invoices and the paid summaries).
        self._by_customer: dict[str, list[Invoice]] | None = None
        self._history_source: list[Invoice] = []
        # A decoded file's records: invoices, and the fully paid invoices left
        # unbuilt, which ``_build`` turns into invoices on demand.
        self._records: list[Any] | None = None
        self._build: Callable[[Any, str], Invoice] | None = None
        self._candidates: dict[str, list[CandidateRow]] | None = None
        self._open_sums: OpenSums | None = None
        self._days_to_pay: tuple[int, int] | None = None
        # Invoices and credit notes with an open amount, per customer.
        self.open_by_customer: dict[str, list[Invoice]] = {}
        # The journal joined to the invoices once, so that nothing later looks
        # an invoice up by id (each lookup in a million-entry dict is a cache miss).
        self.reminded: dict[str, Reminded] = {}
        # Parallel to the ledger's reminders.
        self.reminder_stats: list[ReminderStats] = []
        self.last_reminder: dict[str, date] = {}
        # Sums that do not depend on the run date, so the KPIs need not walk the
        # paid invoices: invoice amounts per issue day (ordinal), and the amounts
        # of fully paid invoices per (issue day, paid day) (NEVER_PAID when the
        # paid date is unknown).
        self.sales_by_day: dict[int, Decimal] = {}
        self.paid_by_days: dict[tuple[int, int], Decimal] = {}
        self.paid_summary: dict[str, PaidSummary] = {}
        # Invoices that carry a dispute, open or closed.
        self.disputed: list[Invoice] = []
        self.fingerprint: tuple[int, int, int, int] = (0, 0, 0, 0)

    def history(self, customer_id: str) -> list[Invoice]:
        """All the customer's invoices and credit notes, in ledger order."""
        by_customer = self._by_customer
        if by_customer is None:
            by_customer = self._by_customer = {}
            source = self._history_source if self._records is None else self._records
            for inv in source:
                group = by_customer.get(inv.customer_id)
                if group is None:
                    by_customer[inv.customer_id] = [inv]
                else:
                    group.append(inv)
        found = by_customer.get(customer_id, [])
        build = self._build
        if build is not None and not all(isinstance(r, Invoice) for r in found):
            # A decoded file's records: build the customer's paid invoices now.
            found = by_customer[customer_id] = [
                r if isinstance(r, Invoice) else build(r, customer_id) for r in found
            ]
        return found

    def set_history_source(self, invoices: list[Invoice]) -> None:
        self._history_source = invoices
        self._by_customer = None
        self._records = self._build = None

    def set_records(self, records: list[Any], build: Callable[[Any, str], Invoice]) -> None:
        """A decoded file's records, in file order: ``Invoice`` objects, and others that
        ``build(record, customer_id)`` turns into one (each has ``customer_id``)."""
        self._records, self._build = records, build
        self._by_customer = None

    def add_invoices(self, invoices: list[Invoice]) -> None:
        open_by = self.open_by_customer
        self.set_history_source(invoices)
        for inv in invoices:
            self.add_to_sums(inv)
            cid = inv.customer_id
            if inv.open_amount:
                group = open_by.get(cid)
                if group is None:
                    open_by[cid] = [inv]
                else:
                    group.append(inv)

    def add_to_sums(self, inv: Invoice) -> None:
        if inv.dispute is not None:
            self.disputed.append(inv)
        if inv.kind != "invoice":
            return
        issued = inv.issue_date.toordinal()
        sales = self.sales_by_day
        sales[issued] = sales.get(issued, ZERO) + inv.amount
        if not inv.open_amount:
            paid = inv.paid_date
            paid_day = NEVER_PAID if paid is None else paid.toordinal()
            key = (issued, paid_day)
            paid_sums = self.paid_by_days
            paid_sums[key] = paid_sums.get(key, ZERO) + inv.amount
            if paid is not None:
                summary = self.paid_summary.get(inv.customer_id)
                if summary is None:
                    summary = self.paid_summary[inv.customer_id] = PaidSummary()
                summary.add(inv.amount, inv.due_date.toordinal(), paid_day)

    def add_reminders(self, reminders: list[Reminder], by_id: Mapping[str, Any]) -> None:
        """Join the journal to the invoices (call after add_invoices).  ``by_id`` maps
        each invoice id to its record: anything with the invoice's ``id``,
        ``open_amount`` (a Decimal) and ``paid_date``."""
        reminded, last = self.reminded, self.last_reminder
        stats = self.reminder_stats
        for reminder in reminders:
            sent, plan = reminder.date, reminder.plan
            top = paid_soon = 0
            for iid, step in reminder.invoices:
                record = reminded.get(iid)
                if record is None:
                    invoice = by_id.get(iid)
                    # Keyed by the invoice's own id string: the engine's lookups
                    # with invoice.id then match by identity.
                    key = iid if invoice is None else invoice.id
                    record = reminded[key] = Reminded(invoice, sent)
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

    def candidates(self) -> dict[str, list[CandidateRow]]:
        """Per customer, the open invoices that may be reminded on some day (kind invoice,
        no open dispute, not escalated, not factored: DESIGN §5.1 but for the promise,
        which depends on the day), each with its due day and promise day as ordinals
        (0: no promise) and its journal record.  Built once (call after add_reminders):
        planning then reads these rows instead of each invoice's fields."""
        found = self._candidates
        if found is None:
            found = self._candidates = {}
            reminded = self.reminded
            for cid, invoices in self.open_by_customer.items():
                rows = [
                    (
                        inv,
                        inv.due_date.toordinal(),
                        0 if inv.promise_date is None else inv.promise_date.toordinal(),
                        reminded.get(inv.id),
                    )
                    for inv in invoices
                    if inv.kind == "invoice"
                    and not inv.escalated
                    and not inv.factored
                    and (inv.dispute is None or inv.dispute.closed is not None)
                ]
                if rows:
                    found[cid] = rows
        return found

    def open_sums(self) -> OpenSums:
        """The open invoices and credit notes summed by day (built once), so that the
        KPIs read a few hundred days instead of every open invoice."""
        found = self._open_sums
        if found is None:
            found = self._open_sums = OpenSums()
            by_due, by_issue, by_currency = found.by_due, found.by_issue, found.by_currency
            for invoices in self.open_by_customer.values():
                for inv in invoices:
                    open_amount, currency = inv.open_amount, inv.currency
                    if inv.kind != "invoice":
                        found.credits += open_amount
                        by_currency[currency] = by_currency.get(currency, ZERO) - open_amount
                        continue
                    by_currency[currency] = by_currency.get(currency, ZERO) + open_amount
                    due = inv.due_date.toordinal()
                    by_due[due] = by_due.get(due, ZERO) + open_amount
                    issued = inv.issue_date.toordinal()
                    by_issue[issued] = by_issue.get(issued, ZERO) + inv.amount
        return found

    def days_to_pay_after_first_reminder(self) -> tuple[int, int]:
        """(total days, invoices) from the first reminder of an invoice to its payment,
        over the reminded invoices paid on or after their first reminder (built once)."""
        found = self._days_to_pay
        if found is None:
            total = count = 0
            for record in self.reminded.values():
                paid = record.paid
                if paid is not None and paid >= record.first:
                    total += (paid - record.first).days
                    count += 1
            found = self._days_to_pay = (total, count)
        return found

    def done_step(self, invoice_id: str, plan: str) -> int:
        """The highest step recorded for the invoice under that plan (0 if none)."""
        record = self.reminded.get(invoice_id)
        return 0 if record is None else record.done.get(plan, 0)


def ledger_index(ledger: Ledger) -> LedgerIndex:
    """The ledger's index, built now unless a current one is kept on the ledger."""
    index = ledger.index
    if index is not None and index.fingerprint == ledger.fingerprint():
        return index
    index = LedgerIndex()
    invoices = ledger.invoices
    index.add_invoices(invoices)
    index.add_reminders(ledger.reminders, {inv.id: inv for inv in invoices})
    keep(ledger, index)
    return index


def keep(ledger: Ledger, index: LedgerIndex) -> None:
    """Attach an index that describes the ledger as it is now."""
    index.fingerprint = ledger.fingerprint()
    ledger.index = index
