"""The engine's rules, one scenario per rule (DESIGN.md sections 3 and 5, and 7 for formal notices).

Unless a test says otherwise, "today" is Monday 16 March 2026 (a business day),
customers are French companies in the default segment (plan ``standard``:
-5 pre_due, 3 reminder_1, 10 reminder_2, 20 phone, 30 formal_notice,
45 escalation) and amounts are in EUR.  ``ago(n)`` is the due date of an
invoice that is ``n`` days overdue today.

The last part walks each shipped plan day by day over about 70 days, executing
every action, in the manner of Tryton's ``scenario_account_dunning.rst``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
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
    plan_spec,
    reminder,
    with_changes,
)

from core.actions import Action
from core.config import Config
from core.engine import action_key, plan, reached_step, record
from core.errors import InputError
from core.model import Ledger
from core.plans import shipped_plans

TODAY = date(2026, 3, 16)  # a Monday
ONE_DAY = timedelta(days=1)
STANDARD_STEPS = [
    (-5, "email", "pre_due"),
    (3, "email", "reminder_1"),
    (10, "email", "reminder_2"),
    (20, "phone", "phone"),
    (30, "formal_notice", "formal_notice"),
    (45, "escalation", "escalation"),
]
DEFAULTS = config()


def ago(days: int, today: date = TODAY) -> date:
    """The due date of an invoice ``days`` days overdue on ``today`` (negative: not yet due)."""
    return today - timedelta(days=days)


def standard_with(**options: object) -> Config:
    """The shipped standard plan with some plan options changed."""
    return config(plans=[plan_spec("standard", STANDARD_STEPS, **options)])


def run(book: Ledger, cfg: Config = DEFAULTS, today: date = TODAY) -> list[Action]:
    return plan(book, cfg, today)


def only(actions: list[Action]) -> Action:
    assert len(actions) == 1, actions
    return actions[0]


def listed(action: Action) -> list[tuple[str, int]]:
    return [(i.id, i.step) for i in action.invoices]


# ----------------------------------------------------------------- §3 plans, §5.2 reached step


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (-30, 0),
        (-6, 0),
        (-5, 1),
        (0, 1),
        (2, 1),
        (3, 2),
        (9, 2),
        (10, 3),
        (19, 3),
        (20, 4),
        (29, 4),
        (30, 5),
        (44, 5),
        (45, 6),
        (400, 6),
    ],
)
def test_reached_step_is_the_last_step_whose_offset_has_passed(days: int, expected: int) -> None:
    """§5.2: an invoice's reached step is the last step whose offset <= days since the due
    date, none before the first offset (standard plan: -5, 3, 10, 20, 30, 45)."""
    standard = shipped_plans()["standard"]
    offsets = [s.offset for s in standard.steps]
    assert reached_step(standard, offsets, days, Decimal("1000.00")) == expected


def test_invoice_before_its_first_offset_gets_nothing() -> None:
    """§5.2: six days before its due date an invoice has reached no step of the standard plan
    (first step at -5); five days before, the pre-due reminder goes out."""
    book = ledger([customer()], [invoice(due=ago(-6))])
    assert run(book) == []
    book = ledger([customer()], [invoice(due=ago(-5))])
    action = only(run(book))
    assert (action.step, action.template) == (1, "pre_due")


def test_shipped_plans_match_design_table() -> None:
    """§3: the three default plans with their offsets, channels and templates, and the plan
    option defaults (min_amount 0, cooldown 5 days, business days only)."""
    plans = DEFAULTS.plans
    table = {
        name: [(s.offset, s.channel, s.template) for s in p.steps] for name, p in plans.items()
    }
    assert table == {
        "standard": STANDARD_STEPS,
        "gentle": [
            (5, "email", "reminder_1"),
            (15, "email", "reminder_2"),
            (30, "phone", "phone"),
            (60, "phone", "phone"),
        ],
        "strict": [
            (-7, "email", "pre_due"),
            (1, "email", "reminder_1"),
            (7, "sms", "sms"),
            (12, "phone", "phone"),
            (20, "formal_notice", "formal_notice"),
            (30, "escalation", "escalation"),
        ],
    }
    for p in plans.values():
        assert (p.min_amount, p.cooldown_days, p.business_days_only) == (Decimal(0), 5, True)


def test_catch_up_fires_only_the_reached_step() -> None:
    """§5.3: an invoice first seen 25 days overdue gets the phone step (20) only, never the
    skipped pre_due, reminder_1 and reminder_2; ten days later (day 35) only formal_notice."""
    book = ledger([customer()], [invoice(due=ago(25), amount="2000.00")])
    action = only(run(book))
    assert (action.step, action.channel, action.template) == (4, "phone", "phone")
    assert listed(action) == [("F1", 4)]

    book.reminders.append(record(action, TODAY))
    later = TODAY + timedelta(days=10)  # Thursday 26 March, day 35
    action = only(run(book, today=later))
    assert (action.step, action.channel) == (5, "formal_notice")
    assert listed(action) == [("F1", 5)]


def test_step_min_amount_above_open_amount_reaches_no_step() -> None:
    """§5.2: a step with its own min_amount (reminder_2 at day 10, at least 5,000.00) is not
    reached by a 4,999.99 invoice: on day 12 that invoice has no reached step at all, even
    though reminder_1 (day 3) was never sent; an invoice of exactly 5,000.00 reaches it, and
    the small one reaches the next step (phone, day 20) normally."""
    steps = list(STANDARD_STEPS)
    steps[2] = (10, "email", "reminder_2", "5000.00")
    cfg = config(plans=[plan_spec("standard", steps)])
    small = ledger([customer()], [invoice(due=ago(12), amount="4999.99")])
    assert run(small, cfg) == []

    exact = ledger([customer()], [invoice(due=ago(12), amount="5000.00")])
    assert listed(only(run(exact, cfg))) == [("F1", 3)]

    later = ledger([customer()], [invoice(due=ago(22), amount="4999.99")])
    assert listed(only(run(later, cfg))) == [("F1", 4)]


# --------------------------------------------------------------------------- §5.4 gates


def test_net_overdue_below_plan_min_amount_holds_reminder() -> None:
    """§5.4: with plan min_amount 500.00, a customer owing 300.00 (needs reminder_2) plus
    200.00 already reminded (both overdue) is reminded: net overdue 500.00 is not below it.
    An open credit note of 0.01 takes net overdue to 499.99: nothing today."""
    cfg = standard_with(min_amount="500.00")
    history = [reminder("C1", ago(6), "standard", [("F2", 3)])]
    invoices = [
        invoice("F1", due=ago(12), amount="300.00"),
        invoice("F2", due=ago(11), amount="200.00"),
    ]
    book = ledger([customer()], invoices, history)
    assert listed(only(run(book, cfg))) == [("F1", 3)]

    book = ledger([customer()], [*invoices, credit_note("A1", amount="0.01")], history)
    assert run(book, cfg) == []


def test_pre_due_reminder_is_exempt_from_amount_checks() -> None:
    """§5.4: a pre-due reminder (100.00 due in 3 days) goes out although net overdue is
    0 - 1,000.00 of open credit note, below the plan minimum of 500.00 and not positive."""
    cfg = standard_with(min_amount="500.00")
    book = ledger(
        [customer()], [invoice(due=ago(-3), amount="100.00"), credit_note("A1", amount="1000.00")]
    )
    action = only(run(book, cfg))
    assert (action.step, action.template) == (1, "pre_due")
    assert action.overdue_amount == Decimal("0")


def test_reminder_mixing_pre_due_and_overdue_steps_is_subject_to_amount_checks() -> None:
    """§5.4: only pre-due-only reminders are exempt: 100.00 due in 3 days plus 100.00 four
    days overdue is held by a plan minimum of 500.00 (net overdue 100.00)."""
    cfg = standard_with(min_amount="500.00")
    book = ledger(
        [customer()],
        [invoice("F1", due=ago(-3), amount="100.00"), invoice("F2", due=ago(4), amount="100.00")],
    )
    assert run(book, cfg) == []


def test_credits_covering_the_overdue_amount_hold_the_reminder() -> None:
    """§5.4: when open credit notes cover what is overdue (1,000.00 against a 1,000.00 credit
    note) nothing is owed and no reminder goes out; with 999.99 of credit, 0.01 is owed."""
    inv = invoice(due=ago(12), amount="1000.00")
    assert run(ledger([customer()], [inv, credit_note("A1", amount="1000.00")])) == []
    action = only(run(ledger([customer()], [inv, credit_note("A1", amount="999.99")])))
    assert action.net_due == Decimal("0.01")


def test_cooldown_holds_a_reminder_until_enough_days_passed() -> None:
    """§5.4: with the default cooldown of 5 days, a reminder sent Thursday 12 March (4 days
    ago) holds today's reminder_2; one sent Wednesday 11 March (5 days ago) does not."""
    inv = invoice(due=ago(12))
    recent = ledger(
        [customer()], [inv], [reminder("C1", date(2026, 3, 12), "standard", [("F1", 2)])]
    )
    assert run(recent) == []
    older = ledger(
        [customer()], [inv], [reminder("C1", date(2026, 3, 11), "standard", [("F1", 2)])]
    )
    assert listed(only(run(older))) == [("F1", 3)]
    # Thursday 12 March + 5 days: Tuesday 17 March, the reminder goes out.
    assert listed(only(run(recent, today=TODAY + ONE_DAY))) == [("F1", 3)]


