"""An action as outbox payload: JSON text that reads back as the same ``Action``.

DESIGN section 9's action JSON (``core.serialize.action_to_json``) is a report:
it leaves out invoice numbers and the context invoices' days and amounts,
which the texts need when the message is rendered at delivery time.  This
form keeps every field; amounts are strings, so Decimals come back exact.
The explanation is plain JSON already (Decimals in it come back as strings).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from core.actions import Action, ActionInvoice, ContextInvoice, Credit
from core.serialize import jsonable

PAYLOAD_FORMAT = "relance.action/1"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def action_to_payload(action: Action) -> str:
    data: dict[str, Any] = {
        "format": PAYLOAD_FORMAT,
        "customer_id": action.customer_id,
        "plan": action.plan,
        "segment": action.segment,
        "step": action.step,
        "channel": action.channel,
        "template": action.template,
        "key": action.key,
        "priority": str(action.priority),
        "currency": action.currency,
        "overdue_amount": str(action.overdue_amount),
        "net_due": str(action.net_due),
        "invoices": [
            [i.id, i.number, i.step, i.days_overdue, str(i.open_amount)]
            + ([] if i.interest is None else [_money(i.interest), _money(i.indemnity)])
            for i in action.invoices
        ],
        "context": [[c.id, c.number, c.days_overdue, str(c.open_amount)] for c in action.context],
        "credits": [[c.id, c.number, str(c.open_amount)] for c in action.credits],
        "explanation": jsonable(action.explanation),
        "interest_rate": _money(action.interest_rate),
        "payment_deadline_days": action.payment_deadline_days,
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def action_from_payload(text: str) -> Action:
    data = json.loads(text)
    if data.get("format") != PAYLOAD_FORMAT:
        raise ValueError(f"not an outbox action payload (format {data.get('format')!r})")
    invoices = []
    for row in data["invoices"]:
        interest = indemnity = None
        if len(row) > 5:
            interest, indemnity = _decimal(row[5]), _decimal(row[6])
        invoices.append(
            ActionInvoice(row[0], row[1], row[2], row[3], Decimal(row[4]), interest, indemnity)
        )
    return Action(
        customer_id=data["customer_id"],
        plan=data["plan"],
        segment=data["segment"],
        step=data["step"],
        channel=data["channel"],
        template=data["template"],
        key=data["key"],
        priority=Decimal(data["priority"]),
        currency=data["currency"],
        overdue_amount=Decimal(data["overdue_amount"]),
        net_due=Decimal(data["net_due"]),
        invoices=tuple(invoices),
        context=tuple(ContextInvoice(r[0], r[1], r[2], Decimal(r[3])) for r in data["context"]),
        credits=tuple(Credit(r[0], r[1], Decimal(r[2])) for r in data["credits"]),
        explanation=data["explanation"],
        interest_rate=_decimal(data["interest_rate"]),
        payment_deadline_days=data["payment_deadline_days"],
    )
