"""The domain model (DESIGN.md section 2).

Money is ``Decimal`` and dates are ``datetime.date`` from end to end.  Ids are
strings.  The engine treats every object here as immutable.

``Customer``, ``Invoice`` and ``Reminder`` are slotted but not frozen: a ledger can hold a
million invoices, and a frozen dataclass costs eight times more to build (see
docs/decisions.md, "Model objects").  Nothing in core assigns to them after
loading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from core.index import LedgerIndex

CustomerKind = Literal["company", "individual"]
InvoiceKind = Literal["invoice", "credit_note"]
Channel = Literal["email", "sms", "letter", "phone", "formal_notice", "escalation"]

CUSTOMER_KINDS: tuple[str, ...] = ("company", "individual")
INVOICE_KINDS: tuple[str, ...] = ("invoice", "credit_note")
CHANNELS: tuple[str, ...] = ("email", "sms", "letter", "phone", "formal_notice", "escalation")

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Dispute:
    """A customer's objection to an invoice; while open, the invoice is never reminded."""

    reason: str
    opened: date | None = None
    note: str = ""
    # Not in DESIGN section 2's minimal shape; a closed dispute no longer blocks
    # reminders and feeds avg_dispute_resolution_days (docs/decisions.md).
    closed: date | None = None

    def is_open(self) -> bool:
        return self.closed is None


@dataclass(slots=True)
class Customer:
    id: str
    name: str
    kind: str = "company"
    emails: tuple[str, ...] = ()
    phone: str | None = None
    language: str | None = None
    tags: frozenset[str] = frozenset()
    excluded: bool = False
    plan: str | None = None
    credit_limit: Decimal | None = None
    created: date | None = None


@dataclass(slots=True)
class Invoice:
    id: str
    customer_id: str
    number: str
    kind: str
    issue_date: date
    due_date: date
    amount: Decimal
    open_amount: Decimal
    currency: str
    paid_date: date | None = None
    dispute: Dispute | None = None
    promise_date: date | None = None
    escalated: bool = False
    factored: bool = False

    @property
    def is_open(self) -> bool:
        return self.open_amount > ZERO

    @property
    def has_open_dispute(self) -> bool:
        return self.dispute is not None and self.dispute.closed is None


class ReminderLine(NamedTuple):
    """One invoice in a reminder, with the plan step it had reached when the reminder went out."""

    invoice_id: str
    step: int


@dataclass(slots=True)
class Reminder:
    """A journal entry: a reminder that went out (or was recorded as done)."""

    customer_id: str
    date: date
    plan: str
    channel: str
    key: str
    invoices: tuple[ReminderLine, ...] = ()

    @property
    def step(self) -> int:
        """The reminder's own step: the highest step among its invoices."""
        return max((line.step for line in self.invoices), default=0)


class Ledger:
    """A snapshot: customers, open invoices and those paid in the last 365 days, and the journal.

    Built like a dataclass (``Ledger(currency, customers, invoices, reminders)``, compared
    field by field).  A decoded file may leave its fully paid invoices unbuilt: they only
    feed sums that the file decoder computes while reading (docs/decisions.md, "Paid
    invoices are not built"); ``invoices`` builds them, once, on first access.
    """

    __slots__ = ("_invoices", "_pending", "currency", "customers", "index", "reminders")

    def __init__(
        self,
        currency: str = "EUR",
        customers: list[Customer] | None = None,
        invoices: list[Invoice] | None = None,
        reminders: list[Reminder] | None = None,
        index: LedgerIndex | None = None,
    ) -> None:
        self.currency = currency
        self.customers: list[Customer] = [] if customers is None else customers
        self._invoices: list[Invoice] = [] if invoices is None else invoices
        self.reminders: list[Reminder] = [] if reminders is None else reminders
        # Lookups derived from the lists above (core.index); rebuilt when they change.
        self.index = index
        self._pending: _Pending | None = None

    @property
    def invoices(self) -> list[Invoice]:
        pending = self._pending
        if pending is not None:
            before = self.fingerprint()
            self._invoices = pending.build()
            self._pending = None
            # The built list holds the same invoices: an index of the ledger stays valid.
            if self.index is not None and self.index.fingerprint == before:
                self.index.fingerprint = self.fingerprint()
        return self._invoices

    @invoices.setter
    def invoices(self, value: list[Invoice]) -> None:
        self._invoices = value
        self._pending = None

    def defer_invoices(self, count: int, build: Callable[[], list[Invoice]]) -> None:
        """Let ``build`` make the ``count`` invoices when they are first read."""
        self._pending = _Pending(count, build)

    @property
    def invoice_count(self) -> int:
        pending = self._pending
        return len(self._invoices) if pending is None else pending.size

    def fingerprint(self) -> tuple[int, int, int, int]:
        """Changes when a list is replaced or changes length (core.index keeps its index
        while it does not)."""
        pending = self._pending
        source: object = self._invoices if pending is None else pending
        return (id(source), self.invoice_count, id(self.reminders), len(self.reminders))

    def _fields(self) -> tuple[object, ...]:
        return (self.currency, self.customers, self.invoices, self.reminders)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Ledger)
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return (
            f"Ledger(currency={self.currency!r}, customers={self.customers!r}, "
            f"invoices={self.invoices!r}, reminders={self.reminders!r})"
        )


class _Pending(NamedTuple):
    size: int
    build: Callable[[], list[Invoice]]
