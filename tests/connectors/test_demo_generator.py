"""The demo ledger generator: deterministic, exact counts, every model invariant, the mix."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.demo import (
    LEDGER_FORMAT,
    generate_ledger,
    generator,
    ledger_to_json,
    write_ledger_json,
)
from core.ledger import load_ledger
from core.model import Ledger
from core.plans import shipped_plans

TODAY = date(2026, 11, 24)  # a Tuesday
PLANS = shipped_plans()
EXAMPLES = Path("/work/shared/examples")

CUSTOMER_KEYS = [
    "id",
    "name",
    "kind",
    "emails",
    "phone",
    "language",
    "tags",
    "excluded",
    "plan",
    "credit_limit",
    "created",
]
INVOICE_KEYS = [
    "id",
    "customer_id",
    "number",
    "kind",
    "issue_date",
    "due_date",
    "amount",
    "open_amount",
    "currency",
    "paid_date",
    "dispute",
    "promise_date",
    "escalated",
    "factored",
]
REMINDER_KEYS = ["customer_id", "date", "plan", "channel", "key", "invoices"]
MONEY = re.compile(r"^\d+\.\d\d$")
ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return generate_ledger(TODAY)


def check_invariants(ledger: Ledger, today: date, months: int = 12) -> None:
    """Everything the model and the engine take for granted, and the journal's consistency."""
    window_start = today - timedelta(days=months * 365 // 12)
    customers = {c.id: c for c in ledger.customers}
    assert len(customers) == len(ledger.customers), "duplicate customer ids"
    invoices = {i.id: i for i in ledger.invoices}
    assert len(invoices) == len(ledger.invoices), "duplicate invoice ids"
    assert ledger.currency == "EUR"

    first_issue: dict[str, date] = {}
    for inv in ledger.invoices:
        assert inv.customer_id in customers, inv.id
        assert inv.number == inv.id
        assert inv.kind in ("invoice", "credit_note")
        assert inv.currency in ("EUR", "USD", "CHF")
        assert inv.amount > 0 and inv.amount.as_tuple().exponent == -2, inv
        assert Decimal(0) <= inv.open_amount <= inv.amount, inv
        assert inv.open_amount.as_tuple().exponent == -2, inv
        assert window_start < inv.issue_date <= today, inv
        assert inv.due_date >= inv.issue_date, inv
        # paid_date is set iff nothing is left to pay, and never in the future.
        assert (inv.paid_date is not None) == (inv.open_amount == 0), inv
        if inv.paid_date is not None:
            assert inv.issue_date <= inv.paid_date <= today, inv
        if inv.kind == "credit_note":
            assert inv.due_date == inv.issue_date
            assert inv.dispute is None and inv.promise_date is None
            assert not inv.escalated and not inv.factored
        if inv.dispute is not None:
            d = inv.dispute
            assert d.reason and d.opened is not None and d.opened <= today, inv
            if d.closed is None:
                assert inv.is_open, "an open dispute is on an open invoice"
            else:
                assert d.opened <= d.closed <= today, inv
        if inv.promise_date is not None:
            assert inv.is_open and inv.due_date < today, inv
            assert today - timedelta(days=30) <= inv.promise_date <= today + timedelta(days=14)
        previous = first_issue.get(inv.customer_id)
        if previous is None or inv.issue_date < previous:
            first_issue[inv.customer_id] = inv.issue_date

    for customer in ledger.customers:
        assert customer.kind in ("company", "individual")
        assert customer.language in ("fr", "en")
        assert customer.plan in (None, "gentle", "strict")
        assert customer.created is not None and customer.created <= today
        if customer.id in first_issue:
            assert customer.created <= first_issue[customer.id], customer
        if customer.credit_limit is not None:
            assert customer.credit_limit > 0
        assert all("@" in email for email in customer.emails)

    keys = [r.key for r in ledger.reminders]
    assert len(set(keys)) == len(keys), "duplicate reminder keys"
    dates = [r.date for r in ledger.reminders]
    assert dates == sorted(dates), "the journal is in date order"
    by_customer: dict[str, list[date]] = defaultdict(list)
    done: dict[tuple[str, str], list[tuple[date, int]]] = defaultdict(list)
    for reminder in ledger.reminders:
        assert reminder.customer_id in customers
        assert not customers[reminder.customer_id].excluded
        assert reminder.date < today, "the journal is the past"
        plan = PLANS[reminder.plan]
        assert reminder.invoices
        assert reminder.channel == plan.steps[reminder.step - 1].channel
        currencies = set()
        for line in reminder.invoices:
            inv = invoices[line.invoice_id]
            assert inv.customer_id == reminder.customer_id
            assert inv.kind == "invoice" and not inv.factored
            currencies.add(inv.currency)
            # The step had been reached that day, and the invoice was still open then.
            assert 1 <= line.step <= len(plan.steps)
            assert plan.steps[line.step - 1].offset <= (reminder.date - inv.due_date).days
            assert inv.paid_date is None or inv.paid_date > reminder.date
            if inv.dispute is not None and inv.dispute.opened is not None:
                closed = inv.dispute.closed or today
                assert not inv.dispute.opened <= reminder.date <= closed, inv
            if plan.steps[line.step - 1].channel == "escalation":
                assert inv.escalated
            done[(line.invoice_id, reminder.plan)].append((reminder.date, line.step))
        assert len(currencies) == 1, "one reminder per currency"
        by_customer[reminder.customer_id].append(reminder.date)
    for days in by_customer.values():
        distinct = sorted(set(days))
        assert all(b - a >= timedelta(days=5) for a, b in pairwise(distinct))
    for history in done.values():
        steps = [step for _, step in sorted(history)]
        assert steps == sorted(set(steps)), "an invoice's steps only go up"


def test_same_arguments_same_ledger() -> None:
    first = generate_ledger(TODAY, customers=120, invoices=2000, seed=7)
    second = generate_ledger(TODAY, customers=120, invoices=2000, seed=7)
    assert first == second
    assert ledger_to_json(first) == ledger_to_json(second)


def test_another_seed_another_ledger() -> None:
    first = generate_ledger(TODAY, customers=50, invoices=300, seed=1)
    second = generate_ledger(TODAY, customers=50, invoices=300, seed=2)
    assert first != second


def test_global_random_state_is_left_alone() -> None:
    import random

    random.seed(123)
    expected = random.random()
    random.seed(123)
    generate_ledger(TODAY, customers=20, invoices=100)
    assert random.random() == expected


@pytest.mark.parametrize(
    ("customers", "invoices", "months"),
    [(300, 5000, 12), (1, 1, 12), (3, 40, 1), (25, 0, 12), (0, 0, 12), (40, 900, 24)],
)
def test_exact_counts(customers: int, invoices: int, months: int) -> None:
    ledger = generate_ledger(TODAY, customers=customers, invoices=invoices, months=months)
    assert len(ledger.customers) == customers
    assert len(ledger.invoices) == invoices
    check_invariants(ledger, TODAY, months)


def test_invariants(ledger: Ledger) -> None:
    check_invariants(ledger, TODAY)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    today=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    customers=st.integers(min_value=1, max_value=60),
    invoices=st.integers(min_value=0, max_value=600),
    seed=st.integers(min_value=0, max_value=2**32),
    months=st.integers(min_value=1, max_value=18),
)
def test_invariants_hold_for_any_arguments(
    today: date, customers: int, invoices: int, seed: int, months: int
) -> None:
    ledger = generate_ledger(
        today, customers=customers, invoices=invoices, seed=seed, months=months
    )
    assert len(ledger.customers) == customers and len(ledger.invoices) == invoices
    check_invariants(ledger, today, months)


