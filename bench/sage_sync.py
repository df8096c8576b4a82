"""Sage 100 sync benchmark: 200,000 ledger lines / 5,000 customers in PostgreSQL.

    python bench/sage_sync.py                      # the local PostgreSQL (trust auth, root)
    python bench/sage_sync.py --lines 50000 --customers 1000
    python bench/sage_sync.py --runs 3             # three runs on copies of one database
    python bench/sage_sync.py --runs 3 --against /tmp/old   # and an older checkout's code, in turn
    RELANCE_TEST_PG_URL=postgresql+psycopg2://postgres@127.0.0.1/test python bench/sage_sync.py

Builds the Sage test schema of tests/connectors/sage/sage_db.py in a fresh
database (dropped at the end) and fills it with a generated French ledger:
invoices with one to three due dates, most of them paid and lettered, some
partial payments, credit notes, payments on account, recovery dossiers.
Then, per run, on a copy of that database and each in a fresh child process
(so max RSS is the sync's own; CPU seconds are the child's own, the database
server's are not in them):
- full: ``Sage100Source.pull(None)`` and the upserts into a SQLite store, as
  ``relance sync`` does on a first run;
- incremental: 1 % of the lines changed in Sage (lettered, the trigger bumps
  ``cbModification``), then ``pull(cursor)`` and the upserts.
Targets: full < 30 s, incremental < 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "connectors" / "sage"))

from sqlalchemy import create_engine, insert, text  # noqa: E402

ADMIN = os.environ.get("RELANCE_TEST_PG_URL", "postgresql+psycopg2://root@127.0.0.1:5432/test")
TODAY = datetime(2026, 12, 2, 9, 0)
COMPANY = "bench"


def max_rss_mb() -> float:
    """This process's peak RSS since its exec: /proc's VmHWM (``ru_maxrss`` of a child
    also counts the parent it was forked from, which holds the generated rows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(url: str, lines: int, customers: int, seed: int = 7) -> None:
    import sage_db

    rng = random.Random(seed)
    engine = create_engine(url)
    sage_db.create_schema(engine)
    accounts = [f"C{n:06d}" for n in range(customers)]
    comptet = [
        sage_db.customer(
            num,
            f"CLIENT {n} SARL",
            CT_EMail=f"compta@client{n}.example",
            CT_NotRappel=1 if n % 97 == 0 else 0,
        )
        for n, num in enumerate(accounts)
    ]
    rows: list[dict[str, Any]] = []
    ec_no = 1
    piece = 1
    dossiers: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    while len(rows) < lines:
        num = accounts[rng.randrange(customers)]
        day = TODAY - timedelta(days=rng.randrange(5, 730))
        ref = f"FA{piece:06d}"
        piece += 1
        total = Decimal(rng.randrange(10_000, 500_000)) / 100
        parts = rng.choice((1, 1, 1, 2, 3))
        paid = rng.random() < 0.75 and day < TODAY - timedelta(days=40)
        code = f"{piece % 26 + 65:c}{piece // 26 % 26 + 65:c}" if paid else ""
        stamp = (day + timedelta(days=35)) if paid else day
        for part in range(parts):
            due = day + timedelta(days=30 * (part + 1))
            rows.append(
                sage_db.line(
                    ec_no,
                    num,
                    ref,
                    day,
                    str(total / parts),
                    due=due,
                    lettre=1 if paid else 0,
                    code=code,
                    modified=stamp,
                    rappel=1 if not paid and due < TODAY - timedelta(days=20) else 0,
                    relance=due + timedelta(days=10) if not paid else sage_db.NONE,
                )
            )
            ec_no += 1
        if paid:
            rows.append(
                sage_db.line(
                    ec_no,
                    num,
                    f"VIR {num}",
                    stamp,
                    str(total),
                    sens=1,
                    journal="BQ1",
                    lettre=1,
                    code=code,
                    modified=stamp,
                )
            )
            ec_no += 1
        elif rng.random() < 0.05:
            rows.append(sage_db.line(ec_no, num, f"AV{piece:06d}", day, "50", sens=1))
            ec_no += 1
        if not paid and rng.random() < 0.01:
            number = f"REC{len(dossiers):05d}"
            dossiers.append({**sage_db.DOSSIERS[0], "DR_Num": number, "CT_Num": num})
            links.append({**sage_db.DOSSIER_LINES[0], "DR_Num": number, "EC_No": ec_no - 1})
    with engine.begin() as connection:
        connection.execute(insert(sage_db.COMPTET), comptet)
        for start in range(0, len(rows), 20_000):
            connection.execute(insert(sage_db.T["F_ECRITUREC"]), rows[start : start + 20_000])
        if dossiers:
            connection.execute(insert(sage_db.T["F_DRECOUVREMENT"]), dossiers)
            connection.execute(insert(sage_db.T["F_DRECOUVREMENTEC"]), links)
        connection.execute(insert(sage_db.T["P_LITIGE"]), sage_db.REASONS)
    # A company database is not freshly loaded: its pages are all-visible and every
    # table has statistics (what autovacuum gives); without this, the first read of
    # each row also writes its page back (hint bits).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def change_one_percent(url: str, lines: int, seed: int = 8) -> int:
    """Letter 1 % of the open lines, as Sage would (the trigger bumps cbModification)."""
    engine = create_engine(url)
    count = max(1, lines // 100)
    with engine.begin() as connection:
        done = connection.execute(
            text(
                'UPDATE "F_ECRITUREC" SET "EC_Lettre" = 1, "EC_Lettrage" = \'ZZ\' '
                'WHERE "cbMarq" IN (SELECT "cbMarq" FROM "F_ECRITUREC" '
                'WHERE "EC_Lettre" = 0 ORDER BY md5("cbMarq"::text) LIMIT :n)'
            ),
            {"n": count},
        ).rowcount
    engine.dispose()
    return int(done)


def load() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def measure(url: str, store_url: str, cursor: str | None) -> dict[str, Any]:
    """One sync (pull + upserts), in this process; prints its figures as JSON."""
    from connectors.sage.source import Sage100Source, SageOptions
    from connectors.store.store import Store

    store = Store.open(store_url)
    source = Sage100Source(SageOptions(url=url, overlap_minutes=1), clock=lambda: TODAY)
    started, cpu = time.perf_counter(), time.process_time()
    changes = source.pull(cursor)
    pulled, pulled_cpu = time.perf_counter() - started, time.process_time() - cpu
    with store.transaction() as tx:
        store.upsert_customers(tx, COMPANY, changes.customers)
        store.upsert_invoices(tx, COMPANY, changes.invoices)
        store.upsert_reminders(tx, COMPANY, changes.reminders)
        if changes.cursor:
            store.set_cursor(tx, COMPANY, source.name, changes.cursor, now=datetime.now())
    total, total_cpu = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    return {
        "pull_s": round(pulled, 2),
        "total_s": round(total, 2),
        "pull_cpu_s": round(pulled_cpu, 2),
        "total_cpu_s": round(total_cpu, 2),
        "customers": len(changes.customers),
        "invoices": len(changes.invoices),
        "reminders": len(changes.reminders),
        "full": changes.full,
        "max_rss_mb": round(max_rss_mb(), 1),
        "cursor": changes.cursor,
    }


def child(url: str, store_url: str, cursor: str | None, code: str | None) -> dict[str, Any]:
    args = [sys.executable, __file__, "--measure", url, "--store", store_url]
    if cursor:
        args += ["--cursor", cursor]
    if code:
        args += ["--code", code]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=1, help="syncs of copies of one database")
    parser.add_argument(
        "--against",
        metavar="DIR",
        help="another checkout of Relance (an older commit): each run syncs with its code "
        "too, on its own copy of the database, the two taking turns",
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--cursor", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        if args.code:
            sys.path.insert(0, str(Path(args.code).resolve()))
        print(json.dumps(measure(args.measure, args.store, args.cursor)))
        return
    codes: list[str | None] = [None, args.against] if args.against else [None]
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    name = f"relance_sage_bench_{secrets.token_hex(3)}"
    base = f"{ADMIN.rsplit('/', 1)[0]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        started = time.perf_counter()
        generate(f"{base}/{name}", args.lines, args.customers)
        print(
            f"generated {args.lines:,} lines / {args.customers:,} customers "
            f"in {time.perf_counter() - started:.1f} s"
        )
        for run in range(1, args.runs + 1):
            for index, code in enumerate(codes if run % 2 else codes[::-1]):
                copy = f"{name}_{run}_{index}"
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
                try:
                    print(f"run {run} of {args.runs}, code of {code or ROOT} ({load()})")
                    one_run(f"{base}/{copy}", args.lines, code)
                finally:
                    with admin.connect() as connection:
                        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def one_run(url: str, lines: int, code: str | None) -> None:
    """A full sync into an empty store, 1 % of the lines changed, an incremental sync."""
    with tempfile.TemporaryDirectory() as folder:
        store_url = f"sqlite:///{Path(folder) / 'relance.db'}"
        full = child(url, store_url, None, code)
        print(
            f"  full:        pull {full['pull_s']:.2f} s, with store upserts "
            f"{full['total_s']:.2f} s (cpu {full['pull_cpu_s']:.2f}, "
            f"{full['total_cpu_s']:.2f}), {full['customers']:,} customers, "
            f"{full['invoices']:,} invoices, {full['reminders']:,} Sage reminders, "
            f"max RSS {full['max_rss_mb']:.0f} MB (target < 30 s) | {load()}"
        )
        changed = change_one_percent(url, lines)
        incremental = child(url, store_url, full["cursor"], code)
        print(
            f"  incremental: {changed:,} lines changed (1 %): "
            f"pull {incremental['pull_s']:.2f} s, "
            f"with store upserts {incremental['total_s']:.2f} s "
            f"(cpu {incremental['pull_cpu_s']:.2f}, {incremental['total_cpu_s']:.2f}), "
            f"{incremental['customers']:,} accounts read again, "
            f"{incremental['invoices']:,} invoices, max RSS "
            f"{incremental['max_rss_mb']:.0f} MB (target < 3 s) | {load()}"
        )


if __name__ == "__main__":
    main()