def test_cooldown_counts_any_reminder_to_the_customer() -> None:
    """§5.4: the cooldown is per customer: a USD reminder sent two days ago under another plan
    (gentle, for another invoice) holds the EUR reminder_2 due today."""
    book = ledger(
        [customer()],
        [invoice("F1", due=ago(12)), invoice("F9", due=ago(30), currency="USD")],
        [reminder("C1", ago(2), "gentle", [("F9", 2)])],
    )
    assert run(book) == []


def test_cooldown_days_is_a_plan_option() -> None:
    """§3: a plan with cooldown_days 10 holds a reminder 7 days after the last one, not 10."""
    cfg = standard_with(cooldown_days=10)
    inv = invoice(due=ago(12))
    assert (
        run(ledger([customer()], [inv], [reminder("C1", ago(7), "standard", [("F1", 2)])]), cfg)
        == []
    )
    book = ledger([customer()], [inv], [reminder("C1", ago(10), "standard", [("F1", 2)])])
    assert listed(only(run(book, cfg))) == [("F1", 3)]


@pytest.mark.parametrize("day", [date(2026, 3, 14), date(2026, 3, 15)], ids=["saturday", "sunday"])
def test_no_action_on_saturday(day: date) -> None:
    """§3: business_days_only (default true): no action on Saturday 14 or Sunday 15 March 2026
    for an invoice 12 days overdue; it goes out on Monday 16 March."""
    book = ledger([customer()], [invoice(due=date(2026, 3, 2))])
    assert run(book, today=day) == []
    assert listed(only(run(book, today=date(2026, 3, 16)))) == [("F1", 3)]


FRENCH_WEEKDAY_HOLIDAYS_2026 = [
    date(2026, 1, 1),  # Jour de l'an (Thursday)
    date(2026, 4, 6),  # Lundi de Pâques
    date(2026, 5, 1),  # Fête du travail (Friday)
    date(2026, 5, 8),  # Victoire 1945 (Friday)
    date(2026, 5, 14),  # Ascension (Thursday)
    date(2026, 5, 25),  # Lundi de Pentecôte
    date(2026, 7, 14),  # Fête nationale (Tuesday)
    date(2026, 11, 11),  # Armistice (Wednesday)
    date(2026, 12, 25),  # Noël (Friday)
]