def test_invoice_numbers_run_per_year_in_issue_order(ledger: Ledger) -> None:
    issue_dates = [inv.issue_date for inv in ledger.invoices]
    assert issue_dates == sorted(issue_dates)
    seen: dict[str, int] = {}
    for inv in ledger.invoices:
        match = re.fullmatch(r"(FA|AV)-(\d{4})-(\d{6})", inv.id)
        assert match, inv.id
        prefix, year, number = match.group(1), int(match.group(2)), int(match.group(3))
        assert year == inv.issue_date.year
        assert (prefix == "AV") == (inv.kind == "credit_note")
        assert number == seen.get(f"{prefix}{year}", 0) + 1
        seen[f"{prefix}{year}"] = number


def test_customers_look_french(ledger: Ledger) -> None:
    customers = ledger.customers
    kinds = Counter(c.kind for c in customers)
    assert 0 < kinds["individual"] < kinds["company"]
    assert any(re.search(r" (SARL|SAS|SA|EURL|SASU)$", c.name) for c in customers)
    assert all(re.fullmatch(r"(M\.|Mme) \S.*", c.name) for c in customers if c.kind == "individual")
    phones = [c.phone for c in customers if c.phone and c.phone.startswith("+33")]
    assert phones and all(re.fullmatch(r"\+33 \d( \d\d){4}", p) for p in phones)
    languages = Counter(c.language for c in customers)
    assert 0.05 <= languages["en"] / len(customers) <= 0.2
    assert any(c.credit_limit is not None for c in customers)
    assert any(c.credit_limit is None for c in customers)


