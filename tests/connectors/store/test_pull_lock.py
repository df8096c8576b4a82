"""Two workers pulling one company wait for each other (PostgreSQL): the second
compares with what the first stored instead of writing the same rows again."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from connectors.demo import generate_ledger, ledger_to_json
from connectors.runner import Runner
from connectors.settings import load_settings
from connectors.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from runner_support import write_config, write_ledger

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 10, 0)
HELD = 0.5  # seconds the first transaction keeps the lock


@pytest.fixture
def pg_store(store_url: str) -> Iterator[Store]:
    if not store_url.startswith("postgresql"):
        pytest.skip("the pull lock is PostgreSQL's (one SQLite file has one writer)")
    store = Store.open(store_url)
    try:
        yield store
    finally:
        store.close()


def held_for(store: Store, company: str, seconds: float) -> None:
    """A transaction that takes the company's pull lock, holds it ``seconds``, commits;
    returns once the lock is taken."""
    taken = threading.Event()

    def hold() -> None:
        with store.transaction() as tx:
            store.lock_company_pull(tx, company)
            taken.set()
            time.sleep(seconds)

    threading.Thread(target=hold, daemon=True).start()
    assert taken.wait(10)


def test_a_pull_of_the_same_company_waits_for_the_lock_holder(pg_store: Store) -> None:
    began = time.monotonic()
    held_for(pg_store, "acme", HELD)
    with pg_store.transaction() as tx:
        pg_store.lock_company_pull(tx, "acme")
        waited = time.monotonic() - began
    assert waited >= HELD * 0.9


def test_another_company_does_not_wait(pg_store: Store) -> None:
    held_for(pg_store, "acme", HELD * 4)
    began = time.monotonic()
    with pg_store.transaction() as tx:
        pg_store.lock_company_pull(tx, "other")
    waited = time.monotonic() - began
    assert waited < HELD


def test_two_workers_applying_a_first_snapshot_at_once_both_succeed(
    pg_store: Store, store_url: str, tmp_path: Path
) -> None:
    """Both wait for a held lock, then go one after the other: the first upserts the
    whole file, the second finds its digests and upserts nothing."""
    ledger = tmp_path / "ledger.json"
    write_ledger(ledger, ledger_to_json(generate_ledger(TODAY, customers=40, invoices=400, seed=3)))
    config = write_config(tmp_path, send=False, store=store_url, ledger=ledger)
    settings = load_settings(config, {})
    company = settings.companies[0]
    workers = [Store.open(store_url) for _ in range(2)]
    runners = [Runner(settings, store, clock=lambda: NOW) for store in workers]
    held_for(pg_store, company.id, HELD)
    pulled: list[int] = []
    errors: list[BaseException] = []

    def pull(runner: Runner) -> None:
        try:
            pulled.append(runner.pull(company, runner.source(company)))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=pull, args=(r,)) for r in runners]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    waited = time.monotonic() - began
    for store in workers:
        store.close()
    assert errors == []
    assert sorted(pulled)[0] == 0 and sorted(pulled)[1] > 400  # customers and invoices
    assert waited >= HELD * 0.9
