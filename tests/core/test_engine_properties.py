"""Invariants of the engine (DESIGN.md section 5) over small random ledgers.

Ledgers have 1 to 6 customers (some excluded, some key accounts or individuals, some with a
manual plan), 0 to 12 invoices in EUR and USD (some credit notes, partly or fully paid,
disputed, promised, escalated or factored) and a random reminder history under the shipped
plans, planned on a random day of 2026.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from builders import config, customer, dispute, invoice, ledger, reminder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.actions import Action
from core.engine import is_candidate, journal_needed_from, plan, record
from core.model import Invoice, Ledger
from core.serialize import action_to_json

DEFAULTS = config()
PLANS = ("standard", "gentle", "strict")
CURRENCIES = ("EUR", "USD")
FIRST_DAY = date(2026, 1, 5)

PROPERTY_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
WALK_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[Ledger, date]:
    today = FIRST_DAY + timedelta(days=draw(st.integers(0, 360)))
    n_customers = draw(st.integers(1, 6))
    customers = [
        customer(
            f"C{n}",
            kind=draw(st.sampled_from(["company", "company", "individual"])),
            tags=draw(st.sampled_from([(), (), ("key_account",)])),
            excluded=draw(st.integers(0, 4)) == 0,
            plan=draw(st.sampled_from([None, None, None, *PLANS])),
        )
        for n in range(n_customers)
    ]
    invoices: list[Invoice] = []
    for n in range(draw(st.integers(0, 12))):
        owner = f"C{draw(st.integers(0, n_customers - 1))}"
        due = today - timedelta(days=draw(st.integers(-15, 100)))
        amount = Decimal(draw(st.integers(1, 5_000_000))) / 100
        left = draw(st.sampled_from(["full", "full", "part", "none"]))
        open_amount = {
            "full": amount,
            "part": (amount / 3).quantize(Decimal("0.01")),
            "none": Decimal("0.00"),
        }[left]
        kind = draw(st.sampled_from(["invoice"] * 4 + ["credit_note"]))
        flags = {}
        if kind == "invoice":
            flags = {
                "dispute": draw(
                    st.sampled_from(
                        [None] * 4 + [dispute(opened=due), dispute(opened=due, closed=due)]
                    )
                ),
                "promise_date": draw(
                    st.one_of(
                        st.none(),
                        st.none(),
                        st.integers(-5, 5).map(lambda d: today + timedelta(days=d)),
                    )
                ),
                "escalated": draw(st.integers(0, 7)) == 0,
                "factored": draw(st.integers(0, 7)) == 0,
            }
        invoices.append(
            invoice(
                f"F{n}",
                owner,
                due=due,
                amount=amount,
                open=open_amount,
                kind=kind,
                currency=draw(st.sampled_from(CURRENCIES)),
                paid_date=due + timedelta(days=draw(st.integers(-5, 30)))
                if left == "none"
                else None,
                **flags,
            )
        )
    history = []
    for _ in range(draw(st.integers(0, 8))):
        owner = f"C{draw(st.integers(0, n_customers - 1))}"
        own = sorted(i.id for i in invoices if i.customer_id == owner)
        if not own:
            continue
        lines = draw(st.lists(st.sampled_from(own), min_size=1, max_size=3, unique=True))
        history.append(
            reminder(
                owner,
                today - timedelta(days=draw(st.integers(1, 60))),
                draw(st.sampled_from(PLANS)),
                [(iid, draw(st.integers(1, 6))) for iid in lines],
            )
        )
    # Keys are unique in a real journal: keep the first entry of each.
    journal = list({entry.key: entry for entry in reversed(history)}.values())
    return ledger(customers, invoices, journal), today


def execute(book: Ledger, actions: list[Action], day: date) -> Ledger:
    """What the executor does: journal each action; an escalation marks its invoices (§5.7)."""
    escalated = {i.id for a in actions if a.channel == "escalation" for i in a.invoices}
    invoices = [replace(i, escalated=True) if i.id in escalated else i for i in book.invoices]
    return ledger(book.customers, invoices, [*book.reminders, *(record(a, day) for a in actions)])


def done_steps(book: Ledger) -> dict[tuple[str, str], int]:
    done: dict[tuple[str, str], int] = {}
    for entry in book.reminders:
        for line in entry.invoices:
            slot = (line.invoice_id, entry.plan)
            done[slot] = max(done.get(slot, 0), line.step)
    return done


@PROPERTY_SETTINGS
@given(ledgers())
def test_replanning_after_recording_every_action_yields_nothing(case: tuple[Ledger, date]) -> None:
    """§5.6: once every action of the day is recorded, planning the same day again yields
    nothing."""
    book, today = case
    actions = plan(book, DEFAULTS, today)
    assert plan(execute(book, actions, today), DEFAULTS, today) == []


@WALK_SETTINGS
@given(ledgers(), st.integers(1, 3))
def test_done_steps_never_decrease_walking_forward(case: tuple[Ledger, date], stride: int) -> None:
    """§5.3, §5.5-5.6: walking forward 30 days and executing every action, each listed
    invoice is at a step above its done step under that plan, recording makes it the done
    step, done steps never go down, and no action key is ever executed twice."""
    book, today = case
    keys: set[str] = set()
    before = done_steps(book)
    for offset in range(0, 30, stride):
        day = today + timedelta(days=offset)
        actions = plan(book, DEFAULTS, day)
        for action in actions:
            assert action.key not in keys
            keys.add(action.key)
            for listed in action.invoices:
                assert listed.step > before.get((listed.id, action.plan), 0)
        book = execute(book, actions, day)
        after = done_steps(book)
        assert all(after[slot] >= step for slot, step in before.items())
        for action in actions:
            for listed in action.invoices:
                assert after[(listed.id, action.plan)] == listed.step
        before = after


@PROPERTY_SETTINGS
@given(ledgers())
def test_held_invoices_never_appear_in_an_action(case: tuple[Ledger, date]) -> None:
    """§5.1: disputed, promised (promise date today or later), paid, escalated and factored
    invoices, and credit notes, are never listed (nor shown as context) in an action."""
    book, today = case
    by_id = {i.id: i for i in book.invoices}
    for action in plan(book, DEFAULTS, today):
        for iid in [i.id for i in action.invoices] + action.context_invoice_ids:
            inv = by_id[iid]
            assert inv.kind == "invoice"
            assert inv.open_amount > 0
            assert inv.dispute is None or inv.dispute.closed is not None
            assert inv.promise_date is None or inv.promise_date < today
            assert not inv.escalated and not inv.factored
            assert is_candidate(inv, today)
            assert inv.customer_id == action.customer_id
            assert inv.currency == action.currency


@PROPERTY_SETTINGS
@given(ledgers())
def test_at_most_one_action_per_customer_and_currency(case: tuple[Ledger, date]) -> None:
    """§5.5: one action per customer and currency per run, none for an excluded customer,
    and net_due never below 0."""
    book, today = case
    actions = plan(book, DEFAULTS, today)
    slots = [(a.customer_id, a.currency) for a in actions]
    assert len(slots) == len(set(slots))
    excluded = {c.id for c in book.customers if c.excluded}
    assert not excluded & {a.customer_id for a in actions}
    assert all(a.net_due >= 0 for a in actions)


@PROPERTY_SETTINGS
@given(ledgers(), st.randoms(use_true_random=False))
def test_output_is_independent_of_input_order(
    case: tuple[Ledger, date], rng: random.Random
) -> None:
    """§5: shuffling customers, invoices and reminders gives the same actions, with the same
    keys, in the same order."""
    book, today = case
    shuffled = ledger(
        rng.sample(book.customers, len(book.customers)),
        rng.sample(book.invoices, len(book.invoices)),
        rng.sample(book.reminders, len(book.reminders)),
    )
    original = [action_to_json(a) for a in plan(book, DEFAULTS, today)]
    assert [action_to_json(a) for a in plan(shuffled, DEFAULTS, today)] == original


@PROPERTY_SETTINGS
@given(ledgers())
def test_actions_come_out_by_priority_then_customer_then_currency(
    case: tuple[Ledger, date],
) -> None:
    """§5: actions are sorted by priority, highest first, ties by customer id then currency."""
    book, today = case
    actions = plan(book, DEFAULTS, today)
    order = [(-a.priority, a.customer_id, a.currency) for a in actions]
    assert order == sorted(order)


@PROPERTY_SETTINGS
@given(ledgers(), st.sampled_from([0, 5, 30]))
def test_the_journal_window_plans_what_the_whole_journal_plans(
    case: tuple[Ledger, date], cooldown: int
) -> None:
    """journal_needed_from: the reminders from that day on and those naming an open
    invoice are all planning reads; the others change no action."""
    book, today = case
    plans = {
        name: replace(p, cooldown_days=cooldown if name == "standard" else p.cooldown_days)
        for name, p in DEFAULTS.plans.items()
    }
    settings_ = replace(DEFAULTS, plans=plans)
    start = journal_needed_from(settings_, today)
    open_ids = {i.id for i in book.invoices if i.kind == "invoice" and i.open_amount > 0}
    window = [
        r
        for r in book.reminders
        if r.date >= start or any(line.invoice_id in open_ids for line in r.invoices)
    ]
    windowed = ledger(book.customers, book.invoices, window)
    assert [action_to_json(a) for a in plan(windowed, settings_, today)] == [
        action_to_json(a) for a in plan(book, settings_, today)
    ]


def test_the_journal_window_keeps_the_reminder_that_holds_a_customer_in_cooldown() -> None:
    """Tuesday 2026-11-24, cooldown 5 days: a reminder of 20/11 about an invoice paid
    since still holds the customer's other reminders, so the window must reach it."""
    today = date(2026, 11, 24)
    book = ledger(
        [customer("C1")],
        [
            invoice("OPEN", "C1", due=today - timedelta(days=15)),
            invoice("PAID", "C1", due=today - timedelta(days=40), open="0.00", paid_date=today),
        ],
        [reminder("C1", today - timedelta(days=4), "standard", [("PAID", 3)])],
    )
    assert plan(book, DEFAULTS, today) == []
    assert journal_needed_from(DEFAULTS, today) <= today - timedelta(days=4)
