"""Reading a FEC into customers and invoices (connectors/fec/parser.py; DESIGN.md 2, 10)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from source_samples import (
    HEADER,
    fec_line,
    fec_text,
    realistic_rows,
    receipt,
    sale,
    write_fec,
)

from connectors.fec import FEC_COLUMNS, parse_fec, parse_fec_bytes
from core.errors import InputError
from core.ledger import cross_check
from core.model import Invoice, Ledger


def by_id(ledger: Ledger) -> dict[str, Invoice]:
    return {inv.id: inv for inv in ledger.invoices}


@pytest.fixture
def realistic(tmp_path: Path) -> Ledger:
    return parse_fec(write_fec(tmp_path / "FEC.txt", realistic_rows()))


# --------------------------------------------------------------------------- the example


def test_columns_are_the_eighteen_legal_ones() -> None:
    """LPF art. A47 A-1: 18 columns, in this order."""
    assert FEC_COLUMNS == HEADER
    assert len(FEC_COLUMNS) == 18


def test_customers_are_auxiliary_accounts_or_the_account_itself(realistic: Ledger) -> None:
    """A customer is CompAuxNum (named CompAuxLib), else the 411 account (named CompteLib)."""
    names = {c.id: c.name for c in realistic.customers}
    assert names == {
        "CDUPONT": "Dupont Industrie SAS",
        "CMARTIN": "Martin BTP SARL",
        "CSUMMIT": "Summit Industries Inc.",
        "411200": "Clients divers",
    }
    assert "FBUREAU" not in names  # a supplier (401) is not a customer


def test_customer_created_is_its_first_piece_date(realistic: Ledger) -> None:
    created = {c.id: c.created for c in realistic.customers}
    assert created["CMARTIN"] == date(2026, 1, 10)
    assert created["CDUPONT"] == date(2026, 1, 5)


def test_the_ledger_passes_core_checks(realistic: Ledger) -> None:
    """Unique ids, known customers, open amounts within amounts."""
    assert list(cross_check(realistic)) == []
    for inv in realistic.invoices:
        assert Decimal(0) <= inv.open_amount <= inv.amount
        assert (inv.paid_date is None) == (inv.open_amount > 0)


def test_fully_lettered_invoice_is_paid_on_the_lettering_date(realistic: Ledger) -> None:
    inv = by_id(realistic)["CDUPONT/FA-2026-0001"]
    assert (inv.kind, inv.number, inv.amount, inv.open_amount) == (
        "invoice",
        "FA-2026-0001",
        Decimal("1200.00"),
        Decimal("0.00"),
    )
    assert inv.paid_date == date(2026, 2, 4)


def test_settled_payment_is_no_record_of_its_own(realistic: Ledger) -> None:
    """The transfer lettered with FA-2026-0001 only settles it."""
    assert "CDUPONT/VIR-0204" not in by_id(realistic)


def test_due_date_is_piece_date_plus_default_terms(realistic: Ledger) -> None:
    """The FEC carries no due date: PieceDate (not EcritureDate) + 30 days."""
    inv = by_id(realistic)["CMARTIN/FA-2026-0002"]
    assert inv.issue_date == date(2026, 1, 10)
    assert inv.due_date == date(2026, 2, 9)


def test_unallocated_payment_is_an_open_credit_not_a_guess(realistic: Ledger) -> None:
    """An unlettered transfer is never assigned to an invoice: the invoice stays open
    in full and the transfer is an open credit the engine nets per customer."""
    invoices = by_id(realistic)
    assert invoices["CMARTIN/FA-2026-0002"].open_amount == Decimal("2400.00")
    credit = invoices["CMARTIN/VIR-0215"]
    assert (credit.kind, credit.amount, credit.open_amount) == (
        "credit_note",
        Decimal("1000.00"),
        Decimal("1000.00"),
    )
    assert credit.issue_date == credit.due_date == date(2026, 2, 15)
    assert credit.paid_date is None


def test_partial_lettering_leaves_the_rest_open(realistic: Ledger) -> None:
    """Invoice 600 lettered AB with a payment of 250: 350 still owed."""
    invoices = by_id(realistic)
    assert invoices["CMARTIN/FA-2026-0003"].open_amount == Decimal("350.00")
    assert invoices["CMARTIN/FA-2026-0003"].paid_date is None
    assert "CMARTIN/VIR-0220" not in invoices


def test_payment_under_the_invoice_reference_counts_against_it(realistic: Ledger) -> None:
    """Unlettered lines of one piece: the invoice is open for their balance."""
    inv = by_id(realistic)["CDUPONT/FA-2026-0005"]
    assert (inv.amount, inv.open_amount) == (Decimal("840.00"), Decimal("340.00"))


def test_sales_journal_credit_is_a_credit_note(realistic: Ledger) -> None:
    note = by_id(realistic)["CDUPONT/AV-2026-0001"]
    assert (note.kind, note.number, note.open_amount) == (
        "credit_note",
        "AV-2026-0001",
        Decimal("300.00"),
    )
    assert note.due_date == note.issue_date == date(2026, 3, 1)


def test_credit_note_lettered_with_an_invoice_settles_both(realistic: Ledger) -> None:
    invoices = by_id(realistic)
    assert invoices["CMARTIN/FA-2026-0007"].open_amount == 0
    assert invoices["CMARTIN/FA-2026-0007"].paid_date == date(2026, 2, 10)
    note = invoices["CMARTIN/AV-2026-0002"]
    assert (note.kind, note.open_amount, note.paid_date) == (
        "credit_note",
        Decimal("0.00"),
        date(2026, 2, 10),
    )


def test_foreign_currency_invoice_is_in_its_currency(realistic: Ledger) -> None:
    """Montantdevise/Idevise: USD 5,000 (booked EUR 4,600) is owed in USD."""
    inv = by_id(realistic)["CSUMMIT/FA-2026-0004"]
    assert (inv.currency, inv.amount, inv.open_amount) == (
        "USD",
        Decimal("5000.00"),
        Decimal("5000.00"),
    )


def test_lettering_with_an_exchange_loss_settles_the_foreign_invoice(realistic: Ledger) -> None:
    inv = by_id(realistic)["CSUMMIT/FA-2026-0008"]
    assert (inv.currency, inv.open_amount, inv.paid_date) == (
        "USD",
        Decimal("0.00"),
        date(2026, 3, 5),
    )


def test_account_without_auxiliary_is_its_own_customer(realistic: Ledger) -> None:
    inv = by_id(realistic)["411200/FA-2026-0006"]
    assert (inv.customer_id, inv.open_amount) == ("411200", Decimal("96.00"))


def test_exact_open_amounts_of_the_example(realistic: Ledger) -> None:
    open_amounts = {inv.id: inv.open_amount for inv in realistic.invoices if inv.open_amount}
    assert open_amounts == {
        "CMARTIN/FA-2026-0002": Decimal("2400.00"),
        "CMARTIN/VIR-0215": Decimal("1000.00"),
        "CMARTIN/FA-2026-0003": Decimal("350.00"),
        "CSUMMIT/FA-2026-0004": Decimal("5000.00"),
        "CDUPONT/FA-2026-0005": Decimal("340.00"),
        "CDUPONT/AV-2026-0001": Decimal("300.00"),
        "411200/FA-2026-0006": Decimal("96.00"),
    }


# --------------------------------------------------------------------------- options


def test_default_payment_days_sets_due_dates(tmp_path: Path) -> None:
    path = write_fec(tmp_path / "FEC.txt", realistic_rows())
    inv = by_id(parse_fec(path, default_payment_days=45))["CMARTIN/FA-2026-0002"]
    assert inv.due_date == date(2026, 2, 24)


def test_other_customer_account_prefixes(tmp_path: Path) -> None:
    """Doubtful customers (416) can be read too."""
    rows = [
        fec_line("VE", 1, "20260105", "416000", "FA-1", aux="CDUPONT", debit="10,00"),
        fec_line("VE", 1, "20260105", "706000", "FA-1", credit="10,00"),
    ]
    path = write_fec(tmp_path / "FEC.txt", rows)
    assert parse_fec(path).invoices == []
    assert [i.id for i in parse_fec(path, accounts=("411", "416")).invoices] == ["CDUPONT/FA-1"]


def test_sales_journals_can_be_named(tmp_path: Path) -> None:
    """A credit in a journal named as a sales journal is a credit note, even settled."""
    rows = sale(1, "20260105", "CDUPONT", "FA-1", "120,00", "100,00", "20,00", letter="A")
    rows += [
        fec_line("VT", 2, "20260110", "411000", "AV-1", aux="CDUPONT", credit="120,00", letter="A")
    ]
    path = write_fec(tmp_path / "FEC.txt", rows)
    assert "CDUPONT/AV-1" not in by_id(parse_fec(path))  # VT uses no 70x account here
    assert by_id(parse_fec(path, sales_journals=["VT"]))["CDUPONT/AV-1"].kind == "credit_note"


def test_overpayment_under_the_same_reference_is_a_credit(tmp_path: Path) -> None:
    rows = sale(1, "20260105", "CDUPONT", "FA-1", "100,00", "100,00", "0,00")
    rows += receipt(1, "20260120", "CDUPONT", "FA-1", "130,00")
    invoices = by_id(parse_fec(write_fec(tmp_path / "FEC.txt", rows)))
    assert invoices["CDUPONT/FA-1"].open_amount == 0
    assert invoices["CDUPONT/FA-1"].paid_date == date(2026, 1, 20)
    assert invoices["CDUPONT/FA-1/excess"].open_amount == Decimal("30.00")


def test_partial_lettering_settles_the_oldest_invoice_first(tmp_path: Path) -> None:
    """Two invoices and one payment under one lettering code that does not balance."""
    rows = sale(1, "20260105", "CDUPONT", "FA-1", "500,00", "500,00", "0,00", letter="AB")
    rows += sale(2, "20260115", "CDUPONT", "FA-2", "500,00", "500,00", "0,00", letter="AB")
    rows += receipt(3, "20260220", "CDUPONT", "VIR-1", "700,00", letter="AB")
    invoices = by_id(parse_fec(write_fec(tmp_path / "FEC.txt", rows)))
    assert invoices["CDUPONT/FA-1"].open_amount == 0
    assert invoices["CDUPONT/FA-2"].open_amount == Decimal("300.00")


def test_partly_paid_foreign_invoice_is_open_in_its_currency(tmp_path: Path) -> None:
    rows = [
        fec_line(
            "VE", 1, "20260105", "411000", "FA-1", aux="CSUMMIT", debit="920,00",
            fx_amount="1000,00", fx="USD",
        ),
        fec_line("VE", 1, "20260105", "707000", "FA-1", credit="920,00"),
        *receipt(2, "20260205", "CSUMMIT", "FA-1", "370,00", fx_amount="400,00", fx="USD"),
    ]  # fmt: skip
    inv = by_id(parse_fec(write_fec(tmp_path / "FEC.txt", rows)))["CSUMMIT/FA-1"]
    assert (inv.currency, inv.amount, inv.open_amount) == (
        "USD",
        Decimal("1000.00"),
        Decimal("600.00"),
    )


def test_idevise_eur_is_the_book_currency(tmp_path: Path) -> None:
    rows = [
        fec_line(
            "VE", 1, "20260105", "411000", "FA-1", aux="CDUPONT", debit="10,00",
            fx_amount="10,00", fx="EUR",
        ),
    ]  # fmt: skip
    inv = by_id(parse_fec(write_fec(tmp_path / "FEC.txt", rows)))["CDUPONT/FA-1"]
    assert inv.currency == "EUR"


# --------------------------------------------------------------------------- file forms


def test_pipe_separated_file(tmp_path: Path) -> None:
    path = write_fec(tmp_path / "FEC.txt", realistic_rows(), separator="|")
    assert by_id(parse_fec(path)) == by_id(
        parse_fec(write_fec(tmp_path / "tab.txt", realistic_rows()))
    )


def test_dot_decimals_crlf_and_trailing_separator(tmp_path: Path) -> None:
    rows = [[*row, ""] for row in realistic_rows()]
    for row in rows:
        row[11] = row[11].replace(",", ".")
        row[12] = row[12].replace(",", ".")
    path = write_fec(tmp_path / "FEC.txt", rows, header=[*HEADER, ""], newline="\r\n")
    assert by_id(parse_fec(path)) == by_id(
        parse_fec(write_fec(tmp_path / "plain.txt", realistic_rows()))
    )


def test_header_names_match_whatever_their_case(tmp_path: Path) -> None:
    renamed = {"Montantdevise": "MontantDevise", "EcritureLet": "ECRITURELET"}
    header = [renamed.get(name, name) for name in HEADER]
    path = write_fec(tmp_path / "FEC.txt", realistic_rows(), header=header)
    assert len(parse_fec(path).invoices) == 11


def test_windows_1252_file_with_a_byte_order_free_header(tmp_path: Path) -> None:
    """Exports from Windows packages are often Windows-1252: names keep their accents."""
    rows = [
        fec_line("VE", 1, "20260105", "411000", "FA-1", aux="CSOC", debit="10,00"),
    ]
    rows[0][7] = "Société Générale d'Œuvres"
    path = write_fec(tmp_path / "FEC.txt", rows, encoding="cp1252")
    assert parse_fec(path).customers[0].name == "Société Générale d'Œuvres"


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "FEC.txt"
    rows = [fec_line("VE", 1, "20260105", "411000", "FA-1", aux="CÉLINE", debit="10,00")]
    path.write_bytes(b"\xef\xbb\xbf" + fec_text(rows).encode())
    assert parse_fec(path).customers[0].id == "CÉLINE"


def test_lines_with_zero_amounts_are_ignored(tmp_path: Path) -> None:
    rows = [fec_line("VE", 1, "20260105", "411000", "FA-1", aux="CDUPONT")]
    assert parse_fec(write_fec(tmp_path / "FEC.txt", rows)).invoices == []


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    text = fec_text(realistic_rows()) + "\n\n"
    assert len(parse_fec_bytes(text.encode()).invoices) == 11


# --------------------------------------------------------------------------- malformed files


def _error(tmp_path: Path, text: str, *, encoding: str | None = None) -> InputError:
    """The one error parse_fec raises on this text (written as UTF-8)."""
    path = tmp_path / "FEC.txt"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(InputError) as caught:
        parse_fec(path, encoding=encoding)
    assert caught.value.file == str(path)
    return caught.value


def _with(row_changes: dict[int, str], at: int = 2) -> str:
    """The realistic file with fields of its data line ``at`` (2 = first line) replaced."""
    rows = realistic_rows()
    for column, value in row_changes.items():
        rows[at - 2][column] = value
    return fec_text(rows)


COL = {name: position for position, name in enumerate(HEADER)}


@pytest.mark.parametrize(
    ("line", "column", "value", "message"),
    [
        (2, "EcritureDate", "2026-01-05", "expected a date YYYYMMDD, got '2026-01-05'"),
        (5, "EcritureDate", "", "is required"),
        (3, "PieceDate", "20260230", "not a valid date: '20260230'"),
        (4, "DateLet", "5/2/2026", "expected a date YYYYMMDD"),
        (6, "ValidDate", "2026011", "expected a date YYYYMMDD"),
        (2, "Debit", "12OO,00", "expected an amount such as 1234,56"),
        (7, "Credit", "1 200,00", "expected an amount such as 1234,56"),
        (3, "Credit", "1,200.00", "expected an amount"),
        (9, "Montantdevise", "abc", "expected an amount"),
        (9, "Idevise", "US$", "expected an ISO 4217 currency code"),
        (8, "CompteNum", "", "is required"),
    ],
)
def test_malformed_field_names_line_and_column(
    tmp_path: Path, line: int, column: str, value: str, message: str
) -> None:
    """One clear error: the file, the line number (the header is line 1), the column."""
    error = _error(tmp_path, _with({COL[column]: value}, at=line))
    assert (error.record, error.field) == (f"line {line}", column)
    assert message in error.message
    assert str(error).startswith(f"{tmp_path / 'FEC.txt'}: line {line}: field '{column}': ")


def test_missing_column_in_the_header(tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "Idevise"]
    rows = [row[:-1] for row in realistic_rows()]
    error = _error(tmp_path, fec_text(rows, header=header))
    assert (error.record, error.field) == ("line 1", "Idevise")
    assert "no column 'Idevise'" in error.message


def test_duplicate_column_in_the_header(tmp_path: Path) -> None:
    header = [*HEADER[:-1], "Debit"]
    error = _error(tmp_path, fec_text(realistic_rows(), header=header))
    assert (error.record, error.field) == ("line 1", "Debit")


def test_line_with_too_few_fields(tmp_path: Path) -> None:
    rows = realistic_rows()
    rows[4] = rows[4][:17]
    error = _error(tmp_path, fec_text(rows))
    assert (error.record, error.field) == ("line 6", "Idevise")
    assert "expected 18 fields separated by tabs, got 17" in error.message


def test_line_with_too_many_fields(tmp_path: Path) -> None:
    """A tab typed inside a label shifts the line."""
    rows = realistic_rows()
    rows[2][10] = "Facture\tFA-2026-0001"
    error = _error(tmp_path, fec_text(rows))
    assert (error.record, error.field) == ("line 4", None)
    assert "got 19" in error.message and "tab inside a label" in error.message


def test_trailing_separator_only_when_the_header_has_one(tmp_path: Path) -> None:
    """Otherwise an extra empty field is a shifted line, not a line ending."""
    rows = realistic_rows()
    rows[0] = [*rows[0], ""]
    error = _error(tmp_path, fec_text(rows))
    assert (error.record, error.field) == ("line 2", None)
    assert "got 19" in error.message


def test_pipe_file_with_too_few_fields(tmp_path: Path) -> None:
    rows = realistic_rows()
    rows[0] = rows[0][:10]
    error = _error(tmp_path, fec_text(rows, separator="|"))
    assert (error.record, error.field) == ("line 2", "EcritureLib")
    assert "separated by '|', got 10" in error.message


def test_empty_file(tmp_path: Path) -> None:
    error = _error(tmp_path, "")
    assert error.record == "line 1"
    assert "header" in error.message


def test_header_without_separators(tmp_path: Path) -> None:
    error = _error(tmp_path, "JournalCode;JournalLib;EcritureNum\n")
    assert error.record == "line 1"
    assert "separated by tabs or '|'" in error.message


def test_wrong_explicit_encoding_names_the_line(tmp_path: Path) -> None:
    rows = [fec_line("VE", n, "20260105", "411000", "FA-1", aux="C1") for n in range(3)]
    rows[2][7] = "Société"
    error = _error(tmp_path, fec_text(rows), encoding="ascii")
    assert error.record == "line 4"
    assert "not ascii text" in error.message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        parse_fec(tmp_path / "missing.txt")
    assert caught.value.file == str(tmp_path / "missing.txt")
    assert "cannot read the file" in caught.value.message


def test_first_error_wins_and_nothing_is_returned(tmp_path: Path) -> None:
    rows = realistic_rows()
    rows[1][COL["Debit"]] = "x"
    rows[5][COL["EcritureDate"]] = "y"
    error = _error(tmp_path, fec_text(rows))
    assert (error.record, error.field) == ("line 3", "Debit")