@pytest.mark.parametrize("holiday", FRENCH_WEEKDAY_HOLIDAYS_2026, ids=str)
def test_no_action_on_french_public_holiday(holiday: date) -> None:
    """§3: no action on a French public holiday falling on a weekday (e.g. Wednesday
    11 November 2026, Armistice) for an invoice 12 days overdue; a plan that does not keep
    to business days acts that day."""
    book = ledger([customer()], [invoice(due=ago(12, holiday))])
    assert run(book, today=holiday) == []
    assert listed(only(run(book, standard_with(business_days_only=False), holiday))) == [("F1", 3)]


def test_business_days_only_false_acts_on_sunday() -> None:
    """§3: a plan with business_days_only = false reminds on Sunday 15 March 2026."""
    book = ledger([customer()], [invoice(due=date(2026, 3, 3))])
    action = only(run(book, standard_with(business_days_only=False), date(2026, 3, 15)))
    assert listed(action) == [("F1", 3)]


# --------------------------------------------------------------------------- §5.1 candidates


def test_disputed_invoice_is_never_reminded() -> None:
    """§5.1: an invoice with an open dispute (12 days overdue) is never reminded, and is not
    shown as context next to another invoice (F2, 4 days overdue) that is."""
    disputed = invoice("F1", due=ago(12), dispute=dispute())
    assert run(ledger([customer()], [disputed])) == []
    action = only(run(ledger([customer()], [disputed, invoice("F2", due=ago(4))])))
    assert listed(action) == [("F2", 2)]
    assert action.context_invoice_ids == []
    assert action.overdue_amount == Decimal("1000.00")


def test_closed_dispute_no_longer_blocks() -> None:
    """§5.1: once the dispute is closed (on 5 March) the invoice, 12 days overdue, is reminded."""
    inv = invoice(due=ago(12), dispute=dispute(opened=date(2026, 3, 1), closed=date(2026, 3, 5)))
    assert listed(only(run(ledger([customer()], [inv])))) == [("F1", 3)]


def test_active_promise_holds_until_promise_date() -> None:
    """§5.1: a promise to pay holds reminders up to and including the promised date
    (promise on 16 or 20 March: nothing on 16 March); the day after it lapses (promise on
    15 March) the invoice, 12 days overdue, is reminded again."""
    for promised in (TODAY, TODAY + timedelta(days=4)):
        book = ledger([customer()], [invoice(due=ago(12), promise_date=promised)])
        assert run(book) == [], promised
    book = ledger([customer()], [invoice(due=ago(12), promise_date=TODAY - ONE_DAY)])
    assert listed(only(run(book))) == [("F1", 3)]


@pytest.mark.parametrize("flag", ["escalated", "factored"])
def test_escalated_and_factored_never_reminded(flag: str) -> None:
    """§5.1: an invoice handed to an agency (escalated) or sold to a factor is never reminded,
    nor listed as context of another invoice's reminder."""
    handed = invoice("F1", due=ago(50), **{flag: True})
    assert run(ledger([customer()], [handed])) == []
    action = only(run(ledger([customer()], [handed, invoice("F2", due=ago(12))])))
    assert listed(action) == [("F2", 3)]
    assert action.context_invoice_ids == []


def test_paid_invoice_is_never_reminded() -> None:
    """§5.1: an invoice with nothing left open (paid 12 days after its due date) is never
    reminded; a partly paid one is, for its open amount (250.00 of 1,000.00)."""
    assert run(ledger([customer()], [invoice(due=ago(12), open="0.00")])) == []
    action = only(run(ledger([customer()], [invoice(due=ago(12), open="250.00")])))
    assert action.invoices[0].open_amount == Decimal("250.00")
    assert action.overdue_amount == Decimal("250.00")


# --------------------------------------------------------------------------- §5.3 done step


def test_done_step_counts_only_history_under_same_plan() -> None:
    """§5.3: reminder_2 sent under plan gentle (step 3 there) does not count under standard:
    the invoice, 12 days overdue under standard, still needs its standard step 3; the same
    history under standard means nothing is needed."""
    inv = invoice(due=ago(12))
    other_plan = ledger([customer()], [inv], [reminder("C1", ago(10), "gentle", [("F1", 3)])])
    action = only(run(other_plan))
    assert (action.plan, listed(action)) == ("standard", [("F1", 3)])
    assert action.explanation["invoices"][0]["done"] == 0

    same_plan = ledger([customer()], [inv], [reminder("C1", ago(10), "standard", [("F1", 3)])])
    assert run(same_plan) == []


def test_done_step_is_the_highest_step_recorded() -> None:
    """§5.3: an invoice reminded at step 4 (phone) and, by an older entry, at step 2 has done
    step 4; at day 25 (reached 4) it needs nothing."""
    history = [
        reminder("C1", ago(20), "standard", [("F1", 4)], channel="phone"),
        reminder("C1", ago(18), "standard", [("F1", 2)]),
    ]
    assert run(ledger([customer()], [invoice(due=ago(25))], history)) == []


# --------------------------------------------------------------------------- §5.5 the action


def test_one_action_per_customer_and_currency() -> None:
    """§5.5: C1 with two EUR invoices and one USD invoice needing reminders gets one EUR action
    listing both and one USD action; C2 gets its own EUR action."""
    book = ledger(
        [customer("C1"), customer("C2")],
        [
            invoice("F1", due=ago(12)),
            invoice("F2", due=ago(25)),
            invoice("F3", due=ago(4), currency="USD"),
            invoice("F4", "C2", due=ago(12)),
        ],
    )
    actions = run(book)
    assert sorted((a.customer_id, a.currency, tuple(listed(a))) for a in actions) == [
        ("C1", "EUR", (("F1", 3), ("F2", 4))),
        ("C1", "USD", (("F3", 2),)),
        ("C2", "EUR", (("F4", 3),)),
    ]


