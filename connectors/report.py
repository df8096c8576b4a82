"""``relance report``: the receivables picture as one standalone HTML file and an XLSX workbook.

``build_report`` gathers the figures (DESIGN §6): the headline KPIs, the aged
balance, the count-back DSO at the end of each of the last 12 months, the
reminder effectiveness per plan, step, channel and segment, receivables per
segment, and today's worklist (the actions, highest priority first).
``write_html`` and ``write_xlsx`` only present them, in French (default) or
English.

Decisions:

- KPI figures are shown rounded half-up to one decimal; amounts to the cent.
  Ratios (overdue ratio, CEI, paid share) are shown as percentages.
- The DSO trend recomputes core's count-back DSO as of each month end from the
  ledger: receivables then are the invoices issued by that date and not paid
  by it (their open amount if still open, their full amount if paid later),
  less the credit notes likewise; sales come from issue dates.  The last point
  is today, and equals ``Kpis.dso_countback``.  The ledger keeps paid invoices
  for 365 days only, so the older points may miss sales paid long ago: the
  report says so.
- Charts are matplotlib PNGs (Agg, no pyplot state) embedded as ``data:`` URIs:
  the HTML file stands alone and loads nothing from the network.
- The HTML worklist shows the first ``worklist_limit`` actions; the XLSX has them all.
- Amounts in several currencies are added as they are, as core does; the
  summary then lists receivables per currency.
"""

from __future__ import annotations

import base64
import html
import io
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, format_decimal
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core.actions import Action
from core.metrics import AGE_BUCKETS, Kpis, dso_countback, months_back
from core.model import ZERO, Ledger
from core.texts import format_date, format_money

__all__ = [
    "AgedBucket",
    "DsoPoint",
    "EffectivenessRow",
    "Report",
    "SegmentRow",
    "WorkItem",
    "build_report",
    "dso_trend",
    "write_html",
    "write_xlsx",
]

TREND_MONTHS = 12
ONE_DECIMAL = Decimal("0.1")
CENT = Decimal("0.01")
PERCENT_PLACES = Decimal("0.001")  # a fraction shown as a percentage with one decimal
DEFAULT_WORKLIST_LIMIT = 200

BUCKET_COLOURS = {
    "not_due": "#5b9a74",
    "1_30": "#d8b247",
    "31_60": "#e08a3c",
    "61_90": "#cf5f3a",
    "over_90": "#a8323a",
}
LINE_COLOUR = "#2f5d8a"


# The figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgedBucket:
    bucket: str  # one of core.metrics.AGE_BUCKETS
    amount: Decimal
    share: Decimal | None  # of the open invoices' total


@dataclass(frozen=True)
class DsoPoint:
    as_of: date  # a month end, or today for the last point
    receivables: Decimal
    sales: Decimal  # invoiced in the month of as_of, up to as_of
    dso: Decimal | None  # None: no sales in the 13 months counted back


@dataclass(frozen=True)
class EffectivenessRow:
    plan: str
    step: int
    channel: str
    segment: str
    reminders: int
    invoices: int
    paid_within_14_days: int
    paid_share: Decimal | None


@dataclass(frozen=True)
class SegmentRow:
    segment: str
    customers: int  # with something open
    outstanding: Decimal
    overdue: Decimal


@dataclass(frozen=True)
class WorkItem:
    rank: int
    customer_id: str
    customer_name: str
    phone: str
    segment: str
    plan: str
    step: int
    channel: str
    template: str
    invoice_numbers: tuple[str, ...]
    days_overdue: int  # the largest among the listed and context invoices
    currency: str
    overdue_amount: Decimal
    net_due: Decimal
    priority: Decimal


@dataclass(frozen=True)
class Report:
    company_name: str
    today: date
    currency: str
    kpis: Kpis
    aged_balance: tuple[AgedBucket, ...]
    dso_trend: tuple[DsoPoint, ...]
    effectiveness: tuple[EffectivenessRow, ...]
    segments: tuple[SegmentRow, ...]
    worklist: tuple[WorkItem, ...]

    @property
    def overdue(self) -> Decimal:
        return sum((b.amount for b in self.aged_balance if b.bucket != "not_due"), ZERO)


def trend_dates(today: date, months: int = TREND_MONTHS) -> list[date]:
    """The last day of each of the ``months - 1`` previous months, then today."""
    first_of_month = today.replace(day=1)
    ends = [
        months_back(first_of_month, k - 1) - timedelta(days=1) for k in range(months - 1, 0, -1)
    ]
    return [*ends, today]


