"""Phone tasks as a worklist, CSV for French Excel and XLSX (DESIGN §10)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from delivery_builders import TODAY, customer, formal_notice, sender
from openpyxl import load_workbook

from connectors.delivery.worklist import PhoneTask, csv_bytes, phone_task, write_worklist
from core.texts import RenderedText, render_action


def task(customer: str, priority: str, amount: str = "1200.00", **overrides: object) -> PhoneTask:
    fields: dict[str, object] = {
        "customer": customer,
        "phone": "+33612345678",
        "collector": "Céline Martin",
        "amount": Decimal(amount),
        "currency": "EUR",
        "days_overdue": 20,
        "invoices": ("FA-2026-0042", "FA-2026-0057"),
        "priority": Decimal(priority),
        "script": "Bonjour, je vous appelle au sujet de deux factures échues.\nMerci.",
    }
    fields.update(overrides)
    return PhoneTask(**fields)  # type: ignore[arg-type]


TASKS = [
    task("Boulangerie Émile", "800.00", "600.00"),
    task("Société Générale de Plâtrerie", "5200.50", "4200.00"),
    task("Atelier Zoé", "1500.00", "1500.00", currency="USD"),
]


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))


def test_tasks_are_ordered_by_priority_highest_first(tmp_path: Path) -> None:
    """The collector calls from the top: largest weighted overdue first (DESIGN §5)."""
    write_worklist(TASKS, tmp_path / "calls.csv", tmp_path / "calls.xlsx")

    rows = read_csv(tmp_path / "calls.csv")
    assert [r[0] for r in rows[1:]] == [
        "Société Générale de Plâtrerie",
        "Atelier Zoé",
        "Boulangerie Émile",
    ]
    sheet = load_workbook(tmp_path / "calls.xlsx").active
    assert sheet is not None
    assert [sheet.cell(r, 1).value for r in range(2, 5)] == [r[0] for r in rows[1:]]


def test_csv_is_utf8_with_bom_semicolons_and_decimal_comma(tmp_path: Path) -> None:
    """What French Excel opens with a double click, accents intact."""
    write_worklist(TASKS, tmp_path / "calls.csv", None)

    data = (tmp_path / "calls.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    header = data.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("Client;Téléphone;Chargé de recouvrement;Montant dû;")
    top = read_csv(tmp_path / "calls.csv")[1]
    assert top[3] == "4200,00" and top[7] == "5200,50"
    assert top[6] == "FA-2026-0042, FA-2026-0057"


def test_csv_script_with_line_breaks_stays_in_one_record(tmp_path: Path) -> None:
    write_worklist(TASKS, tmp_path / "calls.csv", None)

    rows = read_csv(tmp_path / "calls.csv")
    assert len(rows) == 4
    assert rows[1][8] == TASKS[1].script


def test_xlsx_has_a_bold_frozen_header_and_column_widths(tmp_path: Path) -> None:
    write_worklist(TASKS, None, tmp_path / "calls.xlsx")

    sheet = load_workbook(tmp_path / "calls.xlsx").active
    assert sheet is not None
    assert sheet.title == "Appels"
    assert sheet.cell(1, 1).value == "Client" and sheet.cell(1, 1).font.b
    assert all(sheet.cell(1, c).font.b for c in range(1, 10))
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width == 32
    assert sheet.column_dimensions["I"].width == 80


def test_xlsx_amounts_are_numbers_in_their_currency(tmp_path: Path) -> None:
    """Amounts stay summable and sortable in Excel, shown with € (or their currency)."""
    write_worklist(TASKS, None, tmp_path / "calls.xlsx")

    sheet = load_workbook(tmp_path / "calls.xlsx").active
    assert sheet is not None
    amount = sheet.cell(2, 4)
    assert isinstance(amount.value, int | float) and amount.value == 4200
    assert "€" in amount.number_format
    assert '"$"' in sheet.cell(3, 4).number_format
    assert sheet.cell(2, 6).value == 20


def test_xlsx_keeps_phone_numbers_as_text(tmp_path: Path) -> None:
    write_worklist([task("A", "1", phone="0612345678")], None, tmp_path / "calls.xlsx")

    sheet = load_workbook(tmp_path / "calls.xlsx").active
    assert sheet is not None
    assert sheet.cell(2, 2).value == "0612345678"


def test_writing_the_worklist_again_replaces_it(tmp_path: Path) -> None:
    """Idempotent: the same tasks give the same CSV; the old list is replaced whole."""
    path = tmp_path / "calls.csv"
    write_worklist(TASKS, path, None)
    first = path.read_bytes()
    write_worklist(TASKS, path, None)
    assert path.read_bytes() == first

    write_worklist(TASKS[:1], path, None)
    assert len(read_csv(path)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["calls.csv"]


def test_english_worklist_has_english_headers() -> None:
    header = csv_bytes(TASKS, language="en").decode("utf-8-sig").splitlines()[0]

    assert header.startswith("Customer;Phone;Collector;Amount due;")


def test_unknown_language_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="language"):
        write_worklist(TASKS, tmp_path / "calls.csv", None, language="de")


def test_phone_task_from_an_action_asks_for_the_net_due() -> None:
    notice = formal_notice()
    who = customer()
    rendered = render_action(notice, who, sender(), TODAY)

    t = phone_task(notice, who, rendered, collector="Céline Martin")

    assert t.customer == who.name and t.phone == who.phone
    assert t.amount == notice.net_due and t.currency == "EUR"
    assert t.days_overdue == 35
    assert t.invoices == ("FA-2026-0042", "FA-2026-0057", "FA-2026-0101")
    assert t.priority == notice.priority and t.key == notice.key
    assert t.script == rendered.body


def test_phone_task_of_a_customer_without_phone_has_an_empty_number() -> None:
    rendered = RenderedText(template="phone", language="fr", subject="", body="Script")

    t = phone_task(formal_notice(), customer(phone=None), rendered)

    assert t.phone == ""
