"""SMS and phone tasks go out only inside sending hours (DESIGN §10): 9:00-18:00 on
business days by default, French public holidays excepted."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from connectors.delivery.hours import next_sending_time, within_sending_hours

PARIS = ZoneInfo("Europe/Paris")


def test_a_weekday_afternoon_is_within_sending_hours() -> None:
    assert within_sending_hours(datetime(2026, 3, 16, 14, 30))  # Monday


def test_the_window_opens_at_nine_and_closes_at_six() -> None:
    assert not within_sending_hours(datetime(2026, 3, 16, 8, 59))
    assert within_sending_hours(datetime(2026, 3, 16, 9, 0))
    assert within_sending_hours(datetime(2026, 3, 16, 17, 59, 59))
    assert not within_sending_hours(datetime(2026, 3, 16, 18, 0))


def test_no_sending_on_a_saturday() -> None:
    assert not within_sending_hours(datetime(2026, 3, 21, 11, 0))


def test_no_sending_on_a_french_public_holiday() -> None:
    assert not within_sending_hours(datetime(2026, 7, 14, 11, 0))  # Tuesday, 14 juillet
    assert not within_sending_hours(datetime(2026, 4, 6, 11, 0))  # Easter Monday


def test_weekends_allowed_when_business_days_only_is_off() -> None:
    assert within_sending_hours(datetime(2026, 3, 21, 11, 0), business_days_only=False)


def test_configured_hours_replace_the_default() -> None:
    assert within_sending_hours(datetime(2026, 3, 16, 8, 15), start="08:00", end="12:30")
    assert not within_sending_hours(datetime(2026, 3, 16, 12, 30), start="08:00", end="12:30")
    assert within_sending_hours(datetime(2026, 3, 16, 8, 15), start=time(8), end=time(12))


def test_next_sending_time_is_now_inside_the_window() -> None:
    now = datetime(2026, 3, 16, 10, 0)

    assert next_sending_time(now) == now


def test_early_morning_waits_for_nine_the_same_day() -> None:
    assert next_sending_time(datetime(2026, 3, 16, 7, 0)) == datetime(2026, 3, 16, 9, 0)


def test_friday_evening_waits_for_monday_morning() -> None:
    assert next_sending_time(datetime(2026, 3, 20, 18, 30)) == datetime(2026, 3, 23, 9, 0)


def test_easter_weekend_waits_for_tuesday() -> None:
    """Friday evening before Easter: Saturday, Sunday and Easter Monday are skipped."""
    assert next_sending_time(datetime(2026, 4, 3, 19, 0)) == datetime(2026, 4, 7, 9, 0)


def test_next_sending_time_keeps_the_time_zone() -> None:
    now = datetime(2026, 3, 28, 12, 0, tzinfo=PARIS)  # Saturday; DST starts on Sunday

    assert next_sending_time(now) == datetime(2026, 3, 30, 9, 0, tzinfo=PARIS)
    assert next_sending_time(now).utcoffset() == ZoneInfo("Europe/Paris").utcoffset(
        datetime(2026, 3, 30, 9, 0)
    )


@pytest.mark.parametrize(("start", "end"), [("9h", "18:00"), ("09:00", "25:00"), ("9", "18")])
def test_malformed_hours_are_rejected(start: str, end: str) -> None:
    with pytest.raises(ValueError, match="time of day"):
        within_sending_hours(datetime(2026, 3, 16, 10, 0), start=start, end=end)


def test_start_after_end_is_rejected() -> None:
    with pytest.raises(ValueError, match="before"):
        within_sending_hours(datetime(2026, 3, 16, 10, 0), start="18:00", end="09:00")
