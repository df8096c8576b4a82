"""What sources pull is kept exactly and written idempotently (DESIGN §2, §10 "Pull")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from store_builders import action, customer, dump, invoice, paid, reminder

from connectors.store import Store, StoreError
from core.model import Dispute

AMOUNTS = [
    "1200.00",
    "0.10",
    "0.1",
    "1E+3",
    "-0.00",
    "12345678901234567890.123456789",
    "7",
    "99.999",
]


def test_customer_round_trip_keeps_every_field(store: Store) -> None:
    """DESIGN §2: every customer field comes back as it went in."""
    full = customer(
        "C1",
        name="Dupont & Fils SARL — Lyon",
        kind="company",
        emails=("compta@dupont.fr", "dg@dupont.fr"),
        phone="+33 4 72 00 00 00",
        language="fr",
        tags=frozenset({"key_account", "export", "été"}),
        excluded=True,
        plan="gentle",
        credit_limit=Decimal("50000.00"),
        created=date(2019, 4, 30),
    )
    bare = customer("C2", kind="individual", emails=(), language=None, created=None)
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [full, bare])
    ledger = store.ledger("acme", date(2026, 3, 20))
    assert ledger.customers == [full, bare]


@pytest.mark.parametrize("amount", AMOUNTS)
def test_amounts_come_back_as_the_same_decimals(store: Store, amount: str) -> None:
    """DESIGN §2: money is Decimal end to end; the store keeps its exact text."""
    inv = invoice("F1", amount=amount, open=amount)
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer(credit_limit=Decimal(amount))])
        store.upsert_invoices(tx, "acme", [inv])
    ledger = store.ledger("acme", date(2026, 3, 20))
    back = ledger.invoices[0] if ledger.invoices else None
    if Decimal(amount) > 0:
        assert back is not None
        assert str(back.amount) == amount and str(back.open_amount) == amount
    assert str(ledger.customers[0].credit_limit) == amount
    assert str(store.open_amounts("acme", ["F1"])["F1"]) == amount


def test_invoice_round_trip_keeps_every_field(store: Store) -> None:
    """DESIGN §2: dates, dispute (reason, opened, note, closed), promise, flags, credit notes."""
    disputed = invoice(
        "F1",
        number="FA-2026-0001",
        issue_date=date(2026, 1, 31),
        due=date(2026, 3, 2),
        amount="1234.56",
        open="234.56",
        currency="USD",
        dispute=Dispute("quantité erronée", date(2026, 3, 5), "appel du 5/3", None),
        promise_date=date(2026, 4, 1),
        escalated=True,
        factored=True,
    )
    closed = invoice("F2", dispute=Dispute("price", date(2026, 1, 2), "", date(2026, 2, 1)))
    no_reason = invoice("F3", dispute=Dispute("", None))
    credit = invoice("A1", kind="credit_note", amount="100.00", open="40.00")
    settled = paid("P1", date(2026, 3, 10), amount="10.00")
    every = [disputed, closed, no_reason, credit, settled]
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer()])
        store.upsert_invoices(tx, "acme", every)
    back = {inv.id: inv for inv in store.ledger("acme", date(2026, 3, 20)).invoices}
    assert back == {inv.id: inv for inv in every}
    assert back["F3"].dispute == Dispute("", None)


def test_upserting_twice_leaves_the_same_rows(store: Store) -> None:
    """STYLE "Habits": every writer is idempotent; run it twice, same rows."""
    customers = [customer(f"C{i}") for i in range(3)]
    invoices = [invoice(f"F{i}", f"C{i % 3}") for i in range(10)]
    reminders = [reminder("C0", lines=(("F0", 1), ("F3", 2))), reminder("C1", lines=(("F1", 1),))]

    def pull() -> None:
        with store.transaction() as tx:
            store.upsert_customers(tx, "acme", customers)
            store.upsert_invoices(tx, "acme", invoices)
            store.upsert_reminders(tx, "acme", reminders)
            store.set_cursor(tx, "acme", "demo", "v1", now=datetime(2026, 3, 20, tzinfo=UTC))

    pull()
    once = dump(store)
    pull()
    assert dump(store) == once
    assert len(once["invoices"]) == 10 and len(once["journal_lines"]) == 3


def test_an_upsert_updates_what_changed_at_the_source(store: Store) -> None:
    """A later pull overwrites every field of the invoice (a payment, a dispute, a move)."""
    before = invoice("F1", amount="500.00")
    after = replace(
        before,
        open_amount=Decimal("0.00"),
        paid_date=date(2026, 3, 15),
        dispute=Dispute("late delivery", date(2026, 3, 1)),
        customer_id="C2",
    )
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer("C1"), customer("C2")])
        store.upsert_invoices(tx, "acme", [before])
    with store.transaction() as tx:
        store.upsert_invoices(tx, "acme", [after])
    assert store.ledger("acme", date(2026, 3, 20)).invoices == [after]
    assert store.open_amounts("acme", ["F1"]) == {"F1": Decimal("0.00")}


def test_the_last_of_two_records_with_one_id_wins(store: Store) -> None:
    """A batch naming an invoice twice keeps the later record (PostgreSQL refuses
    to upsert one row twice in a statement: the store folds them first)."""
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer(), customer(name="Renamed")])
        store.upsert_invoices(tx, "acme", [invoice(open="900.00"), invoice(open="100.00")])
    ledger = store.ledger("acme", date(2026, 3, 20))
    assert [c.name for c in ledger.customers] == ["Renamed"]
    assert [i.open_amount for i in ledger.invoices] == [Decimal("100.00")]


def test_deleted_invoices_leave_the_store_but_not_the_journal(store: Store) -> None:
    """Invoices deleted at the source disappear; the journal still names them."""
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer()])
        store.upsert_invoices(tx, "acme", [invoice("F1"), invoice("F2")])
        store.upsert_reminders(tx, "acme", [reminder(lines=(("F1", 1),))])
    with store.transaction() as tx:
        assert store.delete_invoices(tx, "acme", ["F1", "F9"]) == 1
    ledger = store.ledger("acme", date(2026, 3, 20))
    assert [i.id for i in ledger.invoices] == ["F2"]
    assert ledger.reminders[0].invoices[0].invoice_id == "F1"


def test_journal_entries_keep_their_lines_in_order(store: Store) -> None:
    """DESIGN §2: a reminder's invoices, each with its step, in the order they were listed."""
    entry = reminder("C1", date(2026, 3, 5), "strict", (("F9", 3), ("F1", 1), ("F5", 2)), "sms")
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer()])
        store.upsert_reminders(tx, "acme", [entry])
        store.upsert_reminders(tx, "acme", [entry])
    assert store.ledger("acme", date(2026, 3, 20)).reminders == [entry]
    assert store.history("acme", "C1") == [entry]


