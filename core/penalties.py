"""French B2B late-payment amounts (DESIGN.md section 7).

Code de commerce L441-10: late-payment interest runs from the day after the due
date at the ECB main refinancing rate plus 10 points unless the contract sets
another rate; D441-5 adds a fixed recovery indemnity of EUR 40 per invoice.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
PENALTY_MARGIN = Decimal("0.10")
RECOVERY_INDEMNITY = Decimal("40.00")
LEGAL_BASIS = "Code de commerce, art. L441-10 et D441-5"
DEFAULT_PAYMENT_DEADLINE_DAYS = 8

# ECB main refinancing operations rate in force on 1 January / 1 July of each
# half-year, as a fraction.  Sources: ECB key rate decisions (see
# docs/late-payment.md).  A half-year after the last entry uses the last known
# rate until this table is updated; a config's `ecb_rate` overrides it.
ECB_RATE_BY_HALF_YEAR: dict[tuple[int, int], Decimal] = {
    (2019, 1): Decimal("0.0000"),
    (2019, 2): Decimal("0.0000"),
    (2020, 1): Decimal("0.0000"),
    (2020, 2): Decimal("0.0000"),
    (2021, 1): Decimal("0.0000"),
    (2021, 2): Decimal("0.0000"),
    (2022, 1): Decimal("0.0000"),
    (2022, 2): Decimal("0.0000"),
    (2023, 1): Decimal("0.0250"),
    (2023, 2): Decimal("0.0400"),
    (2024, 1): Decimal("0.0450"),
    (2024, 2): Decimal("0.0425"),
    (2025, 1): Decimal("0.0315"),
    (2025, 2): Decimal("0.0215"),
    (2026, 1): Decimal("0.0215"),
    (2026, 2): Decimal("0.0215"),
}


def half_year(day: date) -> tuple[int, int]:
    return (day.year, 1 if day.month <= 6 else 2)


def ecb_rate_on(day: date) -> Decimal:
    """The ECB rate of ``day``'s half-year (the last known one past the table's end)."""
    period = half_year(day)
    if period in ECB_RATE_BY_HALF_YEAR:
        return ECB_RATE_BY_HALF_YEAR[period]
    known = sorted(ECB_RATE_BY_HALF_YEAR)
    if period > known[-1]:
        return ECB_RATE_BY_HALF_YEAR[known[-1]]
    return ECB_RATE_BY_HALF_YEAR[known[0]]


def late_interest_rate(
    today: date, *, ecb_rate: Decimal | None = None, contract_rate: Decimal | None = None
) -> Decimal:
    """The annual rate applied: the contract rate if set, else ECB rate + 10 points."""
    if contract_rate is not None:
        return contract_rate
    base = ecb_rate if ecb_rate is not None else ecb_rate_on(today)
    return base + PENALTY_MARGIN


def late_interest(open_amount: Decimal, rate: Decimal, days_overdue: int) -> Decimal:
    """Simple interest on the open amount for the days overdue, half-up to the cent."""
    if days_overdue <= 0 or open_amount <= 0:
        return Decimal("0.00")
    raw = open_amount * rate * days_overdue / 365
    return raw.quantize(CENT, rounding=ROUND_HALF_UP)


def recovery_indemnity(days_overdue: int) -> Decimal:
    """EUR 40 per invoice paid late; nothing for an invoice not yet overdue."""
    return RECOVERY_INDEMNITY if days_overdue > 0 else Decimal("0.00")