def dso_trend(ledger: Ledger, today: date, months: int = TREND_MONTHS) -> list[DsoPoint]:
    """Count-back DSO (DESIGN §6) as of each month end over the last ``months`` months, and today.

    Receivables at a date are the invoices issued by then and not paid by then,
    less the credit notes likewise: an open item counts its open amount, a
    settled one its full amount until its paid date.  Today every open item
    counts, as in ``compute_kpis``.
    """
    points = trend_dates(today, months)
    count = len(points)
    # Each item adds to the receivables of the points in [from, until): a
    # difference array over the points, one pass over the ledger.
    delta = [ZERO] * (count + 1)
    sales_by_month: dict[tuple[int, int], Decimal] = {}
    for inv in ledger.invoices:
        sign = 1 if inv.kind == "invoice" else -1
        issued = inv.issue_date
        if sign > 0 and issued <= today:
            key = (issued.year, issued.month)
            sales_by_month[key] = sales_by_month.get(key, ZERO) + inv.amount
        if inv.open_amount > 0:
            start = min(bisect_left(points, issued), count - 1)
            delta[start] += sign * inv.open_amount
        elif inv.paid_date is not None and inv.paid_date > issued:
            start = bisect_left(points, issued)
            # Settled items never count today, whatever their paid date says.
            end = min(bisect_right(points, inv.paid_date - timedelta(days=1)), count - 1)
            if start < end:
                delta[start] += sign * inv.amount
                delta[end] -= sign * inv.amount
    trend: list[DsoPoint] = []
    receivables = ZERO
    for k, as_of in enumerate(points):
        receivables += delta[k]
        months_counted = [months_back(as_of.replace(day=1), back) for back in range(13)]
        sales = [sales_by_month.get((m.year, m.month), ZERO) for m in months_counted]
        days = [as_of.day] + [_month_length(m) for m in months_counted[1:]]
        trend.append(
            DsoPoint(as_of, receivables, sales[0], dso_countback(receivables, sales, days))
        )
    return trend


def _month_length(first: date) -> int:
    return (months_back(first, -1) - first).days


def build_report(
    ledger: Ledger,
    today: date,
    *,
    kpis: Kpis,
    actions: Sequence[Action],
    segments: Mapping[str, str],
    company_name: str,
) -> Report:
    """The report's figures as of today.

    ``kpis`` is ``compute_kpis(ledger, today, segments)``; ``actions`` today's
    plan; ``segments`` maps customer ids to today's segment (receivables per
    segment; customers it does not name are grouped under "").
    """
    open_total = sum(kpis.aged_balance.values(), ZERO)
    aged = tuple(
        AgedBucket(bucket, kpis.aged_balance.get(bucket, ZERO), _share(amount, open_total))
        for bucket in AGE_BUCKETS
        for amount in [kpis.aged_balance.get(bucket, ZERO)]
    )
    effectiveness = tuple(
        EffectivenessRow(
            plan=str(row["plan"]),
            step=_int(row["step"]),
            channel=str(row["channel"]),
            segment=str(row["segment"]),
            reminders=_int(row["reminders"]),
            invoices=_int(row["invoices"]),
            paid_within_14_days=_int(row["paid_within_14_days"]),
            paid_share=_decimal_or_none(row["paid_share"]),
        )
        for row in kpis.effectiveness
    )
    return Report(
        company_name=company_name,
        today=today,
        currency=ledger.currency,
        kpis=kpis,
        aged_balance=aged,
        dso_trend=tuple(dso_trend(ledger, today)),
        effectiveness=effectiveness,
        segments=_segment_rows(ledger, today, segments),
        worklist=_worklist(ledger, actions),
    )


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    return part / whole if whole > 0 else None


def _int(value: object) -> int:
    if isinstance(value, int):
        return value
    raise TypeError(f"expected a whole number, got {value!r}")