def test_the_mix_is_there(ledger: Ledger) -> None:
    n = len(ledger.invoices)
    customers = ledger.customers
    tags = Counter(tag for c in customers for tag in c.tags)
    assert tags["key_account"] >= 5 and tags["public_sector"] >= 5 and tags["export"] >= 5
    assert any(c.excluded for c in customers)
    assert {c.plan for c in customers} == {None, "gentle", "strict"}

    invs = ledger.invoices
    credit_notes = [i for i in invs if i.kind == "credit_note"]
    assert 0.02 * n <= len(credit_notes) <= 0.06 * n
    assert any(i.is_open for i in credit_notes) and any(not i.is_open for i in credit_notes)
    foreign = Counter(i.currency for i in invs if i.currency != "EUR")
    assert set(foreign) == {"USD", "CHF"} and 0.02 * n <= sum(foreign.values()) <= 0.08 * n
    export_ids = {c.id for c in customers if "export" in c.tags}
    assert all(i.customer_id in export_ids for i in invs if i.currency != "EUR")
    assert any(0 < i.open_amount < i.amount for i in invs), "partial payments"
    assert any(i.is_open and i.due_date > TODAY for i in invs)
    assert any(i.is_open and i.due_date < TODAY - timedelta(days=90) for i in invs)

    open_disputes = [i for i in invs if i.has_open_dispute]
    closed_disputes = [i for i in invs if i.dispute is not None and not i.has_open_dispute]
    assert 0.015 * n <= len(open_disputes) <= 0.025 * n
    assert closed_disputes
    assert len({i.dispute.reason for i in open_disputes if i.dispute}) >= 4
    promises = [i.promise_date for i in invs if i.promise_date is not None]
    assert 0.015 * n <= len(promises) <= 0.025 * n
    assert any(p > TODAY for p in promises) and any(p < TODAY for p in promises)
    assert any(i.escalated and i.is_open for i in invs)
    assert 0.005 * n <= sum(i.factored for i in invs) <= 0.015 * n

    key_ids = {c.id for c in customers if "key_account" in c.tags}
    key_amounts = sorted(i.amount for i in invs if i.customer_id in key_ids)
    other_amounts = sorted(i.amount for i in invs if i.customer_id not in key_ids)
    assert key_amounts[len(key_amounts) // 2] > 2 * other_amounts[len(other_amounts) // 2]
    assert Counter(r.plan for r in ledger.reminders).keys() == {"standard", "gentle", "strict"}
    assert {"email", "phone"} <= {r.channel for r in ledger.reminders}


def test_payment_behaviours_differ(ledger: Ledger) -> None:
    """On-time payers, late payers, chronic ones: the customers' average delays spread out."""
    delays: dict[str, list[int]] = defaultdict(list)
    for inv in ledger.invoices:
        if inv.kind == "invoice" and inv.paid_date is not None:
            delays[inv.customer_id].append((inv.paid_date - inv.due_date).days)
    averages = [sum(d) / len(d) for d in delays.values() if len(d) >= 3]

    def share(low: float, high: float) -> float:
        return sum(1 for a in averages if low < a <= high) / len(averages)

    assert share(-99, 5) >= 0.3  # on time
    assert share(5, 20) >= 0.1  # slightly late
    assert share(20, 999) >= 0.1  # chronic


def _reached(offsets: list[int], days: int) -> int:
    return sum(1 for offset in offsets if offset <= days)


def test_todays_plan_mixes_new_and_follow_up_reminders(ledger: Ledger) -> None:
    """With the journal's plans: some invoices get their first reminder today, others a
    follow-up, most are already up to date -- not everyone at once."""
    done: dict[tuple[str, str], int] = {}
    plan_of: dict[str, str] = {}
    for reminder in ledger.reminders:
        plan_of[reminder.customer_id] = reminder.plan
        for line in reminder.invoices:
            slot = (line.invoice_id, reminder.plan)
            done[slot] = max(done.get(slot, 0), line.step)
    excluded = {c.id for c in ledger.customers if c.excluded}
    new = follow_up = up_to_date = 0
    for inv in ledger.invoices:
        if (
            inv.kind != "invoice"
            or not inv.is_open
            or inv.has_open_dispute
            or inv.escalated
            or inv.factored
            or inv.customer_id in excluded
            or (inv.promise_date is not None and inv.promise_date >= TODAY)
        ):
            continue
        plan = plan_of.get(inv.customer_id, "standard")
        reached = _reached([s.offset for s in PLANS[plan].steps], (TODAY - inv.due_date).days)
        if not reached:
            continue
        previous = done.get((inv.id, plan), 0)
        if reached <= previous:
            up_to_date += 1
        elif previous:
            follow_up += 1
        else:
            new += 1
    assert new > 0 and follow_up > 0
    assert up_to_date > new + follow_up


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        generate_ledger(TODAY, customers=-1)
    with pytest.raises(ValueError):
        generate_ledger(TODAY, customers=0, invoices=10)
    with pytest.raises(ValueError):
        generate_ledger(TODAY, months=0)


# ----------------------------------------------------------------------------- JSON


def test_json_shape(ledger: Ledger) -> None:
    doc = ledger_to_json(ledger)
    assert list(doc) == ["format", "currency", "customers", "invoices", "reminders"]
    assert doc["format"] == LEDGER_FORMAT == "relance.ledger/1"
    assert doc["currency"] == "EUR"
    for c in doc["customers"]:
        assert list(c) == CUSTOMER_KEYS
        assert isinstance(c["emails"], list) and c["tags"] == sorted(c["tags"])
        assert c["credit_limit"] is None or MONEY.match(c["credit_limit"])
        assert ISO_DATE.match(c["created"])
    for i in doc["invoices"]:
        assert list(i) == INVOICE_KEYS
        assert MONEY.match(i["amount"]) and MONEY.match(i["open_amount"])
        for key in ("issue_date", "due_date", "paid_date", "promise_date"):
            assert i[key] is None or ISO_DATE.match(i[key])
        dispute = i["dispute"]
        assert dispute is None or list(dispute) in (
            ["reason", "opened", "note"],
            ["reason", "opened", "note", "closed"],
        )
        assert isinstance(i["escalated"], bool) and isinstance(i["factored"], bool)
    for r in doc["reminders"]:
        assert list(r) == REMINDER_KEYS
        assert all(list(line) == ["id", "step"] for line in r["invoices"])
    # Plain JSON data: it survives a trip through a serializer unchanged.
    assert orjson.loads(orjson.dumps(doc)) == doc


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="the shared examples are not here")
def test_json_shape_matches_the_examples(ledger: Ledger) -> None:
    doc = ledger_to_json(ledger)
    example: dict[str, Any] = orjson.loads((EXAMPLES / "small.ledger.json").read_bytes())
    assert list(example) == list(doc)
    # The examples leave out phone and credit_limit, which DESIGN section 2 lists.
    assert set(example["customers"][0]) <= set(CUSTOMER_KEYS)
    assert list(example["invoices"][0]) == INVOICE_KEYS
    assert list(example["reminders"][0]) == REMINDER_KEYS
    with_dispute = next(i for i in example["invoices"] if i["dispute"])
    assert list(with_dispute["dispute"]) == ["reason", "opened", "note"]


