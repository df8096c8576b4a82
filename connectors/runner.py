"""One sync cycle per company: pull -> plan -> enqueue -> deliver -> push (DESIGN §10).

Each stage is its own transaction boundary: a failed pull leaves the store and
the cursor as they were; actions and their journal entries are enqueued
together; delivery claims, records the attempt, sends and marks each row.
See docs/daemon.md.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import secrets
import socket
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from connectors.delivery.errors import DeliveryError
from connectors.delivery.hours import next_sending_time, within_sending_hours
from connectors.delivery.letters import LetterWriter
from connectors.delivery.message import Attachment, OutgoingMessage, message_for_action
from connectors.delivery.sms import FileSmsProvider, HttpSmsProvider, SmsProvider
from connectors.delivery.smtp import SmtpDeliverer
from connectors.delivery.smtp import SmtpSettings as SmtpEndpoint
from connectors.delivery.statement import statement_pdf
from connectors.delivery.worklist import PhoneTask, phone_task, write_worklist
from connectors.settings import CompanySettings, Settings
from connectors.sources import (
    Changes,
    Flag,
    FlagValue,
    Snapshot,
    Source,
    SourceError,
    build_source,
    sha256_hex,
)
from connectors.store.store import (
    ClaimLost,
    Delivered,
    DigestRow,
    OutboxRow,
    Store,
    StoredDigests,
    StoreError,
    Tx,
)
from core.actions import Action
from core.collector import collector_paused
from core.engine import Planner, check_manual_plans, journal_needed_from
from core.model import ZERO, Customer
from core.texts import RenderedText, Sender, choose_language, render_action

log = logging.getLogger("relance.sync")

LEASE_SECONDS = 300
MAX_ATTEMPTS = 5
BATCH = 500
PAPER_CHANNELS = ("letter", "formal_notice")
TIMED_CHANNELS = ("sms", "phone")
# A message whose connection was lost after the final dot is checked again this late.
UNCONFIRMED_RETRY = timedelta(seconds=60)
RETRY_BASE = timedelta(minutes=5)
# Statement PDFs of a batch this big are rendered in worker processes.
POOL_MIN = 32


@dataclass
class CycleReport:
    """What one cycle did for one company (also stored as the run's counts)."""

    company: str
    dry_run: bool
    pulled: int = 0
    actions: int = 0
    enqueued: int = 0
    sent: int = 0
    dry_runs: int = 0
    cancelled: int = 0
    failed: int = 0
    deferred: int = 0
    pushed: int = 0
    # A stop (SIGTERM/SIGINT) was asked for: the cycle ended after its current step.
    stopped: bool = False
    outputs: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in ("company", "outputs")}


Advance = Callable[[int], None]


class Progress(Protocol):
    """Shows how far a long step is (the CLI draws rich progress bars on a terminal)."""

    def step(self, name: str, total: int | None = None) -> AbstractContextManager[Advance]:
        """A step about to run: ``total`` units (unknown: None); the context gives the
        function to call with the units just done."""
        ...


class NoProgress:
    """Draws nothing (not a terminal, tests, the library)."""

    @contextmanager
    def step(self, name: str, total: int | None = None) -> Iterator[Advance]:
        yield lambda done: None


