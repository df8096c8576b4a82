"""The mapping from Odoo rows to core objects (docs/odoo.md), without Odoo."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from mapping_support import load_mapping

from core.config import load_config
from core.engine import plan
from core.errors import InputError
from core.ledger import load_ledger
from core.texts import template_ids

m = load_mapping()

TODAY = date(2026, 11, 24)


def invoice_row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "move_id": 7,
        "partner_id": 3,
        "name": "INV/2026/00007",
        "date": date(2026, 10, 1),
        "invoice_date": date(2026, 10, 1),
        "due_date": date(2026, 10, 31),
        "balance": Decimal("1200.00"),
        "residual": Decimal("1200.00"),
        "currency": "EUR",
        "paid_date": None,
        "promise_date": None,
        "escalated": False,
        "factored": False,
    }
    row.update(over)
    return row


def customer_row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": 3,
        "name": "Azure Interior",
        "is_company": True,
        "email": "azure@example.com",
        "collection_email": None,
        "phone": "+33 4 72 00 00 00",
        "mobile": None,
        "lang": "fr_FR",
        "tags": [],
        "excluded": False,
        "plan_code": None,
        "credit_limit": 0.0,
        "create_date": datetime(2025, 1, 2, 10, 0),
    }
    row.update(over)
    return row


def test_partner_tags_become_lower_case_words_joined_by_underscores() -> None:
    """A partner tag 'Key Account' is the tag 'key_account' the shipped rule reads."""
    customer = m.customer_from_row(customer_row(tags=["Key Account", "  VIP  "]))
    assert customer.tags == frozenset({"key_account", "vip"})


def test_collection_contact_email_comes_first() -> None:
    customer = m.customer_from_row(customer_row(collection_email="ap@example.com"))
    assert customer.emails == ("ap@example.com", "azure@example.com")


def test_odoo_language_codes_become_core_languages() -> None:
    assert m.customer_from_row(customer_row(lang="en_US")).language == "en"
    assert m.customer_from_row(customer_row(lang=False)).language is None


def test_a_person_without_company_flag_is_an_individual() -> None:
    """Individuals get no late-payment interest (DESIGN §7), so the kind matters."""
    assert m.customer_from_row(customer_row(is_company=False)).kind == "individual"


def test_no_credit_limit_in_odoo_means_none() -> None:
    assert m.customer_from_row(customer_row(credit_limit=0.0)).credit_limit is None
    assert m.customer_from_row(customer_row(credit_limit=5000.0)).credit_limit == Decimal("5000.00")


def test_receivable_balance_positive_is_an_invoice() -> None:
    invoice = m.invoice_from_row(invoice_row(residual=Decimal("200.00")))
    assert (invoice.kind, invoice.amount, invoice.open_amount) == (
        "invoice",
        Decimal("1200.00"),
        Decimal("200.00"),
    )


def test_negative_balance_is_a_credit_deducted_from_what_is_owed() -> None:
    """A credit note or an unapplied payment: both are credits for core."""
    credit = m.invoice_from_row(invoice_row(balance=Decimal("-300.00"), residual=Decimal("-300")))
    assert (credit.kind, credit.amount, credit.open_amount) == (
        "credit_note",
        Decimal("300.00"),
        Decimal("300.00"),
    )


def test_overpaid_invoice_has_nothing_left_to_collect() -> None:
    invoice = m.invoice_from_row(invoice_row(residual=Decimal("-5.00")))
    assert invoice.open_amount == Decimal("0.00")


def test_fully_paid_invoice_carries_its_paid_date() -> None:
    invoice = m.invoice_from_row(invoice_row(residual=Decimal("0"), paid_date=date(2026, 11, 2)))
    assert invoice.paid_date == date(2026, 11, 2)


def test_open_invoice_has_no_paid_date_even_if_partly_paid() -> None:
    invoice = m.invoice_from_row(invoice_row(residual=Decimal("10"), paid_date=date(2026, 11, 2)))
    assert invoice.paid_date is None


def test_open_dispute_wins_over_a_later_closed_one() -> None:
    rows = [
        {"id": 1, "move_id": 7, "reason": "price", "opened": date(2026, 11, 1), "closed": None},
        {
            "id": 2,
            "move_id": 7,
            "reason": "quality",
            "opened": date(2026, 11, 5),
            "closed": date(2026, 11, 6),
        },
    ]
    chosen = m.latest_disputes(rows)[7]
    assert chosen["reason"] == "price"


def test_journal_lines_group_into_reminders_with_their_invoices_in_core_order() -> None:
    day = date(2026, 11, 1)
    rows = [
        ("k1", 3, day, "standard", "email", 9, 2),
        ("k1", 3, day, "standard", "email", 70, 1),
        ("k1", 3, day, "standard", "email", 10, 1),
        ("k2", 3, date(2026, 11, 8), "standard", "phone", None, None),
        ("k3", 4, "2026-11-09", "standard", "email", 9, 3),
    ]
    first, second, third = m.reminders_from_rows(rows)
    assert first.customer_id == "3"
    # Invoice ids are strings in core: "10" < "70" < "9".
    assert [(line.invoice_id, line.step) for line in first.invoices] == [
        ("10", 1),
        ("70", 1),
        ("9", 2),
    ]
    assert second.invoices == () and second.step == 0
    assert (third.customer_id, third.date, third.invoices) == ("4", date(2026, 11, 9), (("9", 3),))


def test_invalid_plan_is_refused_with_cores_message_naming_the_step() -> None:
    row = m.PlanRow(
        code="mine",
        steps=[
            {"offset": 10, "channel": "email", "template": "reminder_1"},
            {"offset": 5, "channel": "email", "template": "reminder_2"},
        ],
    )
    (problem,) = m.plan_problems(row)
    assert problem == "mine: step 2 (offset): offsets must strictly increase (10 then 5)"


def test_bad_segment_condition_gets_cores_message() -> None:
    problem = m.segment_problem("vip", "__class__ > 1")
    assert problem is not None and "segment 'vip'" in problem and "column 1" in problem


def test_manual_is_a_reserved_segment_name() -> None:
    assert m.segment_problem("manual", "true") is not None


def test_percent_rates_become_core_fractions() -> None:
    config = m.build_config([], [], m.SettingsRow(late_interest_rate=12.15))
    assert config.late_interest_rate == Decimal("0.1215")


def test_segment_naming_an_unknown_plan_is_bad_input() -> None:
    with pytest.raises(InputError, match="unknown plan 'nope'"):
        m.build_config([], [("default", "true", "nope")], m.SettingsRow())


def _shipped_rows() -> tuple[list[Any], list[tuple[str, str, str]]]:
    shipped = load_config(None, template_ids())
    plans = [
        m.PlanRow(
            code=p.name,
            steps=[
                {"offset": s.offset, "channel": s.channel, "template": s.template} for s in p.steps
            ],
        )
        for p in shipped.plans.values()
    ]
    rules = [(r.name, r.condition.text, r.plan) for r in shipped.segments]
    return plans, rules


def test_odoo_configuration_of_the_shipped_data_plans_like_the_cli() -> None:
    """The addon's data (shipped plans and rules) gives core's shipped defaults."""
    plans, rules = _shipped_rows()
    ours = m.build_config(plans, rules, m.SettingsRow())
    shipped = load_config(None, template_ids())
    assert ours.plans == shipped.plans
    assert [(r.name, r.condition.text, r.plan) for r in ours.segments] == [
        (r.name, r.condition.text, r.plan) for r in shipped.segments
    ]


def test_exported_document_round_trips_through_the_ledger_loader() -> None:
    """The export is a valid relance.ledger/1 file that plans the same actions."""
    ledger = m.build_ledger(
        "EUR",
        [customer_row()],
        [invoice_row(), invoice_row(move_id=8, name="INV/8", due_date=date(2026, 11, 20))],
        [],
        [],
    )
    document = json.loads(json.dumps(m.ledger_document(ledger)))
    reloaded = load_ledger(document)
    config = load_config(None, template_ids())
    assert [a.key for a in plan(reloaded, config, TODAY)] == [
        a.key for a in plan(ledger, config, TODAY)
    ]
    assert plan(ledger, config, TODAY)


def test_invoices_of_unknown_partners_are_left_out() -> None:
    ledger = m.build_ledger("EUR", [customer_row()], [invoice_row(partner_id=99)], [], [])
    assert ledger.invoices == []