def test_action_uses_channel_of_highest_needed_step() -> None:
    """§5.5: one invoice at the phone step (day 25) and one at reminder_1 (day 4): the action
    is a phone call (step 4, template phone) listing each invoice with its own step."""
    book = ledger([customer()], [invoice("F1", due=ago(4)), invoice("F2", due=ago(25))])
    action = only(run(book))
    assert (action.step, action.channel, action.template) == (4, "phone", "phone")
    assert listed(action) == [("F1", 2), ("F2", 4)]
    assert [i.days_overdue for i in action.invoices] == [4, 25]


def test_context_lists_other_overdue_candidates() -> None:
    """§5.5: next to F1 (needs reminder_2), the action shows as context the customer's other
    overdue candidates in EUR (F2, already reminded; F3, 1 day overdue, pre_due done), but not
    a disputed, promised, not-yet-due, paid or USD invoice."""
    book = ledger(
        [customer()],
        [
            invoice("F1", due=ago(12), amount="1000.00"),
            invoice("F2", due=ago(15), amount="400.00"),
            invoice("F3", due=ago(1), amount="50.00"),
            invoice("F4", due=ago(20), dispute=dispute()),
            invoice("F5", due=ago(20), promise_date=TODAY + ONE_DAY),
            invoice("F6", due=ago(-2)),
            invoice("F7", due=ago(14), open="0.00", paid_date=TODAY),
            invoice("F8", due=ago(40), currency="USD"),
        ],
        [
            reminder("C1", ago(10), "standard", [("F8", 3)]),
            reminder("C1", ago(6), "standard", [("F2", 3), ("F3", 1), ("F6", 1)]),
        ],
    )
    eur = next(a for a in run(book) if a.currency == "EUR")
    assert listed(eur) == [("F1", 3)]
    assert eur.context_invoice_ids == ["F2", "F3"]
    assert [(c.days_overdue, c.open_amount) for c in eur.context] == [
        (15, Decimal("400.00")),
        (1, Decimal("50.00")),
    ]
    assert eur.overdue_amount == Decimal("1450.00")
    assert eur.net_due == Decimal("1450.00")


def test_open_credit_note_reduces_net_due() -> None:
    """§5.4-5.5: an open credit note of 300.00 and what is left (50.00) of a 200.00 one are
    listed as credits and deducted: 1,000.00 overdue, net due 650.00; a used-up credit note
    is not listed."""
    book = ledger(
        [customer()],
        [
            invoice("F1", due=ago(12), amount="1000.00"),
            credit_note("A1", amount="300.00"),
            credit_note("A2", amount="200.00", open="50.00"),
            credit_note("A3", amount="80.00", open="0.00"),
        ],
    )
    action = only(run(book))
    assert action.overdue_amount == Decimal("1000.00")
    assert action.net_due == Decimal("650.00")
    assert [(c.id, c.open_amount) for c in action.credits] == [
        ("A1", Decimal("300.00")),
        ("A2", Decimal("50.00")),
    ]


def test_credit_note_in_another_currency_does_not_count() -> None:
    """§5.4: a USD credit note of 1,000.00 neither holds nor reduces a EUR reminder."""
    book = ledger(
        [customer()],
        [invoice("F1", due=ago(12)), credit_note("A1", amount="1000.00", currency="USD")],
    )
    action = only(run(book))
    assert (action.currency, action.net_due, action.credits) == ("EUR", Decimal("1000.00"), ())


def test_net_due_counts_listed_pre_due_invoices() -> None:
    """§5.5: net_due is the listed and context invoices less credits, so an invoice listed for
    its pre-due reminder (200.00 due in 3 days) counts in net_due but not in overdue_amount."""
    book = ledger(
        [customer()],
        [invoice("F1", due=ago(12), amount="1000.00"), invoice("F2", due=ago(-3), amount="200.00")],
    )
    action = only(run(book))
    assert listed(action) == [("F1", 3), ("F2", 1)]
    assert action.overdue_amount == Decimal("1000.00")
    assert action.net_due == Decimal("1200.00")


def test_net_due_never_below_zero() -> None:
    """§5.5: a pre-due reminder for 100.00 with 1,000.00 of open credit notes has net due 0,
    not -900.00."""
    book = ledger(
        [customer()], [invoice(due=ago(-3), amount="100.00"), credit_note("A1", amount="1000.00")]
    )
    assert only(run(book)).net_due == Decimal("0")


def test_recording_an_action_sets_done_steps_to_reached_steps() -> None:
    """§5.5: the journal entry of an executed action carries each listed invoice with its own
    reached step, the plan, the channel, the key and the day it went out."""
    book = ledger([customer()], [invoice("F1", due=ago(4)), invoice("F2", due=ago(25))])
    action = only(run(book))
    entry = record(action, TODAY)
    assert (entry.customer_id, entry.date, entry.plan, entry.channel, entry.key) == (
        "C1",
        TODAY,
        "standard",
        "phone",
        action.key,
    )
    assert [(line.invoice_id, line.step) for line in entry.invoices] == [("F1", 2), ("F2", 4)]


def test_engine_is_a_pure_function_of_ledger_config_and_today() -> None:
    """§2, §5: planning reads the ledger and never changes it; the same (ledger, config,
    today) always gives the same actions."""
    book = ledger(
        [customer()],
        [invoice("F1", due=ago(25)), invoice("F2", due=ago(-3)), credit_note("A1")],
        [reminder("C1", ago(9), "standard", [("F1", 3)])],
    )
    snapshot = copy.deepcopy(book)
    first = run(book)
    assert book == snapshot
    assert run(book) == first


