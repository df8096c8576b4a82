"""The daemon's commands: `relance sync`, `status`, `history`, `report` (DESIGN §10)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

import click

from connectors.cli import EXIT_BAD_INPUT, FILE, DateParam, dump_json
from connectors.runner import Advance, NoProgress, Runner, iter_companies
from connectors.settings import CompanySettings, Settings, load_settings
from connectors.sources import SourceError
from connectors.store.store import Store, StoreError
from core.engine import Planner
from core.errors import InputError
from core.metrics import compute_kpis
from core.serialize import jsonable

log = logging.getLogger("relance.sync")


class _Stop:
    """Set by SIGTERM/SIGINT: the daemon finishes the current step, then stops."""

    requested = False

    @classmethod
    def handler(cls, signum: int, frame: FrameType | None) -> None:
        cls.requested = True
        log.info("stop requested signal=%s", signal.Signals(signum).name)

    @classmethod
    def asked(cls) -> bool:
        return cls.requested

    @classmethod
    def sleep(cls, seconds: float) -> None:
        """Wait ``seconds``, or less if a stop is asked for meanwhile."""
        deadline = time.monotonic() + seconds
        while not cls.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))


class _Bars:
    """Rich progress bars on stderr for the long steps (pull, plan, deliver)."""

    LABELS: ClassVar[dict[str, str]] = {
        "pull": "pulling the ledger",
        "plan": "planning",
        "deliver": "delivering",
        "push": "writing back",
    }

    def __init__(self, company: str) -> None:
        self.company = company

    @contextmanager
    def step(self, name: str, total: int | None = None) -> Iterator[Advance]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = (
            SpinnerColumn(),
            TextColumn(f"{self.company}: {self.LABELS.get(name, name)}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            task = bar.add_task(name, total=total)
            yield lambda done: bar.advance(task, done)
            if total is None:
                bar.update(task, total=1, completed=1)


def _settings(config_path: Path) -> Settings:
    return load_settings(config_path, os.environ)


def _store(settings: Settings) -> Store:
    try:
        return Store.open(settings.store_url())
    except StoreError as error:
        raise click.ClickException(f"store: {error}") from None


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time, so that while a progress bar
    is drawn (rich redirects stderr), log lines print above it, not through it."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _logging(verbose: bool) -> None:
    # One line per event, key=value pairs; secrets never reach a log call.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        handlers=[_StderrHandler()],
    )
    # PDF font subsetting logs every table at INFO.
    logging.getLogger("fontTools").setLevel(logging.WARNING)


config_required = click.option(
    "--config", "config_path", required=True, type=FILE, help="The daemon's relance.toml."
)


@click.command("sync")
@config_required
@click.option("--once", is_flag=True, help="One cycle per company, then exit.")
@click.option(
    "--send/--dry-run",
    "send",
    default=None,
    help="Override the config's `send` (dry run is the default).",
)
@click.option("--company", default=None, help="Only this company (its id).")
@click.option("--today", type=DateParam(), default=None, help="Plan as of this date.")
@click.option("-v", "--verbose", is_flag=True)
def sync_command(
    config_path: Path,
    once: bool,
    send: bool | None,
    company: str | None,
    today: date | None,
    verbose: bool,
) -> None:
    """Pull the ledger, plan, deliver and write back, per company; repeat every
    `interval_minutes` unless --once.  Stops cleanly on SIGTERM/SIGINT."""
    _logging(verbose)
    settings = _settings(config_path)
    companies = list(iter_companies(settings, company))
    if not companies:
        raise InputError(
            f"no company '{company}' in the config"
            if company
            else "the config has no [[companies]]",
            file=str(config_path),
            field="companies",
        )
    store = _store(settings)
    _Stop.requested = False
    signal.signal(signal.SIGTERM, _Stop.handler)
    signal.signal(signal.SIGINT, _Stop.handler)
    runner = Runner(settings, store, stop=_Stop.asked)
    bars = sys.stderr.isatty()
    failures: list[int] = []
    try:
        while True:
            failures = []  # the exit code tells how the last round went
            for entry in companies:
                if _Stop.requested:
                    break
                runner.progress = _Bars(entry.id) if bars else NoProgress()
                try:
                    report = runner.cycle(entry, send=send, today=today)
                except SourceError as error:
                    # Bad data is bad input (exit 2 at the end); other source errors, 1.
                    failures.append(EXIT_BAD_INPUT if error.kind == "data" else 1)
                    click.echo(f"error: {entry.id}: {error}", err=True)
                    continue
                click.echo(
                    f"{entry.id}: {'dry run' if report.dry_run else 'sent'}: "
                    f"{report.actions} action(s) planned, {report.enqueued} new, "
                    f"{report.sent} sent, {report.dry_runs} rendered (dry run), "
                    f"{report.cancelled} cancelled (paid since planning), "
                    f"{report.failed} failed, {report.deferred} deferred"
                    + (" (stopped early)" if report.stopped else "")
                )
            if once or _Stop.requested:
                break
            log.info("sleeping minutes=%s", settings.interval_minutes)
            _Stop.sleep(settings.interval_minutes * 60)
    finally:
        store.close()
    if _Stop.requested:
        log.info("stopped")
    if failures:
        sys.exit(max(failures))


@click.command("status")
@config_required
@click.option("--json", "as_json", is_flag=True)
def status_command(config_path: Path, as_json: bool) -> None:
    """Last runs, cursors and outbox counts of every company."""
    settings = _settings(config_path)
    store = _store(settings)
    out: list[dict[str, Any]] = []
    try:
        for entry in settings.companies:
            runs = store.last_runs(entry.id, 5)
            cursor = store.get_cursor(entry.id, entry.source.kind)
            out.append(
                {
                    "company": entry.id,
                    "source": entry.source.kind,
                    "cursor": cursor,
                    "notes": _source_notes(entry, cursor),
                    "outbox": store.outbox_counts(entry.id),
                    "runs": [
                        {
                            "started": r.started_at.isoformat(timespec="seconds"),
                            "status": r.status or "running",
                            "error": r.error,
                            "counts": r.counts,
                        }
                        for r in runs
                    ],
                }
            )
    finally:
        store.close()
    if as_json:
        dump_json(out)
        return
    for entry_status in out:
        click.echo(
            f"{entry_status['company']} ({entry_status['source']}): outbox "
            + (", ".join(f"{k} {v}" for k, v in sorted(entry_status["outbox"].items())) or "empty")
        )
        for note in entry_status["notes"]:
            click.echo(f"  {note}")
        for run in entry_status["runs"]:
            click.echo(
                f"  {run['started']} {run['status']}"
                + (f": {run['error']}" if run["error"] else "")
            )


def _source_notes(entry: CompanySettings, cursor: str | None) -> list[str]:
    """What the company's source has to say (full resyncs, warnings); most say nothing."""
    if entry.source.kind == "pennylane":
        from connectors.pennylane.commands import status_notes

        return status_notes(entry, cursor)
    return []


