"""Engine benchmark: load, plan and KPIs on generated ledgers of N invoices over N/10 customers.

    python bench/engine.py                 # N = 100k and 1M
    python bench/engine.py --sizes 100000  # one size
    python bench/engine.py --ledger L.json --repeat 3   # an existing file, 3 runs each

Each measurement runs in a fresh child process so its peak memory (max RSS)
is its own.  Printed per size:
- load: JSON file -> validated Ledger and its index (msgspec + checks),
- plan: the engine on the loaded ledger, kpis: KPIs (with segments) on it,
- end to end: `relance plan --json` through the CLI, JSON ledger in, JSON actions out,
- the naive baseline it replaces: stdlib json + one pydantic model per record for
  loading, and a planner that scans the whole journal for every invoice (run on
  a 10k-invoice ledger only; its cost grows with invoices x reminders).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TODAY = date(2026, 11, 23)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, invoices: int) -> None:
    from connectors.demo.generator import generate_ledger, write_ledger_json

    ledger = generate_ledger(TODAY, customers=max(1, invoices // 10), invoices=invoices, seed=7)
    write_ledger_json(ledger, path)


def measure_in_process(path: Path) -> dict[str, Any]:
    """What `relance plan` and `relance kpi` do, phase by phase, in one process.
    Times are wall clock; ``*_cpu_s`` are this process's CPU time (less sensitive
    to other processes on the machine)."""
    import gc

    from connectors.inputs import open_config, open_ledger
    from core.engine import Planner
    from core.metrics import compute_kpis

    start, start_cpu = time.perf_counter(), time.process_time()
    ledger = open_ledger(path)
    # The loaded ledger lives until the end: keep the collector off it.
    gc.freeze()
    loaded, loaded_cpu = time.perf_counter(), time.process_time()
    planner = Planner(ledger, open_config(None), TODAY)
    actions = planner.run()
    planned = time.perf_counter()
    compute_kpis(ledger, TODAY, planner.journal_segments())
    done, done_cpu = time.perf_counter(), time.process_time()
    return {
        "load_s": loaded - start,
        "plan_s": planned - loaded,
        "kpis_s": done - planned,
        "load_cpu_s": loaded_cpu - start_cpu,
        "plan_kpis_cpu_s": done_cpu - loaded_cpu,
        "actions": len(actions),
        "invoices": len(ledger.invoices),
        "customers": len(ledger.customers),
        "max_rss_mb": max_rss_mb(),
    }


def measure_naive(path: Path) -> dict[str, Any]:
    """The baseline: what a first version would do."""
    from pydantic import BaseModel, ConfigDict

    from core.config import load_config
    from core.engine import Planner
    from core.ledger import load_ledger
    from core.texts import template_ids

    class InvoiceIn(BaseModel):
        model_config = ConfigDict(extra="forbid")
        id: str
        customer_id: str
        number: str
        kind: str
        issue_date: date
        due_date: date
        amount: str
        open_amount: str
        currency: str
        paid_date: date | None
        dispute: dict[str, Any] | None
        promise_date: date | None
        escalated: bool
        factored: bool

    start = time.perf_counter()
    document = json.loads(path.read_text())
    for raw in document["invoices"]:
        InvoiceIn.model_validate(raw)
    ledger = load_ledger(document)
    loaded = time.perf_counter()

    config = load_config(None, template_ids())
    planner = Planner(ledger, config, TODAY)
    # Naive done steps: scan the whole journal for every open invoice.
    for inv in ledger.invoices:
        if inv.open_amount > 0:
            max(
                (
                    line.step
                    for r in ledger.reminders
                    for line in r.invoices
                    if line.invoice_id == inv.id
                ),
                default=0,
            )
    planner.run()
    planned = time.perf_counter()
    return {
        "load_s": loaded - start,
        "plan_s": planned - loaded,
        "invoices": len(ledger.invoices),
        "max_rss_mb": max_rss_mb(),
    }


def child(mode: str, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def end_to_end(path: Path, out_path: Path) -> dict[str, Any]:
    relance = Path(sys.executable).with_name("relance")
    start = time.perf_counter()
    with out_path.open("wb") as out:
        process = subprocess.Popen(
            [str(relance), "plan", "--ledger", str(path), "--today", TODAY.isoformat(), "--json"],
            stdout=out,
        )
        # wait4 gives this child's own peak memory, not the maximum over all children.
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"relance plan failed on {path}")
    return {
        "cli_s": elapsed,
        "cli_cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--ledger", type=Path, default=None, help="Measure this ledger file instead of generating."
    )
    parser.add_argument("--repeat", type=int, default=1, help="Runs of each measurement.")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path = args.child
        measure = measure_in_process if mode == "engine" else measure_naive
        print(json.dumps(measure(Path(path))))
        return
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.ledger is not None:
        report(args.ledger, args.repeat)
        return

    with tempfile.TemporaryDirectory(prefix="relance-bench-") as tmp:
        workdir = Path(tmp)
        naive_path = workdir / "ledger-10000.json"
        generate(naive_path, 10_000)
        fast = child("engine", naive_path)
        naive = child("naive", naive_path)
        print(
            f"baseline, 10,000 invoices: load {naive['load_s']:.2f} s -> {fast['load_s']:.2f} s,"
            f" plan {naive['plan_s']:.2f} s -> {fast['plan_s']:.2f} s"
        )
        for size in args.sizes:
            path = workdir / f"ledger-{size}.json"
            start = time.perf_counter()
            generate(path, size)
            generated = time.perf_counter() - start
            print(f"generated {size:,} invoices in {generated:.1f} s")
            report(path, args.repeat)
            path.unlink()


def report(path: Path, repeat: int) -> None:
    mb = path.stat().st_size / 1e6
    with tempfile.TemporaryDirectory(prefix="relance-bench-") as tmp:
        for run in range(repeat):
            engine = child("engine", path)
            e2e = end_to_end(path, Path(tmp) / "actions.json")
            if run == 0:
                print(
                    f"{engine['invoices']:>9,} invoices / {engine['customers']:,} customers"
                    f" ({mb:,.0f} MB JSON)"
                )
            print(
                f"  load {engine['load_s']:.2f} s | plan {engine['plan_s']:.2f} s | kpis "
                f"{engine['kpis_s']:.2f} s | plan + kpis "
                f"{engine['plan_s'] + engine['kpis_s']:.2f} s"
                f" (cpu {engine['plan_kpis_cpu_s']:.2f} s) | {engine['actions']:,} actions"
                f" | peak {engine['max_rss_mb']:,.0f} MB"
            )
            print(
                f"  end to end `relance plan --json`: {e2e['cli_s']:.2f} s"
                f" (cpu {e2e['cli_cpu_s']:.2f} s), peak {e2e['max_rss_mb']:,.0f} MB"
                f" | load average {os.getloadavg()[0]:.2f}"
            )


if __name__ == "__main__":
    main()
