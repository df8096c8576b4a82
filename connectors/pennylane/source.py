"""The ``pennylane`` source: a first full sync, then changelogs (docs/pennylane.md).

``pull(cursor)``:

- no cursor (or one this source did not write): **full sync**: every customer,
  every non-draft invoice and credit note, as a full snapshot;
- a position older than the changelogs' 4-week retention (or Pennylane saying
  so with a 422): **full resync**, logged, and its reason kept in the cursor
  for ``relance status``;
- else **incremental**: ``/changelogs/customers`` and
  ``/changelogs/customer_invoices`` from the stored ``processed_at``, then the
  changed records re-read in batches of 100 with the ``id in [...]`` filter.
  Invoices that left the ledger (deleted, back to draft, incomplete) are
  deleted from the store.

On every pull the invoices carrying our "Litige" and "Contentieux" categories
are listed (one filtered query each) and compared with the previous pull:
an accountant who sets "Litige" in Pennylane opens a dispute in Relance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime

from connectors.pennylane import mapping
from connectors.pennylane.categories import (
    CONTENTIEUX,
    LITIGE,
    Catalog,
    load_catalog,
    push_flags,
)
from connectors.pennylane.client import PennylaneClient, filter_param
from connectors.pennylane.errors import PennylaneError
from connectors.pennylane.models import ChangeEvent, Contact, PlCustomer, PlInvoice, parse
from connectors.pennylane.position import Position
from connectors.sources import Changes, Flag
from core.model import ZERO, Customer, Invoice

__all__ = ["CHANGELOG_LIMIT", "PennylaneSource"]

log = logging.getLogger("relance.pennylane")

CHANGELOG_LIMIT = 1000
# Events that entered Pennylane's pipeline while a full sync was reading are
# read again by the next incremental pull (processing is idempotent).
FULL_SYNC_OVERLAP = timedelta(minutes=5)
NOT_DRAFT = filter_param(("draft", "eq", "false"))


def utc_now() -> datetime:
    return datetime.now(UTC)


class PennylaneSource:
    name: str = "pennylane"

    def __init__(
        self,
        client: PennylaneClient,
        *,
        category_group: str = "Relance",
        levels: int = 4,
        contacts: bool = True,
        clock: Callable[[], datetime] = utc_now,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.client = client
        self.category_group = category_group
        self.levels = levels
        self.contacts = contacts
        self._clock = clock
        self._today = today
        self._catalog: Catalog | None = None
        self._terms: dict[str, str | None] = {}  # payment conditions by customer id
        self.last_pull: str = ""  # "full", "resync" or "incremental", for the bench and tests

    def __repr__(self) -> str:
        return f"PennylaneSource({self.client.base_url!r}, group={self.category_group!r})"

    # -- pull --------------------------------------------------------------------------

    def pull(self, cursor: str | None) -> Changes:
        position = Position.load(cursor)
        now = self._clock()
        if position is None:
            reason = None if cursor is None else "the stored cursor is not a Pennylane position"
            return self._full(now, reason, previous=None)
        if position.expired(now):
            reason = (
                f"the last sync read changes up to {position.oldest():%Y-%m-%d %H:%M} UTC, "
                f"beyond Pennylane's 4-week changelog retention"
            )
            return self._full(now, reason, previous=position)
        try:
            return self._incremental(position)
        except PennylaneError as error:
            if error.status == 422 and "changelog" in error.message:
                reason = f"Pennylane refused the changelog position ({error.message})"
                return self._full(now, reason, previous=position)
            raise

    def _full(self, now: datetime, reason: str | None, previous: Position | None) -> Changes:
        self.last_pull = "full" if reason is None else "resync"
        if reason is not None:
            log.warning("pennylane full resync reason=%s", reason)
        else:
            log.info("pennylane first full sync")
        catalog = self.catalog(reload=True)
        start = self._server_now(now) - FULL_SYNC_OVERLAP
        litige, escalated = self._flagged(catalog, previous)
        records = [
            parse(PlCustomer, item, "customer")
            for page in self.client.pages("/customers")
            for item in page
        ]
        self._terms = {str(r.id): r.payment_conditions for r in records}
        invoices = self._invoices(
            (
                parse(PlInvoice, item, "customer invoice")
                for page in self.client.pages("/customer_invoices", {"filter": NOT_DRAFT})
                for item in page
            ),
            litige,
            escalated,
        )
        customers = self._customers(records)
        position = Position(
            customers=start,
            invoices=start,
            full_sync=start + FULL_SYNC_OVERLAP,
            resync_reason=reason,
            litige=litige,
            escalated=escalated,
        )
        log.info(
            "pennylane full sync customers=%d invoices=%d requests=%d",
            len(customers),
            len(invoices),
            self.client.requests,
        )
        return Changes(customers=customers, invoices=invoices, cursor=position.dump(), full=True)

    def _incremental(self, position: Position) -> Changes:
        self.last_pull = "incremental"
        boundary = position.boundary
        customer_ops, customers_at, customers_edge = self._changes(
            "customers", position.customers, boundary.get("customers", [])
        )
        invoice_ops, invoices_at, invoices_edge = self._changes(
            "customer_invoices", position.invoices, boundary.get("customer_invoices", [])
        )
        catalog = self.catalog()
        litige, escalated = self._flagged(catalog, position)
        # Category changes may emit no changelog event: the diff of the sets says which.
        moved = (set(litige) ^ set(position.litige)) | (escalated ^ position.escalated)
        wanted_invoices = {i for i, op in invoice_ops.items() if op != "delete"} | moved
        deleted = sorted(i for i, op in invoice_ops.items() if op == "delete")

        records = [
            parse(PlCustomer, item, "customer")
            for item in self.client.by_ids(
                "/customers", sorted(int(i) for i, op in customer_ops.items() if op != "delete")
            )
        ]
        self._terms.update({str(r.id): r.payment_conditions for r in records})
        gone = sorted(i for i, op in customer_ops.items() if op == "delete")
        if gone:
            log.info("pennylane customers deleted in Pennylane kept ids=%s", ",".join(gone))
        fetched = [
            parse(PlInvoice, item, "customer invoice")
            for item in self.client.by_ids(
                "/customer_invoices", sorted(int(i) for i in wanted_invoices)
            )
        ]
        invoices = self._invoices(fetched, litige, escalated)
        kept = {inv.id for inv in invoices}
        # Asked for but not returned, or no longer part of the ledger (draft, incomplete).
        deleted += sorted(i for i in wanted_invoices if i not in kept)
        new = Position(
            customers=customers_at,
            invoices=invoices_at,
            full_sync=position.full_sync,
            resync_reason=position.resync_reason,
            litige=litige,
            escalated=escalated,
            boundary={"customers": customers_edge, "customer_invoices": invoices_edge},
        )
        return Changes(
            customers=self._customers(records),
            invoices=invoices,
            deleted_invoice_ids=sorted(set(deleted)),
            cursor=new.dump(),
        )

    def _changes(
        self, resource: str, since: datetime, handled: list[str]
    ) -> tuple[dict[str, str], datetime, list[str]]:
        """The last operation per id since ``since`` (events at ``since`` listed in
        ``handled`` skipped), the last ``processed_at`` read and the ids seen at it."""
        ops: dict[str, str] = {}
        last = since
        edge = list(handled)
        start = since.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        path = f"/changelogs/{resource}"
        for page in self.client.pages(path, {"start_date": start}, limit=CHANGELOG_LIMIT):
            for item in page:
                event = parse(ChangeEvent, item, f"{resource} changelog event")
                ident = str(event.id)
                if event.processed_at == since and ident in handled:
                    continue
                ops[ident] = event.operation
                if event.processed_at > last:
                    last, edge = event.processed_at, []
                if event.processed_at == last:
                    edge.append(ident)
        return ops, last, edge

    # -- categories read back ----------------------------------------------------------

    def catalog(self, *, reload: bool = False) -> Catalog | None:
        """Our category group and labels (read once, again on a full sync or while absent)."""
        if reload or self._catalog is None:
            self._catalog = load_catalog(self.client, self.category_group)
            if self._catalog is None:
                log.warning(
                    "pennylane category group %r not found: disputes set in Pennylane are not "
                    "read and nothing is written back until `relance pennylane setup` runs",
                    self.category_group,
                )
        return self._catalog

    def _flagged(
        self, catalog: Catalog | None, previous: Position | None
    ) -> tuple[dict[str, date], frozenset[str]]:
        """Invoices carrying "Litige" (with the day first seen) and "Contentieux"."""
        if catalog is None:
            return {}, frozenset()
        today = self._today()
        known = previous.litige if previous else {}
        litige = {i: known.get(i, today) for i in self._carrying(catalog, LITIGE)}
        return litige, frozenset(self._carrying(catalog, CONTENTIEUX))

    def _carrying(self, catalog: Catalog, label: str) -> set[str]:
        ident = catalog.ids.get(label)
        if ident is None:
            return set()
        query = {"filter": filter_param(("category_id", "in", [ident]))}
        return {
            str(item.get("id"))
            for page in self.client.pages("/customer_invoices", query)
            for item in page
            if item.get("id") is not None
        }

    # -- mapping -----------------------------------------------------------------------

    def _customers(self, records: Sequence[PlCustomer]) -> list[Customer]:
        return [mapping.customer(r, self._contacts_of(r.id)) for r in records]

    def _contacts_of(self, customer_id: int) -> list[Contact]:
        if not self.contacts:
            return []
        return [
            parse(Contact, item, "customer contact")
            for page in self.client.pages(f"/customers/{customer_id}/contacts")
            for item in page
        ]

    def _invoices(
        self, records: Iterable[PlInvoice], litige: dict[str, date], escalated: frozenset[str]
    ) -> list[Invoice]:
        today = self._today()
        out: list[Invoice] = []
        for record in records:
            inv = mapping.invoice(
                record, today=today, terms=self._terms, litige=litige, escalated=escalated
            )
            if inv is not None:
                out.append(inv)
        return out

    def _server_now(self, fallback: datetime) -> datetime:
        """Pennylane's clock (the ``Date`` header of its last answer, just read), so that
        our position matches its events."""
        if not self.client.last_headers.get("Date"):
            self.client.get("/me")
        header = self.client.last_headers.get("Date")
        if header:
            try:
                return parsedate_to_datetime(header).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        return fallback

    # -- refresh and push --------------------------------------------------------------

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal]:
        """Open amounts read now, 100 invoices per request; gone or not in the ledger: zero."""
        amounts: dict[str, Decimal] = dict.fromkeys(invoice_ids, ZERO)
        numeric = sorted({int(i) for i in invoice_ids if i.isdigit()})
        today = self._today()
        for item in self.client.by_ids("/customer_invoices", numeric):
            inv = mapping.invoice(parse(PlInvoice, item, "customer invoice"), today=today)
            if inv is not None and inv.id in amounts:
                amounts[inv.id] = inv.open_amount
        return amounts

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        """Reminder levels, disputes and escalations as categories of our group."""
        if not flags:
            return []
        catalog = self.catalog()
        if catalog is None:
            # Reminders already went out: a missing group must not fail the cycle.
            # Nothing is recorded as pushed, so every flag is written once the
            # group exists and `relance pennylane setup` has run.
            log.warning(
                "pennylane category group '%s' not found: %d flag(s) kept for write-back "
                "until `relance pennylane setup` runs",
                self.category_group,
                len(flags),
            )
            return []
        return push_flags(self.client, catalog, flags, self.levels)