def _decimal_or_none(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    raise TypeError(f"expected a Decimal, got {value!r}")


def _segment_rows(
    ledger: Ledger, today: date, segments: Mapping[str, str]
) -> tuple[SegmentRow, ...]:
    if not segments:
        return ()
    groups: dict[str, tuple[set[str], list[Decimal]]] = {}
    for inv in ledger.invoices:
        if inv.kind != "invoice" or inv.open_amount <= 0:
            continue
        customers, sums = groups.setdefault(
            segments.get(inv.customer_id, ""), (set(), [ZERO, ZERO])
        )
        customers.add(inv.customer_id)
        sums[0] += inv.open_amount
        if inv.due_date < today:
            sums[1] += inv.open_amount
    rows = [
        SegmentRow(name, len(customers), sums[0], sums[1])
        for name, (customers, sums) in groups.items()
    ]
    rows.sort(key=lambda r: (-r.outstanding, r.segment))
    return tuple(rows)


def _worklist(ledger: Ledger, actions: Sequence[Action]) -> tuple[WorkItem, ...]:
    customers = {c.id: c for c in ledger.customers}
    ordered = sorted(actions, key=lambda a: (-a.priority, a.customer_id, a.currency))
    items = []
    for rank, action in enumerate(ordered, start=1):
        customer = customers.get(action.customer_id)
        days = [i.days_overdue for i in action.invoices] + [c.days_overdue for c in action.context]
        items.append(
            WorkItem(
                rank=rank,
                customer_id=action.customer_id,
                customer_name=customer.name if customer else "",
                phone=(customer.phone or "") if customer else "",
                segment=action.segment,
                plan=action.plan,
                step=action.step,
                channel=action.channel,
                template=action.template,
                invoice_numbers=tuple(i.number for i in action.invoices),
                days_overdue=max(days, default=0),
                currency=action.currency,
                overdue_amount=action.overdue_amount,
                net_due=action.net_due,
                priority=action.priority,
            )
        )
    return tuple(items)


# Words ------------------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Rapport de recouvrement",
        "as_of": "au",
        "summary": "Synthèse",
        "receivables": "Encours clients",
        "overdue": "Échu",
        "overdue_ratio": "Part échue",
        "dso_simple": "DSO (90 jours)",
        "dso_countback": "DSO (par épuisement)",
        "cei": "CEI (3 mois)",
        "days_to_pay": "Délai de paiement après 1re relance",
        "dispute_days": "Résolution des litiges",
        "actions_today": "Actions du jour",
        "days": "j",
        "by_currency": "Encours par devise",
        "colon": "\u00a0: ",
        "aged_balance": "Balance âgée",
        "bucket": "Tranche",
        "amount": "Montant",
        "share": "Part",
        "total": "Total",
        "dso_trend": "DSO par épuisement du CA, sur 12 mois",
        "as_of_date": "Au",
        "month_sales": "CA du mois",
        "dso_days": "DSO (jours)",
        "dso_note": (
            "Calculé à chaque fin de mois à partir du grand livre ; le dernier point est "
            "aujourd’hui. Le grand livre ne garde les factures payées que 365 jours : les "
            "points les plus anciens peuvent sous-estimer le CA."
        ),
        "segments": "Encours par segment",
        "segment": "Segment",
        "customers": "Clients",
        "outstanding": "Encours",
        "effectiveness": "Efficacité des relances",
        "effectiveness_note": "Part des factures relancées payées dans les 14 jours suivants.",
        "plan": "Scénario",
        "step": "Étape",
        "channel": "Canal",
        "reminders": "Relances",
        "invoices": "Factures",
        "paid_14": "Payées sous 14 j",
        "paid_share": "Taux",
        "worklist": "Actions du jour, par priorité",
        "rank": "N°",
        "customer": "Client",
        "customer_id": "Code client",
        "phone": "Téléphone",
        "days_overdue": "Retard (j)",
        "net_due": "Net dû",
        "priority": "Priorité",
        "currency": "Devise",
        "template": "Modèle",
        "more": "… et {count} autres actions (voir le classeur XLSX).",
        "none": "Aucune donnée.",
        "no_action": "Aucune action aujourd’hui.",
        "not_available": "n.d.",
        "generated": "Généré par Relance le {date}.",
        "no_segment": "(sans segment)",
        "figure": "Indicateur",
        "value": "Valeur",
        "unit": "Unité",
        "percent": "%",
        "not_due": "Non échu",
        "1_30": "1–30 j",
        "31_60": "31–60 j",
        "61_90": "61–90 j",
        "over_90": "> 90 j",
        "email": "E-mail",
        "sms": "SMS",
        "letter": "Courrier",
        "phone_call": "Appel",
        "formal_notice": "Mise en demeure",
        "escalation": "Contentieux",
        "sheet_summary": "Synthèse",
        "sheet_aged": "Balance âgée",
        "sheet_dso": "DSO",
        "sheet_segments": "Segments",
        "sheet_effectiveness": "Efficacité",
        "sheet_worklist": "Actions",
    },
    "en": {
        "title": "Receivables report",
        "as_of": "as of",
        "summary": "Summary",
        "receivables": "Receivables",
        "overdue": "Overdue",
        "overdue_ratio": "Overdue ratio",
        "dso_simple": "DSO (90 days)",
        "dso_countback": "DSO (count-back)",
        "cei": "CEI (3 months)",
        "days_to_pay": "Days to pay after first reminder",
        "dispute_days": "Dispute resolution",
        "actions_today": "Actions today",
        "days": "d",
        "by_currency": "Receivables by currency",
        "colon": ": ",
        "aged_balance": "Aged balance",
        "bucket": "Bucket",
        "amount": "Amount",
        "share": "Share",
        "total": "Total",
        "dso_trend": "Count-back DSO over 12 months",
        "as_of_date": "As of",
        "month_sales": "Month’s sales",
        "dso_days": "DSO (days)",
        "dso_note": (
            "Computed at each month end from the ledger; the last point is today. The ledger "
            "keeps paid invoices for 365 days only: the oldest points may understate sales."
        ),
        "segments": "Receivables by segment",
        "segment": "Segment",
        "customers": "Customers",
        "outstanding": "Outstanding",
        "effectiveness": "Reminder effectiveness",
        "effectiveness_note": "Share of reminded invoices paid within the next 14 days.",
        "plan": "Plan",
        "step": "Step",
        "channel": "Channel",
        "reminders": "Reminders",
        "invoices": "Invoices",
        "paid_14": "Paid within 14 d",
        "paid_share": "Rate",
        "worklist": "Today’s actions, by priority",
        "rank": "#",
        "customer": "Customer",
        "customer_id": "Customer id",
        "phone": "Phone",
        "days_overdue": "Days overdue",
        "net_due": "Net due",
        "priority": "Priority",
        "currency": "Currency",
        "template": "Template",
        "more": "… and {count} more actions (see the XLSX workbook).",
        "none": "No data.",
        "no_action": "No action today.",
        "not_available": "n/a",
        "generated": "Generated by Relance on {date}.",
        "no_segment": "(no segment)",
        "figure": "Figure",
        "value": "Value",
        "unit": "Unit",
        "percent": "%",
        "not_due": "Not due",
        "1_30": "1–30 d",
        "31_60": "31–60 d",
        "61_90": "61–90 d",
        "over_90": "> 90 d",
        "email": "Email",
        "sms": "SMS",
        "letter": "Letter",
        "phone_call": "Phone",
        "formal_notice": "Formal notice",
        "escalation": "Escalation",
        "sheet_summary": "Summary",
        "sheet_aged": "Aged balance",
        "sheet_dso": "DSO",
        "sheet_segments": "Segments",
        "sheet_effectiveness": "Effectiveness",
        "sheet_worklist": "Worklist",
    },
}
_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def _language(language: str) -> str:
    code = language.replace("-", "_").split("_", 1)[0].lower()
    if code not in LABELS:
        raise ValueError(f"unsupported report language '{language}' (known: fr, en)")
    return code


