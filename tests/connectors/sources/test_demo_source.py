"""The ``demo`` source: the demo ledger living on, day by day (DESIGN.md section 10)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from connectors.demo import generate_ledger
from connectors.demo.source import DemoSource
from connectors.sources import Changes, Flag, Source, SourceError
from core.calendar import is_business_day
from core.ledger import cross_check
from core.model import Invoice, Ledger

START = date(2026, 11, 2)  # a Monday; Wednesday 11 November is a public holiday
SIZE = {"seed": 11, "customers": 60, "invoices": 900}


def source(today: date, **overrides: int) -> DemoSource:
    size = {**SIZE, **overrides}
    return DemoSource(size["seed"], size["customers"], size["invoices"], START, today=today)


class Clock:
    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


def day(n: int) -> date:
    return START + timedelta(days=n)


def snapshot(today: date) -> dict[str, Invoice]:
    return {inv.id: inv for inv in source(today).pull(None).invoices}


def pull_daily(until: int) -> tuple[DemoSource, list[Changes]]:
    clock = Clock(START)
    demo = DemoSource(SIZE["seed"], SIZE["customers"], SIZE["invoices"], START, clock=clock)
    pulls = [demo.pull(None)]
    for n in range(1, until + 1):
        clock.today = day(n)
        pulls.append(demo.pull(pulls[-1].cursor))
    return demo, pulls


def test_it_is_a_source() -> None:
    assert isinstance(source(START), Source)


def test_first_pull_is_the_generated_ledger() -> None:
    """On the start day, the whole generated ledger, as a full snapshot."""
    changes = source(START).pull(None)
    generated = generate_ledger(START, **SIZE)
    assert changes.full and changes.cursor == "2026-11-02"
    assert list(changes.customers) == generated.customers
    assert list(changes.invoices) == generated.invoices
    assert list(changes.reminders) == generated.reminders


def test_same_seed_and_dates_give_the_same_changes() -> None:
    first = source(day(9)).pull(day(2).isoformat())
    second = source(day(9)).pull(day(2).isoformat())
    assert first == second
    assert first.invoices  # something happened


def test_another_seed_gives_other_changes() -> None:
    assert source(day(9)).pull("2026-11-04") != source(day(9), seed=12).pull("2026-11-04")


def test_pulling_every_day_or_once_ends_in_the_same_ledger() -> None:
    """The ledger on a day does not depend on the days the source was pulled on."""
    _, pulls = pull_daily(12)
    merged = {inv.id: inv for inv in pulls[0].invoices}
    for changes in pulls[1:]:
        merged.update((inv.id, inv) for inv in changes.invoices)
    assert merged == snapshot(day(12))
    once = source(day(12)).pull(START.isoformat())
    assert {inv.id for inv in once.invoices} == {
        inv.id for changes in pulls[1:] for inv in changes.invoices
    }


def test_a_pull_returns_only_what_changed_since_the_cursor() -> None:
    before = snapshot(day(3))
    changes = source(day(4)).pull(day(3).isoformat())
    assert not changes.full and changes.cursor == "2026-11-06"
    assert changes.customers == () and changes.reminders == ()
    assert changes.invoices
    for inv in changes.invoices:
        assert before.get(inv.id) != inv


def test_the_cursor_is_the_last_simulated_day() -> None:
    demo = source(day(5))
    changes = demo.pull("2026-11-04")
    assert changes.cursor == day(5).isoformat()
    again = demo.pull(changes.cursor)
    assert again.is_empty and again.cursor == changes.cursor


def test_payments_arrive_day_after_day() -> None:
    """Each business day some open invoices get paid, on that day."""
    _, pulls = pull_daily(11)
    for n, changes in enumerate(pulls[1:], start=1):
        paid_today = [inv for inv in changes.invoices if inv.paid_date == day(n)]
        if is_business_day(day(n)):
            assert paid_today, f"no payment on {day(n)}"
        else:
            assert changes.is_empty, f"something happened on {day(n)}"


def test_nothing_happens_on_a_public_holiday() -> None:
    """11 November (Armistice) is not a business day."""
    assert source(day(9)).pull(day(8).isoformat()).is_empty


def _average_days_late(ledger: Ledger) -> dict[str, float]:
    weight: dict[str, Decimal] = {}
    late: dict[str, Decimal] = {}
    for inv in ledger.invoices:
        if inv.kind == "invoice" and inv.paid_date is not None:
            cid = inv.customer_id
            weight[cid] = weight.get(cid, Decimal(0)) + inv.amount
            days = max(0, (inv.paid_date - inv.due_date).days)
            late[cid] = late.get(cid, Decimal(0)) + inv.amount * days
    return {cid: float(late[cid] / weight[cid]) for cid in weight}


def test_on_time_payers_pay_sooner_than_chronic_late_payers() -> None:
    """Of the invoices overdue on the start day, on-time payers settle a larger share
    within three weeks than customers who usually pay more than 25 days late."""
    seed, customers, invoices = 42, 300, 5000
    base = generate_ledger(START, customers=customers, invoices=invoices, seed=seed)
    average = _average_days_late(base)
    later = DemoSource(seed, customers, invoices, START, today=day(21)).pull(None)
    now = {inv.id: inv for inv in later.invoices}

    def share_paid(habit: Callable[[float], bool]) -> float:
        overdue = [
            inv
            for inv in base.invoices
            if inv.kind == "invoice"
            and inv.open_amount
            and inv.due_date < START
            and inv.dispute is None
            and not inv.escalated
            and not inv.factored
            and habit(average.get(inv.customer_id, 0.0))
        ]
        assert len(overdue) >= 10
        return sum(1 for inv in overdue if not now[inv.id].open_amount) / len(overdue)

    on_time = share_paid(lambda days: days <= 3)
    chronic = share_paid(lambda days: days > 25)
    assert on_time > chronic + 0.2


def test_new_invoices_are_issued_and_numbered_on() -> None:
    before = snapshot(START)
    changes = source(day(3)).pull(START.isoformat())
    new = [inv for inv in changes.invoices if inv.id not in before]
    assert new
    latest_2026 = max(int(i.split("-")[2]) for i in before if i.startswith("FA-2026-"))
    numbers = sorted(int(inv.number.split("-")[2]) for inv in new if inv.kind == "invoice")
    assert numbers[0] == latest_2026 + 1
    customers = {c.id for c in source(START).pull(None).customers}
    for inv in new:
        assert inv.id == inv.number
        assert inv.customer_id in customers
        assert inv.open_amount == inv.amount > 0 and inv.paid_date is None
        assert is_business_day(inv.issue_date) and inv.due_date >= inv.issue_date


def test_disputes_open_and_close_now_and_then() -> None:
    changes = source(day(30)).pull(START.isoformat())
    opened = [
        inv
        for inv in changes.invoices
        if inv.dispute and inv.dispute.opened is not None and inv.dispute.opened > START
    ]
    closed = [
        inv
        for inv in changes.invoices
        if inv.dispute and inv.dispute.closed is not None and inv.dispute.closed > START
    ]
    assert opened and closed


def test_disputed_invoices_are_not_paid_while_disputed() -> None:
    before = snapshot(START)
    after = snapshot(day(30))
    for invoice_id, inv in before.items():
        later = after[invoice_id]
        if inv.has_open_dispute and later.has_open_dispute:
            assert later.open_amount == inv.open_amount


def test_the_ledger_stays_valid() -> None:
    """Known customers, unique ids, open amounts within amounts, paid dates when paid."""
    changes = source(day(40)).pull(None)
    ledger = Ledger("EUR", list(changes.customers), list(changes.invoices))
    assert list(cross_check(ledger)) == []
    for inv in changes.invoices:
        assert Decimal(0) <= inv.open_amount <= inv.amount
        if inv.open_amount:
            assert inv.paid_date is None
        if inv.kind == "invoice" and inv.amount and not inv.open_amount:
            assert inv.paid_date is not None


def test_partial_payments_happen() -> None:
    before = snapshot(START)
    after = snapshot(day(40))
    assert any(
        0 < after[i].open_amount < inv.open_amount for i, inv in before.items() if inv.open_amount
    )


@pytest.mark.parametrize("cursor", ["yesterday", "2026-10-01", "2027-01-01", ""])
def test_a_cursor_this_simulation_cannot_have_written_gives_a_full_snapshot(cursor: str) -> None:
    changes = source(day(5)).pull(cursor)
    assert changes.full and changes.cursor == day(5).isoformat()
    assert {inv.id: inv for inv in changes.invoices} == snapshot(day(5))


def test_a_pull_asked_again_gives_the_same_answer() -> None:
    """A failed pull leaves the cursor where it was: asking again must give the same."""
    clock = Clock(day(3))
    demo = DemoSource(SIZE["seed"], SIZE["customers"], SIZE["invoices"], START, clock=clock)
    first = demo.pull(START.isoformat())
    clock.today = day(7)
    demo.pull(first.cursor)  # moves the simulation on
    clock.today = day(3)
    assert demo.pull(START.isoformat()) == first


def test_refresh_gives_todays_open_amounts() -> None:
    clock = Clock(START)
    demo = DemoSource(SIZE["seed"], SIZE["customers"], SIZE["invoices"], START, clock=clock)
    base = {inv.id: inv for inv in demo.pull(None).invoices}
    open_ids = [i for i, inv in base.items() if inv.open_amount][:50]
    clock.today = day(10)
    later = snapshot(day(10))
    amounts = demo.refresh([*open_ids, "FA-1999-000001"])
    assert amounts == {**{i: later[i].open_amount for i in open_ids}, "FA-1999-000001": 0}
    assert any(amounts[i] != base[i].open_amount for i in open_ids)


def test_today_before_the_start_is_a_config_error() -> None:
    with pytest.raises(SourceError) as caught:
        DemoSource(1, 10, 50, START, today=day(-1)).pull(None)
    assert caught.value.kind == "config"


def test_push_writes_nothing() -> None:
    assert source(START).push([Flag("escalated", "FA-2026-000001", True, START)]) == []