def test_engine_trusts_the_escalated_flag_not_the_journal() -> None:
    """§5.1, §5.7 and docs/decisions.md "Escalated invoices": a 10,000.00 invoice due
    3 April 2026 was escalated on 18 May under standard (day 45) and journaled, but the
    executor never set its escalated flag.  On Wednesday 3 June (day 61) the customer turns
    risky (plan strict): the engine only knows the flag, so strict escalates it (its own
    step 6).  Once the flag is set, as executors do when they journal, nothing goes out."""
    history = [reminder("C1", date(2026, 5, 18), "standard", [("F1", 6)], channel="escalation")]
    unmarked = ledger([customer()], [invoice(due=date(2026, 4, 3), amount="10000.00")], history)
    action = only(run(unmarked, today=date(2026, 6, 3)))
    assert (action.plan, action.channel, listed(action)) == ("strict", "escalation", [("F1", 6)])

    marked = ledger(
        [customer()],
        [invoice(due=date(2026, 4, 3), amount="10000.00", escalated=True)],
        history,
    )
    assert run(marked, today=date(2026, 6, 3)) == []


# --------------------------------------------------------------------------- §5 priority


def test_priority_is_overdue_amount_scaled_by_worst_days_overdue() -> None:
    """§5: priority = overdue_amount x (1 + d/30), d the largest days overdue among the
    action's overdue candidates: 1,000.00 (day 12) + 500.00 (day 30, context) gives
    1,500.00 x 2 = 3,000; a disputed invoice 40 days overdue and a pre-due one do not count."""
    book = ledger(
        [customer()],
        [
            invoice("F1", due=ago(12), amount="1000.00"),
            invoice("F2", due=ago(30), amount="500.00"),
            invoice("F3", due=ago(40), amount="9000.00", dispute=dispute()),
            invoice("F4", due=ago(-3), amount="700.00"),
        ],
        [reminder("C1", ago(6), "standard", [("F2", 5)], channel="formal_notice")],
    )
    action = only(run(book))
    assert listed(action) == [("F1", 3), ("F4", 1)]
    assert action.overdue_amount == Decimal("1500.00")
    assert action.priority == Decimal("3000")


def test_priority_orders_actions_highest_first_ties_by_customer_then_currency() -> None:
    """§5: C3 (2,000.00, day 12: 2,800) comes first; C1 EUR, C1 USD and C2 EUR tie at 1,400
    and follow by customer id then currency; a pre-due-only reminder (priority 0) comes last,
    whatever the order of customers in the ledger."""
    book = ledger(
        [customer("C2"), customer("C0"), customer("C3"), customer("C1")],
        [
            invoice("F1", "C1", due=ago(12), currency="USD"),
            invoice("F2", "C2", due=ago(12)),
            invoice("F3", "C3", due=ago(12), amount="2000.00"),
            invoice("F4", "C1", due=ago(12)),
            invoice("F5", "C0", due=ago(-3), amount="5000.00"),
        ],
    )
    actions = run(book)
    assert [(a.customer_id, a.currency, a.priority) for a in actions] == [
        ("C3", "EUR", Decimal("2800")),
        ("C1", "EUR", Decimal("1400")),
        ("C1", "USD", Decimal("1400")),
        ("C2", "EUR", Decimal("1400")),
        ("C0", "EUR", Decimal("0")),
    ]


# --------------------------------------------------------------------------- §5.6 keys


def test_action_key_is_stable_and_independent_of_invoice_order() -> None:
    """§5.6: the key hashes (customer, plan, sorted (invoice, step) pairs): the order the
    invoices come in, in the ledger or in the pairs, does not change it."""
    invoices = [invoice("F1", due=ago(4)), invoice("F2", due=ago(25)), invoice("F3", due=ago(12))]
    forward = only(run(ledger([customer()], invoices)))
    backward = only(run(ledger([customer()], invoices[::-1])))
    assert forward.key == backward.key
    pairs = [("F1", 2), ("F2", 4), ("F3", 3)]
    assert forward.key == action_key("C1", "standard", pairs)
    assert action_key("C1", "standard", pairs[::-1]) == action_key("C1", "standard", pairs)
    assert action_key("C1", "standard", pairs) == action_key("C1", "standard", list(pairs))


def test_action_key_changes_with_customer_plan_or_steps() -> None:
    """§5.6: another customer, another plan or another step for one invoice is another key."""
    base = action_key("C1", "standard", [("F1", 2)])
    assert (
        len(
            {
                base,
                action_key("C2", "standard", [("F1", 2)]),
                action_key("C1", "strict", [("F1", 2)]),
                action_key("C1", "standard", [("F1", 3)]),
                action_key("C1", "standard", [("F1", 2), ("F2", 2)]),
            }
        )
        == 5
    )


@pytest.mark.parametrize("cooldown", [5, 0])
def test_replanning_after_recording_yields_nothing(cooldown: int) -> None:
    """§5.6: once every action of the day is recorded, re-running the same day yields
    nothing, even with a cooldown of 0 days (the done steps alone prevent a repeat)."""
    cfg = standard_with(cooldown_days=cooldown)
    book = ledger(
        [customer("C1"), customer("C2")],
        [
            invoice("F1", "C1", due=ago(12)),
            invoice("F2", "C1", due=ago(-3)),
            invoice("F3", "C1", due=ago(33), currency="USD"),
            invoice("F4", "C2", due=ago(50)),
        ],
    )
    actions = run(book, cfg)
    assert len(actions) == 3
    book.reminders.extend(record(a, TODAY) for a in actions)
    assert run(book, cfg) == []