def utc_now() -> datetime:
    return datetime.now().astimezone().replace(tzinfo=None)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Runner:
    """Runs cycles for the companies of a config against one store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], datetime] = utc_now,
        sources: dict[str, Source] | None = None,
        stop: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        # Asked between steps (and between delivered rows): True ends the cycle there.
        self.stop = stop
        self.progress: Progress = progress or NoProgress()
        # Rows claimed at a time (a lease covers a batch).
        self.batch_size = BATCH
        # Worker processes rendering statement PDFs (below 2: none, render here).
        self.render_processes = min(os.cpu_count() or 1, 4)
        self.worker = worker_name()
        # Sources built once per company and kept: a demo source simulates days.
        self._sources: dict[str, Source] = dict(sources or {})
        # Incremental planning: the day each company was last planned in full, and
        # the customers pulls changed since its last plan (None: unknown, all).
        self._planned: dict[str, date] = {}
        self._touched: dict[str, set[str] | None] = {}
        # The snapshot digests each company's store holds, as this process last saved
        # them (read again when the store's generation of them differs).
        self._digests: dict[str, StoredDigests] = {}
        # Messages their channel took whose "sent" is not committed yet: it goes with
        # the next attempt's transaction (docs/daemon.md, "Exactly once").
        self._delivered: list[Delivered] = []

    def source(self, company: CompanySettings) -> Source:
        if company.id not in self._sources:
            self._sources[company.id] = build_source(
                company.source.kind, company.source_options(), company=company.id
            )
        return self._sources[company.id]

    # -- the cycle ---------------------------------------------------------------------

    def cycle(
        self, company: CompanySettings, *, send: bool | None = None, today: date | None = None
    ) -> CycleReport:
        now = self.clock()
        day = today or now.date()
        dry_run = not (self.settings.sends(company.id) if send is None else send)
        report = CycleReport(company.id, dry_run)
        run_id = self.store.start_run(company.id, now)
        try:
            self._steps(company, day, now, dry_run, report)
        except Exception as error:
            if isinstance(error, SourceError) and error.kind == "data":
                # Bad input: nothing of this run stays in the store, not even its record
                # (the pull wrote nothing); the error is reported to the user instead.
                self.store.forget_run(run_id)
            else:
                self.store.finish_run(
                    run_id, "failed", report.counts(), str(error), now=self.clock()
                )
            log.error("cycle failed company=%s error=%s", company.id, error)
            raise
        self.store.finish_run(run_id, "ok", report.counts(), None, now=self.clock())
        log.info(
            "cycle done company=%s %s",
            company.id,
            " ".join(f"{k}={v}" for k, v in report.counts().items()),
        )
        return report

    def _steps(
        self, company: CompanySettings, day: date, now: datetime, dry_run: bool, report: CycleReport
    ) -> None:
        """Pull, plan and enqueue, deliver, push; a stop asked for ends it between two."""
        source = self.source(company)
        report.pulled = self.pull(company, source)
        if self._stopping(report):
            return
        with self.progress.step("plan"):
            actions = self._plan_changes(company, day)
            report.actions = len(actions)
            with self.store.transaction() as tx:
                report.enqueued = self.store.enqueue(
                    tx, company.id, actions, dry_run=dry_run, today=day, now=now
                )
        log.info(
            "planned company=%s actions=%d enqueued=%d dry_run=%s",
            company.id,
            len(actions),
            report.enqueued,
            dry_run,
        )
        if self._stopping(report):
            return
        self.deliver(company, source, day, report)
        if self._stopping(report):
            return
        if dry_run:
            # A dry run writes nothing anywhere, the accounting tool included.
            log.info("push skipped company=%s dry_run=True", company.id)
            return
        report.pushed = self.push(company, source)

    def _stopping(self, report: CycleReport) -> bool:
        if self.stop():
            report.stopped = True
            log.info("stopping company=%s after the current step", report.company)
        return report.stopped

    def pull(self, company: CompanySettings, source: Source) -> int:
        """Changes since the saved cursor, upserted with the new cursor in one transaction."""
        cursor = self.store.get_cursor(company.id, source.name)
        with self.progress.step("pull"):
            return self._pull(company, source, cursor)

    def _pull(self, company: CompanySettings, source: Source, cursor: str | None) -> int:
        changes = source.pull(cursor)
        touched: set[str] | None = None
        # The digests kept from this process's last snapshot pull, valid while the
        # store's generation is the one they were saved with; taken out until the
        # transaction below commits (a rollback leaves none).
        cached = self._digests.pop(company.id, None)
        saved: StoredDigests | None = None
        with self.store.transaction() as tx:
            # Another worker pulling this company: what it stores first is what this
            # pull is compared with (read below, after the wait).
            self.store.lock_company_pull(tx, company.id)
            if changes.full and changes.snapshot is not None:
                count, touched, saved = self._pull_snapshot(
                    tx, company, source, changes.snapshot, cached
                )
            else:
                # The customers the changed records had before (an invoice or a journal
                # entry may have changed hands, or be deleted): their plans change too.
                owners: set[str] = set()
                if not changes.full:
                    owners = self.store.owners(
                        tx,
                        company.id,
                        [*(i.id for i in changes.invoices), *changes.deleted_invoice_ids],
                        [r.key for r in changes.reminders],
                    )
                count = self._pull_changes(tx, company, changes)
                if not changes.full:
                    touched = {c.id for c in changes.customers} | owners
                    touched.update(inv.customer_id for inv in changes.invoices)
                    touched.update(r.customer_id for r in changes.reminders)
                saved = cached if changes.is_empty else None
            if changes.cursor is not None:
                self.store.set_cursor(tx, company.id, source.name, changes.cursor, now=self.clock())
        if saved is not None:
            self._digests[company.id] = saved
        before = self._touched.get(company.id, set())
        self._touched[company.id] = None if touched is None or before is None else before | touched
        log.info(
            "pulled company=%s source=%s records=%d full=%s",
            company.id,
            source.name,
            count,
            changes.full,
        )
        return count

    def _pull_changes(self, tx: Tx, company: CompanySettings, changes: Changes) -> int:
        """Upsert what the pull brought; a full snapshot also deletes the invoices the
        store holds beyond it."""
        if changes.is_empty:
            return 0
        # The store no longer matches the last snapshot's digests: the next snapshot
        # is compared with nothing (it upserts everything).
        self.store.forget_snapshot_digests(tx, company.id)
        count = self.store.upsert_customers(tx, company.id, changes.customers)
        count += self.store.upsert_invoices(tx, company.id, changes.invoices)
        self.store.upsert_reminders(tx, company.id, changes.reminders)
        gone = list(changes.deleted_invoice_ids)
        if changes.full:
            # A full snapshot is all the source has: what the store holds beyond it
            # was deleted at the source (read in this transaction, deleted in it).
            kept = {inv.id for inv in changes.invoices}
            gone = [i for i in self.store.invoice_ids(company.id, tx) if i not in kept]
        if gone:
            deleted = self.store.delete_invoices(tx, company.id, gone)
            log.info("deleted company=%s invoices=%d", company.id, deleted)
        return count

    def _pull_snapshot(
        self,
        tx: Tx,
        company: CompanySettings,
        source: Source,
        snapshot: Snapshot,
        cached: StoredDigests | None,
    ) -> tuple[int, set[str] | None, StoredDigests]:
        """A full snapshot, applied as the difference with the last one: the records
        whose digest changed are upserted, the invoices gone are deleted, and the
        store ends up exactly as if every record had been upserted.  Returns how
        many records were upserted, the customers to plan again (None: all, when
        there was no last snapshot to compare with) and the digests now stored.
        docs/daemon.md, "Snapshots"."""
        store, cid = self.store, company.id
        context = sha256_hex(f"{source.name}\n{snapshot.context}".encode())
        generation = store.snapshot_generation(tx, cid)
        if cached is None or generation is None or cached.generation != generation:
            cached = store.snapshot_digests(tx, cid)
        compared = cached.context == context
        if not compared:
            store.forget_snapshot_digests(tx, cid)
            cached = StoredDigests(None, None, {}, {}, {})
        old_invoices, old_reminders = cached.invoices, cached.reminders
        customers = _changed_keys(snapshot.customers, cached.customers)
        invoices = _changed_keys(snapshot.invoices, old_invoices)
        reminders = _changed_keys(snapshot.reminders, old_reminders)
        if compared:
            gone = sorted(old_invoices.keys() - snapshot.invoices.keys())
        else:
            gone = sorted(store.invoice_ids(cid, tx) - snapshot.invoices.keys())
        # Rows the daemon itself wrote since the last snapshot, which upserting every
        # record would put back as the source has them: invoices marked escalated by
        # an enqueued escalation, and journal entries of outbox keys (written when
        # enqueued or sent, removed when cancelled).
        escalated: list[str] = []
        rewritten: list[str] = []
        if compared:
            changed = set(invoices)
            escalated = sorted(
                k
                for k in store.escalated_invoice_ids(tx, cid)
                if k in snapshot.invoices and k not in changed
            )
            changed = set(reminders)
            rewritten = sorted(
                k
                for k in store.outbox_keys(tx, cid)
                if k in snapshot.reminders and k not in changed
            )
        records = snapshot.records(customers, invoices + escalated, reminders + rewritten)
        # An escalated invoice the source says escalated too is as the store has it.
        restored = [i for i in records.invoices[len(invoices) :] if not i.escalated]
        count = store.upsert_customers(tx, cid, records.customers)
        count += store.upsert_invoices(tx, cid, records.invoices[: len(invoices)] + restored)
        store.upsert_reminders(tx, cid, records.reminders)
        # Whose the changed and deleted records were (before their digests are replaced).
        owners: list[str | None] = []
        if compared:
            before = [k for k in invoices if k in old_invoices] + gone
            owners += store.snapshot_owners(tx, cid, "invoice", before).values()
            before = [k for k in reminders if k in old_reminders]
            owners += store.snapshot_owners(tx, cid, "reminder", before).values()
        if gone:
            deleted = store.delete_invoices(tx, cid, gone)
            store.forget_snapshot_digests(tx, cid, "invoice", gone)
            log.info("deleted company=%s invoices=%d", cid, deleted)
        digests: list[DigestRow] = [("customer", k, snapshot.customers[k], None) for k in customers]
        digests += [
            ("invoice", k, snapshot.invoices[k], snapshot.invoice_owners[k]) for k in invoices
        ]
        digests += [
            ("reminder", k, snapshot.reminders[k], snapshot.reminder_owners[k]) for k in reminders
        ]
        if not compared:
            digests.append(("context", "", context, None))
        generation = secrets.token_hex(16)
        digests.append(("generation", "", generation, None))
        store.save_snapshot_digests(tx, cid, digests, new=not compared)
        saved = StoredDigests(context, generation, cached.customers, old_invoices, old_reminders)
        saved.customers.update((k, snapshot.customers[k]) for k in customers)
        saved.invoices.update((k, snapshot.invoices[k]) for k in invoices)
        saved.reminders.update((k, snapshot.reminders[k]) for k in reminders)
        for k in gone:
            del saved.invoices[k]
        log.info(
            "snapshot company=%s compared=%s customers=%d invoices=%d reminders=%d gone=%d"
            " restored=%d",
            cid,
            compared,
            len(customers),
            len(invoices),
            len(reminders),
            len(gone),
            len(restored) + len(rewritten),
        )
        if not compared:
            return count, None, saved
        # The customers whose records changed, before and after (an invoice or a
        # journal entry may have changed hands, or gone).
        touched: set[str | None] = set(customers)
        touched.update(owners)
        touched.update(snapshot.invoice_owners[k] for k in invoices)
        touched.update(i.customer_id for i in restored)
        touched.update(snapshot.reminder_owners[k] for k in reminders + rewritten)
        return count, {k for k in touched if k is not None}, saved

    def _plan_changes(self, company: CompanySettings, day: date) -> list[Action]:
        """The whole ledger on the first cycle of a day; later that day, only the
        customers the pulls changed since.  A customer's plan depends on nothing
        but its own records, the config and the day, so the others would give
        the actions already enqueued today (same keys: nothing new)."""
        touched = self._touched.pop(company.id, None)
        if self._planned.get(company.id) != day or touched is None:
            self._planned[company.id] = day
            log.info("plan company=%s customers=all", company.id)
            return self.plan(company, day)
        log.info(
            "plan company=%s customers=%d (changed since today's plan)", company.id, len(touched)
        )
        return self.plan(company, day, customers=touched) if touched else []

    def plan(
        self, company: CompanySettings, day: date, *, customers: set[str] | None = None
    ) -> list[Action]:
        """The actions due ``day``, for every customer or only ``customers``."""
        # Reading and planning build many objects and no reference cycles: the
        # cyclic collector would walk them, and the whole heap, again and again.
        with collector_paused():
            config = self.settings.config_for(company.id)
            # Only the journal planning reads (core.engine.journal_needed_from): the
            # months of reminders about invoices since paid change no plan.
            ledger = self.store.ledger(
                company.id,
                day,
                customers=customers,
                journal_from=journal_needed_from(config, day),
            )
            check_manual_plans(ledger, config)
            return Planner(ledger, config, day).run()

    # -- delivery ----------------------------------------------------------------------

    def deliver(
        self, company: CompanySettings, source: Source, day: date, report: CycleReport
    ) -> None:
        """Claim and deliver batches of due rows until none is left (or a stop)."""
        now = self.clock()
        self.release_dead_claims(company.id, now)
        self.store.reap(company.id, now)
        due = self.store.outbox_counts(company.id)["pending"]
        phone_tasks: list[tuple[PhoneTask, str, str]] = []  # task, key, Message-ID
        seen: set[str] = set()
        with (
            _Channels(self.settings, company) as channels,
            self.progress.step("deliver", due) as advance,
        ):
            while not report.stopped:
                rows = self.store.claim(
                    company.id, self.worker, self.batch_size, LEASE_SECONDS, self.clock()
                )
                fresh_rows = [r for r in rows if r.key not in seen]
                if not fresh_rows:
                    if rows:  # claimed again within this cycle: leave them to the next
                        self.store.release(company.id, self.worker, self.clock())
                    break
                seen.update(r.key for r in rows)
                self._deliver_batch(
                    company, source, day, rows, channels, phone_tasks, report, advance
                )
                if len(rows) < self.batch_size:
                    break
        if phone_tasks:
            self._write_worklist(company, phone_tasks, report)

    def _write_worklist(
        self,
        company: CompanySettings,
        phone_tasks: list[tuple[PhoneTask, str, str]],
        report: CycleReport,
    ) -> None:
        """The worklist file, then its rows marked sent: a crash in between leaves
        them claimed with their attempt, and the next run writes them again."""
        worklist = self.settings.delivery.worklist
        try:
            write_worklist([t for t, _, _ in phone_tasks], worklist.csv, worklist.xlsx)
        except DeliveryError as error:
            for _, key, _ in phone_tasks:
                self.store.mark_failed(
                    company.id,
                    key,
                    str(error),
                    self.clock(),
                    MAX_ATTEMPTS,
                    retry_at=self.clock() + RETRY_BASE,
                )
            report.failed += len(phone_tasks)
            log.warning("worklist not written company=%s error=%s", company.id, error)
            return
        report.outputs.extend(str(p) for p in (worklist.csv, worklist.xlsx) if p)
        now = self.clock()
        self.store.mark_delivered(
            company.id, [Delivered(key, message_id, now) for _, key, message_id in phone_tasks]
        )
        report.sent += len(phone_tasks)

    def _deliver_batch(
        self,
        company: CompanySettings,
        source: Source,
        day: date,
        rows: Sequence[OutboxRow],
        channels: _Channels,
        phone_tasks: list[tuple[PhoneTask, str, str]],
        report: CycleReport,
        advance: Advance,
    ) -> None:
        ledger = self.store.ledger(company.id, day, customers={row.customer_id for row in rows})
        customers = {c.id: c for c in ledger.customers}
        fresh = self._fresh_amounts(company, source, rows)
        config = self.settings.config_for(company.id)
        sender = Sender(**{**config.sender, "language": config.company_language})
        jobs: list[_Job] = []
        for row in rows:
            job = self._prepare(
                company, row, customers, fresh, sender, config, day, channels, report
            )
            if job is None:
                advance(1)
            else:
                jobs.append(job)
        # Statement PDFs are the costly part: rendered ahead, in worker processes
        # for a big batch, while this process sends the ones already done.
        needing = [j for j in jobs if j.needs_statement]
        statements = render_statements(
            [(j.action, j.customer, sender, day, j.language) for j in needing],
            self.render_processes,
            # Waiting for a PDF: the messages already sent are marked so first.
            before_wait=lambda: self._confirm(company),
        )
        try:
            for job in jobs:
                if self._stopping(report):
                    # The rows not reached go back for the next run.
                    self._confirm(company)
                    self.store.release(company.id, self.worker, self.clock())
                    break
                pdf = next(statements) if job.needs_statement else None
                self._send(company, job, pdf, sender, channels, phone_tasks, report)
                advance(1)
            self._confirm(company)
        finally:
            statements.close()
            if self._delivered:  # leaving on an error: mark what went out if the store can
                try:
                    self._confirm(company)
                except StoreError as error:
                    # They stay claimed with their attempt: the next claim settles them
                    # (docs/daemon.md, "Exactly once").
                    log.warning("not marked sent company=%s error=%s", company.id, error)
                self._delivered.clear()

    def _confirm(self, company: CompanySettings) -> None:
        """Mark sent, in one transaction, the messages delivered since the last attempt."""
        delivered, self._delivered = self._delivered, []
        try:
            self.store.mark_delivered(company.id, delivered)
        except StoreError:
            self._delivered[:0] = delivered  # not committed: still to mark
            raise

    def release_dead_claims(self, company: str, now: datetime) -> int:
        """Claims held by a process of this host that is gone (killed, crashed) are
        put back at once instead of waiting for their lease to expire."""
        released = 0
        for worker in self.store.claimants(company):
            if worker != self.worker and local_worker_is_dead(worker):
                released += self.store.release(company, worker, now)
                log.warning("released claims company=%s of dead worker=%s", company, worker)
        return released

    def _fresh_amounts(
        self, company: CompanySettings, source: Source, rows: Sequence[OutboxRow]
    ) -> dict[str, Decimal]:
        """Open amounts read just before sending (DESIGN §10, fresh at send time)."""
        ids = sorted({inv.id for row in rows for inv in row.action.invoices})
        fresh = source.refresh(ids)
        if fresh is None:
            self.pull(company, source)
            fresh = self.store.open_amounts(company.id, ids)
        return fresh

    def _prepare(
        self,
        company: CompanySettings,
        row: OutboxRow,
        customers: dict[str, Customer],
        fresh: dict[str, Decimal],
        sender: Sender,
        config: Any,
        day: date,
        channels: _Channels,
        report: CycleReport,
    ) -> _Job | None:
        """Everything before sending: settle an unconfirmed row, drop what was paid,
        render the text; record a dry run or defer until sending hours.  The job to
        send, or None when the row is dealt with."""
        now = self.clock()
        if row.may_have_been_sent and self._settle_unconfirmed(company, row, channels, report):
            return None
        action = still_due(row.action, fresh)
        if action is None:
            self.store.mark_cancelled(company.id, row.key, "paid since planning", now=now)
            report.cancelled += 1
            log.info("cancelled company=%s key=%s reason=paid", company.id, row.key)
            return None
        customer = customers.get(action.customer_id)
        if customer is None:
            self.store.mark_cancelled(
                company.id, row.key, "customer no longer in the ledger", now=now
            )
            report.cancelled += 1
            return None
        language = choose_language(customer.language, config.company_language)
        rendered = render_action(
            action, customer, sender, day, language=language, overrides=config.templates
        )
        if row.dry_run:
            self.store.mark_dry_run(company.id, row.key, rendered.subject, rendered.body, now)
            report.dry_runs += 1
            return None
        hours = self.settings.delivery.sending_hours
        if action.channel in TIMED_CHANNELS and not within_sending_hours(now, hours[0], hours[1]):
            self.store.defer(
                company.id,
                row.key,
                next_sending_time(now, hours[0], hours[1]),
                now,
                "outside sending hours",
            )
            report.deferred += 1
            return None
        return _Job(row, action, customer, rendered, language)

    def _send(
        self,
        company: CompanySettings,
        job: _Job,
        pdf: bytes | None,
        sender: Sender,
        channels: _Channels,
        phone_tasks: list[tuple[PhoneTask, str, str]],
        report: CycleReport,
    ) -> None:
        """Record the attempt, send, and mark the row sent (or failed, or unconfirmed)."""
        row, action, customer, rendered = job.row, job.action, job.customer, job.rendered
        now = self.clock()
        message = self._message(company, action, customer, rendered, sender, job.language, pdf)

        def record_attempt() -> None:
            # The messages delivered since the last attempt are marked sent in its
            # transaction (committed even if this row's claim was lost).
            delivered, self._delivered = self._delivered, []
            try:
                self.store.record_attempt(
                    company.id,
                    row.key,
                    message.message_id,
                    self.clock(),
                    worker=self.worker,
                    subject=rendered.subject,
                    body=rendered.body,
                    delivered=delivered,
                )
            except ClaimLost:
                raise  # the delivered rows were committed all the same
            except StoreError:
                self._delivered[:0] = delivered  # not committed: still to mark
                raise

        try:
            if action.channel in ("phone", "escalation"):
                # Calls and hand-overs are tasks for people: the worklist, marked
                # sent once the file is written (_write_worklist).
                record_attempt()
                phone_tasks.append(
                    (phone_task(action, customer, rendered), row.key, message.message_id)
                )
                return
            elif action.channel == "email":
                # The attempt is stored just before the final dot (see SmtpDeliverer.send).
                channels.smtp().send(message, before_dot=record_attempt)
            else:
                record_attempt()
                channels.send(action, message)
        except ClaimLost as lost:
            log.warning("not sent company=%s key=%s: %s", company.id, row.key, lost)
            return
        except DeliveryError as error:
            if error.maybe_delivered:
                # Not a failure to count: the next claim settles it by the channel check.
                self.store.defer(
                    company.id, row.key, self.clock() + UNCONFIRMED_RETRY, now, str(error)
                )
                report.deferred += 1
                log.warning("unconfirmed company=%s key=%s error=%s", company.id, row.key, error)
                return
            state = self.store.mark_failed(
                company.id,
                row.key,
                str(error),
                self.clock(),
                1 if error.permanent else MAX_ATTEMPTS,
                retry_at=self.clock() + retry_delay(row.attempts, error.retry_after),
            )
            report.failed += 1
            log.warning(
                "delivery failed company=%s key=%s channel=%s state=%s error=%s",
                company.id,
                row.key,
                action.channel,
                state,
                error,
            )
            return
        # Marked sent with the next attempt, or when the batch ends or waits.
        self._delivered.append(Delivered(row.key, message.message_id, self.clock()))
        report.sent += 1
        log.info(
            "sent company=%s key=%s channel=%s customer=%s",
            company.id,
            row.key,
            action.channel,
            action.customer_id,
        )

    def _settle_unconfirmed(
        self, company: CompanySettings, row: OutboxRow, channels: _Channels, report: CycleReport
    ) -> bool:
        """A row whose last attempt never concluded (a crash, a connection lost after
        the final dot): ask the channel before sending again.  True when settled
        here (confirmed as sent, or held); False when it is to be sent (again).

        Letters and SMS are idempotent per key at the channel (the file is there,
        the provider knows the key), so sending again is the check.  E-mail asks
        the relay's accepted log; without one, the message is held, not resent."""
        if row.channel != "email" or row.message_id is None:
            return False
        now = self.clock()
        try:
            accepted = channels.accepted(row.message_id)
        except DeliveryError as error:
            self.store.defer(company.id, row.key, now + UNCONFIRMED_RETRY, now, str(error))
            report.deferred += 1
            return True
        if accepted is True:
            self.store.mark_sent(company.id, row.key, row.message_id, now)
            report.sent += 1
            log.info("confirmed company=%s key=%s by=accepted_log", company.id, row.key)
            return True
        if accepted is None:
            self.store.mark_failed(
                company.id,
                row.key,
                "unconfirmed: the message may have gone out before a crash and no"
                " [delivery.smtp] accepted_log can tell; not resent (check the mailbox)",
                now,
                1,
            )
            report.failed += 1
            log.warning("held unconfirmed company=%s key=%s", company.id, row.key)
            return True
        log.info("resending company=%s key=%s: not in the accepted log", company.id, row.key)
        return False

    def _message(
        self,
        company: CompanySettings,
        action: Action,
        customer: Customer,
        rendered: RenderedText,
        sender: Sender,
        language: str,
        pdf: bytes | None,
    ) -> OutgoingMessage:
        attachments: list[Attachment] = []
        if pdf is not None:
            name = "releve.pdf" if language == "fr" else "statement.pdf"
            attachments.append(Attachment(name, pdf, "application/pdf"))
        domain = sender.email.split("@", 1)[1] if "@" in sender.email else "relance.local"
        return message_for_action(
            action, customer, rendered, company=company.id, domain=domain, attachments=attachments
        )

    # -- write-back --------------------------------------------------------------------

    def push(self, company: CompanySettings, source: Source) -> int:
        """Reminder levels, dispute and escalation flags that changed since they were
        last written back, each pushed once (the ``pushed`` table records what the
        source said it wrote)."""
        today = self.clock().date()
        with self.progress.step("push"):
            flags = self._level_flags(company, today) + self._state_flags(company, today)
            written = source.push(flags) if flags else []
        if not flags:
            return 0
        with self.store.transaction() as tx:
            for flag in written:
                self.store.record_push(
                    tx, company.id, flag.kind, flag.ref, pushed_text(flag.value), self.clock()
                )
        log.info("pushed company=%s flags=%d written=%d", company.id, len(flags), len(written))
        return len(written)

    def _level_flags(self, company: CompanySettings, today: date) -> list[Flag]:
        pushed = self.store.pushed_values(company.id, "reminder_level")
        latest: dict[str, tuple[int, date]] = {}
        for invoice_id, step, sent_at in self.store.sent_steps(company.id):
            latest[invoice_id] = (step, sent_at.date() if sent_at else today)
        return [
            Flag("reminder_level", invoice_id, step, day)
            for invoice_id, (step, day) in latest.items()
            if pushed.get(invoice_id) != pushed_text(step)
        ]

    def _state_flags(self, company: CompanySettings, today: date) -> list[Flag]:
        """Dispute opened / closed and escalated set / cleared, against what was pushed.
        A dispute that was already closed before any push says nothing new."""
        disputes = self.store.pushed_values(company.id, "dispute")
        escalations = self.store.pushed_values(company.id, "escalated")
        flags: list[Flag] = []
        seen: set[str] = set()
        for state in self.store.flag_states(company.id):
            seen.add(state.invoice_id)
            before = disputes.get(state.invoice_id)
            if state.dispute_open:
                if before != pushed_text(state.dispute_reason):
                    day = state.dispute_opened or today
                    flags.append(Flag("dispute", state.invoice_id, state.dispute_reason, day))
            elif before not in (None, ""):
                flags.append(Flag("dispute", state.invoice_id, None, state.dispute_closed or today))
            if state.escalated and escalations.get(state.invoice_id) != "true":
                flags.append(Flag("escalated", state.invoice_id, True, today))
        # Pushed as open or escalated, now with no dispute or escalation at all:
        # cleared (if the invoice is still there).
        stale_disputes = [r for r, v in disputes.items() if r not in seen and v != ""]
        stale_escalations = [r for r, v in escalations.items() if r not in seen and v == "true"]
        if stale_disputes or stale_escalations:
            present = self.store.present_invoice_ids(company.id, stale_disputes + stale_escalations)
            flags.extend(Flag("dispute", r, None, today) for r in stale_disputes if r in present)
            flags.extend(
                Flag("escalated", r, False, today) for r in stale_escalations if r in present
            )
        return flags


