"""A full snapshot (jsonfile, FEC) is all the source has: invoices the store holds
beyond it were deleted at the source and leave the store (DESIGN §10 "Pull").
Runs on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path

from connectors.runner import Runner
from connectors.settings import load_settings
from connectors.sources import Changes, Flag
from connectors.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources"))
from runner_support import ledger_document, write_config, write_ledger
from source_samples import realistic_rows, write_fec


def runner(tmp: Path, store: Store, source: str = "") -> Runner:
    config = write_config(tmp, send=False)
    if source:
        text = config.read_text()
        config.write_text(text.replace(text[text.index("source = {") :], source + "\n"))
    settings = load_settings(config, dict(os.environ))
    return Runner(settings, store, clock=lambda: datetime(2026, 11, 24, 10, 0))


def test_the_store_lists_every_invoice_id_of_a_company(store: Store, tmp_path: Path) -> None:
    """The "all ids" query covers paid invoices too, and only the company's own."""
    run = runner(tmp_path, store)
    run.pull(run.settings.companies[0], run.source(run.settings.companies[0]))
    assert store.invoice_ids("acme") == {"F1", "F2"}
    assert store.invoice_ids("other") == set()


def test_the_store_tells_which_of_some_invoice_ids_it_still_holds(
    store: Store, tmp_path: Path
) -> None:
    """F1 and F2 are acme's; F9 is nobody's, and acme's ids are not other's."""
    run = runner(tmp_path, store)
    run.pull(run.settings.companies[0], run.source(run.settings.companies[0]))
    assert store.present_invoice_ids("acme", ["F2", "F9", "F2"]) == {"F2"}
    assert store.present_invoice_ids("other", ["F1", "F2"]) == set()
    assert store.present_invoice_ids("acme", []) == set()


def test_an_invoice_gone_from_the_ledger_file_is_deleted(store: Store, tmp_path: Path) -> None:
    """F2 disappears from the jsonfile snapshot: the next pull deletes it; F1 stays."""
    run = runner(tmp_path, store)
    company = run.settings.companies[0]
    run.pull(company, run.source(company))
    document = ledger_document(2)
    document["invoices"] = document["invoices"][:1]
    write_ledger(tmp_path / "ledger.json", document)
    run.pull(company, run.source(company))
    assert store.invoice_ids("acme") == {"F1"}
    assert [i.id for i in store.ledger("acme", date(2026, 11, 24)).invoices] == ["F1"]


def test_an_unchanged_file_deletes_nothing(store: Store, tmp_path: Path) -> None:
    """No change (an empty, non-full pull) is not an empty snapshot."""
    run = runner(tmp_path, store)
    company = run.settings.companies[0]
    run.pull(company, run.source(company))
    run.pull(company, run.source(company))
    assert store.invoice_ids("acme") == {"F1", "F2"}


def test_invoices_gone_from_the_fec_are_deleted(store: Store, tmp_path: Path) -> None:
    """A FEC re-exported without some invoices' lines deletes those invoices."""
    fec = write_fec(tmp_path / "FEC.txt", realistic_rows())
    run = runner(tmp_path, store, f'source = {{ kind = "fec", path = "{fec}" }}')
    company = run.settings.companies[0]
    run.pull(company, run.source(company))
    before = store.invoice_ids("acme")
    rows = realistic_rows()
    first_sale = next(r[2] for r in rows if r[0] == "VE")
    write_fec(fec, [r for r in rows if (r[0], r[2]) != ("VE", first_sale)])
    expected = {i.id for i in run.source(company).pull(None).invoices}
    run.pull(company, run.source(company))
    assert store.invoice_ids("acme") == expected
    assert before - expected  # the sale removed from the file is gone from the store


class _Snapshot:
    """A source whose one pull is an empty full snapshot: the source has nothing left."""

    name = "snapshot"

    def pull(self, cursor: str | None) -> Changes:
        return Changes(cursor="2", full=True)

    def refresh(self, invoice_ids: object) -> None:
        return None

    def push(self, flags: object) -> list[Flag]:
        return []


def test_an_empty_full_snapshot_deletes_every_invoice(store: Store, tmp_path: Path) -> None:
    run = runner(tmp_path, store)
    company = run.settings.companies[0]
    run.pull(company, run.source(company))
    run.pull(company, _Snapshot())
    assert store.invoice_ids("acme") == set()
