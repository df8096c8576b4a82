"""`relance sync` against the fake Pennylane, end to end (CLI, SQLite store, SMTP inbox)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from pennylane_fake import FakePennylane
from sync_support import (
    Inbox,
    relance,
    relance_group,
    small_ledger,
    smtp_inbox,
    write_config,
)

from connectors.store.store import Store
from core.model import Invoice, Ledger

TODAY = date.today()


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    yield from smtp_inbox()


def stored(tmp_path: Path) -> Ledger:
    """What the daemon's store holds for the company after the runs."""
    store = Store.open(f"sqlite:///{tmp_path / 'relance.db'}")
    try:
        return store.ledger("martin", TODAY)
    finally:
        store.close()


def stored_invoices(tmp_path: Path) -> dict[str, Invoice]:
    return {inv.id: inv for inv in stored(tmp_path).invoices}


def test_first_sync_brings_customers_and_ledger_invoices_only(
    fake: tuple[FakePennylane, str], tmp_path: Path
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    relance_group(server)
    config = write_config(tmp_path, url)
    result = relance("sync", "--config", str(config), "--once")
    assert result.exit_code == 0, result.output
    snapshot = stored(tmp_path)
    invoices = {inv.id: inv for inv in snapshot.invoices}
    assert set(invoices) >= {str(ledger.overdue), str(ledger.credit)}
    assert str(ledger.draft) not in invoices
    customers = {c.id: c for c in snapshot.customers}
    assert customers[str(ledger.martin)].emails == (
        "compta@martin.example",
        "paul.durand@martin.example",
    )
    assert customers[str(ledger.durand)].kind == "individual"
    assert customers[str(ledger.durand)].language == "en"


def test_an_incremental_sync_reads_changelogs_and_refetches_only_changed_ids(
    fake: tuple[FakePennylane, str], tmp_path: Path
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    relance_group(server)
    config = write_config(tmp_path, url)
    assert relance("sync", "--config", str(config), "--once").exit_code == 0
    server.log.clear()
    server.update_invoice(ledger.overdue, remaining="0")
    newcomer = server.add_invoice(
        ledger.durand,
        "450.00",
        issued=TODAY - timedelta(days=40),
        deadline=TODAY - timedelta(days=10),
    )
    server.delete_invoice(ledger.credit)

    result = relance("sync", "--config", str(config), "--once")

    assert result.exit_code == 0, result.output
    paths = [(r.path, r.query.get("filter", "")) for r in server.log]
    assert ("/customer_invoices", "") not in paths  # no full listing
    assert any(p == "/changelogs/customer_invoices" for p, _ in paths)
    assert any(
        p == "/customer_invoices" and '"operator":"in"' in f and str(newcomer) in f
        for p, f in paths
    )
    invoices = stored_invoices(tmp_path)
    assert invoices[str(ledger.overdue)].open_amount == 0
    assert invoices[str(newcomer)].open_amount == 450
    assert str(ledger.credit) not in invoices


def test_a_position_past_the_changelog_retention_gives_a_full_resync_shown_in_status(
    fake: tuple[FakePennylane, str], tmp_path: Path
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    relance_group(server)
    config = write_config(tmp_path, url)
    assert relance("sync", "--config", str(config), "--once").exit_code == 0
    server.advance(timedelta(weeks=5))  # the daemon was down five weeks
    server.update_invoice(ledger.overdue, remaining="200.00")
    server.log.clear()

    result = relance("sync", "--config", str(config), "--once")

    assert result.exit_code == 0, result.output
    assert any(r.path == "/changelogs/customers" and r.status == 422 for r in server.log)
    assert any(r.path == "/customers" and "filter" not in r.query for r in server.log)
    invoices = stored_invoices(tmp_path)
    assert invoices[str(ledger.overdue)].open_amount == 200
    status = relance("status", "--config", str(config))
    assert "full resync: Pennylane refused the changelog position" in status.output


def test_litige_set_by_the_accountant_in_pennylane_stops_the_reminders(
    fake: tuple[FakePennylane, str], tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    relance_group(server)
    config = write_config(tmp_path, url, smtp_port=inbox[1], send=True)
    assert relance("pennylane", "setup", "--config", str(config)).exit_code == 0
    server.set_categories(ledger.overdue, [(server.category_id("Litige"), "1")])

    result = relance("sync", "--config", str(config), "--once")

    assert result.exit_code == 0, result.output
    assert inbox[0].messages == []
    invoices = stored_invoices(tmp_path)
    dispute = invoices[str(ledger.overdue)].dispute
    assert dispute is not None and dispute.reason == "Litige (Pennylane)"


def test_an_e_invoicing_dispute_stops_the_reminders(
    fake: tuple[FakePennylane, str], tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    server.update_invoice(ledger.overdue, e_invoicing={"status": "in_dispute", "reason": "prix"})
    config = write_config(tmp_path, url, smtp_port=inbox[1], send=True)

    result = relance("sync", "--config", str(config), "--once")

    assert result.exit_code == 0, result.output
    assert inbox[0].messages == []


def test_a_delivered_reminder_shows_its_level_in_pennylane_next_to_the_users_categories(
    fake: tuple[FakePennylane, str], tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    relance_group(server)
    projects = server.add_group("Projets")
    chantier = server.add_category(projects, "Chantier Lyon")
    bureau = server.add_category(projects, "Bureau")
    server.set_categories(ledger.overdue, [(chantier, "0.7"), (bureau, "0.3")])
    config = write_config(tmp_path, url, smtp_port=inbox[1], send=True)
    assert relance("pennylane", "setup", "--config", str(config)).exit_code == 0

    result = relance("sync", "--config", str(config), "--once")

    assert result.exit_code == 0, result.output
    assert len(inbox[0].messages) == 1
    assert server.labels_of(ledger.overdue) == {
        "Chantier Lyon": "0.7",
        "Bureau": "0.3",
        "Relance 3": "1",
    }


def test_without_the_category_group_reminders_go_out_and_levels_wait_for_setup(
    fake: tuple[FakePennylane, str], tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    config = write_config(tmp_path, url, smtp_port=inbox[1], send=True)

    first = relance("sync", "--config", str(config), "--once")

    assert first.exit_code == 0, first.output
    assert len(inbox[0].messages) == 1
    assert server.labels_of(ledger.overdue) == {}

    relance_group(server)
    assert relance("pennylane", "setup", "--config", str(config)).exit_code == 0
    second = relance("sync", "--config", str(config), "--once")

    assert second.exit_code == 0, second.output
    assert len(inbox[0].messages) == 1
    assert server.labels_of(ledger.overdue) == {"Relance 3": "1"}


def test_a_429_storm_and_5xx_bursts_are_survived_with_nothing_lost(
    fake: tuple[FakePennylane, str], tmp_path: Path
) -> None:
    server, url = fake
    for n in range(250):  # three pages of invoices
        customer = server.add_customer(f"Client {n}", emails=[f"c{n}@example.fr"])
        server.add_invoice(
            customer,
            "100.00",
            issued=TODAY - timedelta(days=50),
            deadline=TODAY - timedelta(days=20),
        )
    relance_group(server)
    server.fail_next(429, 6, path="/customer_invoices", retry_after=1)
    server.fail_next(503, 2, path="/customers")
    server.fail_next(500, 3, path="/customer_invoices")
    config = write_config(tmp_path, url, extra="contacts = false")

    result = relance("sync", "--config", str(config), "--once")

    assert result.exit_code == 0, result.output
    assert sum(r.status == 429 for r in server.log) >= 6
    assert sum(r.status >= 500 for r in server.log) == 5
    snapshot = stored(tmp_path)
    assert len(snapshot.invoices) == 250
    assert len(snapshot.customers) == 250


def test_a_category_write_that_failed_is_read_back_and_written_once(
    fake: tuple[FakePennylane, str], tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    relance_group(server)
    config = write_config(tmp_path, url, smtp_port=inbox[1], send=True)
    assert relance("pennylane", "setup", "--config", str(config)).exit_code == 0
    server.fail_next(502, 1, path=f"/customer_invoices/{ledger.overdue}/categories", method="PUT")

    result = relance("sync", "--config", str(config), "--once")

    assert result.exit_code == 0, result.output
    assert server.labels_of(ledger.overdue) == {"Relance 3": "1"}
    writes = [r for r in server.log if r.method == "PUT"]
    assert [r.status for r in writes] == [502, 200]
    again = relance("sync", "--config", str(config), "--once")
    assert again.exit_code == 0 and len([r for r in server.log if r.method == "PUT"]) == 2