def _changed_keys(now: Mapping[str, str], before: Mapping[str, str]) -> list[str]:
    """The keys whose digest is new or differs, in order (a lookup per key: a set
    difference of the items would hash 100k tuples)."""
    known = before.get
    return sorted([key for key, digest in now.items() if known(key) != digest])


def pushed_text(value: FlagValue) -> str:
    """How a pushed value is remembered: a closed dispute is "", booleans are
    "true"/"false", a step or a reason is its text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class _Job:
    """A row ready to send: its action (paid invoices left out), customer and text."""

    row: OutboxRow
    action: Action
    customer: Customer
    rendered: RenderedText
    language: str

    @property
    def needs_statement(self) -> bool:
        return self.action.channel in ("email", *PAPER_CHANNELS)


StatementArgs = tuple[Action, Customer, Sender, date, str]


def _statement(args: StatementArgs) -> bytes:
    return statement_pdf(*args)


def _statements(jobs: Sequence[StatementArgs]) -> list[bytes]:
    return [statement_pdf(*args) for args in jobs]


def render_statements(
    jobs: Sequence[StatementArgs],
    processes: int,
    *,
    before_wait: Callable[[], None] = lambda: None,
) -> Generator[bytes, None, None]:
    """The statement PDF of each job, in order.  A batch of at least POOL_MIN is
    rendered by ``processes`` worker processes (forked: they start at once and
    share the loaded code), four at a time, which the caller consumes as they
    come (``before_wait`` is called when the next is not ready yet); a small one,
    or ``processes`` below 2, here."""
    if processes < 2 or len(jobs) < POOL_MIN:
        yield from map(_statement, jobs)
        return
    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"))
    try:
        chunks = [pool.submit(_statements, jobs[i : i + 4]) for i in range(0, len(jobs), 4)]
        for chunk in chunks:
            if not chunk.done():
                before_wait()
            yield from chunk.result()
    finally:
        # Stopped early: what is not rendered yet is not wanted.
        pool.shutdown(wait=True, cancel_futures=True)


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """How long a transient failure waits: what the channel asked for, else 5, 10,
    20, 40 minutes as attempts pile up."""
    if retry_after is not None:
        return timedelta(seconds=retry_after)
    return RETRY_BASE * (1 << min(attempts, 4))


def local_worker_is_dead(worker: str) -> bool:
    """Whether ``worker`` (``host:pid``, see ``worker_name``) is a process of this host
    that no longer runs.  A worker of another host is never judged from here."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def still_due(action: Action, fresh: dict[str, Decimal]) -> Action | None:
    """The action with invoices paid since planning left out (None: nothing left)."""
    listed = tuple(
        replace_amount(inv, fresh[inv.id])
        for inv in action.invoices
        if fresh.get(inv.id, inv.open_amount) > 0
    )
    if not listed:
        return None
    context = tuple(c for c in action.context if fresh.get(c.id, c.open_amount) > 0)
    if len(listed) == len(action.invoices) and all(
        inv.open_amount == fresh.get(inv.id, inv.open_amount) for inv in action.invoices
    ):
        return action
    credits = sum((c.open_amount for c in action.credits), ZERO)
    total = sum((i.open_amount for i in listed), ZERO) + sum((c.open_amount for c in context), ZERO)
    return replace(action, invoices=listed, context=context, net_due=max(total - credits, ZERO))