# ----------------------------------------------------------------- §4 / §5 segments and plans


def test_excluded_customer_gets_nothing() -> None:
    """§4: an excluded customer gets no reminder at all, even with a manual plan, while a
    customer with the same invoices is reminded."""
    book = ledger(
        [customer("C1", excluded=True, plan="strict"), customer("C2")],
        [invoice("F1", "C1", due=ago(12)), invoice("F2", "C2", due=ago(12))],
    )
    assert [a.customer_id for a in run(book)] == ["C2"]


def test_manual_plan_override_wins_over_segments() -> None:
    """§4: a key account (segment rule -> gentle) with a manual plan strict is reminded under
    strict, segment 'manual': day 12 is strict's phone step."""
    book = ledger([customer(tags={"key_account"}, plan="strict")], [invoice(due=ago(12))])
    action = only(run(book))
    assert (action.plan, action.segment, action.step, action.channel) == (
        "strict",
        "manual",
        4,
        "phone",
    )


def test_unknown_manual_plan_is_rejected() -> None:
    """§9: a manual plan that names no known plan is invalid input naming the record and field."""
    book = ledger([customer(plan="nonexistent")], [invoice(due=ago(12))])
    with pytest.raises(InputError) as raised:
        run(book)
    assert raised.value.field == "plan"
    assert "C1" in (raised.value.record or "")


def test_first_matching_segment_gives_the_plan() -> None:
    """§4: shipped segments in order: a key account 61 days overdue is gentle (key_accounts
    comes first); 61 days overdue is risky (strict); an average 21 days late on paid
    invoices is risky; 20 days is not (default, standard).  The explanation names the rule
    and the metric values it used."""
    paid_on = date(2026, 1, 20)
    book = ledger(
        [customer("K"), customer("R"), customer("L"), customer("D")],
        [
            invoice("FK", "K", due=ago(61)),
            invoice("FR", "R", due=ago(61)),
            invoice("FL", "L", due=ago(12)),
            paid_invoice("PL", "L", due=paid_on - timedelta(days=21), paid=paid_on),
            invoice("FD", "D", due=ago(12)),
            paid_invoice("PD", "D", due=paid_on - timedelta(days=20), paid=paid_on),
        ],
    )
    book.customers[0] = customer("K", tags={"key_account"})
    by_customer = {a.customer_id: a for a in run(book)}
    assert {c: (a.segment, a.plan) for c, a in by_customer.items()} == {
        "K": ("key_accounts", "gentle"),
        "R": ("risky", "strict"),
        "L": ("risky", "strict"),
        "D": ("default", "standard"),
    }
    explained = by_customer["L"].explanation["segment"]
    assert explained["rule"] == "risky"
    assert explained["metrics"] == {"avg_days_late": "21", "max_days_overdue": "12"}


def test_customer_matching_no_segment_gets_nothing() -> None:
    """§4: with configured segments replacing the shipped ones (only 'big': outstanding >
    5000 -> strict), a customer owing 1,000.00 matches no rule and is not reminded."""
    cfg = config(segments=[{"name": "big", "when": "outstanding > 5000", "plan": "strict"}])
    book = ledger(
        [customer("C1"), customer("C2")],
        [invoice("F1", "C1", due=ago(12)), invoice("F2", "C2", due=ago(12), amount="6000.00")],
    )
    action = only(run(book, cfg))
    assert (action.customer_id, action.segment, action.plan) == ("C2", "big", "strict")


# --------------------------------------------------------------------------- §7 formal notices

NOTICE_DAY = date(2026, 6, 10)  # a Wednesday


def formal_notice_ledger(kind: str = "company") -> Ledger:
    """10,000.00 due 1 May 2026 (40 days overdue on 10 June, phone step done on 21 May) and
    1,000.00 due 29 May (12 days overdue, reminder_1 done), both listed in the formal notice."""
    return ledger(
        [customer(kind=kind)],
        [
            invoice("F1", due=date(2026, 5, 1), amount="10000.00"),
            invoice("F2", due=date(2026, 5, 29), amount="1000.00"),
        ],
        [reminder("C1", date(2026, 6, 2), "standard", [("F1", 4), ("F2", 2)], channel="phone")],
    )


def test_formal_notice_lists_interest_and_indemnity_for_companies() -> None:
    """§7: a company's formal notice carries, per overdue invoice, interest = open amount x
    (ECB 2.15% + 10 points) x days / 365, half-up to the cent (10,000.00 x 0.1215 x 40 / 365
    = 133.15; 1,000.00 x 0.1215 x 12 / 365 = 3.99) and the EUR 40 recovery indemnity, plus
    the payment deadline (8 days by default)."""
    action = only(plan(formal_notice_ledger(), config(ecb_rate=0.0215), NOTICE_DAY))
    assert (action.step, action.channel, action.template) == (5, "formal_notice", "formal_notice")
    assert [(i.id, i.step, i.days_overdue, i.interest, i.indemnity) for i in action.invoices] == [
        ("F1", 5, 40, Decimal("133.15"), Decimal("40.00")),
        ("F2", 3, 12, Decimal("3.99"), Decimal("40.00")),
    ]
    assert action.interest_rate == Decimal("0.1215")
    assert action.payment_deadline_days == 8
    assert (action.total_interest, action.total_indemnity) == (Decimal("137.14"), Decimal("80.00"))


def test_individual_gets_no_interest_or_indemnity() -> None:
    """§7: an individual (consumer) customer's formal notice states no late-payment interest
    and no recovery indemnity."""
    action = only(plan(formal_notice_ledger("individual"), config(ecb_rate=0.0215), NOTICE_DAY))
    assert action.channel == "formal_notice"
    assert all(not i.interest and not i.indemnity for i in action.invoices)
    assert action.total_interest == 0
    assert action.total_indemnity == 0
    assert action.interest_rate is None


