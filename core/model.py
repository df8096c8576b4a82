"""The domain model (DESIGN.md section 2).

Money is ``Decimal`` and dates are ``datetime.date`` from end to end.  Ids are
strings.  The engine treats every object here as immutable.

``Customer``, ``Invoice`` and ``Reminder`` are slotted but not frozen: a ledger can hold a
million invoices, and a frozen dataclass costs eight times more to build (see
docs/decisions.md, "Model objects").  Nothing in core assigns to them after
loading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(slots=True)
class Ledger:
    """A snapshot: customers, open invoices and those paid in the last 365 days, and the journal."""

    currency: str = "EUR"
    customers: list[Customer] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)
    # Lookups derived from the lists above (core.index); rebuilt when they change.
    index: LedgerIndex | None = field(default=None, repr=False, compare=False)
