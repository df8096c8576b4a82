"""A changed file is applied as its difference with the last snapshot (per-record
digests kept in the store), and the store and the outbox end up exactly as a full
re-pull and a full re-plan leave them (DESIGN §10 "Pull", docs/daemon.md "Snapshots").

Two companies share one store and read the same file through the same cycles
(send mode, a real SMTP server on 127.0.0.1): ``acme`` as the daemon does, ``ref``
through a source that hides the snapshot's digests (every record upserted, the
whole ledger planned, as before digests).  After each change of the file both
must hold the same rows.  Runs on SQLite and PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.demo import generate_ledger, ledger_to_json
from connectors.fec.source import FecSource
from connectors.jsonfile.source import JsonFileSource
from connectors.runner import CycleReport, Runner
from connectors.settings import Settings, load_settings
from connectors.sources import Changes, Flag, Source
from connectors.store import Store
from connectors.store.models import Base
from core.config import Config
from core.engine import Planner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources"))
from runner_support import SECRET, smtp_server, write_config
from source_samples import HEADER, realistic_rows, sale, write_fec

TODAY = date(2026, 11, 24)  # a Tuesday
NOW = datetime(2026, 11, 24, 10, 0)
HOUR_NS = 3600 * 10**9
# Columns that differ between the two companies whatever happens.
IGNORED = {"company", "id", "message_id", "created_at", "updated_at", "sent_at"}
COMPARED = ("customers", "invoices", "journal", "journal_lines", "outbox", "cursors")


class FullRepull:
    """The same source with its snapshot's digests hidden: the runner upserts every
    record and deletes what the store holds beyond them (the behaviour before digests)."""

    def __init__(self, source: Source) -> None:
        self.inner = source
        self.name = source.name

    def pull(self, cursor: str | None) -> Changes:
        return replace(self.inner.pull(cursor), snapshot=None)

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal] | None:
        return self.inner.refresh(invoice_ids)

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        return self.inner.push(flags)


def document() -> dict[str, Any]:
    """150 customers, 1,500 invoices: e-mails, formal notices and escalations are due
    TODAY.  The first customer e-mailed has no address any more: its e-mail fails
    (a failed outbox row, whose journal entry was written when it was enqueued)."""
    ledger = generate_ledger(TODAY, customers=150, invoices=1500, seed=7)
    emailed = next(
        a.customer_id for a in Planner(ledger, Config(), TODAY).run() if a.channel == "email"
    )
    doc = ledger_to_json(ledger)
    next(c for c in doc["customers"] if c["id"] == emailed)["emails"] = []
    return doc


def write(path: Path, doc: dict[str, Any], age_ns: int) -> None:
    """The file, dated ``age_ns`` ago (older each time: never "racy", always re-read)."""
    path.write_text(json.dumps(doc), encoding="utf-8")
    stamp = path.stat().st_mtime_ns - age_ns
    os.utime(path, ns=(stamp, stamp))


def config(tmp: Path, store_url: str, port: int, kind: str, file: Path) -> Settings:
    """runner_support's daemon config (company ``acme``) on ``store_url`` reading
    ``file`` with a source of ``kind``, and a second company ``ref`` reading the same."""
    path = write_config(tmp, port=port, store=store_url, ledger=file)
    source = f'{{ kind = "{kind}", path = "{file}" }}'
    text = path.read_text()
    head, company = text.split("[[companies]]")
    company = company.replace(company[company.index("source = {") :], f"source = {source}\n")
    path.write_text(f"{head}[[companies]]{company}\n[[companies]]{company.replace('acme', 'ref')}")
    return load_settings(path, {"RELANCE_TEST_SMTP_PASSWORD": SECRET})


def rows(store: Store, company: str) -> dict[str, list[tuple[Any, ...]]]:
    """The company's rows of the compared tables, without what always differs."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    with store.engine.connect() as connection:
        for name in COMPARED:
            table = tables[name]
            columns = [c for c in table.columns if c.name not in IGNORED]
            query = select(*columns).where(table.c.company == company)
            out[name] = sorted(tuple(r) for r in connection.execute(query))
    return out


class Pair:
    """``acme`` through the daemon's runner (kept from cycle to cycle, as the daemon
    keeps it), ``ref`` re-pulled and re-planned in full by a fresh runner each time."""

    def __init__(self, settings: Settings, store: Store, ref_source: Source) -> None:
        self.settings, self.store, self.ref_source = settings, store, ref_source
        self.acme, self.ref = settings.companies
        self.runner = self.restart()

    def restart(self) -> Runner:
        """A new daemon process: its sources and what it planned today are gone."""
        self.runner = Runner(self.settings, self.store, clock=lambda: NOW)
        return self.runner

    def cycle(self, runner: Runner | None = None) -> CycleReport:
        report = (runner or self.runner).cycle(self.acme, today=TODAY)
        reference = Runner(
            self.settings, self.store, clock=lambda: NOW, sources={"ref": self.ref_source}
        )
        reference.cycle(self.ref, today=TODAY)
        return report

    def assert_same(self) -> None:
        acme, ref = rows(self.store, "acme"), rows(self.store, "ref")
        for table in COMPARED:
            assert acme[table] == ref[table], table


