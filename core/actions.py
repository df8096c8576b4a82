"""What the engine decides: one action per customer and currency (DESIGN.md section 5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple


class ActionInvoice(NamedTuple):
    """An invoice listed in an action, at the step it has reached today."""

    id: str
    number: str
    step: int
    days_overdue: int
    open_amount: Decimal
    # Only set on formal_notice actions (DESIGN section 7).
    interest: Decimal | None = None
    indemnity: Decimal | None = None


class ContextInvoice(NamedTuple):
    """Another overdue invoice of the customer, shown for context but not reminded."""

    id: str
    number: str
    days_overdue: int
    open_amount: Decimal


class Credit(NamedTuple):
    """An open credit note deducted from what the customer owes."""

    id: str
    number: str
    open_amount: Decimal


@dataclass(slots=True)
class Action:
    """Treated as immutable, like the model objects (docs/decisions.md, "Model objects");
    not frozen because a run can produce tens of thousands of actions."""

    customer_id: str
    plan: str
    segment: str
    step: int
    channel: str
    template: str
    key: str
    priority: Decimal
    currency: str
    overdue_amount: Decimal
    net_due: Decimal
    invoices: tuple[ActionInvoice, ...]
    context: tuple[ContextInvoice, ...] = ()
    credits: tuple[Credit, ...] = ()
    # Why this action: segment rule and metric values, each invoice's reached
    # and done step.  Data, not log lines.
    explanation: dict[str, Any] = field(default_factory=dict)
    # Formal notices: the annual rate applied and the payment deadline in days.
    interest_rate: Decimal | None = None
    payment_deadline_days: int | None = None

    @property
    def context_invoice_ids(self) -> list[str]:
        return [c.id for c in self.context]

    @property
    def total_interest(self) -> Decimal:
        return sum((i.interest or Decimal(0) for i in self.invoices), Decimal(0))

    @property
    def total_indemnity(self) -> Decimal:
        return sum((i.indemnity or Decimal(0) for i in self.invoices), Decimal(0))
