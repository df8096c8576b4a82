"""FEC source benchmark: a full pull + plan, then the incremental one after 1 % paid.

    python bench/fec_sync.py                    # 100k invoices over 10k customers, SQLite
    python bench/fec_sync.py --invoices 20000

The demo generator's ledger (``connectors.demo``, as ``bench/sync.py`` uses) is
written as a FEC (``write_fec`` below: per invoice the customer's debit and the
sales and VAT credits in journal VE; per payment the bank's debit and the
customer's credit in journal BQ, lettered with the invoice when it settles it,
a partial payment lettered with it too; credit notes as VE credits), then read
by the ``fec`` source into an empty SQLite store, in send mode, the cycle
stopped after the plan step (nothing is delivered: pull and plan are what a
changed file costs).  Then 1 % of the invoices are paid in full today: a bank
receipt for each is added at the end of the file and the invoice's line gets
the lettering code; the same runner (as the daemon keeps it) pulls and plans
again.  Printed: seconds (wall and CPU) of each step, records pulled, and the
incremental cycle's share of the full one.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync import Timings  # noqa: E402  (bench/sync.py: the runner Progress that times steps)

TODAY = date(2026, 11, 24)  # a Tuesday
NOW = datetime(2026, 11, 24, 10, 0)
HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum"
    "\tCompAuxLib\tPieceRef\tPieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet"
    "\tValidDate\tMontantdevise\tIdevise"
)


def day(value: date | None) -> str:
    return "" if value is None else value.strftime("%Y%m%d")


def amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


class Fec:
    """A FEC's lines built from a ledger; ``pay`` books more payments at the end."""

    def __init__(self, ledger: Any) -> None:
        self.names = {c.id: c.name for c in ledger.customers}
        self.lines: list[str] = [HEADER]
        self.at: dict[str, int] = {}  # invoice id -> index of its customer line
        self.partial: dict[str, int] = {}  # ... and of its partial payment's
        self.entries = 0
        for invoice in ledger.invoices:
            self.book(invoice)

    def line(
        self,
        journal: str,
        entry: date,
        account: str,
        invoice: Any,
        debit: Decimal,
        credit: Decimal,
        letter: str = "",
        date_let: date | None = None,
    ) -> None:
        aux = invoice.customer_id if account.startswith("411") else ""
        label = {"VE": "Ventes", "BQ": "Banque"}[journal]
        self.lines.append(
            "\t".join(
                (
                    journal,
                    label,
                    f"{journal}{self.entries:07d}",
                    day(entry),
                    account,
                    {"411000": "Clients", "706000": "Prestations de services"}.get(
                        account, "Compte"
                    ),
                    aux,
                    self.names[invoice.customer_id] if aux else "",
                    invoice.number,
                    day(invoice.issue_date),
                    f"{invoice.number} {self.names[invoice.customer_id]}",
                    amount(debit),
                    amount(credit),
                    letter,
                    day(date_let),
                    day(entry),
                    "",
                    "",
                )
            )
        )

    def book(self, invoice: Any) -> None:
        zero = Decimal("0.00")
        total = invoice.amount
        net = (total / Decimal("1.2")).quantize(Decimal("0.01"))
        paid = total - invoice.open_amount
        letter = f"L{len(self.lines)}" if paid else ""
        self.entries += 1
        if invoice.kind == "credit_note":
            self.line("VE", invoice.issue_date, "411000", invoice, zero, total)
            self.line("VE", invoice.issue_date, "709000", invoice, net, zero)
            self.line("VE", invoice.issue_date, "445710", invoice, total - net, zero)
            return
        self.at[invoice.id] = len(self.lines)
        when = invoice.paid_date if not invoice.open_amount else None
        self.line("VE", invoice.issue_date, "411000", invoice, total, zero, letter, when)
        self.line("VE", invoice.issue_date, "706000", invoice, zero, net)
        self.line("VE", invoice.issue_date, "445710", invoice, zero, total - net)
        if paid:
            self.receipt(invoice, paid, letter, invoice.paid_date or invoice.due_date, when)
            if invoice.open_amount:
                self.partial[invoice.id] = len(self.lines) - 1

    def receipt(
        self, invoice: Any, paid: Decimal, letter: str, entry: date, when: date | None
    ) -> None:
        zero = Decimal("0.00")
        self.entries += 1
        self.line("BQ", entry, "512000", invoice, paid, zero)
        self.line("BQ", entry, "411000", invoice, zero, paid, letter, when)

    def pay(self, invoice: Any) -> None:
        """The rest of an open invoice paid today, lettered with the invoice."""
        at = self.at[invoice.id]
        fields = self.lines[at].split("\t")
        letter = fields[13] or f"P{at}"
        fields[13], fields[14] = letter, day(TODAY)
        self.lines[at] = "\t".join(fields)
        if invoice.id in self.partial:  # the earlier partial payment: settled too now
            n = self.partial[invoice.id]
            other = self.lines[n].split("\t")
            other[14] = day(TODAY)
            self.lines[n] = "\t".join(other)
        self.receipt(invoice, invoice.open_amount, letter, TODAY, TODAY)

    def write(self, path: Path) -> None:
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")


