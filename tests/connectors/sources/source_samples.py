"""Test data for the sources: FEC lines built from a few fields, and a realistic FEC.

``fec_line(...)`` takes the fields that matter to a test and defaults the
rest; ``fec_text(rows)`` joins the header and the rows into a file's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

HEADER = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)

_JOURNALS = {
    "VE": "Ventes",
    "BQ": "Banque Crédit Agricole",
    "AC": "Achats",
    "OD": "Opérations diverses",
}
_ACCOUNTS = {
    "411000": "Clients",
    "411200": "Clients divers",
    "401000": "Fournisseurs",
    "512000": "Banque CA",
    "606300": "Fournitures",
    "445660": "TVA déductible",
    "445710": "TVA collectée",
    "666000": "Pertes de change",
    "706000": "Prestations de services",
    "707000": "Ventes de marchandises",
    "709000": "RRR accordés",
}
CUSTOMERS = {
    "CDUPONT": "Dupont Industrie SAS",
    "CMARTIN": "Martin BTP SARL",
    "CSUMMIT": "Summit Industries Inc.",
}


def fec_line(
    journal: str,
    num: int,
    entry: str,
    account: str,
    piece: str,
    *,
    aux: str = "",
    debit: str = "0,00",
    credit: str = "0,00",
    letter: str = "",
    date_let: str = "",
    piece_date: str | None = None,
    label: str | None = None,
    fx_amount: str = "",
    fx: str = "",
    valid: str | None = None,
) -> list[str]:
    """One FEC line; the customer name, account and journal labels are filled in."""
    return [
        journal,
        _JOURNALS.get(journal, journal),
        f"{journal}{num:05d}",
        entry,
        account,
        _ACCOUNTS.get(account, "Compte"),
        aux,
        CUSTOMERS.get(aux, aux),
        piece,
        entry if piece_date is None else piece_date,
        label if label is not None else f"{piece} {CUSTOMERS.get(aux, '')}".strip(),
        debit,
        credit,
        letter,
        date_let,
        entry if valid is None else valid,
        fx_amount,
        fx,
    ]


def fec_text(
    rows: Sequence[Sequence[str]],
    *,
    separator: str = "\t",
    header: Sequence[str] = HEADER,
    newline: str = "\n",
) -> str:
    lines = [separator.join(header)] + [separator.join(row) for row in rows]
    return newline.join(lines) + newline


def write_fec(
    path: Path,
    rows: Sequence[Sequence[str]],
    *,
    separator: str = "\t",
    header: Sequence[str] = HEADER,
    newline: str = "\n",
    encoding: str = "utf-8",
) -> Path:
    text = fec_text(rows, separator=separator, header=header, newline=newline)
    path.write_bytes(text.encode(encoding))
    return path


def sale(
    num: int, entry: str, aux: str, piece: str, total: str, net: str, vat: str, **kw: str
) -> list[list[str]]:
    """A sales invoice: the customer's debit, the sales and VAT credits."""
    return [
        fec_line("VE", num, entry, "411000", piece, aux=aux, debit=total, **kw),
        fec_line("VE", num, entry, "706000", piece, credit=net),
        fec_line("VE", num, entry, "445710", piece, credit=vat),
    ]


def receipt(num: int, entry: str, aux: str, piece: str, amount: str, **kw: str) -> list[list[str]]:
    """A bank receipt: the bank's debit, the customer's credit."""
    return [
        fec_line("BQ", num, entry, "512000", piece, debit=amount),
        fec_line("BQ", num, entry, "411000", piece, aux=aux, credit=amount, **kw),
    ]