@pytest.fixture
def smtp_port() -> Iterator[int]:
    with smtp_server() as (_, port):
        yield port


def open_invoices(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in doc["invoices"] if i["open_amount"] != "0.00" and i["kind"] == "invoice"]


def test_each_change_of_a_ledger_file_leaves_the_store_as_a_full_repull_would(
    store: Store, store_url: str, smtp_port: int, tmp_path: Path
) -> None:
    """Payments, new and deleted invoices, changed customers, an invoice moved to
    another customer, journal entries added, changed and removed, a restart of the
    daemon: after each cycle the store and the outbox hold what a full re-pull and a
    full plan give, while the daemon upserted only the records that changed."""
    path = tmp_path / "ledger.json"
    doc = document()
    age = [100 * HOUR_NS]

    def change(edit: Any) -> None:
        edit(doc)
        age[0] -= HOUR_NS
        write(path, doc, age[0])

    change(lambda d: None)
    settings = config(tmp_path, store_url, smtp_port, "jsonfile", path)
    pair = Pair(settings, store, FullRepull(JsonFileSource(path)))
    first = pair.cycle()
    pair.assert_same()
    assert first.pulled == 1650 and first.sent > 0
    assert escalated_ids(store)  # escalations were enqueued

    # Payments: the incremental pull upserts the paid invoices and the escalated ones
    # it puts back as the file has them.
    paid = open_invoices(doc)[:5]

    def pay(d: dict[str, Any]) -> None:
        for inv in paid:
            inv.update(open_amount="0.00", paid_date="2026-11-23")

    in_file = {i["id"]: i for i in doc["invoices"]}
    restored = {k for k in escalated_ids(store) if not in_file[k]["escalated"]}
    assert restored  # marked by the escalations enqueued, not in the file
    change(pay)
    report = pair.cycle()
    pair.assert_same()
    assert report.pulled == len(paid) + len(restored)

    # Two new customers, each with an overdue invoice and a credit note as large
    # (nothing to ask for), and an overdue invoice for an old customer.
    def add(d: dict[str, Any]) -> None:
        for n in (1, 2):
            d["customers"].append(
                {**copy.deepcopy(d["customers"][5]), "id": f"C-NEW{n}", "name": f"Neuf {n}"}
            )
            d["invoices"] += [new_invoice(f"NEW-{n}", f"C-NEW{n}")]
            d["invoices"] += [new_invoice(f"AV-{n}", f"C-NEW{n}", kind="credit_note")]
        d["invoices"] += [new_invoice("NEW-3", d["customers"][5]["id"])]

    change(add)
    report = pair.cycle()
    pair.assert_same()
    assert report.enqueued == 1  # the old customer's invoice

    # Deleted: C-NEW1's credit note (C-NEW1 now owes: its plan changes though none
    # of the records the file still has changed), and a few open invoices.
    gone = {"AV-1", *(i["id"] for i in open_invoices(doc)[5:8])}
    change(lambda d: d.update(invoices=[i for i in d["invoices"] if i["id"] not in gone]))
    report = pair.cycle()
    pair.assert_same()
    assert not gone & store.invoice_ids("acme")
    assert "C-NEW1" in {r.customer_id for r in store.outbox_rows("acme")}

    # C-NEW2's credit note moves to another customer: both customers' plans change.
    def move(d: dict[str, Any]) -> None:
        next(i for i in d["invoices"] if i["id"] == "AV-2")["customer_id"] = "C-NEW1"

    change(move)
    pair.cycle()
    pair.assert_same()
    assert "C-NEW2" in {r.customer_id for r in store.outbox_rows("acme")}

    # Customers changed: one excluded, one on another plan, one renamed.
    def customers(d: dict[str, Any]) -> None:
        d["customers"][6]["excluded"] = True
        d["customers"][7]["plan"] = "strict"
        d["customers"][8]["name"] += " (nouveau nom)"

    change(customers)
    pair.cycle()
    pair.assert_same()

    # The daemon restarts: the digests of the store are all it has to compare with.
    pair.restart()
    change(lambda d: open_invoices(d)[0].update(open_amount="1.00"))
    pair.cycle()
    pair.assert_same()

    # The file's journal: one entry changed, one removed, one added under the key of
    # an outbox row the daemon wrote; then that row is cancelled (its journal entry
    # removed) and an unrelated change makes the file be read again.
    failed = store.outbox_rows("acme", states=("failed",))
    assert failed, "a customer without e-mail address gives a failed row"
    row = failed[0]
    entry = store.history("acme", row.customer_id)[0]
    assert entry.key == row.key

    def journal(d: dict[str, Any]) -> None:
        d["reminders"][0]["date"] = "2026-09-26"
        del d["reminders"][1]
        d["reminders"].append(
            {
                "customer_id": entry.customer_id,
                "date": "2026-11-20",
                "plan": entry.plan,
                "channel": entry.channel,
                "key": entry.key,
                "invoices": [{"id": line.invoice_id, "step": line.step} for line in entry.invoices],
            }
        )

    change(journal)
    pair.cycle()
    pair.assert_same()
    for company in ("acme", "ref"):
        store.mark_cancelled(company, row.key, "annulé à la main")
    change(lambda d: open_invoices(d)[1].update(open_amount="2.00"))
    pair.cycle()
    pair.assert_same()
    assert [r.date for r in store.history("acme", row.customer_id) if r.key == row.key] == [
        date(2026, 11, 20)
    ]


