"""The source against the fake server, driven directly (clock injected)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pennylane_fake import FakePennylane
from sync_support import TOKEN, relance_group, small_ledger

from connectors.pennylane.categories import ensure_catalog
from connectors.pennylane.client import PennylaneClient
from connectors.pennylane.position import Position
from connectors.pennylane.source import PennylaneSource
from connectors.sources import Flag, Source

TODAY = date.today()


def source_for(
    url: str, *, clock: datetime | None = None, contacts: bool = True
) -> PennylaneSource:
    client = PennylaneClient(TOKEN, url)
    moment = clock
    return PennylaneSource(
        client,
        contacts=contacts,
        clock=(lambda: moment) if moment is not None else (lambda: datetime.now(UTC)),
    )


def test_the_source_follows_the_protocol(fake: tuple[FakePennylane, str]) -> None:
    assert isinstance(source_for(fake[1]), Source)


def test_a_stored_position_older_than_four_weeks_resyncs_without_asking_the_changelog(
    fake: tuple[FakePennylane, str],
) -> None:
    server, url = fake
    small_ledger(server, TODAY)
    first = source_for(url).pull(None)
    later = source_for(url, clock=datetime.now(UTC) + timedelta(weeks=4, hours=1))
    server.log.clear()

    changes = later.pull(first.cursor)

    assert changes.full and later.last_pull == "resync"
    assert not server.requests_to("/changelogs")
    position = Position.load(changes.cursor)
    assert position is not None and position.resync_reason is not None
    assert "4-week changelog retention" in position.resync_reason


def test_an_incremental_sync_costs_requests_in_proportion_to_the_changes(
    fake: tuple[FakePennylane, str],
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    relance_group(server)
    source = source_for(url, contacts=False)
    cursor = source.pull(None).cursor
    settled = source.pull(cursor)  # reads again what changed during the full sync
    server.log.clear()
    quiet = source.pull(settled.cursor)
    quiet_requests = len(server.log)
    for _ in range(150):
        server.add_invoice(ledger.martin, "10.00", issued=TODAY, deadline=TODAY)
    server.log.clear()

    busy = source.pull(quiet.cursor)

    assert not quiet.invoices and not quiet.full
    assert len(busy.invoices) == 150
    assert len(server.log) == quiet_requests + 2  # 150 ids: two batches of at most 100


def test_removing_litige_in_pennylane_closes_the_dispute(fake: tuple[FakePennylane, str]) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    relance_group(server)
    source = source_for(url)
    ensure_catalog(source.client, "Relance", 4)
    litige = server.category_id("Litige")
    server.set_categories(ledger.overdue, [(litige, "1")])
    opened = source.pull(None)
    server.set_categories(ledger.overdue, [])

    closed = source.pull(opened.cursor)

    before = {i.id: i for i in opened.invoices}[str(ledger.overdue)]
    after = {i.id: i for i in closed.invoices}[str(ledger.overdue)]
    assert before.dispute is not None and after.dispute is None


def test_refresh_reads_open_amounts_now_and_zero_for_what_is_gone(
    fake: tuple[FakePennylane, str],
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    server.update_invoice(ledger.overdue, remaining="250.00")
    amounts = source_for(url).refresh([str(ledger.overdue), "999999", str(ledger.draft)])
    assert amounts == {str(ledger.overdue): 250, "999999": 0, str(ledger.draft): 0}


def test_push_writes_every_flag_kind_under_the_fakes_weight_rules(
    fake: tuple[FakePennylane, str],
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    relance_group(server)
    source = source_for(url)
    ensure_catalog(source.client, "Relance", 4)
    flags = [
        Flag("reminder_level", str(ledger.overdue), 2, TODAY),
        Flag("dispute", str(ledger.overdue), "contested", TODAY),
    ]
    assert source.push(flags) == flags
    assert server.labels_of(ledger.overdue) == {"Litige": "0.5", "Relance 2": "0.5"}
    source.push([Flag("escalated", str(ledger.overdue), True, TODAY)])
    source.push([Flag("reminder_level", str(ledger.overdue), 5, TODAY)])
    source.push([Flag("dispute", str(ledger.overdue), None, TODAY)])
    assert server.labels_of(ledger.overdue) == {"Mise en demeure": "0.5", "Contentieux": "0.5"}


def test_push_skips_a_draft_and_reports_it_unwritten(fake: tuple[FakePennylane, str]) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    relance_group(server)
    source = source_for(url)
    ensure_catalog(source.client, "Relance", 4)
    assert source.push([Flag("reminder_level", str(ledger.draft), 1, TODAY)]) == []


def test_build_source_takes_the_token_as_a_secret_and_refuses_none() -> None:
    from pydantic import SecretStr

    from connectors.sources import SourceError, build_source

    built = build_source(
        "pennylane", {"token": SecretStr(TOKEN), "category_group": "Recouvrement"}, company="x"
    )
    assert isinstance(built, PennylaneSource) and built.category_group == "Recouvrement"
    assert TOKEN not in repr(built)
    with pytest.raises(SourceError) as caught:
        build_source("pennylane", {"base_url": "https://pl.example"}, company="x")
    assert "setting 'token_env': Pennylane needs an API token" in caught.value.message


def test_a_changed_customer_is_reread_with_its_contacts(
    fake: tuple[FakePennylane, str],
) -> None:
    server, url = fake
    ledger = small_ledger(server, TODAY)
    source = source_for(url)
    settled = source.pull(source.pull(None).cursor)
    server.update_customer(ledger.durand, emails=["new@dupont.example"])
    server.add_contact(ledger.durand, "assistant@dupont.example")

    changes = source.pull(settled.cursor)

    assert [c.emails for c in changes.customers] == [
        ("new@dupont.example", "assistant@dupont.example")
    ]
