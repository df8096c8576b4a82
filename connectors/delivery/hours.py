"""Sending hours for SMS and phone tasks (DESIGN.md section 10): by default 9:00 to 18:00
on business days (Monday to Friday, French public holidays excepted).

``now`` is wall-clock time in the company's time zone, naive or aware; the answer keeps
its time zone.  The window includes its start and excludes its end: at 18:00 sharp it
is closed.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from core.calendar import is_business_day

DEFAULT_START = "09:00"
DEFAULT_END = "18:00"
# No stretch of French holidays and weekends lasts this long: a bound, not a rule.
_MAX_DAYS_AHEAD = 30


def parse_clock(value: str | time) -> time:
    """``"09:00"`` (or a ``time``) as a time of day; ValueError naming the bad value."""
    if isinstance(value, time):
        return value
    try:
        hours, minutes = value.strip().split(":")
        if len(minutes) != 2:
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"invalid time of day {value!r} (expected HH:MM, e.g. 09:00)") from None


def _window(start: str | time, end: str | time) -> tuple[time, time]:
    first, last = parse_clock(start), parse_clock(end)
    if first >= last:
        raise ValueError(f"sending hours: start {first:%H:%M} must be before end {last:%H:%M}")
    return first, last


def _sending_day(day: date, business_days_only: bool) -> bool:
    return is_business_day(day) if business_days_only else True


def within_sending_hours(
    now: datetime,
    start: str | time = DEFAULT_START,
    end: str | time = DEFAULT_END,
    business_days_only: bool = True,
) -> bool:
    """True when an SMS or a call may go out at ``now``."""
    first, last = _window(start, end)
    return _sending_day(now.date(), business_days_only) and first <= now.time() < last


def next_sending_time(
    now: datetime,
    start: str | time = DEFAULT_START,
    end: str | time = DEFAULT_END,
    business_days_only: bool = True,
) -> datetime:
    """``now`` if it is within sending hours, else the start of the next window."""
    first, last = _window(start, end)
    if within_sending_hours(now, first, last, business_days_only):
        return now
    day = now.date()
    if now.time() >= first:
        day += timedelta(days=1)
    for _ in range(_MAX_DAYS_AHEAD):
        if _sending_day(day, business_days_only):
            return datetime.combine(day, first, tzinfo=now.tzinfo)
        day += timedelta(days=1)
    raise RuntimeError(f"no sending day within {_MAX_DAYS_AHEAD} days of {now:%Y-%m-%d}")