def test_digests_saved_by_another_process_are_read_again(
    store: Store, store_url: str, smtp_port: int, tmp_path: Path
) -> None:
    """Two daemons on one store: the first keeps the digests it saved, but another
    process saved others since (a new generation), so it reads them again: an
    invoice paid then unpaid again is written back by the first daemon."""
    path = tmp_path / "ledger.json"
    doc = document()
    write(path, doc, 10 * HOUR_NS)
    settings = config(tmp_path, store_url, smtp_port, "jsonfile", path)
    pair = Pair(settings, store, FullRepull(JsonFileSource(path)))
    pair.cycle()
    invoice = open_invoices(doc)[0]
    amount = invoice["open_amount"]
    invoice.update(open_amount="0.00", paid_date="2026-11-23")
    write(path, doc, 9 * HOUR_NS)
    pair.cycle(Runner(settings, store, clock=lambda: NOW))  # the other daemon
    pair.assert_same()
    invoice.update(open_amount=amount, paid_date=None)
    write(path, doc, 8 * HOUR_NS)
    report = pair.cycle()
    pair.assert_same()
    assert report.pulled >= 1
    assert store.open_amounts("acme", [invoice["id"]]) == {invoice["id"]: Decimal(amount)}


def test_a_changed_fec_leaves_the_store_as_a_full_repull_would(
    store: Store, store_url: str, smtp_port: int, tmp_path: Path
) -> None:
    """The FEC source's snapshot (digests of the decoded records): a payment booked
    and an invoice removed give the store and outbox of a full re-pull."""
    path = write_fec(tmp_path / "export.txt", realistic_rows())
    settings = config(tmp_path, store_url, smtp_port, "fec", path)
    pair = Pair(settings, store, FullRepull(FecSource(path)))
    first = pair.cycle()
    pair.assert_same()
    # A new sale to Dupont; Martin's unallocated transfer is no longer in the export.
    rows = [r for r in realistic_rows() if r[8] != "VIR-0215"]
    rows += sale(99, "20260301", "CDUPONT", "FA-2026-0099", "1200,00", "1000,00", "200,00")
    write_fec(path, rows)
    second = pair.cycle()
    pair.assert_same()
    assert 0 < second.pulled < first.pulled
    # One line of a customer changed (Martin's transfer lettered), a customer
    # added and one removed, read by customer; then another header (its columns
    # reordered) and another encoding, read in full.
    for row in rows:
        if row[8] == "FA-2026-0002" and row[4] == "411000":
            row[13] = "ZZ"
    rows = [r for r in rows if r[6] != "CSUMMIT"]
    rows += sale(98, "20260302", "CNEW", "FA-2026-0098", "600,00", "500,00", "100,00")
    write_fec(path, rows)
    pair.cycle()
    pair.assert_same()
    header = [HEADER[1], HEADER[0], *HEADER[2:]]
    write_fec(path, [[r[1], r[0], *r[2:]] for r in rows], header=header, encoding="cp1252")
    pair.cycle()
    pair.assert_same()


def new_invoice(id: str, customer_id: str, kind: str = "invoice") -> dict[str, Any]:
    """1,200.00 open, due 2026-11-10: 14 days overdue TODAY, an e-mail's step."""
    return {
        "id": id,
        "customer_id": customer_id,
        "number": id,
        "kind": kind,
        "issue_date": "2026-10-11",
        "due_date": "2026-11-10",
        "amount": "1200.00",
        "open_amount": "1200.00",
        "currency": "EUR",
    }


def escalated_ids(store: Store) -> set[str]:
    with store.transaction() as tx:
        return store.escalated_invoice_ids(tx, "acme")


def test_digests_of_any_ids_are_saved_and_read_back(store: Store) -> None:
    """A first snapshot's digests are inserted in bulk (COPY on PostgreSQL): ids
    with tabs, newlines, backslashes and accents come back as they were."""
    odd = ["F\t1", "F\n2", "F\\3", "F\\N", "Fé\r5", ""]
    rows = [("invoice", k, f"d{n}", f"C{n}") for n, k in enumerate(odd)]
    with store.transaction() as tx:
        store.save_snapshot_digests(tx, "acme", [*rows, ("customer", "C\t0", "x", None)], new=True)
    with store.transaction() as tx:
        saved = store.snapshot_digests(tx, "acme")
        owners = store.snapshot_owners(tx, "acme", "invoice", odd)
    assert saved.invoices == {k: f"d{n}" for n, k in enumerate(odd)}
    assert saved.customers == {"C\t0": "x"}
    assert owners == {k: f"C{n}" for n, k in enumerate(odd)}