def test_contract_rate_replaces_ecb_plus_ten_points() -> None:
    """§7: a contract rate of 12% replaces ECB + 10 points: 10,000.00 x 0.12 x 40 / 365 =
    131.51 (not 133.15)."""
    cfg = config(ecb_rate=0.0215, late_interest_rate=0.12)
    action = only(plan(formal_notice_ledger(), cfg, NOTICE_DAY))
    assert action.interest_rate == Decimal("0.12")
    assert action.invoices[0].interest == Decimal("131.51")


def test_formal_notice_defaults_to_the_shipped_ecb_rate_of_the_half_year() -> None:
    """§7: without ecb_rate in the config, the rate is the shipped ECB rate in force on
    1 January 2025 (3.15%) + 10 points for a notice on 10 June 2025: 10,000.00 x 0.1315 x
    40 / 365 = 144.11."""
    book = ledger(
        [customer()],
        [invoice("F1", due=date(2025, 5, 1), amount="10000.00")],
        [reminder("C1", date(2025, 5, 21), "standard", [("F1", 4)], channel="phone")],
    )
    action = only(plan(book, DEFAULTS, date(2025, 6, 10)))
    assert action.interest_rate == Decimal("0.1315")
    assert action.invoices[0].interest == Decimal("144.11")


def test_formal_notice_payment_deadline_is_configurable() -> None:
    """§7: the payment deadline stated in a formal notice defaults to 8 days; the config can
    set another (15)."""
    action = only(plan(formal_notice_ledger(), config(payment_deadline_days=15), NOTICE_DAY))
    assert action.payment_deadline_days == 15


def test_other_steps_carry_no_late_payment_amounts() -> None:
    """§7, §9: only formal notices carry interest, indemnity, rate and deadline."""
    action = only(run(ledger([customer()], [invoice(due=ago(12))])))
    assert action.channel == "email"
    assert (action.invoices[0].interest, action.invoices[0].indemnity) == (None, None)
    assert (action.interest_rate, action.payment_deadline_days) == (None, None)


# --------------------------------------------------------------------------- day by day


@dataclass(frozen=True)
class Sent:
    day: date
    step: int
    channel: str
    invoices: tuple[tuple[str, int], ...] = ()
    context: tuple[str, ...] = ()


def walk(book: Ledger, cfg: Config, start: date, end: date) -> list[Sent]:
    """Plan every day from ``start`` to ``end`` and execute every action: journal it with
    ``record`` and, for an escalation, mark its invoices escalated (§5.7), as the executor
    does.  Returns what went out, in order."""
    reminders = list(book.reminders)
    invoices = list(book.invoices)
    sent: list[Sent] = []
    keys: set[str] = set()
    day = start
    while day <= end:
        for action in plan(ledger(book.customers, invoices, reminders), cfg, day):
            assert action.key not in keys, f"key executed twice on {day}"
            keys.add(action.key)
            reminders.append(record(action, day))
            sent.append(
                Sent(
                    day,
                    action.step,
                    action.channel,
                    tuple(listed(action)),
                    tuple(action.context_invoice_ids),
                )
            )
            if action.channel == "escalation":
                ids = {i.id for i in action.invoices}
                invoices = [with_changes(i, escalated=True) if i.id in ids else i for i in invoices]
        day += ONE_DAY
    return sent


def steps_of(sent: list[Sent]) -> list[tuple[date, int, str]]:
    return [(s.day, s.step, s.channel) for s in sent]


def D(month: int, day: int) -> date:
    """A day of 2026: the walks read like a calendar."""
    return date(2026, month, day)


def test_standard_plan_day_by_day() -> None:
    """§3, §5: one 10,000.00 invoice due Friday 3 April 2026 under standard, every day from
    20 March to 31 May:

    - day -5 is Sunday 29 March: pre_due goes out Monday 30 March;
    - day 3 is Easter Monday 6 April: reminder_1 on Tuesday 7 April;
    - day 10, Monday 13 April: reminder_2; day 20, Thursday 23 April: phone;
    - day 30 is Sunday 3 May: formal notice on Monday 4 May;
    - day 45, Monday 18 May: escalation; nothing after."""
    book = ledger([customer()], [invoice(due=D(4, 3), amount="10000.00")])
    assert steps_of(walk(book, DEFAULTS, D(3, 20), D(5, 31))) == [
        (D(3, 30), 1, "email"),
        (D(4, 7), 2, "email"),
        (D(4, 13), 3, "email"),
        (D(4, 23), 4, "phone"),
        (D(5, 4), 5, "formal_notice"),
        (D(5, 18), 6, "escalation"),
    ]


def test_standard_plan_day_by_day_with_two_invoices() -> None:
    """§3, §5.4-5.5: F1 (10,000.00 due Friday 3 April) and F2 (2,000.00 due Friday 10 April)
    under standard, 20 March to 31 May.  F2's pre_due (Sunday 5 April) waits for the
    weekend, Easter Monday and then goes out with F1's reminder_1 on 7 April; F1's phone
    step (23 April) waits for the cooldown after F2's reminder_2 on 20 April; F2's phone step
    (30 April) waits for cooldown, 1 May and the weekend and joins F1's formal notice on
    4 May; F2's escalation (Whit Monday 25 May) goes out on the 26th."""
    book = ledger(
        [customer()],
        [
            invoice("F1", due=D(4, 3), amount="10000.00"),
            invoice("F2", due=D(4, 10), amount="2000.00"),
        ],
    )
    assert walk(book, DEFAULTS, D(3, 20), D(5, 31)) == [
        Sent(D(3, 30), 1, "email", (("F1", 1),)),
        Sent(D(4, 7), 2, "email", (("F1", 2), ("F2", 1))),
        Sent(D(4, 13), 3, "email", (("F1", 3), ("F2", 2))),
        Sent(D(4, 20), 3, "email", (("F2", 3),), ("F1",)),
        Sent(D(4, 27), 4, "phone", (("F1", 4),), ("F2",)),
        Sent(D(5, 4), 5, "formal_notice", (("F1", 5), ("F2", 4))),
        Sent(D(5, 11), 5, "formal_notice", (("F2", 5),), ("F1",)),
        Sent(D(5, 18), 6, "escalation", (("F1", 6),), ("F2",)),
        Sent(D(5, 26), 6, "escalation", (("F2", 6),)),
    ]


