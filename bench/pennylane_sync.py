"""Pennylane sync benchmark: a full sync of 50,000 invoices and 5,000 customers from the
fake Pennylane server with its real rate limit (25 requests / 5 s per token), then an
incremental sync after 500 changes.

    .venv/bin/python bench/pennylane_sync.py
    .venv/bin/python bench/pennylane_sync.py --invoices 5000 --customers 500 --changes 50

The fake (tests/connectors/pennylane/pennylane_fake.py) runs on 127.0.0.1 in this
process; the source is the daemon's (connectors.pennylane.source), contacts off
(they cost one request per customer: see docs/pennylane.md).  Printed: requests,
seconds, requests/s and invoices/s against the bound (5 requests/s, so 500
invoices/s at 100 a page), for the whole full sync and for its invoice listing;
then the requests of the incremental sync.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "connectors" / "pennylane"))

from pennylane_fake import FakePennylane  # noqa: E402

from connectors.pennylane.categories import ensure_catalog  # noqa: E402
from connectors.pennylane.client import PennylaneClient  # noqa: E402
from connectors.pennylane.ratelimit import LIMIT, WINDOW, RateLimiter  # noqa: E402
from connectors.pennylane.source import PennylaneSource  # noqa: E402

TOKEN = "bench-token"
BOUND = LIMIT / WINDOW  # requests per second


def populate(fake: FakePennylane, customers: int, invoices: int, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    today = date.today()
    ids = [
        fake.add_customer(f"Client {n:05d}", emails=[f"compta{n}@example.fr"], emit=False)
        for n in range(customers)
    ]
    invoice_ids = []
    for n in range(invoices):
        issued = today - timedelta(days=rng.randint(0, 400))
        amount = f"{rng.randint(50, 50_000)}.{rng.randint(0, 99):02d}"
        paid = rng.random() < 0.8
        invoice_ids.append(
            fake.add_invoice(
                ids[n % customers],
                amount,
                issued=issued,
                deadline=issued + timedelta(days=30),
                remaining="0" if paid else None,
                emit=False,
            )
        )
    return invoice_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--changes", type=int, default=500)
    args = parser.parse_args()

    fake = FakePennylane(limit=LIMIT, window=WINDOW)
    url = fake.serve()
    fake.token(TOKEN)
    started = time.perf_counter()
    invoice_ids = populate(fake, args.customers, args.invoices)
    group = fake.add_group("Relance")
    print(
        f"fake Pennylane: {args.customers:,} customers, {args.invoices:,} invoices "
        f"(generated in {time.perf_counter() - started:.1f} s), rate limit {LIMIT} requests / "
        f"{WINDOW:g} s per token"
    )
    setup = PennylaneClient(TOKEN, url, limiter=RateLimiter())
    ensure_catalog(setup, "Relance", 4)
    fake.set_categories(invoice_ids[0], [(fake.category_id("Litige"), "1")])
    del group

    # A fresh limiter: the setup's requests are not the sync's.
    client = PennylaneClient(TOKEN, url, limiter=RateLimiter())
    source = PennylaneSource(client, contacts=False)
    time.sleep(WINDOW)  # let the server's window of the setup requests pass
    fake.log.clear()
    began = time.perf_counter()
    full = source.pull(None)
    seconds = time.perf_counter() - began
    requests = len(fake.log)
    throttled = sum(r.status == 429 for r in fake.log)
    listing = [
        r for r in fake.log if r.path == "/customer_invoices" and "category_id" not in str(r.query)
    ]
    phase = listing[-1].at - listing[0].at if len(listing) > 1 else float("nan")
    rate = requests / seconds
    print(
        f"full sync: {len(full.customers):,} customers, {len(full.invoices):,} invoices, "
        f"{requests} requests ({throttled} answered 429) in {seconds:.1f} s"
    )
    print(
        f"  requests/s {rate:.2f} = {rate / BOUND:.0%} of the {BOUND:g}/s bound; "
        f"invoices/s {len(full.invoices) / seconds:.0f} overall (customers and categories "
        f"included)"
    )
    # The log is on the monotonic clock, the server's windows on the wall clock.
    to_wall = time.time() - time.monotonic()
    windows = len({math.floor((r.at + to_wall) / WINDOW) for r in fake.log})
    print(
        f"  spread over {windows} of the server's {WINDOW:g}-s windows (the fewest possible: "
        f"ceil(requests/{LIMIT}) = {math.ceil(requests / LIMIT)})"
    )
    per_invoice_page = (len(listing) - 1) / phase if phase == phase and phase > 0 else 0.0
    print(
        f"  invoice listing: {len(listing)} pages in {phase:.1f} s = {per_invoice_page:.2f} "
        f"requests/s, {per_invoice_page * 100:.0f} invoices/s (bound {BOUND * 100:g})"
    )

    rng = random.Random(11)
    today = date.today()
    changed = rng.sample(invoice_ids, args.changes)
    for n, ident in enumerate(changed):
        if n % 5 == 0:
            fake.delete_invoice(ident)
        else:
            fake.update_invoice(ident, remaining="0")
    new_customer = fake.add_customer("Nouveau client", emails=["nouveau@example.fr"])
    fake.add_invoice(new_customer, "990.00", issued=today, deadline=today + timedelta(days=30))
    fake.log.clear()
    began = time.perf_counter()
    incremental = source.pull(full.cursor)
    seconds = time.perf_counter() - began
    print(
        f"incremental sync after {args.changes} invoice changes + 1 new customer and invoice: "
        f"{len(fake.log)} requests in {seconds:.1f} s ({len(incremental.invoices)} invoices "
        f"re-read, {len(incremental.deleted_invoice_ids)} deleted, "
        f"{len(incremental.customers)} customers)"
    )
    paths: dict[str, int] = {}
    for entry in fake.log:
        paths[entry.path] = paths.get(entry.path, 0) + 1
    print("  " + ", ".join(f"{path} x{count}" for path, count in sorted(paths.items())))
    fake.stop()


if __name__ == "__main__":
    main()