def replace_amount(inv: Any, amount: Decimal | None) -> Any:
    return inv if amount is None else inv._replace(open_amount=amount)


class _Channels:
    """The open channels of one delivery batch: one SMTP connection, the letters
    folder, the SMS provider."""

    def __init__(self, settings: Settings, company: CompanySettings) -> None:
        self.settings = settings
        self.company = company
        self._stack = ExitStack()
        self._smtp: SmtpDeliverer | None = None
        self._letters: LetterWriter | None = None
        self._sms: SmsProvider | None = None
        self._accepted: str | None = None

    def __enter__(self) -> _Channels:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def smtp(self) -> SmtpDeliverer:
        if self._smtp is None:
            smtp = self.settings.delivery.smtp
            if smtp is None:
                raise DeliveryError(False, "no [delivery.smtp] in the config: cannot send e-mail")
            endpoint = SmtpEndpoint(
                host=smtp.host,
                port=smtp.port,
                security=smtp.security,
                username=smtp.username or None,
                password=smtp.password.get_secret_value() if smtp.password else None,
                from_address=smtp.from_address,
                timeout=smtp.timeout,
                reply_to=smtp.reply_to,
            )
            self._smtp = self._stack.enter_context(SmtpDeliverer(endpoint))
        return self._smtp

    def letters(self) -> LetterWriter:
        if self._letters is None:
            self._letters = LetterWriter(Path(self.settings.delivery.letters.output_dir))
        return self._letters

    def accepted(self, message_id: str) -> bool | None:
        """Whether the relay's accepted log names ``message_id``; None without a log.
        The log is read once per batch, when a row first needs it."""
        smtp = self.settings.delivery.smtp
        if smtp is None or smtp.accepted_log is None:
            return None
        if self._accepted is None:
            try:
                self._accepted = Path(smtp.accepted_log).read_text("utf-8", "replace")
            except FileNotFoundError:
                self._accepted = ""
            except OSError as error:
                raise DeliveryError(
                    True, f"cannot read the SMTP accepted_log {smtp.accepted_log}: {error}"
                ) from error
        return message_id in self._accepted

    def sms(self) -> SmsProvider:
        if self._sms is None:
            sms = self.settings.delivery.sms
            if sms is None:
                raise DeliveryError(False, "no [delivery.sms] in the config: cannot send SMS")
            if sms.provider == "http":
                key = sms.api_key.get_secret_value() if sms.api_key else ""
                self._sms = HttpSmsProvider(sms.url, key, sms.sender)
            else:
                self._sms = FileSmsProvider(Path(sms.path))
        return self._sms

    def send(self, action: Action, message: OutgoingMessage) -> None:
        channel = action.channel
        if channel == "email":
            self.smtp().send(message)
        elif channel in PAPER_CHANNELS:
            pdf = next((a.content for a in message.attachments), b"")
            self.letters().write(message, pdf)
        elif channel == "sms":
            if not message.to:
                raise DeliveryError(False, "the customer has no phone number")
            self.sms().send(message.to[0], message.body, message.key)
        else:
            raise DeliveryError(False, f"unknown channel {channel!r}")


def iter_companies(settings: Settings, only: str | None) -> Iterator[CompanySettings]:
    for company in settings.companies:
        if only is None or company.id == only:
            yield company
