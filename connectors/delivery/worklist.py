"""Phone tasks as a worklist: a CSV for any spreadsheet and an XLSX for Excel.

The list is ordered by priority (DESIGN.md section 5: overdue amount weighted by lateness),
highest first, so the collector calls from the top.  The CSV is what French Excel opens
with a double click: UTF-8 with a byte-order mark (else accents break), ``;`` between
fields and a decimal comma.  The XLSX keeps amounts as numbers (sortable, summable),
formatted in their currency.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from connectors.delivery.errors import DeliveryError
from core.actions import Action
from core.model import Customer
from core.texts import RenderedText


@dataclass(frozen=True)
class PhoneTask:
    """One call to make: whom, about what, and what to say."""

    customer: str
    phone: str
    collector: str
    amount: Decimal
    currency: str
    days_overdue: int
    invoices: tuple[str, ...]
    priority: Decimal
    script: str
    customer_id: str = ""
    key: str = ""


def phone_task(
    action: Action, customer: Customer, rendered: RenderedText, *, collector: str = ""
) -> PhoneTask:
    """The phone task of ``action``: net amount due, oldest lateness, the invoices to
    discuss (reminded ones first, then the other overdue ones), the rendered call script."""
    days = [i.days_overdue for i in action.invoices] + [c.days_overdue for c in action.context]
    return PhoneTask(
        customer=customer.name,
        phone=customer.phone or "",
        collector=collector,
        amount=action.net_due,
        currency=action.currency,
        days_overdue=max(days, default=0),
        invoices=tuple(i.number for i in action.invoices) + tuple(c.number for c in action.context),
        priority=action.priority,
        script=rendered.body,
        customer_id=customer.id,
        key=action.key,
    )


_HEADERS: dict[str, tuple[str, ...]] = {
    "fr": (
        "Client",
        "Téléphone",
        "Chargé de recouvrement",
        "Montant dû",
        "Devise",
        "Jours de retard",
        "Factures",
        "Priorité",
        "Script d'appel",
    ),
    "en": (
        "Customer",
        "Phone",
        "Collector",
        "Amount due",
        "Currency",
        "Days overdue",
        "Invoices",
        "Priority",
        "Call script",
    ),
}
_SHEET_TITLE = {"fr": "Appels", "en": "Calls"}
_WIDTHS = (32, 18, 22, 16, 8, 10, 28, 12, 80)
_AMOUNT_COLUMN, _PRIORITY_COLUMN = 4, 8
_CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF"}


def ordered(tasks: Iterable[PhoneTask]) -> list[PhoneTask]:
    """Highest priority first; ties by customer name, then id."""
    return sorted(tasks, key=lambda t: (-t.priority, t.customer.casefold(), t.customer_id))


def _french_decimal(value: Decimal, places: str = "0.01") -> str:
    return str(value.quantize(Decimal(places))).replace(".", ",")


def csv_bytes(tasks: Sequence[PhoneTask], *, language: str = "fr") -> bytes:
    """The worklist as CSV bytes: UTF-8 with BOM, ``;``-separated, decimal comma."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(_HEADERS[language])
    for t in ordered(tasks):
        writer.writerow(
            [
                t.customer,
                t.phone,
                t.collector,
                _french_decimal(t.amount),
                t.currency,
                t.days_overdue,
                ", ".join(t.invoices),
                _french_decimal(t.priority),
                t.script,
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def _money_format(currency: str) -> str:
    symbol = _CURRENCY_SYMBOLS.get(currency, currency)
    return f'#,##0.00 "{symbol}"'


def xlsx_bytes(tasks: Sequence[PhoneTask], *, language: str = "fr") -> bytes:
    """The worklist as an XLSX workbook: bold frozen header, filters, widths, numbers."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = _SHEET_TITLE[language]
    sheet.append(list(_HEADERS[language]))
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDDDDD")
    for cell in sheet[1]:
        cell.font = header_font
        cell.fill = header_fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for row_number, t in enumerate(ordered(tasks), start=2):
        sheet.append(
            [
                t.customer,
                t.phone,
                t.collector,
                t.amount,
                t.currency,
                t.days_overdue,
                ", ".join(t.invoices),
                t.priority,
                t.script,
            ]
        )
        sheet.cell(row_number, _AMOUNT_COLUMN).number_format = _money_format(t.currency)
        sheet.cell(row_number, _PRIORITY_COLUMN).number_format = "#,##0.00"
        # Phone numbers are text: Excel must keep the leading + or 0.
        sheet.cell(row_number, 2).number_format = "@"
        for column in (7, 9):
            sheet.cell(row_number, column).alignment = Alignment(wrap_text=True, vertical="top")
    for index, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_worklist(
    tasks: Iterable[PhoneTask],
    csv_path: Path | str | None,
    xlsx_path: Path | str | None,
    *,
    language: str = "fr",
) -> None:
    """Write the worklist as CSV and/or XLSX (a None path skips that format).

    Each file is replaced whole (written aside, then renamed): a spreadsheet open
    elsewhere never sees half a list.
    """
    if language not in _HEADERS:
        raise ValueError(f"unsupported worklist language {language!r}")
    items = list(tasks)
    jobs: list[tuple[Path, Callable[[], bytes]]] = []
    if csv_path is not None:
        jobs.append((Path(csv_path), lambda: csv_bytes(items, language=language)))
    if xlsx_path is not None:
        jobs.append((Path(xlsx_path), lambda: xlsx_bytes(items, language=language)))
    for path, render in jobs:
        try:
            _atomic_write(path, render())
        except OSError as exc:
            raise DeliveryError(True, f"worklist: cannot write {path}: {exc}") from exc