def realistic_rows() -> list[list[str]]:
    """A French SME's first quarter: sales (VE), bank (BQ), purchases (AC), lettering."""
    rows: list[list[str]] = []
    # FA-2026-0001, Dupont: paid in full by transfer, lettered AA.
    rows += sale(
        1,
        "20260105",
        "CDUPONT",
        "FA-2026-0001",
        "1200,00",
        "1000,00",
        "200,00",
        letter="AA",
        date_let="20260204",
    )
    rows += receipt(
        1, "20260204", "CDUPONT", "VIR-0204", "1200,00", letter="AA", date_let="20260204"
    )
    # FA-2026-0002, Martin: booked on the 12th, dated the 10th; an unallocated
    # transfer of 1,000 arrives (unlettered): an open credit.
    rows += sale(
        2,
        "20260112",
        "CMARTIN",
        "FA-2026-0002",
        "2400,00",
        "2000,00",
        "400,00",
        piece_date="20260110",
    )
    rows += receipt(2, "20260215", "CMARTIN", "VIR-0215", "1000,00")
    # FA-2026-0003, Martin: a partial payment of 250 lettered AB with it.
    rows += sale(
        3,
        "20260120",
        "CMARTIN",
        "FA-2026-0003",
        "600,00",
        "500,00",
        "100,00",
        letter="AB",
        date_let="20260220",
    )
    rows += receipt(
        3, "20260220", "CMARTIN", "VIR-0220", "250,00", letter="AB", date_let="20260220"
    )
    # FA-2026-0004, Summit: USD 5,000 booked at EUR 4,600 (export, no VAT).
    rows += [
        fec_line(
            "VE",
            4,
            "20260115",
            "411000",
            "FA-2026-0004",
            aux="CSUMMIT",
            debit="4600,00",
            fx_amount="5000,00",
            fx="USD",
        ),
        fec_line(
            "VE",
            4,
            "20260115",
            "707000",
            "FA-2026-0004",
            credit="4600,00",
            fx_amount="5000,00",
            fx="USD",
        ),
    ]
    # FA-2026-0005, Dupont: 500 paid under the invoice's own reference.
    rows += sale(5, "20260305", "CDUPONT", "FA-2026-0005", "840,00", "700,00", "140,00")
    rows += receipt(5, "20260320", "CDUPONT", "FA-2026-0005", "500,00")
    # AV-2026-0001, Dupont: a credit note, not yet applied.
    rows += [
        fec_line("VE", 6, "20260301", "411000", "AV-2026-0001", aux="CDUPONT", credit="300,00"),
        fec_line("VE", 6, "20260301", "709000", "AV-2026-0001", debit="250,00"),
        fec_line("VE", 6, "20260301", "445710", "AV-2026-0001", debit="50,00"),
    ]
    # FA-2026-0006: a walk-in customer on the general account 411200, no auxiliary.
    rows += [
        fec_line("VE", 7, "20260310", "411200", "FA-2026-0006", debit="96,00"),
        fec_line("VE", 7, "20260310", "707000", "FA-2026-0006", credit="80,00"),
        fec_line("VE", 7, "20260310", "445710", "FA-2026-0006", credit="16,00"),
    ]
    # FA-2026-0007, Martin, settled by credit note AV-2026-0002 (lettered AC).
    rows += sale(
        8,
        "20260201",
        "CMARTIN",
        "FA-2026-0007",
        "120,00",
        "100,00",
        "20,00",
        letter="AC",
        date_let="20260210",
    )
    rows += [
        fec_line(
            "VE",
            9,
            "20260210",
            "411000",
            "AV-2026-0002",
            aux="CMARTIN",
            credit="120,00",
            letter="AC",
            date_let="20260210",
        ),
        fec_line("VE", 9, "20260210", "709000", "AV-2026-0002", debit="100,00"),
        fec_line("VE", 9, "20260210", "445710", "AV-2026-0002", debit="20,00"),
    ]
    # FA-2026-0008, Summit: USD 2,000 at EUR 1,840, paid EUR 1,800 and a EUR 40
    # exchange loss, all lettered AD.
    rows += [
        fec_line(
            "VE",
            10,
            "20260120",
            "411000",
            "FA-2026-0008",
            aux="CSUMMIT",
            debit="1840,00",
            fx_amount="2000,00",
            fx="USD",
            letter="AD",
            date_let="20260305",
        ),
        fec_line("VE", 10, "20260120", "707000", "FA-2026-0008", credit="1840,00"),
    ]
    rows += receipt(
        10,
        "20260305",
        "CSUMMIT",
        "VIR-0305",
        "1800,00",
        letter="AD",
        date_let="20260305",
        fx_amount="2000,00",
        fx="USD",
    )
    rows += [
        fec_line(
            "OD",
            1,
            "20260305",
            "411000",
            "OD-0305",
            aux="CSUMMIT",
            credit="40,00",
            letter="AD",
            date_let="20260305",
        ),
        fec_line("OD", 1, "20260305", "666000", "OD-0305", debit="40,00"),
    ]
    # A supplier invoice: not a customer account, ignored.
    rows += [
        fec_line("AC", 1, "20260108", "606300", "F-8841", debit="500,00"),
        fec_line("AC", 1, "20260108", "445660", "F-8841", debit="100,00"),
        fec_line("AC", 1, "20260108", "401000", "F-8841", aux="FBUREAU", credit="600,00"),
    ]
    return rows
