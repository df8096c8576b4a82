"""Sync daemon benchmark: N invoices through pull -> plan -> deliver -> push.

    python bench/sync.py                          # 100k invoices, SQLite and PostgreSQL
    python bench/sync.py --invoices 20000 --backends sqlite

For each store backend, in a fresh child process (so its peak memory is its own):

- **full cycle**: a generated ledger of N invoices over N/10 customers, as a
  ``relance.ledger/1`` file (the ``jsonfile`` source), into an empty store; the
  actions planned are delivered in send mode: e-mails to a local SMTP server
  (aiosmtpd on 127.0.0.1, in its own process), letters as PDF files, SMS to
  the file provider, phone tasks to the worklist; then the write-back;
- **incremental cycle, API source**: 1 % of the invoices paid since, pulled as
  those records only (what an "updated since" API such as Pennylane's gives);
  the runner plans only the customers they belong to;
- **incremental cycle, file source**: the same 1 % change in the ledger file,
  which a file source can only hand over as a full snapshot.

Printed per stage: seconds; for delivery, e-mails per second to the server.
Baselines where they mean something: a full re-plan instead of the partial one,
and the statement PDF with an embedded TrueType subset (the former way).
PostgreSQL: the local server (trust auth), a database created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TODAY = date(2026, 11, 24)  # a Tuesday: SMS and phone tasks go out too
NOW = datetime(2026, 11, 24, 10, 0)
PG_ADMIN = "postgresql://root@127.0.0.1:5432/test"

SMTP_SINK = """
import json, signal, socket, threading, time
from aiosmtpd.controller import Controller
class Times:
    seen = []
    async def handle_DATA(self, server, session, envelope):
        Times.seen.append(time.perf_counter())
        return "250 OK"
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
controller = Controller(Times(), hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
done.wait()
controller.stop()
bursts = []  # messages that came in without a pause of a second: [count, seconds]
for t in Times.seen:
    if bursts and t - bursts[-1][2] < 1.0:
        bursts[-1][0] += 1
        bursts[-1][2] = t
    else:
        bursts.append([1, t, t])
print(json.dumps([[n, last - first] for n, first, last in bursts]), flush=True)
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- child


class Timings:
    """A runner Progress that times each step instead of drawing it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str, total: int | None = None) -> Iterator[Any]:
        started, cpu, workers = time.perf_counter(), time.process_time(), children_cpu()
        try:
            yield lambda done: None
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            # CPU seconds used, less sensitive to the machine's load than the wall
            # time: this process, and the PDF worker processes (ended by then).
            for key, value in (
                (f"{name}_cpu", time.process_time() - cpu),
                (f"{name}_workers_cpu", children_cpu() - workers),
            ):
                self.seconds[key] = self.seconds.get(key, 0.0) + value


class ApiSource:
    """An "updated since" source over a ledger held in memory: the first pull is
    everything, later pulls only the invoices changed since."""

    name = "api"

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger
        self.changed: list[Any] | None = None

    def pull(self, cursor: str | None) -> Any:
        from connectors.sources import Changes

        if cursor is None:
            return Changes(
                customers=self.ledger.customers,
                invoices=self.ledger.invoices,
                reminders=self.ledger.reminders,
                cursor="1",
                full=True,
            )
        if cursor == "1" and self.changed is not None:
            return Changes(invoices=self.changed, cursor="2")
        return Changes(cursor=cursor)  # nothing new since

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal] | None:
        return None  # the runner then pulls (nothing new) and reads the store

    def push(self, flags: Sequence[Any]) -> list[Any]:
        return list(flags)  # as an API would: everything written


def write_config(folder: Path, store: str, port: int, kind: str, ledger: Path) -> Path:
    config = folder / f"relance-{kind}.toml"
    config.write_text(f"""
store = "{store}"
send = true

[sender]
name = "Atelier Martin SAS"
email = "compta@atelier-martin.example"

[delivery.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from_address = "compta@atelier-martin.example"

[delivery.letters]
output_dir = "{folder / "letters"}"

[delivery.sms]
provider = "file"
path = "{folder / "sms.jsonl"}"

[delivery.worklist]
csv = "{folder / "worklist.csv"}"
xlsx = "{folder / "worklist.xlsx"}"

[[companies]]
id = "bench"
name = "Atelier Martin SAS"
source = {{ kind = "jsonfile", path = "{ledger}" }}
""")
    return config


def cycle(runner: Any, company: Any) -> dict[str, Any]:
    timings = Timings()
    runner.progress = timings
    started = time.perf_counter()
    report = runner.cycle(company, today=TODAY)
    total = time.perf_counter() - started
    out = {f"{k}_s": round(v, 3) for k, v in timings.seconds.items()}
    out["cycle_s"] = round(total, 3)
    out.update({k: v for k, v in report.counts().items() if isinstance(v, int) and v})
    return out


def paid(invoices: Sequence[Any], share: float, seed: int) -> list[Any]:
    """``share`` of the open invoices, now paid in full today."""
    rng = random.Random(seed)
    open_ones = [i for i in invoices if i.kind == "invoice" and i.open_amount > 0]
    chosen = rng.sample(open_ones, max(1, int(len(invoices) * share)))
    return [replace(i, open_amount=Decimal("0.00"), paid_date=TODAY) for i in chosen]


def child(args: argparse.Namespace) -> None:
    from connectors.demo.generator import generate_ledger, write_ledger_json
    from connectors.runner import Runner
    from connectors.settings import load_settings
    from connectors.store.store import Store
    from core.model import Ledger

    folder = Path(args.folder)
    ledger_file = Path(args.ledger)
    ledger = generate_ledger(
        TODAY, customers=max(1, args.invoices // 10), invoices=args.invoices, seed=7
    )
    results: dict[str, Any] = {"backend": args.backend}

    # Full cycle through the file source, then the file changed by 1 %.
    settings = load_settings(
        write_config(folder, args.store, args.port, "file", ledger_file), dict(os.environ)
    )
    store = Store.open(settings.store_url())
    runner = Runner(settings, store, clock=lambda: NOW)
    company = settings.companies[0]
    results["full"] = cycle(runner, company)
    results["channels"] = dict(
        Counter(r.channel for r in store.outbox_rows("bench", states=("sent",), limit=10**6))
    )
    changed = {i.id: i for i in paid(ledger.invoices, 0.01, seed=1)}
    write_ledger_json(
        Ledger(
            ledger.currency,
            ledger.customers,
            [changed.get(i.id, i) for i in ledger.invoices],
            ledger.reminders,
        ),
        ledger_file,
    )
    results["incremental_file"] = cycle(runner, company)
    store.close()

    # The same through an "updated since" source, in a second company's store.
    if args.store.startswith("sqlite"):
        api_store = args.store.replace(".db", "-api.db")
    else:
        api_store = args.store_api
    settings = load_settings(
        write_config(folder, api_store, args.port, "api", ledger_file), dict(os.environ)
    )
    store = Store.open(settings.store_url())
    source = ApiSource(ledger)
    runner = Runner(settings, store, clock=lambda: NOW, sources={"bench": source})
    results["full_api"] = cycle(runner, company)
    source.changed = list(changed.values())
    results["incremental_api"] = cycle(runner, company)
    # Baseline: what a full re-plan of the whole ledger costs instead.
    started = time.perf_counter()
    runner.plan(company, TODAY)
    results["baseline_full_replan_s"] = round(time.perf_counter() - started, 3)
    store.close()
    results["peak_rss_mb"] = round(max_rss_mb())
    print(json.dumps(results))


# --------------------------------------------------------------------------- parent


def pdf_figures(count: int = 100) -> dict[str, float]:
    """Milliseconds per statement PDF: the standard font, and an embedded DejaVu
    subset (the former way, still used for text beyond WinAnsi)."""
    sys.path.insert(0, str(ROOT / "tests" / "connectors" / "delivery"))
    from delivery_builders import action, customer, sender

    from connectors.delivery import statement

    figures = {}
    for mode in ("winansi", "unicode"):
        args = (mode, action(), customer(), sender(), TODAY, "fr")
        statement._statement(*args)
        started = time.perf_counter()
        for _ in range(count):
            statement._statement(*args)
        figures[f"statement_pdf_{mode}_ms"] = round(
            (time.perf_counter() - started) / count * 1000, 1
        )
    return figures


@contextmanager
def smtp_sink() -> Iterator[tuple[int, list[list[float]]]]:
    """A counting SMTP server in its own process; on exit, ``received`` gets each
    burst of messages (none a second after the one before): [count, seconds]."""
    sink = subprocess.Popen([sys.executable, "-c", SMTP_SINK], stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None
    port = int(sink.stdout.readline())
    received: list[list[float]] = []
    try:
        yield port, received
    finally:
        sink.terminate()
        received.extend(json.loads(sink.stdout.readline() or "[]"))
        sink.wait()


@contextmanager
def pg_databases(admin: str) -> Iterator[tuple[str, str]]:
    from connectors.store.engine import create_store_engine

    engine = create_store_engine(admin).execution_options(isolation_level="AUTOCOMMIT")
    names = [f"relance_bench_{os.getpid()}_{n}" for n in (1, 2)]
    with engine.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        with engine.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def run_backend(
    backend: str, invoices: int, folder: Path, port: int, stores: tuple[str, str]
) -> dict[str, Any]:
    from connectors.demo.generator import generate_ledger, write_ledger_json

    ledger_file = folder / "ledger.json"
    write_ledger_json(
        generate_ledger(TODAY, customers=max(1, invoices // 10), invoices=invoices, seed=7),
        ledger_file,
    )
    command = [
        sys.executable,
        __file__,
        "--child",
        "--backend",
        backend,
        "--invoices",
        str(invoices),
        "--folder",
        str(folder),
        "--ledger",
        str(ledger_file),
        "--port",
        str(port),
        "--store",
        stores[0],
        "--store-api",
        stores[1],
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{backend} run failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def show(results: dict[str, Any], received: list[list[float]]) -> None:
    full = results["full"]
    emails = results["channels"].get("email", 0)
    print(f"\n== {results['backend']}: peak RSS {results['peak_rss_mb']} MB")
    print(f"   sent by channel (full cycle): {results['channels']}")
    for count, span in received:
        print(
            f"   SMTP server: a burst of {int(count)} messages in {span:.2f} s"
            f" = {(count - 1) / span if span else 0:.0f} messages/s"
        )
    for name in ("full", "incremental_file", "full_api", "incremental_api"):
        r = results[name]
        stages = " ".join(
            f"{s} {r.get(f'{s}_s', 0):.2f}" for s in ("pull", "plan", "deliver", "push")
        )
        stages += " | CPU " + " ".join(
            f"{r.get(f'{s}_cpu_s', 0):.2f}" for s in ("pull", "plan", "deliver", "push")
        )
        print(f"   {name:17} cycle {r['cycle_s']:6.2f} s  ({stages})  {_counts(r)}")
    rate = emails / full["deliver_s"] if full.get("deliver_s") else 0
    print(
        f"   e-mail: {emails} in a {full['deliver_s']:.2f} s delivery stage (all channels)"
        f" = {rate:.0f} e-mails/s"
    )
    main, workers = full["deliver_cpu_s"], full["deliver_workers_cpu_s"]
    sent = full.get("sent", 0) or 1
    print(
        f"   delivery CPU: {main:.2f} s in the runner + {workers:.2f} s in the PDF workers"
        f" for {sent} messages = {(main + workers) / sent * 1000:.1f} ms per message"
        f" ({main / sent * 1000:.1f} ms in the runner)"
    )
    for name, full_name in (("incremental_file", "full"), ("incremental_api", "full_api")):
        share = results[name]["cycle_s"] / results[full_name]["cycle_s"] * 100
        print(f"   {name}: {share:.1f} % of its full cycle")
    print(
        f"   baseline: a full re-plan takes {results['baseline_full_replan_s']:.2f} s"
        f" (the incremental plan step: {results['incremental_api'].get('plan_s', 0):.2f} s)"
    )


def _counts(r: dict[str, Any]) -> str:
    keys = ("pulled", "actions", "enqueued", "sent", "failed", "cancelled", "pushed")
    return " ".join(f"{k}={r[k]}" for k in keys if k in r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--backend", "--folder", "--ledger", "--port", "--store", "--store-api"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.port = int(args.port)
        child(args)
        return
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1 and 5 min)")
    print(f"statement PDF: {pdf_figures()}")
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="relance-bench-") as tmp, smtp_sink() as sink:
            port, received = sink
            folder = Path(tmp)
            if backend == "sqlite":
                stores = (f"sqlite:///{folder / 'store.db'}", "")
                results = run_backend(backend, args.invoices, folder, port, stores)
            else:
                with pg_databases(args.pg_admin) as pg:
                    results = run_backend(backend, args.invoices, folder, port, pg)
        show(results, received)


if __name__ == "__main__":
    main()
