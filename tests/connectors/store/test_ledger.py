"""``Store.ledger`` gives the engine its snapshot (DESIGN §2: customers, open invoices
and those paid in the last 365 days, the journal)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from store_builders import TODAY, customer, invoice, paid, reminder

from connectors.store import Store
from core.config import load_config
from core.engine import plan
from core.texts import template_ids


def test_ledger_keeps_open_invoices_and_those_paid_in_the_last_365_days(store: Store) -> None:
    """DESIGN §2 and §4: "paid in the last 365 days" is year_ago < paid_date <= today."""
    invoices = [
        invoice("OPEN_OLD", due=TODAY - timedelta(days=900)),
        invoice("PARTLY", open="1.00"),
        invoice("CREDIT", kind="credit_note", amount="50.00"),
        paid("PAID_364", TODAY - timedelta(days=364)),
        paid("PAID_365", TODAY - timedelta(days=365)),
        paid("PAID_900", TODAY - timedelta(days=900)),
        paid("PAID_TODAY", TODAY),
        invoice("CLOSED_NO_DATE", open="0.00"),
        invoice("USED_CREDIT", kind="credit_note", open="0.00", paid_date=TODAY),
    ]
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer()])
        store.upsert_invoices(tx, "acme", invoices)
    ids = {inv.id for inv in store.ledger("acme", TODAY).invoices}
    assert ids == {"OPEN_OLD", "PARTLY", "CREDIT", "PAID_364", "PAID_TODAY", "USED_CREDIT"}


def test_ledger_leaves_out_invoices_of_unknown_customers(store: Store) -> None:
    """A ledger never holds an invoice whose customer is unknown (DESIGN §9's rule)."""
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer("C1")])
        store.upsert_invoices(tx, "acme", [invoice("F1", "C1"), invoice("F2", "GHOST")])
    assert [i.id for i in store.ledger("acme", TODAY).invoices] == ["F1"]


def test_ledger_holds_the_whole_journal_and_the_currency(store: Store) -> None:
    """The journal is not cut at 365 days: done steps of old open invoices count."""
    old = reminder(day=TODAY - timedelta(days=800), lines=(("F1", 1),))
    new = reminder(day=TODAY, lines=(("F1", 2),))
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer()])
        store.upsert_reminders(tx, "acme", [new, old])
    ledger = store.ledger("acme", TODAY, currency="CHF")
    assert ledger.reminders == [old, new]
    assert ledger.currency == "CHF"


def test_a_planning_ledger_reads_the_recent_journal_and_what_names_an_open_invoice(
    store: Store,
) -> None:
    """journal_from (core.engine.journal_needed_from): the entries from that day on and
    those naming an open invoice, with all their lines; not the old ones about paid
    invoices."""
    old_about_paid = reminder(day=TODAY - timedelta(days=200), lines=(("PAID", 2),))
    old_about_open = reminder(day=TODAY - timedelta(days=190), lines=(("OPEN", 1), ("PAID", 3)))
    recent_about_paid = reminder(day=TODAY - timedelta(days=3), lines=(("PAID", 4),))
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer()])
        store.upsert_invoices(tx, "acme", [invoice("OPEN"), paid("PAID", TODAY - timedelta(10))])
        store.upsert_reminders(tx, "acme", [old_about_paid, old_about_open, recent_about_paid])
    since = TODAY - timedelta(days=6)
    assert store.ledger("acme", TODAY, journal_from=since).reminders == [
        old_about_open,
        recent_about_paid,
    ]
    partial = store.ledger("acme", TODAY, customers=["C1"], journal_from=since)
    assert partial.reminders == [old_about_open, recent_about_paid]
    assert len(store.ledger("acme", TODAY).reminders) == 3


def test_history_lists_a_customers_reminders_newest_first(store: Store) -> None:
    first = reminder("C1", date(2026, 3, 5), lines=(("F1", 1),))
    second = reminder("C1", date(2026, 3, 15), lines=(("F1", 2),))
    someone_else = reminder("C2", date(2026, 3, 10), lines=(("F7", 1),))
    with store.transaction() as tx:
        store.upsert_reminders(tx, "acme", [first, someone_else, second])
    assert store.history("acme", "C1") == [second, first]
    assert store.history("acme", "C3") == []


def test_open_amounts_read_the_stored_amounts_of_the_invoices_asked(store: Store) -> None:
    """DESIGN §10 "fresh at send time": the store answers when the source cannot."""
    with store.transaction() as tx:
        store.upsert_invoices(
            tx, "acme", [invoice("F1", open="12.30"), paid("F2", TODAY), invoice("F3")]
        )
    ids = ["F1", "F2", "UNKNOWN"] + [f"X{i}" for i in range(1200)]
    assert store.open_amounts("acme", ids) == {"F1": Decimal("12.30"), "F2": Decimal("0.00")}
    assert store.open_amounts("acme", []) == {}


def test_planning_from_the_store_after_enqueueing_finds_nothing_more(store: Store) -> None:
    """DESIGN §5.6 / §10: once an action is enqueued (and journaled), planning the
    same day again from the store yields nothing, and enqueueing adds nothing."""
    config = load_config(None, template_ids())
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer("C1"), customer("C2")])
        store.upsert_invoices(
            tx,
            "acme",
            [invoice("F1", "C1", due=date(2026, 3, 2)), invoice("F2", "C2", due=date(2026, 3, 5))],
        )
    actions = plan(store.ledger("acme", TODAY), config, TODAY)
    assert {a.customer_id for a in actions} == {"C1", "C2"}
    with store.transaction() as tx:
        assert store.enqueue(tx, "acme", actions, dry_run=False, today=TODAY) == 2

    assert plan(store.ledger("acme", TODAY), config, TODAY) == []
    with store.transaction() as tx:
        assert store.enqueue(tx, "acme", actions, dry_run=False, today=TODAY) == 0
    assert store.outbox_counts("acme")["pending"] == 2