def test_a_journal_entry_written_again_replaces_its_lines(store: Store) -> None:
    entry = reminder(lines=(("F1", 1), ("F2", 1)))
    fewer = replace(entry, invoices=entry.invoices[:1])
    with store.transaction() as tx:
        store.upsert_reminders(tx, "acme", [entry])
    with store.transaction() as tx:
        store.upsert_reminders(tx, "acme", [fewer])
    assert store.history("acme", "C1") == [fewer]


def test_a_failed_transaction_leaves_the_store_unchanged(store: Store) -> None:
    """DESIGN §10: a failed pull leaves store and cursor as they were; a unit of
    work commits whole or not at all."""
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer()])
        store.upsert_invoices(tx, "acme", [invoice("F1")])
        store.set_cursor(tx, "acme", "demo", "v1")
    before = dump(store)

    class PullFailed(Exception):
        pass

    with pytest.raises(PullFailed), store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer("C2"), customer(name="Changed")])
        store.upsert_invoices(tx, "acme", [invoice("F1", open="0.00"), invoice("F2", "C2")])
        store.delete_invoices(tx, "acme", ["F1"])
        store.upsert_reminders(tx, "acme", [reminder()])
        store.set_cursor(tx, "acme", "demo", "v2")
        store.enqueue(tx, "acme", [action()], dry_run=False, today=date(2026, 3, 20))
        store.record_push(tx, "acme", "reminder_level", "F1", "2", datetime.now(UTC))
        raise PullFailed("the source went away mid-pull")
    assert dump(store) == before
    assert store.get_cursor("acme", "demo") == "v1"


def test_a_float_amount_is_refused(store: Store) -> None:
    """Money is Decimal, never float: a float would not come back exact."""
    bad = replace(invoice(), amount=1000.0)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="money must be a Decimal"), store.transaction() as tx:
        store.upsert_invoices(tx, "acme", [bad])


def test_an_invoice_without_an_id_is_refused_with_the_others_of_its_batch(store: Store) -> None:
    """An id is required; the batch it came in is not written (rows are sorted by id
    before writing: a missing one must still end as a StoreError)."""
    bad = replace(invoice("F9"), id=None)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="upserting 2 invoices"), store.transaction() as tx:
        store.upsert_invoices(tx, "acme", [invoice("F1"), bad])
    assert store.invoice_ids("acme") == set()


def test_a_cursor_is_unset_until_saved_then_moves(store: Store) -> None:
    """DESIGN §10: each source's cursor per company; saving it again moves it."""
    assert store.get_cursor("acme", "pennylane") is None
    with store.transaction() as tx:
        store.set_cursor(tx, "acme", "pennylane", "2026-03-01T00:00:00Z")
    with store.transaction() as tx:
        store.set_cursor(tx, "acme", "pennylane", "2026-03-02T00:00:00Z")
    assert store.get_cursor("acme", "pennylane") == "2026-03-02T00:00:00Z"
    assert store.get_cursor("acme", "sage") is None
    assert store.get_cursor("other", "pennylane") is None


def test_companies_do_not_see_each_others_data(store: Store) -> None:
    """Every table is per company (tenant): the same ids live side by side."""
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer(name="Acme's C1")])
        store.upsert_customers(tx, "globex", [customer(name="Globex's C1")])
        store.upsert_invoices(tx, "acme", [invoice(open="10.00")])
        store.upsert_invoices(tx, "globex", [invoice(open="20.00")])
        store.upsert_reminders(tx, "acme", [reminder()])
    acme = store.ledger("acme", date(2026, 3, 20))
    globex = store.ledger("globex", date(2026, 3, 20))
    assert [c.name for c in acme.customers] == ["Acme's C1"]
    assert [c.name for c in globex.customers] == ["Globex's C1"]
    assert [i.open_amount for i in globex.invoices] == [Decimal("20.00")]
    assert len(acme.reminders) == 1 and globex.reminders == []
    assert store.history("globex", "C1") == []


def test_timestamps_come_back_as_aware_utc(store: Store) -> None:
    """Times are stored in UTC; an aware time in Paris comes back as the same instant."""
    paris = timezone(timedelta(hours=1))
    started = datetime(2026, 3, 20, 9, 30, 15, 123456, tzinfo=paris)
    run_id = store.start_run("acme", started)
    (run,) = store.last_runs("acme", 1)
    assert run.id == run_id
    assert run.started_at == started and run.started_at.tzinfo == UTC
