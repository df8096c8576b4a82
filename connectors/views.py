"""Human output of the command line: rich tables, KPI figures rounded to one decimal."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from rich.console import Console, JustifyMethod
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from core.actions import Action
from core.metrics import AGE_BUCKETS, Kpis
from core.model import Ledger
from core.texts import RenderedText

# Piped output (a file, CI logs) gets a comfortable width instead of rich's 80 columns.
console = Console(width=shutil.get_terminal_size((132, 40)).columns, markup=False, highlight=False)

BUCKET_LABELS = {
    "not_due": "not due",
    "1_30": "1-30 days",
    "31_60": "31-60 days",
    "61_90": "61-90 days",
    "over_90": "over 90 days",
}


def amount(value: Decimal, currency: str = "") -> str:
    text = f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"
    return f"{text} {currency}".strip()


def one_decimal(value: Decimal | None, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}{suffix}"


def actions_table(actions: list[Action], ledger: Ledger, limit: int | None) -> Table:
    names = {c.id: c.name for c in ledger.customers}
    table = Table(
        title="Worklist: reminders due today (highest priority first)",
        show_lines=False,
        expand=True,
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"),
        ("customer", "left"),
        ("segment", "left"),
        ("plan / step", "left"),
        ("channel", "left"),
        ("invoices", "right"),
        ("overdue", "right"),
        ("net due", "right"),
        ("priority", "right"),
    )
    for column, justify in columns:
        if column == "customer":
            table.add_column(column, overflow="ellipsis", no_wrap=True, ratio=1, min_width=24)
        else:
            table.add_column(column, justify=justify, no_wrap=True, min_width=len(column))
    shown = actions if limit is None else actions[:limit]
    for rank, action in enumerate(shown, start=1):
        table.add_row(
            str(rank),
            f"{action.customer_id} {names.get(action.customer_id, '')}",
            action.segment,
            f"{action.plan} / {action.step}",
            action.channel,
            str(len(action.invoices)),
            amount(action.overdue_amount, action.currency),
            amount(action.net_due, action.currency),
            f"{action.priority:,.0f}",
        )
    return table


def show_actions(
    actions: list[Action], ledger: Ledger, today: date, *, limit: int | None = None
) -> None:
    if not actions:
        console.print(f"Nothing to send on {today.isoformat()}.")
        return
    console.print(actions_table(actions, ledger, limit))
    channels = Counter(a.channel for a in actions)
    summary = ", ".join(f"{count} {channel}" for channel, count in sorted(channels.items()))
    console.print(f"{len(actions)} action(s) on {today.isoformat()}: {summary}")
    if limit is not None and len(actions) > limit:
        console.print(f"(first {limit} shown; --json lists them all)")


def kpi_table(kpis: Kpis) -> Table:
    table = Table(title=f"Receivables on {kpis.today.isoformat()}")
    table.add_column("indicator")
    table.add_column("value", justify="right")
    table.add_row("receivables (open invoices - open credits)", amount(kpis.receivables))
    for bucket in AGE_BUCKETS:
        table.add_row(f"  aged balance: {BUCKET_LABELS[bucket]}", amount(kpis.aged_balance[bucket]))
    table.add_row("DSO, simple (90 days)", one_decimal(kpis.dso_simple, " days"))
    table.add_row("DSO, count-back", one_decimal(kpis.dso_countback, " days"))
    ratio = None if kpis.overdue_ratio is None else kpis.overdue_ratio * 100
    table.add_row("overdue ratio", one_decimal(ratio, " %"))
    table.add_row("collection effectiveness index (3 months)", one_decimal(kpis.cei, " %"))
    table.add_row(
        "days to pay after first reminder",
        one_decimal(kpis.avg_days_to_pay_after_first_reminder, " days"),
    )
    table.add_row(
        "days to resolve a dispute", one_decimal(kpis.avg_dispute_resolution_days, " days")
    )
    return table


def effectiveness_table(kpis: Kpis) -> Table:
    table = Table(title="Reminder effectiveness (invoices paid within 14 days)")
    for column in ("plan", "step", "channel", "segment", "reminders", "paid share"):
        table.add_column(
            column, justify="right" if column in ("reminders", "paid share", "step") else "left"
        )
    for row in kpis.effectiveness:
        share = row["paid_share"]
        table.add_row(
            str(row["plan"]),
            str(row["step"]),
            str(row["channel"]),
            str(row["segment"]),
            str(row["reminders"]),
            one_decimal(share * 100 if isinstance(share, Decimal) else None, " %"),
        )
    return table


def show_kpis(kpis: Kpis) -> None:
    console.print(kpi_table(kpis))
    if kpis.effectiveness:
        console.print(effectiveness_table(kpis))


def show_explanation(result: dict[str, Any]) -> None:
    console.print(
        Text(f"{result['name']} ({result['customer_id']}) on {result['today']}", style="bold")
    )
    if "segment" in result:
        console.print(
            f"segment: {result['segment'] or '(none)'}   plan: {result['plan'] or '(none)'}"
        )
        console.print(f"why: {describe_assignment(result['segment_explanation'])}")
    metrics = Table(title="metrics")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for name, value in result["metrics"].items():
        shown = (
            ", ".join(sorted(value))
            if isinstance(value, frozenset)
            else (one_decimal(value) if isinstance(value, Decimal) else str(value))
        )
        metrics.add_row(name, shown)
    console.print(metrics)
    if result.get("invoices"):
        table = Table(title="open invoices")
        for column in ("invoice", "due", "days", "open", "reached", "done", "today"):
            table.add_column(column)
        for row in result["invoices"]:
            table.add_row(
                row["number"],
                row["due_date"],
                str(row["days_overdue"]),
                amount(row["open_amount"], row["currency"]),
                str(row["reached"]),
                str(row["done"]),
                row["why"],
            )
        console.print(table)
    console.print(Text(f"verdict: {result['verdict']}", style="bold"))


def _short(value: object) -> str:
    """A metric value as people read it: at most one decimal."""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return str(number) if number == number.to_integral_value() else one_decimal(number)


def describe_assignment(explanation: dict[str, Any]) -> str:
    """The segment explanation in one readable line."""
    rule = explanation.get("rule")
    if rule is None:
        return str(explanation.get("reason", "no segment rule matched"))
    if rule == "manual":
        return f"manual plan '{explanation.get('plan')}' set on the customer"
    values = ", ".join(
        f"{name} = {_short(value)}" for name, value in (explanation.get("metrics") or {}).items()
    )
    return f"rule '{rule}' ({explanation.get('when')})" + (f" with {values}" if values else "")


def show_rendered(action: Action, text: RenderedText) -> None:
    title = f"{action.channel} / {text.template} ({text.language}) for {action.customer_id}"
    body = f"Subject: {text.subject}\n\n{text.body}" if text.subject else text.body
    console.print(Panel(body, title=title, expand=False))


def show_demo(
    ledger: Ledger,
    actions: list[Action],
    kpis: Kpis,
    samples: list[tuple[Action, RenderedText]],
    today: date,
    saved: Path | None,
) -> None:
    open_count = sum(1 for i in ledger.invoices if i.open_amount > 0)
    console.print(
        Panel(
            f"Demo ledger: {len(ledger.customers)} customers, {len(ledger.invoices)} invoices "
            f"({open_count} open), {len(ledger.reminders)} past reminders.\n"
            f"Dry run on {today.isoformat()}: nothing is sent.",
            title="relance demo",
            expand=False,
        )
    )
    show_actions(actions, ledger, today, limit=15)
    show_kpis(kpis)
    for action, text in samples:
        show_rendered(action, text)
    if saved is not None:
        console.print(f"ledger written to {saved}")
