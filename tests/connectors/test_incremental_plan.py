"""Incremental planning: after a day's first (full) plan, a cycle plans only the
customers its pull changed; the outbox ends up as a full plan would leave it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from runner_support import ledger_document, write_config, write_ledger

from connectors.jsonfile.source import JsonFileSource
from connectors.runner import Runner
from connectors.settings import load_settings
from connectors.sources import Changes, Flag
from connectors.store.store import Store

TODAY = date(2026, 11, 24)


class ApiLikeSource:
    """Stands in for an accounting API with "updated since": the first pull is the
    whole ledger file, later ones only the records of ``changed`` customers."""

    name = "api"

    def __init__(self, path: Path) -> None:
        self.file = JsonFileSource(path)
        self.changed: set[str] | None = None

    def pull(self, cursor: str | None) -> Changes:
        snapshot = self.file.pull(None)
        if self.changed is None:
            return snapshot
        keep = self.changed
        return Changes(
            customers=[c for c in snapshot.customers if c.id in keep],
            invoices=[i for i in snapshot.invoices if i.customer_id in keep],
            cursor="later",
        )

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal] | None:
        return self.file.refresh(invoice_ids)

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        return []


def runner(tmp: Path, source: ApiLikeSource) -> Runner:
    settings = load_settings(
        write_config(tmp, send=False, ledger=source.file.path), dict(os.environ)
    )
    store = Store.open(settings.store_url())
    return Runner(
        settings, store, clock=lambda: datetime(2026, 11, 24, 10, 0), sources={"acme": source}
    )


def test_a_later_cycle_plans_only_the_customers_the_pull_changed(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.json"
    document = ledger_document(3)
    write_ledger(
        ledger,
        {**document, "customers": document["customers"][:2], "invoices": document["invoices"][:2]},
    )
    source = ApiLikeSource(ledger)
    run = runner(tmp_path, source)
    company = run.settings.companies[0]
    first = run.cycle(company, today=TODAY)
    write_ledger(ledger, document)  # C3 and its overdue F3 arrive
    source.changed = {"C3"}
    second = run.cycle(company, today=TODAY)
    assert (first.actions, first.enqueued) == (2, 2)
    assert (second.actions, second.enqueued) == (1, 1)  # C1 and C2 were not planned again
    # A full plan of the same store finds nothing the partial ones missed.
    fresh = Runner(
        run.settings, run.store, clock=run.clock, sources={"acme": ApiLikeSource(ledger)}
    )
    assert fresh.cycle(company, today=TODAY).enqueued == 0


def test_a_cycle_with_no_change_plans_nothing(tmp_path: Path) -> None:
    ledger = write_ledger(tmp_path / "ledger.json", ledger_document(2))
    source = ApiLikeSource(ledger)
    run = runner(tmp_path, source)
    company = run.settings.companies[0]
    run.cycle(company, today=TODAY)
    source.changed = set()
    assert run.cycle(company, today=TODAY).actions == 0


def test_the_first_cycle_of_a_new_day_plans_everything(tmp_path: Path) -> None:
    ledger = write_ledger(tmp_path / "ledger.json", ledger_document(2))
    source = ApiLikeSource(ledger)
    run = runner(tmp_path, source)
    company = run.settings.companies[0]
    run.cycle(company, today=TODAY)
    source.changed = set()
    # Fourteen days later every customer is due its next step: all are planned.
    later = run.cycle(company, today=date(2026, 12, 8))
    assert later.actions == 2


def test_a_record_that_changes_customer_has_both_customers_planned(tmp_path: Path) -> None:
    """§10: a credit note moved from C1 to C2 (the source reports it among C2's
    records) leaves C1 owing its overdue invoice: C1 is planned too, as a full
    plan would, though the pull brought nothing of C1's."""
    ledger = tmp_path / "ledger.json"
    document = ledger_document(2)
    credit = {**document["invoices"][0], "id": "AV1", "number": "AV1", "kind": "credit_note"}
    write_ledger(ledger, {**document, "invoices": [*document["invoices"], credit]})
    source = ApiLikeSource(ledger)
    run = runner(tmp_path, source)
    company = run.settings.companies[0]
    first = run.cycle(company, today=TODAY)
    assert first.enqueued == 1  # C2 only: C1's credit note covers its invoice
    credit["customer_id"] = "C2"
    write_ledger(ledger, {**document, "invoices": [*document["invoices"], credit]})
    source.changed = {"C2"}
    second = run.cycle(company, today=TODAY)
    assert second.enqueued == 1
    assert {row.customer_id for row in run.store.outbox_rows("acme")} == {"C1", "C2"}
    fresh = Runner(
        run.settings, run.store, clock=run.clock, sources={"acme": ApiLikeSource(ledger)}
    )
    assert fresh.cycle(company, today=TODAY).enqueued == 0


def test_an_invoice_deleted_at_the_source_has_its_customer_planned(tmp_path: Path) -> None:
    """§10: deleting C1's credit note (by id, as an API reports deletions) plans
    C1 again, and C1 only."""
    ledger = tmp_path / "ledger.json"
    document = ledger_document(2)
    credit = {**document["invoices"][0], "id": "AV1", "number": "AV1", "kind": "credit_note"}
    write_ledger(ledger, {**document, "invoices": [*document["invoices"], credit]})

    class Deleting(ApiLikeSource):
        def pull(self, cursor: str | None) -> Changes:
            if self.changed is None:
                return super().pull(cursor)
            return Changes(deleted_invoice_ids=["AV1"], cursor="later")

    source = Deleting(ledger)
    run = runner(tmp_path, source)
    company = run.settings.companies[0]
    assert run.cycle(company, today=TODAY).enqueued == 1
    write_ledger(ledger, document)
    source.changed = set()
    second = run.cycle(company, today=TODAY)
    assert (second.actions, second.enqueued) == (1, 1)  # C1 planned, C2 not again
    assert run.store.invoice_ids("acme") == {"F1", "F2"}
