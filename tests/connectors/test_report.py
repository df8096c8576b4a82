"""`relance report`: HTML and XLSX from the KPIs, the DSO trend and today's plan (DESIGN §6)."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from connectors.demo.generator import generate_ledger
from connectors.report import (
    Report,
    build_report,
    dso_trend,
    render_html,
    trend_dates,
    write_html,
    write_xlsx,
)
from core.actions import Action, ActionInvoice
from core.config import load_config
from core.engine import Planner
from core.metrics import compute_kpis
from core.model import Customer, Invoice, Ledger
from core.texts import template_ids

TODAY = date(2026, 11, 24)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def one_decimal(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def invoice(
    id: str,
    issued: date,
    amount: str,
    *,
    open: str | None = None,
    paid: date | None = None,
    kind: str = "invoice",
    customer_id: str = "C1",
) -> Invoice:
    total = Decimal(amount)
    return Invoice(
        id=id,
        customer_id=customer_id,
        number=id,
        kind=kind,
        issue_date=issued,
        due_date=issued + timedelta(days=30),
        amount=total,
        open_amount=total if open is None else Decimal(open),
        currency="EUR",
        paid_date=paid,
    )


def ledger_of(*invoices: Invoice) -> Ledger:
    return Ledger(
        currency="EUR",
        customers=[Customer(id="C1", name="Boulangerie Martin SARL", phone="+33 6 12 34 56 78")],
        invoices=list(invoices),
    )


@pytest.fixture(scope="module")
def demo() -> tuple[Ledger, list[Action], Report]:
    """A realistic ledger (the demo generator) with its plan and KPIs of the day."""
    ledger = generate_ledger(TODAY, customers=120, invoices=2000, seed=7)
    config = load_config(None, template_ids())
    planner = Planner(ledger, config, TODAY)
    actions = planner.run()
    kpis = compute_kpis(ledger, TODAY, planner.journal_segments())
    segments = {c.id: planner.segment(c).segment for c in ledger.customers}
    report = build_report(
        ledger,
        TODAY,
        kpis=kpis,
        actions=actions,
        segments=segments,
        company_name="Atelier Martin SAS",
    )
    return ledger, actions, report


# The DSO trend ---------------------------------------------------------------------------


def test_trend_runs_over_the_last_twelve_month_ends_then_today() -> None:
    points = trend_dates(TODAY)
    assert len(points) == 12
    assert points[0] == date(2025, 12, 31)
    assert points[1] == date(2026, 1, 31)
    assert points[2] == date(2026, 2, 28)
    assert points[-2] == date(2026, 10, 31)
    assert points[-1] == TODAY


def test_trend_last_point_is_cores_countback_dso(demo: tuple[Ledger, list[Action], Report]) -> None:
    """DESIGN §6: the report's DSO for today is the KPI's count-back DSO."""
    _, _, report = demo
    last = report.dso_trend[-1]
    assert last.as_of == TODAY
    assert last.receivables == report.kpis.receivables
    assert one_decimal(last.dso) == one_decimal(report.kpis.dso_countback)


def test_trend_matches_core_on_a_small_ledger_with_credits_and_future_items() -> None:
    ledger = ledger_of(
        invoice("A", date(2026, 9, 3), "5000.00", open="1200.00"),
        invoice("B", date(2026, 10, 20), "3000.00"),
        invoice("C", date(2026, 11, 2), "800.00", open="0", paid=date(2026, 11, 20)),
        invoice("N", date(2026, 10, 25), "400.00", kind="credit_note"),
        invoice("Z", date(2026, 12, 5), "999.00"),  # issued after today, still open
    )
    kpis = compute_kpis(ledger, TODAY)
    last = dso_trend(ledger, TODAY)[-1]
    assert last.receivables == kpis.receivables
    assert last.dso == kpis.dso_countback


def test_month_end_countback_follows_the_worked_example() -> None:
    """DESIGN §6 worked example, as of 30 June: R = 20,000, June sales 12,500, May 10,000:
    30 + 31 x 7,500 / 10,000 = 53.25 days.

    R at 30 June = A's open 7,500 (still open today) + B's full 12,500 (paid in July).
    """
    ledger = ledger_of(
        invoice("A", date(2026, 5, 5), "10000.00", open="7500.00"),
        invoice("B", date(2026, 6, 10), "12500.00", open="0", paid=date(2026, 7, 10)),
    )
    trend = {p.as_of: p for p in dso_trend(ledger, date(2026, 7, 15))}
    june = trend[date(2026, 6, 30)]
    assert june.receivables == Decimal("20000.00")
    assert june.sales == Decimal("12500.00")
    assert june.dso == Decimal("53.25")


def test_receivables_at_a_month_end_count_later_payments_in_full() -> None:
    """Issued by then and not paid by then: open items at their open amount, items paid
    later at their full amount; items paid by then and credit notes used by then do not count."""
    ledger = ledger_of(
        invoice("open", date(2026, 5, 5), "10000.00", open="7500.00"),
        invoice("paid_later", date(2026, 4, 1), "4000.00", open="0", paid=date(2026, 6, 1)),
        invoice("paid_before", date(2026, 4, 2), "900.00", open="0", paid=date(2026, 5, 20)),
        invoice("credit", date(2026, 5, 10), "300.00", kind="credit_note"),
        invoice(
            "used",
            date(2026, 4, 10),
            "200.00",
            kind="credit_note",
            open="0",
            paid=date(2026, 5, 15),
        ),
        invoice("june", date(2026, 6, 10), "12500.00"),
    )
    trend = {p.as_of: p for p in dso_trend(ledger, date(2026, 7, 15))}
    may = trend[date(2026, 5, 31)]
    assert may.receivables == Decimal("7500.00") + Decimal("4000.00") - Decimal("300.00")
    # May: 31 days, 1,200 left after May's 10,000 sales; April's sales are 4,900.
    assert may.dso == 31 + Decimal(30) * Decimal("1200.00") / Decimal("4900.00")
    april = trend[date(2026, 4, 30)]
    assert april.receivables == Decimal("4000.00") + Decimal("900.00") - Decimal("200.00")


def test_trend_without_sales_or_receivables() -> None:
    points = dso_trend(ledger_of(), TODAY)
    assert len(points) == 12
    assert all(p.receivables == 0 and p.dso == 0 for p in points)


# Building --------------------------------------------------------------------------------


def test_report_sections_come_from_kpis_and_actions(
    demo: tuple[Ledger, list[Action], Report],
) -> None:
    ledger, actions, report = demo
    assert [b.bucket for b in report.aged_balance] == [
        "not_due",
        "1_30",
        "31_60",
        "61_90",
        "over_90",
    ]
    assert {b.bucket: b.amount for b in report.aged_balance} == report.kpis.aged_balance
    assert len(report.effectiveness) == len(report.kpis.effectiveness) > 0
    assert [(i.customer_id, i.currency) for i in report.worklist] == [
        (a.customer_id, a.currency) for a in actions
    ]
    assert [i.rank for i in report.worklist] == list(range(1, len(actions) + 1))
    priorities = [i.priority for i in report.worklist]
    assert priorities == sorted(priorities, reverse=True)
    outstanding = sum(
        (i.open_amount for i in ledger.invoices if i.kind == "invoice" and i.open_amount > 0),
        Decimal(0),
    )
    assert sum((s.outstanding for s in report.segments), Decimal(0)) == outstanding


def test_worklist_item_carries_what_the_caller_needs() -> None:
    """Customer, channel, step, days overdue, overdue and net due (the phone list)."""
    ledger = ledger_of(invoice("F1", date(2026, 9, 1), "1000.00"))
    action = Action(
        customer_id="C1",
        plan="standard",
        segment="default",
        step=4,
        channel="phone",
        template="phone",
        key="k",
        priority=Decimal("2800"),
        currency="EUR",
        overdue_amount=Decimal("1000.00"),
        net_due=Decimal("1000.00"),
        invoices=(ActionInvoice("F1", "F1", 4, 54, Decimal("1000.00")),),
    )
    kpis = compute_kpis(ledger, TODAY)
    report = build_report(ledger, TODAY, kpis=kpis, actions=[action], segments={}, company_name="X")
    [item] = report.worklist
    assert (item.customer_name, item.phone, item.channel, item.step) == (
        "Boulangerie Martin SARL",
        "+33 6 12 34 56 78",
        "phone",
        4,
    )
    assert (item.days_overdue, item.overdue_amount, item.net_due) == (
        54,
        Decimal("1000.00"),
        Decimal("1000.00"),
    )
    assert report.segments == ()  # no segments given: no per-segment table


# HTML ------------------------------------------------------------------------------------


def sections(document: str) -> list[str]:
    return re.findall(r'<section id="([a-z-]+)"', document)


def test_html_has_every_section_and_embedded_charts(
    demo: tuple[Ledger, list[Action], Report], tmp_path: Path
) -> None:
    _, _, report = demo
    path = tmp_path / "report.html"
    write_html(report, path)
    document = path.read_text(encoding="utf-8")
    assert document.startswith("<!doctype html>")
    assert sections(document) == [
        "summary",
        "aged-balance",
        "dso-trend",
        "segments",
        "effectiveness",
        "worklist",
    ]
    images = re.findall(
        r'<img class="chart" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', document
    )
    assert len(images) == 2
    for image in images:
        assert base64.b64decode(image).startswith(PNG_SIGNATURE)


def test_html_stands_alone(demo: tuple[Ledger, list[Action], Report]) -> None:
    """No external URL: the file opens offline and leaks nothing when opened."""
    _, _, report = demo
    document = render_html(report)
    assert "http://" not in document and "https://" not in document
    assert "//" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", document)
    assert "<script" not in document and "<link" not in document
    assert re.findall(r'src="([^"]{0,22})', document) == ["data:image/png;base64,"] * 2


def test_html_is_french_by_default_and_english_on_request(
    demo: tuple[Ledger, list[Action], Report],
) -> None:
    _, _, report = demo
    french = render_html(report)
    assert '<html lang="fr">' in french
    for label in (
        "Balance âgée",
        "DSO par épuisement du CA",
        "Efficacité des relances",
        "Actions du jour, par priorité",
        "au 24/11/2026",
    ):
        assert label in french
    english = render_html(report, language="en")
    assert '<html lang="en">' in english
    for label in (
        "Aged balance",
        "Count-back DSO",
        "Reminder effectiveness",
        "Today’s actions, by priority",
        "as of 24/11/2026",
    ):
        assert label in english
    with pytest.raises(ValueError, match="unsupported report language 'de'"):
        render_html(report, language="de")


def test_html_kpi_figures_have_one_decimal(demo: tuple[Ledger, list[Action], Report]) -> None:
    _, _, report = demo
    dso = one_decimal(report.kpis.dso_countback)
    assert dso is not None
    english = render_html(report, language="en")
    assert f'<div class="value">{dso:,} d</div>'.replace(" d", "\u00a0d") in english
    french = render_html(report)
    assert f'<div class="value">{str(dso).replace(".", ",")}\u00a0j</div>' in french


def test_html_escapes_names() -> None:
    ledger = ledger_of(invoice("F1", date(2026, 9, 1), "1000.00"))
    ledger.customers[0].name = "<b>Dupont & Fils</b>"
    action = Action(
        customer_id="C1",
        plan="standard",
        segment="default",
        step=2,
        channel="email",
        template="reminder_1",
        key="k",
        priority=Decimal(1),
        currency="EUR",
        overdue_amount=Decimal("1000.00"),
        net_due=Decimal("1000.00"),
        invoices=(ActionInvoice("F1", "F<1>", 2, 54, Decimal("1000.00")),),
    )
    report = build_report(
        ledger,
        TODAY,
        kpis=compute_kpis(ledger, TODAY),
        actions=[action],
        segments={},
        company_name="<script>alert(1)</script>",
    )
    document = render_html(report)
    assert "<script>" not in document and "<b>Dupont" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "&lt;b&gt;Dupont &amp; Fils&lt;/b&gt;" in document
    assert "F&lt;1&gt;" in document


def test_html_worklist_is_cut_with_a_pointer_to_the_workbook(
    demo: tuple[Ledger, list[Action], Report],
) -> None:
    _, actions, report = demo
    assert len(actions) > 3
    document = render_html(report, worklist_limit=3)
    worklist = document.split('<section id="worklist">', 1)[1]
    assert worklist.count("<tr>") == 1 + 3
    assert f"… et {len(actions) - 3} autres actions (voir le classeur XLSX)." in worklist


def test_html_for_an_empty_ledger() -> None:
    ledger = ledger_of()
    report = build_report(
        ledger,
        TODAY,
        kpis=compute_kpis(ledger, TODAY),
        actions=[],
        segments={},
        company_name="Vide",
    )
    document = render_html(report)
    assert "Aucune action aujourd’hui." in document
    assert "Aucune donnée." in document
    assert document.count("data:image/png;base64,") == 2


# XLSX ------------------------------------------------------------------------------------


def rows(sheet: Any) -> list[tuple[Any, ...]]:
    return list(sheet.iter_rows(min_row=2, values_only=True))


def test_xlsx_has_one_sheet_per_section_with_numbers(
    demo: tuple[Ledger, list[Action], Report], tmp_path: Path
) -> None:
    _, actions, report = demo
    path = tmp_path / "report.xlsx"
    write_xlsx(report, path)
    workbook = load_workbook(path)
    assert workbook.sheetnames == [
        "Synthèse",
        "Balance âgée",
        "DSO",
        "Segments",
        "Efficacité",
        "Actions",
    ]

    summary = {row[0]: row[1] for row in rows(workbook["Synthèse"]) if row and row[0]}
    assert summary["Encours clients"] == pytest.approx(float(report.kpis.receivables))
    assert summary["DSO (par épuisement)"] == float(one_decimal(report.kpis.dso_countback) or 0)

    aged = rows(workbook["Balance âgée"])
    assert [r[0] for r in aged] == ["Non échu", "1–30 j", "31–60 j", "61–90 j", "> 90 j"]
    assert [Decimal(str(r[1])) for r in aged] == [b.amount for b in report.aged_balance]
    assert all(isinstance(r[1], int | float) for r in aged)
    assert workbook["Balance âgée"]["C2"].number_format == "0.0%"

    dso = rows(workbook["DSO"])
    assert len(dso) == 12
    assert dso[-1][0].date() == TODAY
    assert dso[-1][3] == float(one_decimal(report.kpis.dso_countback) or 0)
    charted: list[Any] = [workbook["DSO"], workbook["Balance âgée"]]
    assert [len(sheet._charts) for sheet in charted] == [1, 1]

    effectiveness = rows(workbook["Efficacité"])
    assert len(effectiveness) == len(report.kpis.effectiveness)
    first = report.kpis.effectiveness[0]
    assert effectiveness[0][:2] == (first["plan"], first["step"])
    assert effectiveness[0][4] == first["reminders"]

    worklist = rows(workbook["Actions"])
    assert len(worklist) == len(actions)
    assert [r[1] for r in worklist] == [a.customer_id for a in actions]
    assert [Decimal(str(r[13])) for r in worklist] == [a.net_due for a in actions]
    assert all(isinstance(r[12], int | float) and isinstance(r[10], int) for r in worklist)


def test_xlsx_in_english(demo: tuple[Ledger, list[Action], Report], tmp_path: Path) -> None:
    _, _, report = demo
    path = tmp_path / "report.xlsx"
    write_xlsx(report, path, language="en")
    workbook = load_workbook(path)
    assert workbook.sheetnames == [
        "Summary",
        "Aged balance",
        "DSO",
        "Segments",
        "Effectiveness",
        "Worklist",
    ]
    header: Sequence[Any] = next(workbook["Worklist"].iter_rows(max_row=1, values_only=True))
    assert list(header[:3]) == ["#", "Customer id", "Customer"]
