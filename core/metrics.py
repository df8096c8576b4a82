"""Customer metrics (DESIGN §4) and receivables KPIs (DESIGN §6), as functions of (ledger, today).

Amounts stay Decimal; KPI ratios are Decimal too and only rounded by whoever
prints them.  Window conventions where DESIGN.md is silent are written in
docs/rules.md ("Windows").
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from core.collector import collector_paused
from core.index import PaidSummary, ReminderStats, ledger_index
from core.model import ZERO, Customer, Invoice, Ledger, Reminder

DSO_NO_SALES = Decimal(999)
AGE_BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")


def in_last_days(day: date | None, today: date, days: int) -> bool:
    """``day`` falls in the ``days`` days ending today (today included)."""
    return day is not None and 0 <= (today - day).days < days


# Metrics read from the whole history (paid invoices, sales); the others need
# only the open invoices.
HISTORY_METRICS = frozenset({"avg_days_late", "late_count", "dso"})


def customer_metrics(
    customer: Customer,
    invoices: Iterable[Invoice],
    today: date,
    *,
    open_invoices: Iterable[Invoice] | None = None,
    names: frozenset[str] | None = None,
    paid_summary: PaidSummary | None = None,
) -> dict[str, object]:
    """The metrics segment rules read (DESIGN §4).

    ``invoices`` is the customer's whole history; ``open_invoices``, when given,
    its invoices with an open amount (a shorter list).  With ``names``, only the
    whole-history metrics among them are computed from the history; the others
    then read 0.  ``paid_summary``, the index's summary of the customer's paid invoices,
    stands for the history when every payment is inside the 365-day window and
    ``dso`` is not asked for.  Amounts are added as they are, whatever their
    currency.
    """
    t = today.toordinal()
    outstanding = overdue = sales_90 = paid_weight = paid_late_days = ZERO
    max_days = late_count = open_disputes = 0
    for inv in invoices if open_invoices is None else open_invoices:
        open_amount = inv.open_amount
        if inv.kind != "invoice" or not open_amount:
            continue
        outstanding += open_amount
        days = t - inv.due_date.toordinal()
        if days > 0:
            overdue += open_amount
            late_count += 1
            if days > max_days:
                max_days = days
        if inv.dispute is not None and inv.dispute.closed is None:
            open_disputes += 1
    history = names is None or not names.isdisjoint(HISTORY_METRICS)
    summary = paid_summary
    if (
        summary is not None
        and names is not None
        and "dso" not in names
        and t - 365 < summary.first
        and summary.last <= t
    ):
        paid_weight, paid_late_days = summary.weight, summary.late_weighted
        late_count += summary.late
    elif history:
        # A date d is in the last 365 (90) days when year_ago < d <= t.
        year_ago, quarter_ago = t - 365, t - 90
        for inv in invoices:
            if inv.kind != "invoice":
                continue
            if not inv.open_amount and inv.paid_date is not None:
                paid = inv.paid_date.toordinal()
                if year_ago < paid <= t:
                    due = inv.due_date.toordinal()
                    paid_weight += inv.amount
                    if paid > due:
                        paid_late_days += inv.amount * (paid - due)
                        late_count += 1
            issued = inv.issue_date.toordinal()
            if quarter_ago < issued <= t:
                sales_90 += inv.amount
    avg_days_late = paid_late_days / paid_weight if paid_weight else ZERO
    if sales_90:
        dso = outstanding / sales_90 * 90
    else:
        dso = DSO_NO_SALES if outstanding and history else ZERO
    limit = customer.credit_limit
    return {
        "outstanding": outstanding,
        "overdue_amount": overdue,
        "max_days_overdue": max_days,
        "avg_days_late": avg_days_late,
        "late_count": late_count,
        "dso": dso,
        "open_disputes": open_disputes,
        "customer_age_days": (today - customer.created).days if customer.created else 0,
        "credit_usage": outstanding / limit if limit else ZERO,
        "tags": customer.tags,
    }


def age_bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "not_due"
    if days_overdue <= 30:
        return "1_30"
    if days_overdue <= 60:
        return "31_60"
    if days_overdue <= 90:
        return "61_90"
    return "over_90"


def months_back(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, clamped to the month's end."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def dso_countback(
    receivables: Decimal, monthly_sales: Sequence[Decimal], month_days: Sequence[int]
) -> Decimal | None:
    """Count-back DSO ("par épuisement du CA"): exhaust receivables month by month, newest first.

    ``monthly_sales[k]`` and ``month_days[k]`` are month k's sales and length;
    month 0 is the current month up to today.
    """
    if receivables <= 0:
        return ZERO
    remaining, dso = receivables, ZERO
    for sales, days in zip(monthly_sales, month_days, strict=True):
        if sales == 0:
            dso += days
        elif remaining > sales:
            dso += days
            remaining -= sales
        else:
            return dso + days * remaining / sales
    total_sales = sum(monthly_sales, ZERO)
    if total_sales <= 0:
        return None
    daily = total_sales / sum(month_days)
    return dso + remaining / daily


@dataclass
class Kpis:
    today: date
    receivables: Decimal
    aged_balance: dict[str, Decimal]
    dso_simple: Decimal | None
    dso_countback: Decimal | None
    overdue_ratio: Decimal | None
    cei: Decimal | None
    avg_days_to_pay_after_first_reminder: Decimal | None
    avg_dispute_resolution_days: Decimal | None
    effectiveness: list[dict[str, object]] = field(default_factory=list)
    by_currency: dict[str, Decimal] = field(default_factory=dict)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return numerator / denominator if denominator != 0 else None


def compute_kpis(ledger: Ledger, today: date, segments: Mapping[str, str] | None = None) -> Kpis:
    """Receivables KPIs as of today (DESIGN §6).

    ``segments`` maps customer id to segment name, for the effectiveness table.
    """
    with collector_paused():
        return _kpis(ledger, today, segments)


def _kpis(ledger: Ledger, today: date, segments: Mapping[str, str] | None) -> Kpis:
    index = ledger_index(ledger)
    t = today.toordinal()
    b30, b60, b90 = ZERO, ZERO, ZERO
    not_due = over_90 = ZERO
    overdue = ZERO

    month_starts = [today.replace(day=1)]
    for _ in range(12):
        month_starts.append(months_back(month_starts[-1], 1))
    month_days = [today.day] + [calendar.monthrange(m.year, m.month)[1] for m in month_starts[1:]]
    first_day = month_starts[-1].toordinal()
    # Sales per issue day over the 13-month window; months, the 90-day window and
    # the CEI period are sums of days.
    day_sales = [ZERO] * (t - first_day + 1)

    ps = months_back(today, 3).toordinal()
    opening = ZERO
    # Open invoices and credit notes, summed per day by the index: receivables,
    # aging, and the open part of the CEI's opening receivables.
    sums = index.open_sums()
    open_credits = sums.credits
    by_currency = sums.by_currency
    for due, open_amount in sums.by_due.items():
        days = t - due
        if days <= 0:
            not_due += open_amount
        else:
            overdue += open_amount
            if days <= 30:
                b30 += open_amount
            elif days <= 60:
                b60 += open_amount
            elif days <= 90:
                b90 += open_amount
            else:
                over_90 += open_amount
    for issued, amount in sums.by_issue.items():
        if issued <= ps:
            opening += amount
    # Paid invoices, through the index's sums: those issued by the CEI period's
    # start and paid after it were still receivable then.
    for (issued, paid), amount in index.paid_by_days.items():
        if issued <= ps < paid:
            opening += amount
    for issued, amount in index.sales_by_day.items():
        if first_day <= issued <= t:
            day_sales[issued - first_day] += amount

    sales_90 = sum(day_sales[max(0, t - 89 - first_day) :], ZERO)
    period_sales = sum(day_sales[ps + 1 - first_day :], ZERO)
    monthly_sales = []
    for k, start in enumerate(month_starts):
        end = t if k == 0 else month_starts[k - 1].toordinal() - 1
        monthly_sales.append(
            sum(day_sales[start.toordinal() - first_day : end + 1 - first_day], ZERO)
        )
    aged = {"not_due": not_due, "1_30": b30, "31_60": b60, "61_90": b90, "over_90": over_90}
    open_invoices = not_due + overdue
    not_yet_due = not_due
    receivables = open_invoices - open_credits
    if receivables <= 0:
        dso_simple: Decimal | None = ZERO
    else:
        dso_simple = _ratio(receivables * 90, sales_90)
    cei_denominator = opening + period_sales / 3 - not_yet_due
    cei_value = _ratio((opening + period_sales / 3 - receivables) * 100, cei_denominator)

    return Kpis(
        today=today,
        receivables=receivables,
        aged_balance=aged,
        dso_simple=dso_simple,
        dso_countback=dso_countback(receivables, monthly_sales, month_days),
        overdue_ratio=_ratio(overdue, receivables) if receivables > 0 else None,
        cei=cei_value,
        avg_days_to_pay_after_first_reminder=_mean(*index.days_to_pay_after_first_reminder()),
        avg_dispute_resolution_days=_dispute_resolution_days(index.disputed),
        effectiveness=reminder_effectiveness(
            ledger.reminders, index.reminder_stats, segments or {}
        ),
        by_currency=dict(by_currency),
    )


def _mean(total: int, count: int) -> Decimal | None:
    return Decimal(total) / count if count else None


def _dispute_resolution_days(invoices: Iterable[Invoice]) -> Decimal | None:
    spans = [
        (inv.dispute.closed - inv.dispute.opened).days
        for inv in invoices
        if inv.dispute is not None
        and inv.dispute.closed is not None
        and inv.dispute.opened is not None
        and inv.dispute.closed >= inv.dispute.opened
    ]
    return Decimal(sum(spans)) / len(spans) if spans else None


def reminder_effectiveness(
    reminders: Sequence[Reminder], stats: Sequence[ReminderStats], segments: Mapping[str, str]
) -> list[dict[str, object]]:
    """Per (plan, step, channel, segment): reminders sent, and the share of their
    invoices fully paid within 14 days after the reminder (counted once per
    reminder by the ledger index)."""
    counts: dict[tuple[str, int, str, str], list[int]] = {}
    for reminder, (step, invoices, paid) in zip(reminders, stats, strict=True):
        group = (reminder.plan, step, reminder.channel, segments.get(reminder.customer_id, ""))
        row = counts.get(group)
        if row is None:
            counts[group] = [1, invoices, paid]
        else:
            row[0] += 1
            row[1] += invoices
            row[2] += paid
    rows: list[dict[str, object]] = []
    for (plan, step, channel, segment), (reminders_sent, invoices, paid) in sorted(counts.items()):
        rows.append(
            {
                "plan": plan,
                "step": step,
                "channel": channel,
                "segment": segment,
                "reminders": reminders_sent,
                "invoices": invoices,
                "paid_within_14_days": paid,
                "paid_share": Decimal(paid) / invoices if invoices else None,
            }
        )
    return rows
