"""The file decoder (core.ledger_json) against the plain validator (core.ledger).

The decoder leaves fully paid invoices unbuilt and sums them while it reads
(docs/decisions.md, "Paid invoices are not built"); the validator builds every
record and the index is then computed from the objects.  On the same document
both must give the same ledger, plan, KPIs and explanations, whatever the
amounts look like in the file (strings of any scale, JSON numbers).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from builders import config, customer, invoice, ledger, paid_invoice, reminder
from hypothesis import given
from hypothesis import strategies as st
from test_engine_properties import PROPERTY_SETTINGS, ledgers

from core.engine import Planner, plan
from core.index import ledger_index
from core.ledger import load_ledger
from core.ledger_json import decode_ledger
from core.metrics import compute_kpis
from core.model import Invoice, Ledger
from core.serialize import action_to_json, jsonable

DEFAULTS = config()
# Rules that hold for everyone and read every metric, so that each customer's
# explanation shows them all: without dso (the paid summaries stand for the
# history) and with it (the history is walked).
EVERY_METRIC = (
    "late_count >= 0 and avg_days_late >= 0 and max_days_overdue >= 0 and outstanding >= 0"
    " and overdue_amount >= 0 and open_disputes >= 0 and credit_usage >= 0"
    " and customer_age_days > -100000"
)
MEASURING = [
    config(segments=[{"name": "all", "when": EVERY_METRIC, "plan": "standard"}]),
    config(segments=[{"name": "all", "when": EVERY_METRIC + " and dso >= 0", "plan": "standard"}]),
]
# How an amount may be written in a file: as the engine wrote it, with another
# scale, or as a JSON number.
STYLES = ("as_is", "scaled", "number")


def written(amount: Decimal, style: str) -> Any:
    if style == "scaled":
        return str(amount.quantize(Decimal("0.001")))
    if style == "number":
        return float(amount) if amount != amount.to_integral_value() else int(amount)
    return str(amount)


def iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def document(book: Ledger, styles: list[str]) -> dict[str, Any]:
    """The relance.ledger/1 document of a ledger, each invoice's amounts in its style."""
    invoices = []
    for position, inv in enumerate(book.invoices):
        style = styles[position % len(styles)]
        dispute = inv.dispute
        invoices.append(
            {
                "id": inv.id,
                "customer_id": inv.customer_id,
                "number": inv.number,
                "kind": inv.kind,
                "issue_date": iso(inv.issue_date),
                "due_date": iso(inv.due_date),
                "amount": written(inv.amount, style),
                "open_amount": written(inv.open_amount, style),
                "currency": inv.currency,
                "paid_date": iso(inv.paid_date),
                "dispute": None
                if dispute is None
                else {
                    "reason": dispute.reason,
                    "opened": iso(dispute.opened),
                    "note": dispute.note,
                    "closed": iso(dispute.closed),
                },
                "promise_date": iso(inv.promise_date),
                "escalated": inv.escalated,
                "factored": inv.factored,
            }
        )
    return {
        "format": "relance.ledger/1",
        "currency": book.currency,
        "customers": [
            {
                "id": c.id,
                "name": c.name,
                "kind": c.kind,
                "tags": sorted(c.tags),
                "excluded": c.excluded,
                "plan": c.plan,
                "credit_limit": None if c.credit_limit is None else str(c.credit_limit),
                "created": iso(c.created),
            }
            for c in book.customers
        ],
        "invoices": invoices,
        "reminders": [
            {
                "customer_id": r.customer_id,
                "date": r.date.isoformat(),
                "plan": r.plan,
                "channel": r.channel,
                "key": r.key,
                "invoices": [{"id": iid, "step": step} for iid, step in r.invoices],
            }
            for r in book.reminders
        ],
    }


def both(data: dict[str, Any]) -> tuple[Ledger, Ledger]:
    """(decoded from the file's bytes, validated from the parsed document)."""
    return decode_ledger(json.dumps(data).encode()), load_ledger(data)


def plan_json(book: Ledger, today: date) -> list[dict[str, Any]]:
    return [action_to_json(a) for a in plan(book, DEFAULTS, today)]


