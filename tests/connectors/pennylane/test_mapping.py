"""Pennylane records -> core customers and invoices (docs/pennylane.md, "Mapping")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from connectors.pennylane.errors import PennylaneError
from connectors.pennylane.mapping import customer, due_date, invoice
from connectors.pennylane.models import Contact, PlCustomer, PlInvoice, parse

TODAY = date(2026, 11, 24)


def an_invoice(**fields: Any) -> PlInvoice:
    record: dict[str, Any] = {
        "id": 4410098822,
        "invoice_number": "F-2026-0317",
        "date": "2026-08-29",
        "deadline": "2026-09-28",
        "currency": "EUR",
        "amount": "1440.00",
        "currency_amount": "1440.00",
        "remaining_amount_with_tax": "640.00",
        "paid": False,
        "status": "partially_paid",
        "draft": False,
        "customer": {"id": 81234501, "url": "…"},
        "credited_invoice": None,
        "e_invoicing": None,
        "schematron_validation_status": "valid",  # a field added later: ignored
        "updated_at": "2026-10-02T07:15:55.903Z",
    }
    record.update(fields)
    return parse(PlInvoice, record, "customer invoice")


def test_a_company_customer_keeps_its_emails_phone_language_and_reference() -> None:
    record = parse(
        PlCustomer,
        {
            "id": 81234501,
            "customer_type": "company",
            "name": "Boulangerie Martin SARL",
            "emails": ["compta@martin.fr"],
            "phone": "+33145000000",
            "billing_language": "fr_FR",
            "reference": "CLI-0042",
            "created_at": "2025-11-03T09:12:44.512Z",
        },
        "customer",
    )
    mapped = customer(record, [Contact(email="paul@martin.fr"), Contact(email="COMPTA@martin.fr")])
    assert mapped.id == "81234501" and mapped.kind == "company"
    assert mapped.emails == ("compta@martin.fr", "paul@martin.fr")
    assert (mapped.phone, mapped.language) == ("+33145000000", "fr")
    assert mapped.tags == frozenset({"ref:CLI-0042"})
    assert mapped.created == date(2025, 11, 3)


def test_an_individual_without_a_name_is_named_from_first_and_last_name() -> None:
    record = parse(
        PlCustomer,
        {"id": 7, "customer_type": "individual", "first_name": "Claire", "last_name": "Dupont"},
        "customer",
    )
    mapped = customer(record, [Contact(mobile_number="+33600000000")])
    assert (mapped.name, mapped.kind, mapped.phone) == (
        "Claire Dupont",
        "individual",
        "+33600000000",
    )
    assert mapped.emails == () and mapped.language is None


def test_amounts_are_decimals_and_the_open_amount_is_the_remaining_amount_with_tax() -> None:
    mapped = invoice(an_invoice(), today=TODAY)
    assert mapped is not None
    assert mapped.amount == Decimal("1440.00") and mapped.open_amount == Decimal("640.00")
    assert (mapped.issue_date, mapped.due_date) == (date(2026, 8, 29), date(2026, 9, 28))
    assert mapped.number == "F-2026-0317" and mapped.customer_id == "81234501"


def test_without_a_deadline_the_due_date_follows_the_customers_payment_conditions() -> None:
    mapped = invoice(an_invoice(deadline=None), today=TODAY, terms={"81234501": "45_days"})
    assert mapped is not None and mapped.due_date == date(2026, 10, 13)
    assert due_date(date(2026, 8, 10), "30_days_end_of_month") == date(2026, 9, 30)


@pytest.mark.parametrize("fields", [{"draft": True}, {"status": "incomplete"}, {"status": "draft"}])
def test_drafts_and_incomplete_invoices_are_not_part_of_the_ledger(fields: dict[str, Any]) -> None:
    assert invoice(an_invoice(**fields), today=TODAY) is None


def test_a_cancelled_invoice_is_not_open() -> None:
    mapped = invoice(an_invoice(status="cancelled"), today=TODAY)
    assert mapped is not None and mapped.open_amount == 0 and mapped.paid_date is None


def test_a_paid_invoice_has_nothing_open_and_a_paid_date() -> None:
    mapped = invoice(
        an_invoice(paid=True, status="paid", remaining_amount_with_tax="0"), today=TODAY
    )
    assert mapped is not None and mapped.open_amount == 0
    assert mapped.paid_date == date(2026, 10, 2)


def test_a_credit_note_linked_to_the_invoice_it_credits_offers_no_further_credit() -> None:
    linked = invoice(
        an_invoice(
            status="credit_note",
            amount="-100.00",
            currency_amount="-100.00",
            remaining_amount_with_tax="-100.00",
            credited_invoice={"id": 1},
        ),
        today=TODAY,
    )
    free = invoice(
        an_invoice(
            status="credit_note",
            amount="-100.00",
            currency_amount="-100.00",
            remaining_amount_with_tax="-100.00",
        ),
        today=TODAY,
    )
    assert linked is not None and linked.kind == "credit_note" and linked.open_amount == 0
    assert free is not None and free.amount == 100 and free.open_amount == 100


@pytest.mark.parametrize("status", ["in_dispute", "refused", "suspended"])
def test_e_invoicing_dispute_statuses_open_a_dispute(status: str) -> None:
    mapped = invoice(an_invoice(e_invoicing={"status": status, "reason": "prix"}), today=TODAY)
    assert mapped is not None and mapped.dispute is not None
    assert mapped.dispute.reason == f"e-invoicing status {status}: prix"


def test_e_invoicing_collected_is_paid_transmitted_holds_factored_is_factored() -> None:
    collected = invoice(an_invoice(e_invoicing={"status": "collected"}), today=TODAY)
    transmitted = invoice(an_invoice(e_invoicing={"status": "payment_transmitted"}), today=TODAY)
    factored = invoice(an_invoice(e_invoicing={"status": "factored"}), today=TODAY)
    assert collected is not None and collected.open_amount == 0
    assert transmitted is not None and transmitted.promise_date == date(2026, 11, 1)
    assert factored is not None and factored.factored
    approved = invoice(an_invoice(e_invoicing={"status": "approved"}), today=TODAY)
    assert approved is not None and approved.dispute is None and approved.open_amount == 640


def test_litige_and_contentieux_read_back_from_categories() -> None:
    mapped = invoice(
        an_invoice(),
        today=TODAY,
        litige={"4410098822": date(2026, 11, 20)},
        escalated=frozenset({"4410098822"}),
    )
    assert mapped is not None and mapped.escalated
    assert mapped.dispute is not None and mapped.dispute.opened == date(2026, 11, 20)


def test_a_record_with_only_an_id_is_accepted() -> None:
    assert parse(PlInvoice, {"id": 1}, "customer invoice").status is None


def test_a_malformed_field_is_named_with_its_record() -> None:
    with pytest.raises(PennylaneError) as caught:
        parse(PlInvoice, {"id": 9, "deadline": "28/09/2026"}, "customer invoice")
    assert "customer invoice id 9: field 'deadline'" in caught.value.message
    assert caught.value.kind == "data"