def test_json_round_trip_through_the_loader(ledger: Ledger) -> None:
    assert load_ledger(ledger_to_json(ledger)) == ledger


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("12.5", "12.50"),
        ("5000", "5000.00"),
        ("0", "0.00"),
        ("7", "7.00"),
        ("0.07", "0.07"),
        ("1E+3", "1000.00"),
        ("1234.56", "1234.56"),
        ("0E-2", "0.00"),
    ],
)
def test_amounts_are_written_with_two_decimals(amount: str, text: str) -> None:
    from core.model import Customer, Invoice

    ledger = Ledger(
        customers=[Customer("C1", "Client", credit_limit=Decimal(amount))],
        invoices=[
            Invoice(
                "F1", "C1", "F1", "invoice", TODAY, TODAY, Decimal(amount), Decimal(amount), "EUR"
            )
        ],
    )
    doc = ledger_to_json(ledger)
    assert doc["customers"][0]["credit_limit"] == text
    assert doc["customers"][0]["created"] is None
    assert doc["invoices"][0]["amount"] == doc["invoices"][0]["open_amount"] == text


@pytest.mark.parametrize("chunk", [3, 20_000])
def test_write_ledger_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(generator, "_CHUNK", chunk)
    ledger = generate_ledger(TODAY, customers=17, invoices=101)
    path = tmp_path / "demo.ledger.json"
    write_ledger_json(ledger, path)
    assert orjson.loads(path.read_bytes()) == ledger_to_json(ledger)


def test_write_empty_ledger(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    write_ledger_json(Ledger(), str(path))
    assert orjson.loads(path.read_bytes()) == {
        "format": LEDGER_FORMAT,
        "currency": "EUR",
        "customers": [],
        "invoices": [],
        "reminders": [],
    }
