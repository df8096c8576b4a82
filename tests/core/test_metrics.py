"""Customer metrics (DESIGN.md section 4), the segments they drive, and the receivables KPIs
(section 6).

"Today" is Tuesday 30 June 2026 unless a test says otherwise.  Where DESIGN is silent and
the code chose (window edges, empty cases), the test is named after the code's choice.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from builders import (
    config,
    credit_note,
    customer,
    dispute,
    invoice,
    ledger,
    paid_invoice,
    reminder,
)

from core.index import ledger_index
from core.metrics import compute_kpis, customer_metrics, dso_countback
from core.model import Invoice
from core.segments import assign, shipped_segments

TODAY = date(2026, 6, 30)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def metrics_of(*invoices: Invoice, **customer_fields: object) -> dict[str, object]:
    return customer_metrics(customer(**customer_fields), invoices, TODAY)


# --------------------------------------------------------------------------- §4 customer metrics


def test_outstanding_sums_open_invoices_only() -> None:
    """§4: outstanding is the open amount of open invoices: a partly paid invoice counts for
    what is left (250.00), paid invoices and open credit notes do not count."""
    m = metrics_of(
        invoice("F1", due=ago(10), amount="1000.00"),
        invoice("F2", due=ago(-10), amount="1000.00", open="250.00"),
        paid_invoice("P1", due=ago(40), paid=ago(30)),
        credit_note("A1", amount="300.00"),
    )
    assert m["outstanding"] == Decimal("1250.00")


def test_overdue_amount_counts_invoices_due_before_today() -> None:
    """§4: overdue_amount covers open invoices with due_date < today: one due yesterday
    (400.00) counts, one due today (1,000.00) does not."""
    m = metrics_of(
        invoice("F1", due=ago(1), amount="400.00"), invoice("F2", due=TODAY, amount="1000.00")
    )
    assert (m["outstanding"], m["overdue_amount"]) == (Decimal("1400.00"), Decimal("400.00"))


def test_max_days_overdue_over_open_invoices() -> None:
    """§4: max_days_overdue is the largest (today - due date) over open invoices (45 here;
    a paid invoice 200 days past due does not count) and 0 without overdue invoices."""
    m = metrics_of(
        invoice("F1", due=ago(45)),
        invoice("F2", due=ago(3)),
        paid_invoice("P1", due=ago(200), paid=ago(100)),
    )
    assert m["max_days_overdue"] == 45
    assert metrics_of(invoice("F1", due=ago(-5)))["max_days_overdue"] == 0
    assert metrics_of()["max_days_overdue"] == 0


def test_avg_days_late_is_amount_weighted_over_invoices_paid_in_the_last_365_days() -> None:
    """§4: avg_days_late is the amount-weighted mean of max(0, paid - due) over invoices paid
    in the last 365 days: 1,000.00 paid 10 days late, 3,000.00 on time and 1,000.00 five
    days early give (1000 x 10) / 5000 = 2 days; an invoice paid 365 days ago is outside."""
    m = metrics_of(
        paid_invoice("P1", due=ago(40), paid=ago(30), amount="1000.00"),
        paid_invoice("P2", due=ago(20), paid=ago(20), amount="3000.00"),
        paid_invoice("P3", due=ago(10), paid=ago(15), amount="1000.00"),
        paid_invoice("P4", due=ago(465), paid=ago(365), amount="9000.00"),
    )
    assert m["avg_days_late"] == Decimal(2)
    assert metrics_of(invoice(due=ago(50)))["avg_days_late"] == 0


def test_last_365_days_window_is_today_minus_364_to_today() -> None:
    """§4 (DESIGN silent on the edge; the code's choice, docs/rules.md "Windows"): "paid in the
    last 365 days" includes an invoice paid 364 days ago, not one paid 365 days ago."""
    inside = metrics_of(paid_invoice("P1", due=ago(394), paid=ago(364)))
    outside = metrics_of(paid_invoice("P1", due=ago(395), paid=ago(365)))
    assert (inside["avg_days_late"], inside["late_count"]) == (Decimal(30), 1)
    assert (outside["avg_days_late"], outside["late_count"]) == (0, 0)


def test_late_count_adds_late_payments_and_open_overdue_invoices() -> None:
    """§4: late_count = invoices paid late in the last 365 days (2) + open overdue invoices
    (2); on-time payments and invoices not yet due do not count."""
    m = metrics_of(
        paid_invoice("P1", due=ago(40), paid=ago(30)),
        paid_invoice("P2", due=ago(90), paid=ago(60)),
        paid_invoice("P3", due=ago(20), paid=ago(25)),
        invoice("F1", due=ago(5)),
        invoice("F2", due=ago(50), dispute=dispute()),
        invoice("F3", due=ago(-5)),
    )
    assert m["late_count"] == 4


def test_dso_is_outstanding_over_last_90_days_sales_times_90() -> None:
    """§4: dso = outstanding / sales of the last 90 days x 90: 3,000.00 outstanding against
    9,000.00 issued (of which 6,000.00 already paid) gives 30 days."""
    m = metrics_of(
        invoice("F1", due=ago(-20), amount="3000.00", issue_date=ago(10)),
        paid_invoice("P1", due=ago(20), paid=ago(15), amount="6000.00", issue_date=ago(50)),
    )
    assert m["dso"] == Decimal(30)


def test_dso_is_zero_without_sales_or_outstanding_and_999_without_sales() -> None:
    """§4: dso is 0 with no sales and nothing outstanding, 999 with something outstanding but
    no sales in the last 90 days."""
    assert metrics_of()["dso"] == 0
    assert metrics_of(paid_invoice(issue_date=ago(200), due=ago(170), paid=ago(160)))["dso"] == 0
    assert metrics_of(invoice(due=ago(100), issue_date=ago(130)))["dso"] == Decimal(999)


def test_last_90_days_sales_window_is_today_minus_89_to_today() -> None:
    """§4 (DESIGN silent on the edge; the code's choice): an invoice issued 89 days ago is a
    sale of the last 90 days; one issued 90 days ago is not."""
    inside = metrics_of(invoice(due=ago(59), issue_date=ago(89), amount="900.00"))
    outside = metrics_of(invoice(due=ago(60), issue_date=ago(90), amount="900.00"))
    assert inside["dso"] == Decimal(90)
    assert outside["dso"] == Decimal(999)


def test_open_disputes_counts_open_invoices_with_an_open_dispute() -> None:
    """§4, §5: open_disputes counts open invoices whose dispute is still open; a closed
    dispute and a disputed invoice since paid do not count."""
    m = metrics_of(
        invoice("F1", due=ago(10), dispute=dispute()),
        invoice("F2", due=ago(10), dispute=dispute()),
        invoice("F3", due=ago(10), dispute=dispute(closed=ago(3))),
        paid_invoice("P1", due=ago(30), paid=ago(5), dispute=dispute()),
    )
    assert m["open_disputes"] == 2


def test_customer_age_days_and_credit_usage() -> None:
    """§4: customer_age_days = today - created (0 when unknown); credit_usage = outstanding /
    credit_limit (2,500.00 / 10,000.00 = 0.25), 0 without a limit."""
    m = metrics_of(invoice(due=ago(5), amount="2500.00"), created=ago(400), credit_limit="10000.00")
    assert (m["customer_age_days"], m["credit_usage"]) == (400, Decimal("0.25"))
    m = metrics_of(invoice(due=ago(5)), created=None)
    assert (m["customer_age_days"], m["credit_usage"]) == (0, 0)


def test_tags_are_the_customer_tags() -> None:
    """§4: the tags metric is the customer's set of tags."""
    assert metrics_of(tags={"key_account", "export"})["tags"] == {"key_account", "export"}


def test_metrics_add_amounts_whatever_their_currency() -> None:
    """§5, last paragraph: customer metrics add 1,000.00 EUR and 500.00 USD as 1,500.00."""
    m = metrics_of(
        invoice("F1", due=ago(5)), invoice("F2", due=ago(5), amount="500.00", currency="USD")
    )
    assert (m["outstanding"], m["overdue_amount"]) == (Decimal("1500.00"), Decimal("1500.00"))


# --------------------------------------------------------------------------- §4 segments


def segment_of(*invoices: Invoice, **customer_fields: object) -> str:
    return assign(shipped_segments(), metrics_of(*invoices, **customer_fields), None).segment


@pytest.mark.parametrize(("overdue_days", "segment"), [(60, "default"), (61, "risky")])
def test_risky_segment_from_max_days_overdue(overdue_days: int, segment: str) -> None:
    """§4: max_days_overdue > 60 makes a customer risky; exactly 60 days does not."""
    assert segment_of(invoice(due=ago(overdue_days))) == segment


@pytest.mark.parametrize(("late_days", "segment"), [(20, "default"), (21, "risky")])
def test_risky_segment_from_avg_days_late(late_days: int, segment: str) -> None:
    """§4: avg_days_late > 20 makes a customer risky; an average of exactly 20 does not."""
    assert segment_of(paid_invoice(due=ago(30 + late_days), paid=ago(30))) == segment


def test_key_account_tag_wins_over_risky_metrics() -> None:
    """§4: the first rule that holds wins: a key account 90 days overdue is a key account."""
    assert segment_of(invoice(due=ago(90)), tags={"key_account"}) == "key_accounts"


def test_segment_explanation_names_the_rule_and_the_metrics_used() -> None:
    """§4: the assignment explains itself: rule name, its condition and the metric values."""
    metrics = metrics_of(invoice(due=ago(75)))
    result = assign(shipped_segments(), metrics, None)
    assert (result.segment, result.plan) == ("risky", "strict")
    assert result.explanation["rule"] == "risky"
    assert result.explanation["metrics"] == {"avg_days_late": "0", "max_days_overdue": "75"}


@pytest.mark.parametrize(
    ("when", "fields", "invoices", "holds"),
    [
        ("credit_usage > 0.8", {"credit_limit": "1000.00"}, [("900.00", 5)], True),
        ("credit_usage > 0.8", {"credit_limit": "2000.00"}, [("900.00", 5)], False),
        ("late_count >= 2", {}, [("100.00", 5), ("100.00", 9)], True),
        ("late_count >= 2", {}, [("100.00", 5), ("100.00", -9)], False),
        ("outstanding >= 1000 and overdue_amount < 500", {}, [("600", 5), ("400", -3)], False),
        ("outstanding >= 1000 and overdue_amount < 500", {}, [("300", 5), ("700", -3)], True),
        ("customer_age_days < 90", {"created": date(2026, 5, 1)}, [], True),
        ("customer_age_days < 90", {"created": date(2025, 5, 1)}, [], False),
    ],
)
def test_configured_segment_conditions_read_the_metrics(
    when: str, fields: dict[str, object], invoices: list[tuple[str, int]], holds: bool
) -> None:
    """§4: configured rules are evaluated on the customer metrics of today."""
    rules = config(segments=[{"name": "watch", "when": when, "plan": "strict"}]).segments
    book = [
        invoice(f"F{n}", due=ago(days), amount=amount) for n, (amount, days) in enumerate(invoices)
    ]
    metrics = customer_metrics(customer(**fields), book, TODAY)
    assert (assign(rules, metrics, None).segment == "watch") is holds


def test_open_disputes_and_dso_conditions() -> None:
    """§4: 'open_disputes > 0 or dso > 60' holds for a customer with an open dispute, and for
    one with no sales in the last 90 days but something outstanding (dso 999), not for one
    owing 1,000.00 of 3,000.00 issued 20 days ago (dso 30)."""
    rules = config(
        segments=[{"name": "watch", "when": "open_disputes > 0 or dso > 60", "plan": "strict"}]
    ).segments
    disputed = metrics_of(invoice(due=ago(-10), issue_date=ago(20), dispute=dispute()))
    stale = metrics_of(invoice(due=ago(100), issue_date=ago(130)))
    fresh = metrics_of(invoice(due=ago(-10), issue_date=ago(20), amount="3000.00", open="1000.00"))
    assert [assign(rules, m, None).segment for m in (disputed, stale, fresh)] == [
        "watch",
        "watch",
        "",
    ]


# --------------------------------------------------------------------------- §6 KPIs


def kpis(*invoices: Invoice, reminders=(), today: date = TODAY, segments=None):
    return compute_kpis(ledger([customer()], invoices, reminders), today, segments)


def test_receivables_are_open_invoices_minus_open_credit_notes() -> None:
    """§6: R = open invoices' open amounts (1,000.00 + 250.00) - open credit notes (300.00)."""
    k = kpis(
        invoice("F1", due=ago(10)),
        invoice("F2", due=ago(-10), open="250.00"),
        paid_invoice("P1", due=ago(30), paid=ago(3)),
        credit_note("A1", amount="300.00"),
    )
    assert k.receivables == Decimal("950.00")


def test_aged_balance_buckets_at_their_boundaries() -> None:
    """§6: open invoices bucketed by days overdue: not_due (<= 0: -10 and 0), 1_30 (1, 30),
    31_60 (31, 60), 61_90 (61, 90), over_90 (91); credit notes and paid invoices are not
    aged.  Each amount is a power of two so every bucket's sum names its invoices."""
    days_and_amounts = [
        (-10, 1),
        (0, 2),
        (1, 4),
        (30, 8),
        (31, 16),
        (60, 32),
        (61, 64),
        (90, 128),
        (91, 256),
    ]
    invoices = [invoice(f"F{d}", due=ago(d), amount=str(a)) for d, a in days_and_amounts]
    k = kpis(*invoices, credit_note("A1", amount="1000"), paid_invoice("P1", due=ago(100)))
    assert k.aged_balance == {
        "not_due": Decimal(1 + 2),
        "1_30": Decimal(4 + 8),
        "31_60": Decimal(16 + 32),
        "61_90": Decimal(64 + 128),
        "over_90": Decimal(256),
    }
    assert list(k.aged_balance) == ["not_due", "1_30", "31_60", "61_90", "over_90"]


def test_dso_simple_is_receivables_over_last_90_days_sales_times_90() -> None:
    """§6: dso_simple = R / (invoices issued in the 90 days ending today) x 90: R = 4,000.00
    - 1,000.00 of credit = 3,000.00 against 6,000.00 of sales gives 45 days."""
    k = kpis(
        invoice("F1", due=ago(-20), amount="4000.00", issue_date=ago(10)),
        paid_invoice("P1", due=ago(20), paid=ago(15), amount="2000.00", issue_date=ago(50)),
        credit_note("A1", amount="1000.00", issued=ago(5)),
    )
    assert k.dso_simple == Decimal(45)


def test_dso_simple_window_is_today_minus_89_to_today() -> None:
    """§6 (DESIGN silent on the edge; the code's choice): the 90 days ending today start 89
    days ago: an invoice issued then is a sale, one issued 90 days ago is not."""
    issued_89 = invoice("F1", due=ago(59), issue_date=ago(89), amount="900.00")
    issued_90 = invoice("F2", due=ago(60), issue_date=ago(90), amount="900.00")
    assert kpis(issued_89, issued_90).dso_simple == Decimal(180)


def test_dso_simple_without_sales_is_none_and_without_receivables_zero() -> None:
    """§6 (DESIGN silent; the code's choice): dso_simple is 0 when R <= 0 and null when
    something is owed but nothing was sold in the last 90 days."""
    assert kpis(invoice(due=ago(100), issue_date=ago(130))).dso_simple is None
    assert kpis(credit_note("A1", amount="50.00")).dso_simple == 0


def test_dso_countback_worked_example() -> None:
    """§6: on 30 June, R = 20,000, June sales 12,500, May sales 10,000: June's 30 days
    exhaust 12,500, the remaining 7,500 is 31 x 7,500 / 10,000 of May: 53.25 days."""
    assert dso_countback(
        Decimal(20000), [Decimal(12500), Decimal(10000)] + [Decimal(0)] * 11, [30, 31] + [30] * 11
    ) == Decimal("53.25")
    k = kpis(
        invoice("J1", due=date(2026, 7, 10), issue_date=date(2026, 6, 10), amount="12500.00"),
        invoice(
            "M1",
            due=date(2026, 6, 15),
            issue_date=date(2026, 5, 15),
            amount="10000.00",
            open="7500.00",
        ),
    )
    assert k.receivables == Decimal("20000.00")
    assert k.dso_countback == Decimal("53.25")


def test_dso_countback_counts_whole_months_without_sales() -> None:
    """§6: a month with no sales adds all its days: no sales in June, 10,000 in May and
    R = 5,000 give 30 + 31 x 5,000 / 10,000 = 45.5 days."""
    k = kpis(
        invoice(
            "M1",
            due=date(2026, 6, 15),
            issue_date=date(2026, 5, 15),
            amount="10000.00",
            open="5000.00",
        ),
    )
    assert k.dso_countback == Decimal("45.5")


def test_dso_countback_uses_calendar_month_lengths() -> None:
    """§6: D_0 is today's day of month and D_k the length of month k: on 15 March 2028 with
    1,000 of March sales, 1,000 of February sales and R = 1,500, the count is 15 + 29 (leap
    February) x 500 / 1,000 = 29.5 days."""
    k = kpis(
        invoice("M1", due=date(2028, 4, 10), issue_date=date(2028, 3, 10)),
        invoice("F1", due=date(2028, 3, 10), issue_date=date(2028, 2, 10), open="500.00"),
        today=date(2028, 3, 15),
    )
    assert k.dso_countback == Decimal("29.5")


def test_dso_countback_stops_in_the_month_that_exhausts_receivables() -> None:
    """§6: when R equals the month's sales (12,500 in June), the count stops there: 30 days."""
    k = kpis(invoice("J1", due=date(2026, 7, 10), issue_date=date(2026, 6, 10), amount="12500.00"))
    assert k.dso_countback == Decimal(30)


def test_dso_countback_past_twelve_months_uses_average_daily_sales() -> None:
    """§6: with 1,000 of sales in each of the 13 months (June 2025 to 30 June 2026, 395 days)
    and R = 20,000, the 13 months add 395 days and the remaining 7,000 is divided by the
    average daily sales 13,000 / 395: 395 + 7,000 x 395 / 13,000 = 607.69 days."""
    sales = [Decimal(1000)] * 13
    days = [30, 31, 30, 31, 28, 31, 31, 30, 31, 30, 31, 31, 30]
    assert sum(days) == 395
    result = dso_countback(Decimal(20000), sales, days)
    assert result is not None
    assert abs(result - Decimal(395) * 20 / 13) < Decimal("1e-20")


def test_dso_countback_reaches_back_to_the_same_month_last_year_only() -> None:
    """§6: month 12 on 30 June 2026 is June 2025: its sales (1,000) count, May 2025's do not.
    R = 2,000 (both still open): 13 months (395 days) then 1,000 / (1,000 / 395 per day)
    = 790 days."""
    k = kpis(
        invoice("F1", due=date(2025, 7, 15), issue_date=date(2025, 6, 15)),
        invoice("F2", due=date(2025, 6, 15), issue_date=date(2025, 5, 15)),
    )
    assert k.receivables == Decimal("2000.00")
    assert abs(k.dso_countback - Decimal(790)) < Decimal("1e-20")


def test_dso_countback_without_any_sales_is_null() -> None:
    """§6: receivables left after month 12 with no sales in 13 months: null."""
    k = kpis(invoice(due=date(2025, 2, 1), issue_date=date(2025, 1, 2)))
    assert k.dso_countback is None
    assert dso_countback(Decimal(100), [Decimal(0)] * 13, [30] * 13) is None


def test_dso_countback_is_zero_when_nothing_is_owed() -> None:
    """§6: R <= 0 gives 0 (credit notes exceeding open invoices, or nothing open)."""
    assert (
        kpis(invoice(due=ago(5), amount="100.00"), credit_note("A1", amount="300.00")).dso_countback
        == 0
    )
    assert kpis().dso_countback == 0
    assert dso_countback(Decimal(0), [Decimal(5)] * 13, [30] * 13) == 0


def test_overdue_ratio_is_overdue_open_amount_over_receivables() -> None:
    """§6: overdue_ratio = overdue open amount (600.00) / R (600.00 + 400.00 - 200.00 of
    credit = 800.00) = 0.75."""
    k = kpis(
        invoice("F1", due=ago(5), amount="600.00"),
        invoice("F2", due=ago(-5), amount="400.00"),
        credit_note("A1", amount="200.00"),
    )
    assert k.overdue_ratio == Decimal("0.75")


def test_overdue_ratio_is_none_without_receivables() -> None:
    """§6 (DESIGN silent; the code's choice): with R <= 0 the overdue ratio is null."""
    assert kpis().overdue_ratio is None


def test_cei_credit_research_foundation_form() -> None:
    """§6: CEI over the last 3 months (period from 30 March to 30 June 2026) = (B + S/3 - E)
    / (B + S/3 - E_current) x 100.  B = 1,000.00 (issued 1 Feb, still open) + 2,000.00
    (issued 1 March, paid 15 April) = 3,000.00, an invoice paid 20 March is not in it;
    S = 3,000.00 + 600.00 issued in the period; E = R = 1,000.00 + 1,000.00 + 600.00 -
    200.00 = 2,400.00; E_current = 600.00 not yet due: (3000 + 1200 - 2400) /
    (3000 + 1200 - 600) x 100 = 50."""
    k = kpis(
        invoice("F1", issue_date=date(2026, 2, 1), due=date(2026, 3, 3), amount="1000.00"),
        paid_invoice(
            "F2",
            issue_date=date(2026, 3, 1),
            due=date(2026, 3, 31),
            paid=date(2026, 4, 15),
            amount="2000.00",
        ),
        paid_invoice(
            "F3",
            issue_date=date(2026, 3, 10),
            due=date(2026, 4, 9),
            paid=date(2026, 3, 20),
            amount="500.00",
        ),
        invoice(
            "F4",
            issue_date=date(2026, 5, 1),
            due=date(2026, 5, 31),
            amount="3000.00",
            open="1000.00",
        ),
        invoice("F5", issue_date=date(2026, 6, 20), due=date(2026, 7, 20), amount="600.00"),
        credit_note("A1", amount="200.00", issued=date(2026, 6, 1)),
    )
    assert k.receivables == Decimal("2400.00")
    assert k.cei == Decimal(50)


def test_cei_period_starts_three_calendar_months_before_today() -> None:
    """§6 (DESIGN says "the last 3 months"; the code's choice: the period starts on the same
    day three calendar months back, 30 March for 30 June, and an invoice issued that day is
    opening receivable B, one issued on 31 March a period sale S): B = 900, S = 900,
    E = 1,800 overdue: (900 + 300 - 1800) / (900 + 300 - 0) x 100 = -50."""
    k = kpis(
        invoice("F1", issue_date=date(2026, 3, 30), due=date(2026, 4, 29), amount="900.00"),
        invoice("F2", issue_date=date(2026, 3, 31), due=date(2026, 4, 30), amount="900.00"),
    )
    assert k.cei == Decimal(-50)


def test_cei_opening_receivables_leave_out_invoices_paid_on_the_period_start() -> None:
    """§6 (code's choice): "not fully paid by then" excludes an invoice paid on the period's
    first day (30 March): B = 0, S = 900, E = 900 overdue: (0 + 300 - 900) / 300 x 100
    = -200."""
    k = kpis(
        paid_invoice(
            "F1",
            issue_date=date(2026, 2, 1),
            due=date(2026, 3, 3),
            paid=date(2026, 3, 30),
            amount="5000.00",
        ),
        invoice("F2", issue_date=date(2026, 3, 31), due=date(2026, 4, 30), amount="900.00"),
    )
    assert k.cei == Decimal(-200)


def test_reminder_effectiveness_per_plan_step_channel_and_segment() -> None:
    """§6: for each (plan, step, channel, segment): reminders sent and the share of their
    invoices fully paid within 14 days after.  Standard step 2 by email to default customers:
    2 reminders, 3 invoices, 2 paid within 14 days (one 14 days after, one the same day; one
    15 days after is too late): 2/3.  The same step to a risky customer is its own row;
    the phone step whose invoice is still open: 0."""
    book = ledger(
        [customer("C1"), customer("C2"), customer("C3")],
        [
            paid_invoice("F1", "C1", due=date(2026, 4, 25), paid=date(2026, 5, 15)),
            paid_invoice("F2", "C1", due=date(2026, 4, 25), paid=date(2026, 5, 16)),
            paid_invoice("F3", "C2", due=date(2026, 5, 5), paid=date(2026, 5, 10)),
            invoice("F4", "C1", due=date(2026, 4, 28)),
            paid_invoice("F5", "C3", due=date(2026, 5, 5), paid=date(2026, 5, 12)),
        ],
        [
            reminder("C1", date(2026, 5, 1), "standard", [("F1", 2), ("F2", 2)]),
            reminder("C2", date(2026, 5, 10), "standard", [("F3", 2)]),
            reminder("C1", date(2026, 5, 20), "standard", [("F4", 4)], channel="phone"),
            reminder("C3", date(2026, 5, 10), "standard", [("F5", 2)]),
        ],
    )
    segments = {"C1": "default", "C2": "default", "C3": "risky"}
    rows = compute_kpis(book, TODAY, segments).effectiveness
    table = {
        (r["plan"], r["step"], r["channel"], r["segment"]): (
            r["reminders"],
            r["invoices"],
            r["paid_within_14_days"],
            r["paid_share"],
        )
        for r in rows
    }
    assert table == {
        ("standard", 2, "email", "default"): (2, 3, 2, Decimal(2) / 3),
        ("standard", 2, "email", "risky"): (1, 1, 1, Decimal(1)),
        ("standard", 4, "phone", "default"): (1, 1, 0, Decimal(0)),
    }


def test_reminder_effectiveness_counts_a_reminder_under_its_highest_step() -> None:
    """§6 (code's choice): a reminder listing invoices at steps 1 and 3 counts as a step-3
    reminder."""
    book = ledger(
        [customer()],
        [invoice("F1", due=date(2026, 6, 20)), invoice("F2", due=date(2026, 6, 2))],
        [reminder("C1", date(2026, 6, 15), "standard", [("F1", 1), ("F2", 3)])],
    )
    (row,) = compute_kpis(book, TODAY).effectiveness
    assert (row["step"], row["reminders"], row["invoices"]) == (3, 1, 2)


def test_avg_days_to_pay_after_first_reminder() -> None:
    """§6: for paid invoices, days from their first reminder to payment: F1 first reminded
    1 May (again on 8 May), paid 15 May: 14; F3 reminded and paid on 10 May: 0; mean 7.
    An open invoice does not count, nor (code's choice) one paid before its first reminder."""
    book = ledger(
        [customer()],
        [
            paid_invoice("F1", due=date(2026, 4, 25), paid=date(2026, 5, 15)),
            paid_invoice("F3", due=date(2026, 5, 5), paid=date(2026, 5, 10)),
            invoice("F4", due=date(2026, 4, 28)),
            paid_invoice("F5", due=date(2026, 4, 28), paid=date(2026, 5, 2)),
        ],
        [
            reminder("C1", date(2026, 5, 8), "standard", [("F1", 3)]),
            reminder("C1", date(2026, 5, 1), "standard", [("F1", 2)]),
            reminder("C1", date(2026, 5, 10), "standard", [("F3", 2), ("F4", 3)]),
            reminder("C1", date(2026, 5, 4), "standard", [("F5", 2)]),
        ],
    )
    assert compute_kpis(book, TODAY).avg_days_to_pay_after_first_reminder == Decimal(7)


def test_avg_dispute_resolution_days() -> None:
    """§6: mean days from a dispute's opening to its closing over closed disputes (10 and 3
    days: 6.5); open disputes do not count; no closed dispute gives null."""
    k = kpis(
        invoice(
            "F1", due=ago(90), dispute=dispute(opened=date(2026, 1, 10), closed=date(2026, 1, 20))
        ),
        paid_invoice(
            "F2",
            due=ago(90),
            paid=ago(60),
            dispute=dispute(opened=date(2026, 2, 1), closed=date(2026, 2, 4)),
        ),
        invoice("F3", due=ago(30), dispute=dispute(opened=date(2026, 6, 1))),
    )
    assert k.avg_dispute_resolution_days == Decimal("6.5")
    assert kpis(invoice(due=ago(5), dispute=dispute())).avg_dispute_resolution_days is None
    assert kpis().avg_days_to_pay_after_first_reminder is None


@pytest.mark.parametrize("first_paid_days_ago", [10, 364, 365, 400])
def test_paid_summary_gives_the_same_metrics_as_walking_the_history(
    first_paid_days_ago: int,
) -> None:
    """§4 and docs/decisions.md "Ledger index": the index's per-customer summary of paid
    invoices stands for the history only when every payment is inside the 365-day window;
    with one paid 365 or 400 days ago it is not used.  Either way avg_days_late and
    late_count are those of the full walk: here 1,000.00 paid 12 days late and 3,000.00
    paid on time on 2026-11-02, plus one paid ``first_paid_days_ago`` days ago."""
    today = date(2026, 11, 24)
    book = ledger(
        [customer()],
        [
            paid_invoice("F1", due=date(2026, 10, 21), amount="1000.00", paid=date(2026, 11, 2)),
            paid_invoice("F2", due=date(2026, 11, 2), amount="3000.00", paid=date(2026, 11, 2)),
            paid_invoice(
                "F3",
                due=today - timedelta(days=first_paid_days_ago + 5),
                amount="500.00",
                paid=today - timedelta(days=first_paid_days_ago),
            ),
            invoice("F4", due=date(2026, 9, 1), amount="800.00"),
        ],
    )
    index = ledger_index(book)
    names = frozenset({"avg_days_late", "late_count", "max_days_overdue"})
    walked = customer_metrics(book.customers[0], book.invoices, today)
    summed = customer_metrics(
        book.customers[0],
        book.invoices,
        today,
        open_invoices=index.open_by_customer["C1"],
        names=names,
        paid_summary=index.paid_summary["C1"],
    )
    for name in names:
        assert summed[name] == walked[name], name
