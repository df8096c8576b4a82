"""The journal a plan reads from the store: all of it, or the window planning needs.

    python bench/journal_window.py                       # 100k invoices, SQLite and PostgreSQL
    python bench/journal_window.py --invoices 20000 --backends sqlite --years 2

A demo ledger of N invoices over N/10 customers (a year of invoices, and its journal of
reminders), with YEARS - 1 more years of the same journal moved back in time (reminders
about invoices paid long ago, as a store holds after years of daily runs), goes into a
fresh store.  Then, three times each, in this process:

- **whole journal** (the baseline it replaces): ``store.ledger(company, day)`` and a plan;
- **window**: ``store.ledger(..., journal_from=core.engine.journal_needed_from(...))``
  and a plan, the daemon's way since the window.

Both plans must give the same actions (the script stops otherwise).  PostgreSQL: the
local server (trust auth), a database created and dropped.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

from connectors.demo.generator import generate_ledger
from connectors.store.engine import create_store_engine
from connectors.store.store import Store
from core.collector import collector_paused
from core.config import load_config
from core.engine import Planner, journal_needed_from
from core.model import Ledger, Reminder
from core.texts import template_ids

TODAY = date(2026, 11, 24)
COMPANY = "bench"
PG_ADMIN = "postgresql://root@127.0.0.1:5432/test"


def older_years(ledger: Ledger, years: int) -> list[Reminder]:
    """The ledger's journal, and ``years - 1`` copies of it one, two... years earlier,
    naming invoices that are no longer in the ledger (paid long ago)."""
    out = list(ledger.reminders)
    for year in range(1, years):
        shift = timedelta(days=365 * year)
        out.extend(
            replace(
                r,
                date=r.date - shift,
                key=f"{r.key}-y{year}",
                invoices=tuple(
                    line._replace(invoice_id=f"{line.invoice_id}-y{year}") for line in r.invoices
                ),
            )
            for r in ledger.reminders
        )
    return out


def timed(store: Store, journal_from: date | None) -> tuple[float, int, list[str]]:
    config = load_config(None, template_ids())
    with collector_paused():
        began = time.perf_counter()
        ledger = store.ledger(COMPANY, TODAY, journal_from=journal_from)
        actions = Planner(ledger, config, TODAY).run()
        elapsed = time.perf_counter() - began
    return elapsed, len(ledger.reminders), [a.key for a in actions]


def measure(url: str, ledger: Ledger, reminders: list[Reminder], label: str) -> None:
    store = Store.open(url)
    try:
        with store.transaction() as tx:
            store.upsert_customers(tx, COMPANY, ledger.customers)
            store.upsert_invoices(tx, COMPANY, ledger.invoices)
            store.upsert_reminders(tx, COMPANY, reminders)
        since = journal_needed_from(load_config(None, template_ids()), TODAY)
        for _ in range(3):
            whole, n_whole, keys_whole = timed(store, None)
            window, n_window, keys_window = timed(store, since)
            if keys_whole != keys_window:
                raise SystemExit(f"{label}: the window plans other actions than the journal")
            print(
                f"{label}: whole journal {whole:.2f} s ({n_whole} reminders read), "
                f"window {window:.2f} s ({n_window} read, from {since} and those naming "
                f"an open invoice), {len(keys_window)} actions either way"
            )
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=3, help="years of journal (default 3)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    args = parser.parse_args()
    ledger = generate_ledger(
        TODAY, customers=max(1, args.invoices // 10), invoices=args.invoices, seed=7
    )
    reminders = older_years(ledger, args.years)
    lines = sum(len(r.invoices) for r in reminders)
    print(
        f"{len(ledger.invoices)} invoices, {len(ledger.customers)} customers, "
        f"{len(reminders)} reminders ({lines} lines) over {args.years} years"
    )
    gc.freeze()  # the bench's own ledger stays alive: out of the collector's way
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as folder:
            measure(f"sqlite:///{Path(folder) / 'store.db'}", ledger, reminders, "SQLite")
    if "postgresql" in backends:
        name = f"relance_bench_window_{int(time.time())}"
        admin = create_store_engine(args.pg_admin).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = args.pg_admin.rsplit("/", 1)[0] + f"/{name}"
            measure(url, ledger, reminders, "PostgreSQL")
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