class _Words:
    def __init__(self, language: str) -> None:
        self.language = _language(language)
        self.labels = LABELS[self.language]
        self.locale = _LOCALES[self.language]

    def __getitem__(self, key: str) -> str:
        return self.labels[key]

    def channel(self, channel: str) -> str:
        return self.labels.get("phone_call" if channel == "phone" else channel, channel)

    def segment(self, segment: str) -> str:
        return segment or self.labels["no_segment"]

    def money(self, amount: Decimal, currency: str) -> str:
        return format_money(amount.quantize(CENT, rounding=ROUND_HALF_UP), currency, self.language)

    def whole_money(self, amount: float, currency: str) -> str:
        """Chart axes: whole units (``1 234 €``, ``€1,234``)."""
        pattern = "#,##0\u00a0¤" if self.language == "fr" else "¤#,##0"
        return format_currency(
            Decimal(round(amount)),
            currency,
            format=pattern,
            locale=self.locale,
            currency_digits=False,
        )

    def figure(self, value: Decimal | None, suffix: str = "") -> str:
        """A KPI figure: one decimal, half-up."""
        if value is None:
            return self.labels["not_available"]
        rounded = value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)
        text = format_decimal(rounded, format="#,##0.0", locale=self.locale)
        return f"{text}\u00a0{suffix}" if suffix else text

    def percent(self, fraction: Decimal | None) -> str:
        return self.figure(None if fraction is None else fraction * 100, "%")

    def day(self, day: date) -> str:
        return format_date(day, self.language)

    def month(self, day: date) -> str:
        return babel_format_date(day, "MMM yyyy", locale=self.locale)

    def day_and_month(self, day: date) -> str:
        return babel_format_date(day, "d MMM yyyy", locale=self.locale)


def _round(value: Decimal | None, places: Decimal = ONE_DECIMAL) -> Decimal | None:
    return None if value is None else value.quantize(places, rounding=ROUND_HALF_UP)