def write_config(folder: Path, fec: Path) -> Path:
    config = folder / "relance.toml"
    config.write_text(f"""
store = "sqlite:///{folder / "store.db"}"
send = true

[sender]
name = "Atelier Martin SAS"
email = "compta@atelier-martin.example"

[delivery.smtp]
host = "127.0.0.1"
port = 2525
security = "none"
from_address = "compta@atelier-martin.example"

[delivery.letters]
output_dir = "{folder / "letters"}"

[[companies]]
id = "bench"
name = "Atelier Martin SAS"
source = {{ kind = "fec", path = "{fec}" }}
""")
    return config


def cycle(runner: Any, company: Any) -> dict[str, Any]:
    """Pull and plan (enqueued in send mode); stopped before delivery."""
    timings = Timings()
    runner.progress = timings
    runner.stop = lambda: "plan" in timings.seconds
    started = time.perf_counter()
    report = runner.cycle(company, today=TODAY)
    out: dict[str, Any] = {k: round(v, 3) for k, v in timings.seconds.items()}
    out["total"] = round(time.perf_counter() - started, 3)
    out["pulled"], out["actions"], out["enqueued"] = (
        report.pulled,
        report.actions,
        report.enqueued,
    )
    return out


def paid(invoices: Sequence[Any], share: float, seed: int) -> list[Any]:
    """``share`` of the invoices, among the open ones (the same draw as bench/sync.py)."""
    rng = random.Random(seed)
    open_ones = [i for i in invoices if i.kind == "invoice" and i.open_amount > 0]
    return rng.sample(open_ones, max(1, int(len(invoices) * share)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    args = parser.parse_args()

    from connectors.demo.generator import generate_ledger
    from connectors.runner import Runner
    from connectors.settings import load_settings
    from connectors.store.store import Store

    ledger = generate_ledger(
        TODAY, customers=max(1, args.invoices // 10), invoices=args.invoices, seed=7
    )
    with tempfile.TemporaryDirectory(prefix="relance-fec-bench-") as tmp:
        folder = Path(tmp)
        path = folder / "export.txt"
        fec = Fec(ledger)
        fec.write(path)
        size = path.stat().st_size
        chosen = paid(ledger.invoices, 0.01, seed=1)
        gc.freeze()  # the bench's own ledger and lines: not the daemon's to walk
        settings = load_settings(write_config(folder, path), {})
        store = Store.open(settings.store_url())
        runner = Runner(settings, store, clock=lambda: NOW)
        company = settings.companies[0]
        full = cycle(runner, company)
        for invoice in chosen:
            fec.pay(invoice)
        fec.write(path)
        incremental = cycle(runner, company)
        store.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"FEC of {args.invoices} invoices, {len(ledger.customers)} customers: "
        f"{size / 1e6:.1f} MB, {len(fec.lines) - 1} lines; {len(chosen)} invoices paid"
    )
    for name, r in (("full", full), ("incremental", incremental)):
        print(
            f"   {name:<12} pull {r['pull']:5.2f} + plan {r['plan']:5.2f} = "
            f"{r['pull'] + r['plan']:5.2f} s  (CPU {r['pull_cpu']:.2f} + {r['plan_cpu']:.2f})"
            f"  pulled={r['pulled']} actions={r['actions']} enqueued={r['enqueued']}"
        )
    ratio = (incremental["pull"] + incremental["plan"]) / (full["pull"] + full["plan"])
    print(f"   incremental pull + plan: {ratio:.1%} of the full one; peak RSS {rss:.0f} MB")
    print(json.dumps({"full": full, "incremental": incremental}))


if __name__ == "__main__":
    main()