def assert_same_results(decoded: Ledger, validated: Ledger, today: date) -> None:
    assert plan_json(decoded, today) == plan_json(validated, today)
    segments = Planner(decoded, DEFAULTS, today).journal_segments()
    assert segments == Planner(validated, DEFAULTS, today).journal_segments()
    assert compute_kpis(decoded, today, segments) == compute_kpis(validated, today, segments)
    for c in decoded.customers:
        assert jsonable(Planner(decoded, DEFAULTS, today).explain(c)) == jsonable(
            Planner(validated, DEFAULTS, today).explain(c)
        )
    for measuring in MEASURING:
        for c in decoded.customers:
            assert (
                Planner(decoded, measuring, today).segment(c).explanation
                == Planner(validated, measuring, today).segment(c).explanation
            ), c.id


@PROPERTY_SETTINGS
@given(ledgers(), st.lists(st.sampled_from(STYLES), min_size=1, max_size=4))
def test_decoded_file_plans_and_measures_like_the_validated_document(
    case: tuple[Ledger, date], styles: list[str]
) -> None:
    book, today = case
    decoded, validated = both(document(book, styles))
    assert_same_results(decoded, validated, today)


@PROPERTY_SETTINGS
@given(ledgers())
def test_decoded_file_gives_every_invoice_in_file_order(case: tuple[Ledger, date]) -> None:
    book, _ = case
    decoded, validated = both(document(book, ["as_is"]))
    assert decoded.invoice_count == len(validated.invoices)
    assert decoded == validated


def paid_and_open_ledger() -> Ledger:
    """C1: two invoices paid in full (one 12 days late), one open, one reminded."""
    return ledger(
        [customer("C1"), customer("C2")],
        [
            paid_invoice("F1", due=date(2026, 10, 1), amount="1000.00", paid=date(2026, 10, 13)),
            invoice("F2", due=date(2026, 10, 20), amount="500.00"),
            paid_invoice("F3", due=date(2026, 10, 5), amount="250.00", paid=date(2026, 10, 5)),
        ],
        [reminder("C1", date(2026, 10, 8), "standard", [("F1", 2)])],
    )


def test_history_of_a_decoded_customer_builds_its_paid_invoices() -> None:
    """explain and the whole-history metrics read every invoice of the customer, the
    paid ones included, in file order; a customer without invoices has none."""
    book = paid_and_open_ledger()
    decoded, _ = both(document(book, ["as_is"]))
    history = ledger_index(decoded).history("C1")
    assert [i.id for i in history] == ["F1", "F2", "F3"]
    assert all(isinstance(i, Invoice) for i in history)
    assert history == book.invoices
    assert ledger_index(decoded).history("C2") == []


def test_reading_the_invoices_of_a_decoded_ledger_keeps_its_index() -> None:
    """Building the paid invoices on first read does not make the index stale."""
    decoded, _ = both(document(paid_and_open_ledger(), ["as_is"]))
    index = ledger_index(decoded)
    assert len(decoded.invoices) == 3
    assert ledger_index(decoded) is index


def test_replacing_the_invoices_of_a_decoded_ledger_rebuilds_its_index() -> None:
    decoded, _ = both(document(paid_and_open_ledger(), ["as_is"]))
    index = ledger_index(decoded)
    decoded.invoices = decoded.invoices[1:]
    rebuilt = ledger_index(decoded)
    assert rebuilt is not index
    assert [i.id for i in rebuilt.history("C1")] == ["F2", "F3"]


def test_paid_invoice_of_a_decoded_file_counts_for_effectiveness() -> None:
    """§6: F1, reminded on 8 October and paid on the 13th, counts as paid within 14 days,
    as it does when the document is validated record by record."""
    decoded, validated = both(document(paid_and_open_ledger(), ["as_is"]))
    today = date(2026, 11, 2)
    rows = compute_kpis(decoded, today).effectiveness
    assert rows == compute_kpis(validated, today).effectiveness
    assert [row["paid_within_14_days"] for row in rows] == [1]
