"""Business days: Monday to Friday, except French public holidays (metropolitan France)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

# France itself, not holidays.country_holidays("FR"): that one imports the country's
# module at its first call, which a plan would pay for (a tenth of a second).
from holidays.countries.france import France


@lru_cache(maxsize=64)
def french_public_holidays(year: int) -> frozenset[date]:
    return frozenset(France(years=year))  # type: ignore[no-untyped-call]


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in french_public_holidays(day.year)
