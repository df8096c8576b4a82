"""How long 100k invoices take on SQLite: printed, never asserted (machines differ)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

import pytest

from connectors.store import Store
from core.model import Customer, Dispute, Invoice

INVOICES = 100_000
CUSTOMERS = 10_000
TODAY = date(2026, 11, 1)


def _data() -> tuple[list[Customer], list[Invoice]]:
    customers = [
        Customer(id=f"C{i:05d}", name=f"Client {i}", emails=(f"c{i}@example.fr",))
        for i in range(CUSTOMERS)
    ]
    start = date(2026, 1, 1)
    invoices = [
        Invoice(
            id=f"F{i:07d}",
            customer_id=f"C{i % CUSTOMERS:05d}",
            number=f"FA-{i}",
            kind="invoice",
            issue_date=start + timedelta(days=i % 300),
            due_date=start + timedelta(days=i % 300 + 30),
            amount=Decimal("1234.56"),
            open_amount=Decimal("0.00") if i % 3 == 0 else Decimal("1234.56"),
            currency="EUR",
            paid_date=start + timedelta(days=i % 300 + 40) if i % 3 == 0 else None,
            dispute=Dispute("price", start) if i % 50 == 0 else None,
        )
        for i in range(INVOICES)
    ]
    return customers, invoices


def test_upserting_100k_invoices_on_sqlite(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pull path must stay fast: 100k invoices in a few seconds, twice (the second
    run rewrites nothing), and the ledger read back in a few queries."""
    customers, invoices = _data()
    store = Store.open(sqlite_url)
    timings = []
    try:
        for _ in range(2):
            started = time.perf_counter()
            with store.transaction() as tx:
                store.upsert_customers(tx, "acme", customers)
                store.upsert_invoices(tx, "acme", invoices)
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        ledger = store.ledger("acme", TODAY)
        read = time.perf_counter() - started
    finally:
        store.close()
    assert len(ledger.invoices) == INVOICES and len(ledger.customers) == CUSTOMERS
    with capsys.disabled():
        print(
            f"\n[store speed] SQLite, {INVOICES:,} invoices + {CUSTOMERS:,} customers: "
            f"first upsert {timings[0]:.2f} s, second (unchanged) {timings[1]:.2f} s, "
            f"ledger() {read:.2f} s"
        )
