"""French B2B late-payment amounts (DESIGN.md section 7): the shipped ECB rate table, ECB
rate + 10 points or a contract rate, interest rounded half-up at the cent, and the fixed
EUR 40 recovery indemnity per overdue invoice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from builders import config, customer, invoice, ledger, reminder

from core.engine import plan
from core.penalties import (
    DEFAULT_PAYMENT_DEADLINE_DAYS,
    ECB_RATE_BY_HALF_YEAR,
    LEGAL_BASIS,
    ecb_rate_on,
    late_interest,
    late_interest_rate,
    recovery_indemnity,
)


@pytest.mark.parametrize(
    ("day", "rate"),
    [
        (date(2022, 6, 30), "0.0000"),
        (date(2022, 12, 31), "0.0000"),  # first hike took effect on 27 July 2022
        (date(2023, 1, 1), "0.0250"),
        (date(2023, 6, 30), "0.0250"),
        (date(2023, 7, 1), "0.0400"),
        (date(2023, 12, 31), "0.0400"),
        (date(2024, 1, 1), "0.0450"),
        (date(2024, 7, 1), "0.0425"),
        (date(2025, 6, 30), "0.0315"),
        (date(2025, 7, 1), "0.0215"),
        (date(2026, 3, 16), "0.0215"),
    ],
    ids=str,
)
def test_ecb_rate_is_the_one_in_force_on_the_first_day_of_the_half_year(
    day: date, rate: str
) -> None:
    """§7: the ECB main refinancing rate used is the one in force on 1 January (for January
    to June) or 1 July (for July to December), from the table shipped in core."""
    assert ecb_rate_on(day) == Decimal(rate)


def test_ecb_rate_after_the_table_is_the_last_known_rate() -> None:
    """§7 (DESIGN silent; the code's choice): a half-year past the table's last entry uses
    the last known rate until the table is updated."""
    last = max(ECB_RATE_BY_HALF_YEAR)
    assert ecb_rate_on(date(last[0] + 5, 3, 1)) == ECB_RATE_BY_HALF_YEAR[last]


def test_ecb_rate_before_the_table_is_the_first_known_rate() -> None:
    """§7 (DESIGN silent; the code's choice): a day before the table's first half-year uses
    the first known rate."""
    first = min(ECB_RATE_BY_HALF_YEAR)
    assert ecb_rate_on(date(first[0] - 3, 9, 1)) == ECB_RATE_BY_HALF_YEAR[first]


def test_rate_is_ecb_plus_ten_points() -> None:
    """§7: the legal rate is the ECB rate of the half-year plus 10 points: 4.50% + 10 =
    14.50% in March 2024, 4.25% + 10 = 14.25% in September 2024."""
    assert late_interest_rate(date(2024, 3, 1)) == Decimal("0.1450")
    assert late_interest_rate(date(2024, 9, 1)) == Decimal("0.1425")


def test_configured_ecb_rate_overrides_the_table() -> None:
    """§7: a config's ecb_rate (3% here) replaces the shipped table; 10 points are added."""
    assert late_interest_rate(date(2024, 3, 1), ecb_rate=Decimal("0.03")) == Decimal("0.13")


def test_toml_ecb_rate_keeps_the_digits_written() -> None:
    """§7, §9: ``ecb_rate = 0.0215`` in TOML (a float) becomes exactly Decimal 0.0215."""
    cfg = config(ecb_rate=0.0215, late_interest_rate=0.12)
    assert (cfg.ecb_rate, cfg.late_interest_rate) == (Decimal("0.0215"), Decimal("0.12"))


def test_contract_rate_replaces_ecb_plus_ten_points() -> None:
    """§7: a contract rate (late_interest_rate, 12%) is used as is: no ECB rate, no 10 points,
    even when an ecb_rate is configured too."""
    rate = late_interest_rate(
        date(2024, 3, 1), ecb_rate=Decimal("0.03"), contract_rate=Decimal("0.12")
    )
    assert rate == Decimal("0.12")


@pytest.mark.parametrize(
    ("amount", "rate", "days", "interest"),
    [
        ("10000.00", "0.1215", 40, "133.15"),  # 133.1506...
        ("1000.00", "0.1215", 12, "3.99"),  # 3.9945...
        ("2500.00", "0.1450", 365, "362.50"),  # a whole year
        ("10000.00", "0.12", 40, "131.51"),  # contract rate, 131.5068...
    ],
)
def test_interest_is_open_amount_times_rate_times_days_over_365(
    amount: str, rate: str, days: int, interest: str
) -> None:
    """§7: interest = open amount x rate x days overdue / 365, rounded to the cent."""
    result = late_interest(Decimal(amount), Decimal(rate), days)
    assert result == Decimal(interest)
    assert result.as_tuple().exponent == -2


def test_interest_rounds_half_up_at_the_cent() -> None:
    """§7: 1,003.75 x 12.15% x 40 / 365 = 13.365 exactly: half-up gives 13.37, where
    banker's rounding (half-even) would give 13.36."""
    assert Decimal("1003.75") * Decimal("0.1215") * 40 / 365 == Decimal("13.365")
    assert late_interest(Decimal("1003.75"), Decimal("0.1215"), 40) == Decimal("13.37")


def test_no_interest_or_indemnity_before_the_invoice_is_overdue() -> None:
    """§7: on its due date or before it, an invoice owes no interest and no indemnity."""
    for days in (0, -5):
        assert late_interest(Decimal("1000.00"), Decimal("0.1215"), days) == Decimal("0.00")
        assert recovery_indemnity(days) == Decimal("0.00")


def test_indemnity_is_forty_euros_per_overdue_invoice() -> None:
    """§7: the recovery indemnity is a fixed EUR 40 per overdue invoice, whatever its amount
    or delay."""
    assert {recovery_indemnity(days) for days in (1, 30, 400)} == {Decimal("40.00")}


def test_formal_notice_adds_one_indemnity_per_listed_overdue_invoice() -> None:
    """§7: a company's formal notice for three overdue invoices (each at day 30, phone step
    done on 10 June 2026) carries 3 x EUR 40 = EUR 120 of indemnities; interest per
    invoice at ECB 2.15% + 10 points (30 days: 1000 x 0.1215 x 30 / 365 = 9.99)."""
    today = date(2026, 6, 17)  # a Wednesday
    due = date(2026, 5, 18)
    ids = ["F1", "F2", "F3"]
    book = ledger(
        [customer()],
        [invoice(iid, due=due) for iid in ids],
        [reminder("C1", date(2026, 6, 8), "standard", [(iid, 4) for iid in ids], "phone")],
    )
    (action,) = plan(book, config(ecb_rate=0.0215), today)
    assert action.channel == "formal_notice"
    assert [(i.interest, i.indemnity) for i in action.invoices] == [
        (Decimal("9.99"), Decimal("40.00"))
    ] * 3
    assert action.total_indemnity == Decimal("120.00")


def test_formal_notice_states_legal_basis_and_default_deadline() -> None:
    """§7: formal notices cite Code de commerce L441-10 / D441-5 and give 8 days to pay."""
    assert "L441-10" in LEGAL_BASIS and "D441-5" in LEGAL_BASIS
    assert DEFAULT_PAYMENT_DEADLINE_DAYS == 8
    assert config().payment_deadline_days == 8
