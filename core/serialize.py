"""The JSON shapes of DESIGN §9: amounts as strings, dates as ISO strings.

KPI figures and priorities are JSON numbers; they are rounded here to
``FIGURE_DECIMALS`` places so they stay readable while keeping more precision
than the one decimal shown in reports (docs/rules.md, "Output").
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core.actions import Action
from core.metrics import Kpis

FIGURE_DECIMALS = Decimal("0.0001")
PRIORITY_DECIMALS = Decimal("0.01")


def figure(value: Decimal | None, places: Decimal = FIGURE_DECIMALS) -> float | None:
    if value is None:
        return None
    return float(value.quantize(places, rounding=ROUND_HALF_UP))


def money(value: Decimal) -> str:
    return str(value)


def jsonable(value: Any) -> Any:
    """Plain JSON data from core values (Decimal -> str, date -> ISO, sets -> sorted lists)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, Action):
        return action_to_json(value)
    return value


def action_to_json(action: Action) -> dict[str, Any]:
    invoices = []
    for inv in action.invoices:
        entry: dict[str, Any] = {
            "id": inv.id,
            "step": inv.step,
            "days_overdue": inv.days_overdue,
            "open_amount": str(inv.open_amount),
        }
        if inv.interest is not None:
            entry["interest"] = str(inv.interest)
            entry["indemnity"] = str(inv.indemnity)
        invoices.append(entry)
    out: dict[str, Any] = {
        "customer_id": action.customer_id,
        "plan": action.plan,
        "segment": action.segment,
        "step": action.step,
        "channel": action.channel,
        "template": action.template,
        "key": action.key,
        "priority": figure(action.priority, PRIORITY_DECIMALS),
        "currency": action.currency,
        "overdue_amount": str(action.overdue_amount),
        "net_due": str(action.net_due),
        "invoices": invoices,
        "context_invoice_ids": [c.id for c in action.context],
        "credits": [{"id": c.id, "open_amount": str(c.open_amount)} for c in action.credits],
        # The engine builds explanations from plain JSON values already.
        "explanation": action.explanation,
    }
    if action.interest_rate is not None:
        out["interest_rate"] = str(action.interest_rate)
    if action.payment_deadline_days is not None:
        out["payment_deadline_days"] = action.payment_deadline_days
    return out


def kpis_to_json(kpis: Kpis) -> dict[str, Any]:
    return {
        "today": kpis.today.isoformat(),
        "receivables": str(kpis.receivables),
        "aged_balance": {bucket: str(amount) for bucket, amount in kpis.aged_balance.items()},
        "dso_simple": figure(kpis.dso_simple),
        "dso_countback": figure(kpis.dso_countback),
        "overdue_ratio": figure(kpis.overdue_ratio),
        "cei": figure(kpis.cei),
        "avg_days_to_pay_after_first_reminder": figure(kpis.avg_days_to_pay_after_first_reminder),
        "avg_dispute_resolution_days": figure(kpis.avg_dispute_resolution_days),
        "receivables_by_currency": {c: str(a) for c, a in sorted(kpis.by_currency.items())},
        "effectiveness": [
            {k: (figure(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
            for row in kpis.effectiveness
        ],
    }