@click.command("history")
@config_required
@click.option("--customer", "customer_id", required=True)
@click.option("--company", default=None)
@click.option("--json", "as_json", is_flag=True)
def history_command(
    config_path: Path, customer_id: str, company: str | None, as_json: bool
) -> None:
    """The reminders a customer received, newest first."""
    settings = _settings(config_path)
    store = _store(settings)
    try:
        entries = [
            (e.id, r)
            for e in iter_companies(settings, company)
            for r in store.history(e.id, customer_id)
        ]
    finally:
        store.close()
    if as_json:
        dump_json(
            [
                {
                    "company": c,
                    **jsonable(
                        {
                            "date": r.date,
                            "plan": r.plan,
                            "channel": r.channel,
                            "key": r.key,
                            "invoices": [{"id": i, "step": s} for i, s in r.invoices],
                        }
                    ),
                }
                for c, r in entries
            ]
        )
        return
    if not entries:
        click.echo(f"no reminder for customer {customer_id}")
    for company_id, r in entries:
        invoices = ", ".join(f"{i} (step {s})" for i, s in r.invoices)
        click.echo(f"{r.date.isoformat()} {company_id} {r.plan} {r.channel}: {invoices}")


@click.command("report")
@config_required
@click.option("--company", default=None)
@click.option("--html", "html_path", type=FILE, default=None)
@click.option("--xlsx", "xlsx_path", type=FILE, default=None)
@click.option("--today", type=DateParam(), default=None)
def report_command(
    config_path: Path,
    company: str | None,
    html_path: Path | None,
    xlsx_path: Path | None,
    today: date | None,
) -> None:
    """Aged balance, DSO trend, reminder effectiveness and the worklist, as a
    self-contained HTML page and/or an XLSX workbook."""
    from connectors.report import build_report, write_html, write_xlsx

    if html_path is None and xlsx_path is None:
        raise click.UsageError("give --html, --xlsx or both")
    settings = _settings(config_path)
    day = today or date.today()
    store = _store(settings)
    try:
        for entry in iter_companies(settings, company):
            ledger = store.ledger(entry.id, day)
            planner = Planner(ledger, settings.config_for(entry.id), day)
            actions = planner.run()
            segments = {c.id: planner.segment(c).segment for c in ledger.customers}
            kpis = compute_kpis(ledger, day, segments)
            report = build_report(
                ledger,
                day,
                kpis=kpis,
                actions=actions,
                segments=segments,
                company_name=entry.name or entry.id,
            )
            for path, write in ((html_path, write_html), (xlsx_path, write_xlsx)):
                if path is not None:
                    target = (
                        path
                        if company or len(settings.companies) == 1
                        else path.with_name(f"{path.stem}-{entry.id}{path.suffix}")
                    )
                    write(report, target)
                    click.echo(f"{entry.id}: report written to {target}")
    finally:
        store.close()