def _headline(report: Report, words: _Words) -> list[tuple[str, Decimal | None, str]]:
    """(label, value, unit) of the summary figures; unit "%" holds a fraction."""
    k = report.kpis
    days = words["days"]
    return [
        (words["receivables"], k.receivables, report.currency),
        (words["overdue"], report.overdue, report.currency),
        (words["overdue_ratio"], k.overdue_ratio, "%"),
        (words["dso_countback"], k.dso_countback, days),
        (words["dso_simple"], k.dso_simple, days),
        (words["cei"], None if k.cei is None else k.cei / 100, "%"),
        (words["days_to_pay"], k.avg_days_to_pay_after_first_reminder, days),
        (words["dispute_days"], k.avg_dispute_resolution_days, days),
        (words["actions_today"], Decimal(len(report.worklist)), ""),
    ]


# Charts -----------------------------------------------------------------------------------


def _png(figure: Figure) -> str:
    """The figure as a ``data:`` URI (no metadata: nothing in the file points elsewhere)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _axes_style(figure: Figure) -> None:
    for axes in figure.axes:
        axes.spines[["top", "right"]].set_visible(False)
        axes.spines[["left", "bottom"]].set_color("#b8bec6")
        axes.tick_params(colors="#4a5460", labelsize=9)
        axes.grid(axis="y", color="#e6e9ed", linewidth=0.8)
        axes.set_axisbelow(True)


def aged_balance_chart(report: Report, words: _Words) -> str:
    figure = Figure(figsize=(7.2, 3.0), dpi=144, layout="constrained")
    axes = figure.subplots()
    labels = [words[b.bucket] for b in report.aged_balance]
    values = [float(b.amount) for b in report.aged_balance]
    bars = axes.bar(
        labels, values, color=[BUCKET_COLOURS[b.bucket] for b in report.aged_balance], width=0.62
    )

    def money(value: float, _position: object) -> str:
        return words.whole_money(value, report.currency)

    axes.yaxis.set_major_formatter(FuncFormatter(money))
    axes.bar_label(bars, labels=[money(v, None) for v in values], fontsize=8, color="#2b3440")
    axes.set_ylim(0, max(values, default=0) * 1.15 or 1)
    _axes_style(figure)
    return _png(figure)


def dso_trend_chart(report: Report, words: _Words) -> str:
    figure = Figure(figsize=(7.2, 3.0), dpi=144, layout="constrained")
    axes = figure.subplots()
    labels = [words.month(p.as_of) for p in report.dso_trend[:-1]]
    labels += [words.day_and_month(p.as_of) for p in report.dso_trend[-1:]]
    values = [float("nan") if p.dso is None else float(p.dso) for p in report.dso_trend]
    positions = list(range(len(labels)))
    axes.plot(positions, values, color=LINE_COLOUR, marker="o", markersize=4, linewidth=2)
    axes.fill_between(positions, values, color=LINE_COLOUR, alpha=0.08)
    axes.set_xticks(positions, labels, rotation=45, ha="right")
    axes.set_ylabel(words["dso_days"], fontsize=9, color="#4a5460")
    known = [v for v in values if v == v]
    axes.set_ylim(0, max(known, default=0) * 1.2 or 1)
    last = report.dso_trend[-1] if report.dso_trend else None
    if last is not None and last.dso is not None:
        axes.annotate(
            words.figure(last.dso),
            (positions[-1], float(last.dso)),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=9,
            fontweight="bold",
            color=LINE_COLOUR,
        )
    _axes_style(figure)
    return _png(figure)


# HTML -------------------------------------------------------------------------------------

CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #e3e7ec; --accent: #2f5d8a; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 24px 48px; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 20px; padding-bottom: 10px; }
h1 { font-size: 24px; margin: 0; }
header p { margin: 4px 0 0; color: var(--muted); }
h2 { font-size: 17px; margin: 0 0 12px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 18px 20px; margin-bottom: 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
img.chart { display: block; width: 100%; max-width: 760px; height: auto; margin: 0 auto 12px; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: #fafbfc; }
td.num, th.num { text-align: right; white-space: nowrap; }
.nowrap { white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfcfd; }
tfoot td { font-weight: 600; }
.note { color: var(--muted); font-size: 12px; margin: 8px 0 0; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 6px; vertical-align: baseline; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
@media print {
  body { background: #fff; }
  section { break-inside: avoid; border: none; padding: 0; }
}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(
    headers: Sequence[tuple[str, bool]],
    rows: Sequence[Sequence[str]],
    footer: Sequence[str] | None = None,
) -> str:
    """A table; each header says whether its column holds numbers (right-aligned).

    Cells are given already escaped.
    """

    def cells(values: Sequence[str], tag: str) -> str:
        return "".join(
            f"<{tag}{' class=num' if numeric else ''}>{value}</{tag}>"
            for value, (_, numeric) in zip(values, headers, strict=True)
        )

    head = cells([_e(h) for h, _ in headers], "th")
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    foot = f"<tfoot><tr>{cells(footer, 'td')}</tr></tfoot>" if footer else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}</table>"


def render_html(
    report: Report, *, language: str = "fr", worklist_limit: int = DEFAULT_WORKLIST_LIMIT
) -> str:
    """The report as one HTML document that loads nothing from elsewhere."""
    w = _Words(language)
    currency = report.currency
    title = f"{w['title']} — {report.company_name} — {w.day(report.today)}"
    parts: list[str] = [
        f'<!doctype html><html lang="{w.language}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>",
        f"<header><h1>{_e(w['title'])}</h1>",
        f"<p>{_e(report.company_name)} · {_e(w['as_of'])} {_e(w.day(report.today))}</p></header>",
    ]

    cards = []
    for label, value, unit in _headline(report, w):
        if unit == "%":
            shown = w.percent(value)
        elif unit in ("", w["days"]):
            shown = w.figure(value, unit) if unit else str(int(value or 0))
        else:
            shown = w.money(value or ZERO, unit)
        cards.append(
            f'<div class="card"><div class="label">{_e(label)}</div>'
            f'<div class="value">{_e(shown)}</div></div>'
        )
    parts.append(f'<section id="summary"><h2>{_e(w["summary"])}</h2>')
    parts.append(f'<div class="cards">{"".join(cards)}</div>')
    if len(report.kpis.by_currency) > 1:
        listed = ", ".join(
            w.money(amount, code) for code, amount in sorted(report.kpis.by_currency.items())
        )
        parts.append(f'<p class="note">{_e(w["by_currency"])}{_e(w["colon"])}{_e(listed)}</p>')
    parts.append("</section>")

    parts.append(f'<section id="aged-balance"><h2>{_e(w["aged_balance"])}</h2>')
    parts.append(
        f'<img class="chart" src="{aged_balance_chart(report, w)}" alt="{_e(w["aged_balance"])}">'
    )
    rows = [
        [
            f'<span class="swatch" style="background:{BUCKET_COLOURS[b.bucket]}"></span>'
            f"{_e(w[b.bucket])}",
            _e(w.money(b.amount, currency)),
            _e(w.percent(b.share)),
        ]
        for b in report.aged_balance
    ]
    total = sum((b.amount for b in report.aged_balance), ZERO)
    parts.append(
        _table(
            [(w["bucket"], False), (w["amount"], True), (w["share"], True)],
            rows,
            [_e(w["total"]), _e(w.money(total, currency)), ""],
        )
    )
    parts.append("</section>")

    parts.append(f'<section id="dso-trend"><h2>{_e(w["dso_trend"])}</h2>')
    parts.append(
        f'<img class="chart" src="{dso_trend_chart(report, w)}" alt="{_e(w["dso_trend"])}">'
    )
    rows = [
        [
            _e(w.day(p.as_of)),
            _e(w.money(p.receivables, currency)),
            _e(w.money(p.sales, currency)),
            _e(w.figure(p.dso)),
        ]
        for p in report.dso_trend
    ]
    parts.append(
        _table(
            [
                (w["as_of_date"], False),
                (w["receivables"], True),
                (w["month_sales"], True),
                (w["dso_days"], True),
            ],
            rows,
        )
    )
    parts.append(f'<p class="note">{_e(w["dso_note"])}</p></section>')

    if report.segments:
        parts.append(f'<section id="segments"><h2>{_e(w["segments"])}</h2>')
        rows = [
            [
                _e(w.segment(s.segment)),
                _e(s.customers),
                _e(w.money(s.outstanding, currency)),
                _e(w.money(s.overdue, currency)),
            ]
            for s in report.segments
        ]
        parts.append(
            _table(
                [
                    (w["segment"], False),
                    (w["customers"], True),
                    (w["outstanding"], True),
                    (w["overdue"], True),
                ],
                rows,
            )
        )
        parts.append("</section>")

    parts.append(f'<section id="effectiveness"><h2>{_e(w["effectiveness"])}</h2>')
    if report.effectiveness:
        rows = [
            [
                _e(r.plan),
                _e(r.step),
                _e(w.channel(r.channel)),
                _e(w.segment(r.segment)),
                _e(r.reminders),
                _e(r.invoices),
                _e(r.paid_within_14_days),
                _e(w.percent(r.paid_share)),
            ]
            for r in report.effectiveness
        ]
        parts.append(
            _table(
                [
                    (w["plan"], False),
                    (w["step"], True),
                    (w["channel"], False),
                    (w["segment"], False),
                    (w["reminders"], True),
                    (w["invoices"], True),
                    (w["paid_14"], True),
                    (w["paid_share"], True),
                ],
                rows,
            )
        )
        parts.append(f'<p class="note">{_e(w["effectiveness_note"])}</p>')
    else:
        parts.append(f'<p class="note">{_e(w["none"])}</p>')
    parts.append("</section>")

    parts.append(f'<section id="worklist"><h2>{_e(w["worklist"])}</h2>')
    visible = report.worklist[: max(worklist_limit, 0)]
    if visible:
        rows = [
            [
                _e(item.rank),
                f"{_e(item.customer_name or item.customer_id)}"
                f'<br><span class="note">{_e(item.customer_id)}'
                f"{' · ' + _e(item.phone) if item.phone and item.channel == 'phone' else ''}"
                "</span>",
                _e(w.channel(item.channel)),
                _e(f"{item.plan}\u00a0/\u00a0{item.step}"),
                _numbers(item.invoice_numbers),
                _e(item.days_overdue),
                _e(w.money(item.overdue_amount, item.currency)),
                _e(w.money(item.net_due, item.currency)),
            ]
            for item in visible
        ]
        parts.append(
            _table(
                [
                    (w["rank"], True),
                    (w["customer"], False),
                    (w["channel"], False),
                    (f"{w['plan']} / {w['step'].lower()}", False),
                    (w["invoices"], False),
                    (w["days_overdue"], True),
                    (w["overdue"], True),
                    (w["net_due"], True),
                ],
                rows,
            )
        )
        hidden = len(report.worklist) - len(visible)
        if hidden > 0:
            parts.append(f'<p class="note">{_e(w["more"].format(count=hidden))}</p>')
    else:
        parts.append(f'<p class="note">{_e(w["no_action"])}</p>')
    parts.append("</section>")

    parts.append(f"<footer>{_e(w['generated'].format(date=w.day(report.today)))}</footer>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _numbers(numbers: Sequence[str], shown: int = 3) -> str:
    """The first invoice numbers, escaped, each kept on one line."""
    cells = ", ".join(f'<span class="nowrap">{_e(n)}</span>' for n in numbers[:shown])
    return cells + (f" +{len(numbers) - shown}" if len(numbers) > shown else "")


def write_html(
    report: Report,
    path: Path,
    *,
    language: str = "fr",
    worklist_limit: int = DEFAULT_WORKLIST_LIMIT,
) -> None:
    """Write the standalone HTML report (charts embedded, no external resource)."""
    text = render_html(report, language=language, worklist_limit=worklist_limit)
    path.write_text(text, encoding="utf-8")


# XLSX -------------------------------------------------------------------------------------

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="2F5D8A")
_TITLE_FONT = Font(bold=True, size=14)
_MONEY = "#,##0.00"
_FIGURE = "0.0"
_PERCENT = "0.0%"


def _sheet(
    workbook: Workbook, title: str, headers: Sequence[str], widths: Sequence[int]
) -> Worksheet:
    sheet: Worksheet = workbook.create_sheet(title)
    sheet.append(list(headers))
    for column, width in enumerate(widths, start=1):
        cell = sheet.cell(row=1, column=column)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"
    return sheet


def _formats(sheet: Worksheet, formats: Mapping[int, str]) -> None:
    for row in sheet.iter_rows(min_row=2):
        for column, number_format in formats.items():
            row[column - 1].number_format = number_format


def _money_value(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def write_xlsx(report: Report, path: Path, *, language: str = "fr") -> None:
    """Write the report as a workbook: one sheet per section, numbers as numbers."""
    w = _Words(language)
    date_format = "DD/MM/YYYY"
    workbook = Workbook()
    default = workbook.active
    if default is not None:
        workbook.remove(default)

    summary = _sheet(
        workbook, w["sheet_summary"], [w["figure"], w["value"], w["unit"]], [40, 18, 10]
    )
    for label, value, unit in _headline(report, w):
        if unit == "%":
            summary.append([label, _round(value, PERCENT_PLACES), w["percent"]])
            summary.cell(row=summary.max_row, column=2).number_format = _PERCENT
        elif unit in ("", w["days"]):
            summary.append([label, _round(value) if unit else int(value or 0), unit])
            summary.cell(row=summary.max_row, column=2).number_format = _FIGURE if unit else "0"
        else:
            summary.append([label, _money_value(value or ZERO), unit])
            summary.cell(row=summary.max_row, column=2).number_format = _MONEY
    for code, amount in sorted(report.kpis.by_currency.items()):
        summary.append([f"{w['by_currency']} ({code})", _money_value(amount), code])
        summary.cell(row=summary.max_row, column=2).number_format = _MONEY
    summary.append([])
    summary.append([report.company_name, report.today, w["as_of_date"]])
    summary.cell(row=summary.max_row, column=2).number_format = date_format

    aged = _sheet(workbook, w["sheet_aged"], [w["bucket"], w["amount"], w["share"]], [18, 18, 10])
    for bucket in report.aged_balance:
        aged.append(
            [w[bucket.bucket], _money_value(bucket.amount), _round(bucket.share, PERCENT_PLACES)]
        )
    _formats(aged, {2: _MONEY, 3: _PERCENT})
    chart = BarChart()
    chart.title = w["aged_balance"]
    chart.legend = None
    chart.add_data(
        Reference(aged, min_col=2, min_row=1, max_row=len(report.aged_balance) + 1),
        titles_from_data=True,
    )
    chart.set_categories(
        Reference(aged, min_col=1, min_row=2, max_row=len(report.aged_balance) + 1)
    )
    aged.add_chart(chart, "E2")

    dso = _sheet(
        workbook,
        w["sheet_dso"],
        [w["as_of_date"], w["receivables"], w["month_sales"], w["dso_days"]],
        [14, 18, 18, 12],
    )
    for point in report.dso_trend:
        dso.append(
            [
                point.as_of,
                _money_value(point.receivables),
                _money_value(point.sales),
                _round(point.dso),
            ]
        )
    _formats(dso, {1: date_format, 2: _MONEY, 3: _MONEY, 4: _FIGURE})
    line = LineChart()
    line.title = w["dso_trend"]
    line.legend = None
    line.add_data(
        Reference(dso, min_col=4, min_row=1, max_row=len(report.dso_trend) + 1),
        titles_from_data=True,
    )
    line.set_categories(Reference(dso, min_col=1, min_row=2, max_row=len(report.dso_trend) + 1))
    dso.add_chart(line, "F2")

    segments = _sheet(
        workbook,
        w["sheet_segments"],
        [w["segment"], w["customers"], w["outstanding"], w["overdue"]],
        [22, 10, 18, 18],
    )
    for row in report.segments:
        segments.append(
            [
                w.segment(row.segment),
                row.customers,
                _money_value(row.outstanding),
                _money_value(row.overdue),
            ]
        )
    _formats(segments, {3: _MONEY, 4: _MONEY})

    effectiveness = _sheet(
        workbook,
        w["sheet_effectiveness"],
        [
            w["plan"],
            w["step"],
            w["channel"],
            w["segment"],
            w["reminders"],
            w["invoices"],
            w["paid_14"],
            w["paid_share"],
        ],
        [14, 8, 16, 18, 10, 10, 14, 10],
    )
    for r in report.effectiveness:
        effectiveness.append(
            [
                r.plan,
                r.step,
                w.channel(r.channel),
                w.segment(r.segment),
                r.reminders,
                r.invoices,
                r.paid_within_14_days,
                _round(r.paid_share, PERCENT_PLACES),
            ]
        )
    _formats(effectiveness, {8: _PERCENT})

    worklist = _sheet(
        workbook,
        w["sheet_worklist"],
        [
            w["rank"],
            w["customer_id"],
            w["customer"],
            w["phone"],
            w["segment"],
            w["plan"],
            w["step"],
            w["channel"],
            w["template"],
            w["invoices"],
            w["days_overdue"],
            w["currency"],
            w["overdue"],
            w["net_due"],
            w["priority"],
        ],
        [6, 12, 30, 18, 14, 12, 6, 16, 14, 28, 10, 8, 16, 16, 12],
    )
    for item in report.worklist:
        worklist.append(
            [
                item.rank,
                item.customer_id,
                item.customer_name,
                item.phone,
                item.segment,
                item.plan,
                item.step,
                w.channel(item.channel),
                item.template,
                ", ".join(item.invoice_numbers),
                item.days_overdue,
                item.currency,
                _money_value(item.overdue_amount),
                _money_value(item.net_due),
                item.priority.quantize(CENT, rounding=ROUND_HALF_UP),
            ]
        )
    _formats(worklist, {13: _MONEY, 14: _MONEY, 15: _MONEY})
    if report.worklist:
        worklist.auto_filter.ref = worklist.dimensions

    workbook.save(path)