def test_gentle_plan_day_by_day() -> None:
    """§3, §4: a key account (gentle: 5, 15, 30, 60) with one invoice due Wednesday 29 April
    2026, every day from 20 April to 5 July: reminder_1 Monday 4 May; day 15 is Ascension
    (Thursday 14 May): reminder_2 on Friday 15 May; phone on Friday 29 May; day 60 is
    Sunday 28 June: second phone call on Monday 29 June."""
    book = ledger([customer(tags={"key_account"})], [invoice(due=D(4, 29), amount="10000.00")])
    assert steps_of(walk(book, DEFAULTS, D(4, 20), D(7, 5))) == [
        (D(5, 4), 1, "email"),
        (D(5, 15), 2, "email"),
        (D(5, 29), 3, "phone"),
        (D(6, 29), 4, "phone"),
    ]


def test_gentle_plan_day_by_day_with_two_invoices() -> None:
    """§3, §5.4: a key account with F1 due 29 April and F2 due Wednesday 6 May; each step of
    one invoice comes a few days after the other's, so the 5-day cooldown, Ascension (14 May),
    Whit Monday (25 May) and weekends push them: every reminder lists one invoice and shows
    the other as context."""
    book = ledger(
        [customer(tags={"key_account"})],
        [
            invoice("F1", due=D(4, 29), amount="10000.00"),
            invoice("F2", due=D(5, 6), amount="2000.00"),
        ],
    )
    assert walk(book, DEFAULTS, D(4, 20), D(7, 10)) == [
        Sent(D(5, 4), 1, "email", (("F1", 1),)),
        Sent(D(5, 11), 1, "email", (("F2", 1),), ("F1",)),
        Sent(D(5, 18), 2, "email", (("F1", 2),), ("F2",)),
        Sent(D(5, 26), 2, "email", (("F2", 2),), ("F1",)),
        Sent(D(6, 1), 3, "phone", (("F1", 3),), ("F2",)),
        Sent(D(6, 8), 3, "phone", (("F2", 3),), ("F1",)),
        Sent(D(6, 29), 4, "phone", (("F1", 4),), ("F2",)),
        Sent(D(7, 6), 4, "phone", (("F2", 4),), ("F1",)),
    ]


def risky_customer_history() -> list:
    """A 2,000.00 invoice due 31 December 2025 paid 15 February 2026 (46 days late): the
    customer's avg_days_late makes it risky (strict)."""
    return [paid_invoice("F0", due=date(2025, 12, 31), paid=date(2026, 2, 15), amount="2000.00")]


def test_strict_plan_day_by_day() -> None:
    """§3, §5.4: a risky customer (strict: -7, 1, 7, 12, 20, 30) with one invoice due
    Saturday 8 August 2026, every day from 25 July to 30 September: pre_due Monday 3 August
    (day -7 is a Saturday); reminder_1 Monday 10 August; day 7 is Saturday 15 August
    (Assumption): sms Monday 17 August; phone (day 12, Thursday 20) waits for the cooldown
    until Monday 24; formal notice (day 20, Friday 28) until Monday 31; escalation Monday
    7 September (day 30)."""
    book = ledger(
        [customer()], [*risky_customer_history(), invoice("F1", due=D(8, 8), amount="10000.00")]
    )
    sent = walk(book, DEFAULTS, D(7, 25), D(9, 30))
    assert steps_of(sent) == [
        (D(8, 3), 1, "email"),
        (D(8, 10), 2, "email"),
        (D(8, 17), 3, "sms"),
        (D(8, 24), 4, "phone"),
        (D(8, 31), 5, "formal_notice"),
        (D(9, 7), 6, "escalation"),
    ]


def test_strict_plan_day_by_day_with_two_invoices() -> None:
    """§3, §5.3-5.4: a risky customer with F1 due Saturday 8 August and F2 (3,000.00) due
    Tuesday 11 August under strict.  F2's pre_due (4 August) waits for the cooldown and goes
    with F1's reminder_1 on 10 August; both move together until the escalations; F2 skips
    its sms step (catch-up: day 13 on 24 August is already the phone step); F2's escalation
    (Thursday 10 September) waits for the cooldown until Monday 14."""
    book = ledger(
        [customer()],
        [
            *risky_customer_history(),
            invoice("F1", due=D(8, 8), amount="10000.00"),
            invoice("F2", due=D(8, 11), amount="3000.00"),
        ],
    )
    assert walk(book, DEFAULTS, D(7, 25), D(9, 30)) == [
        Sent(D(8, 3), 1, "email", (("F1", 1),)),
        Sent(D(8, 10), 2, "email", (("F1", 2), ("F2", 1))),
        Sent(D(8, 17), 3, "sms", (("F1", 3), ("F2", 2))),
        Sent(D(8, 24), 4, "phone", (("F1", 4), ("F2", 4))),
        Sent(D(8, 31), 5, "formal_notice", (("F1", 5), ("F2", 5))),
        Sent(D(9, 7), 6, "escalation", (("F1", 6),), ("F2",)),
        Sent(D(9, 14), 6, "escalation", (("F2", 6),)),
    ]
