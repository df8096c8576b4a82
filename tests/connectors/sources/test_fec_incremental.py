"""A changed FEC is read again by customer (connectors/fec/source.py): whatever the
change, the snapshot (digests, owners, records) and the open amounts are those a
full parse of the new file gives, and a change that concerns the whole file (its
header, its sales journals) or a bad line reads the whole file."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from source_samples import HEADER, fec_line, realistic_rows, receipt, sale, write_fec

from connectors.fec import FecSource, parse_fec
from connectors.sources import Changes, LedgerSnapshot, SourceError

Rows = list[list[str]]


def as_full_parse(source: FecSource, path: Path, changes: Changes) -> None:
    """The pull's snapshot and the source's open amounts are a full parse's."""
    assert changes.snapshot is not None
    reference = LedgerSnapshot(
        parse_fec(path, sales_journals=source.sales_journals, accounts=source.accounts),
        f"fec:{source._options}",
    )
    snapshot = changes.snapshot
    assert snapshot.context == reference.context
    assert dict(snapshot.customers) == reference.customers
    assert dict(snapshot.invoices) == reference.invoices
    assert dict(snapshot.invoice_owners) == reference.invoice_owners
    assert dict(snapshot.reminders) == {}
    customers, invoices = sorted(reference.customers), sorted(reference.invoices)
    assert snapshot.records(customers, invoices, []) == reference.records(customers, invoices, [])
    owed = {i.id: i.open_amount for i in reference.ledger().invoices}
    assert source.refresh([*invoices, "nobody/nothing"]) == owed | {"nobody/nothing": 0}
    # The records handed over in full are a full parse's too.
    assert sorted(i.id for i in changes.invoices) == invoices


def by_customer(changes: Changes) -> bool:
    """The pull read the changed customers only (not a whole-file snapshot)."""
    return not isinstance(changes.snapshot, LedgerSnapshot)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return write_fec(tmp_path / "FEC.txt", realistic_rows())


def pull_after(
    path: Path, change: Callable[[Rows], Rows], **options: object
) -> tuple[FecSource, Changes]:
    source = FecSource(path, **options)  # type: ignore[arg-type]
    first = source.pull(None)
    as_full_parse(source, path, first)
    write_fec(path, change(realistic_rows()))
    changes = source.pull(first.cursor)
    assert changes.full and changes.cursor != first.cursor
    as_full_parse(source, path, changes)
    return source, changes


def test_a_changed_line_of_one_customer(path: Path) -> None:
    """Martin's unallocated transfer lettered with FA-2026-0002: only Martin's
    records are new."""

    def letter(rows: Rows) -> Rows:
        for row in rows:
            if row[8] in ("VIR-0215",) and row[4] == "411000":
                row[13], row[14] = "ZZ", "20260331"
        return rows

    _, changes = pull_after(path, letter)
    assert by_customer(changes)


def test_a_payment_booked(path: Path) -> None:
    def pay(rows: Rows) -> Rows:
        return rows + receipt(20, "20260331", "CMARTIN", "FA-2026-0002", "2400,00")

    _, changes = pull_after(path, pay)
    assert by_customer(changes)
    assert changes.snapshot is not None
    assert changes.snapshot.records([], ["CMARTIN/FA-2026-0002"], []).invoices[0].open_amount == 0


def test_a_customer_added_and_one_removed(path: Path) -> None:
    def swap(rows: Rows) -> Rows:
        rows = [r for r in rows if r[6] != "CSUMMIT"]
        return rows + sale(30, "20260320", "CNEW", "FA-2026-0030", "120,00", "100,00", "20,00")

    _, changes = pull_after(path, swap)
    assert by_customer(changes)
    assert changes.snapshot is not None
    assert "CNEW" in changes.snapshot.customers
    assert "CSUMMIT" not in changes.snapshot.customers


def test_lines_moved_within_a_customer(path: Path) -> None:
    """The order of a customer's lines matters (its name, partial lettering)."""
    _, changes = pull_after(path, lambda rows: rows[::-1])
    assert by_customer(changes)


def test_another_header_reads_the_whole_file(path: Path) -> None:
    def reorder(rows: Rows) -> Rows:
        return [[r[1], r[0], *r[2:]] for r in rows]

    source = FecSource(path)
    cursor = source.pull(None).cursor
    header = [HEADER[1], HEADER[0], *HEADER[2:]]
    write_fec(path, reorder(realistic_rows()), header=header)
    changes = source.pull(cursor)
    assert not by_customer(changes)
    as_full_parse(source, path, changes)


def test_another_encoding_gives_what_a_full_parse_gives(path: Path) -> None:
    """Windows-1252 instead of UTF-8: the text of the lines is the same."""
    source = FecSource(path)
    cursor = source.pull(None).cursor
    rows = realistic_rows() + receipt(20, "20260331", "CMARTIN", "FA-2026-0002", "2400,00")
    write_fec(path, rows, encoding="cp1252", newline="\r\n")
    as_full_parse(source, path, source.pull(cursor))


def test_other_sales_journals_read_the_whole_file(path: Path) -> None:
    """A credit note is one when booked in a journal of sales accounts: a journal
    that no longer has any changes every customer's credits."""

    def no_sales_in_ve(rows: Rows) -> Rows:
        return [r for r in rows if not r[4].startswith("70")]

    _, changes = pull_after(path, no_sales_in_ve)
    assert not by_customer(changes)


def test_a_bad_line_gives_the_full_parse_message(path: Path) -> None:
    source = FecSource(path)
    cursor = source.pull(None).cursor
    rows = realistic_rows()
    rows[4][3] = "2026-02-30"  # line 6 of the file
    write_fec(path, rows)
    with pytest.raises(SourceError) as error:
        source.pull(cursor)
    assert "line 6" in str(error.value) and "EcritureDate" in str(error.value)
    # The file fixed: read again, as a full parse gives it.
    write_fec(path, realistic_rows() + receipt(20, "20260331", "CMARTIN", "X", "1,00"))
    as_full_parse(source, path, source.pull(cursor))


def test_ids_that_collide_across_customers(tmp_path: Path) -> None:
    """Customer "A/B" piece "C" and customer "A" piece "B/C" are both "A/B/C": the
    whole file decides which one is renamed."""
    path = tmp_path / "FEC.txt"
    rows = sale(1, "20260105", "A/B", "C", "120,00", "100,00", "20,00")
    write_fec(path, rows)
    source = FecSource(path)
    cursor = source.pull(None).cursor
    rows += sale(2, "20260106", "A", "B/C", "240,00", "200,00", "40,00")
    write_fec(path, rows)
    changes = source.pull(cursor)
    as_full_parse(source, path, changes)
    assert changes.snapshot is not None
    assert len(changes.snapshot.invoices) == 2


def test_a_change_to_one_customer_keeps_anothers_invoice_of_a_like_id(tmp_path: Path) -> None:
    """Customer "C/X"'s piece "excess" is "C/X/excess", the id customer "C"'s piece
    "X" gives its excess: a payment of C's "X" leaves C/X's invoice where it is."""
    path = tmp_path / "FEC.txt"
    rows = sale(1, "20260105", "C/X", "excess", "120,00", "100,00", "20,00")
    rows += sale(2, "20260106", "C", "X", "240,00", "200,00", "40,00")
    write_fec(path, rows)
    source = FecSource(path)
    cursor = source.pull(None).cursor
    write_fec(path, rows + receipt(3, "20260201", "C", "X", "240,00"))
    changes = source.pull(cursor)
    assert by_customer(changes)
    as_full_parse(source, path, changes)
    assert changes.snapshot is not None
    assert "C/X/excess" in changes.snapshot.invoices


def test_lettering_that_joins_pieces(path: Path) -> None:
    """One transfer lettered with two invoices, then one of them partly unlettered."""
    extra = [
        *sale(40, "20260301", "CDUPONT", "FA-40", "100,00", "80,00", "20,00", letter="JJ"),
        *sale(41, "20260302", "CDUPONT", "FA-41", "200,00", "160,00", "40,00", letter="JJ"),
        *receipt(42, "20260310", "CDUPONT", "VIR-42", "250,00", letter="JJ"),
    ]
    path.write_text("")
    write_fec(path, realistic_rows() + extra)
    source = FecSource(path)
    cursor = source.pull(None).cursor
    extra[3][13] = ""  # FA-41 no longer lettered
    write_fec(path, realistic_rows() + extra)
    changes = source.pull(cursor)
    assert by_customer(changes)
    as_full_parse(source, path, changes)


def test_random_changes_give_what_a_full_parse_gives(tmp_path: Path) -> None:
    """Lines changed, added, removed and moved at random, pull after pull (the
    source kept, as the daemon keeps it)."""
    rng = random.Random(4)
    path = tmp_path / "FEC.txt"
    customers = [f"C{n:02d}" for n in range(12)]
    rows: Rows = []
    for n in range(60):
        customer = rng.choice(customers)
        rows += sale(n, f"202601{1 + n % 28:02d}", customer, f"FA-{n}", "120,00", "100,00", "20,00")
        if rng.random() < 0.6:
            piece = f"FA-{n}" if rng.random() < 0.7 else f"VIR-{n}"
            amount = rng.choice(["120,00", "50,00", "200,00"])
            letter = rng.choice(["", f"L{n}", "LX"])
            rows += receipt(n, f"202602{1 + n % 28:02d}", customer, piece, amount, letter=letter)
    write_fec(path, rows)
    source = FecSource(path)
    cursor = source.pull(None).cursor
    read_by_customer = 0
    for step in range(25):
        for _ in range(rng.randint(1, 4)):
            what = rng.random()
            n = rng.randrange(len(rows))
            if what < 0.3:  # a customer line lettered or unlettered
                row = rows[n]
                if row[4].startswith("411"):
                    row[13] = "" if row[13] else rng.choice(["LX", "LY", f"L{n}"])
            elif what < 0.5:
                rows.pop(n)
            elif what < 0.7:
                rows.insert(n, rows.pop(rng.randrange(len(rows))))
            elif what < 0.85:
                rows += receipt(
                    100 + step,
                    "20260320",
                    rng.choice(customers),
                    f"FA-{rng.randrange(60)}",
                    rng.choice(["10,00", "120,00"]),
                    letter=rng.choice(["", "LX", "LZ"]),
                )
            elif what < 0.92:
                rows.append(fec_line("BQ", 200 + step, "20260321", "512000", "X", debit="1,00"))
            else:  # a customer line of no amount (skipped, but checked)
                rows.insert(
                    n, fec_line("OD", 300 + step, "20251201", "411000", "Z", aux=customers[0])
                )
        write_fec(path, rows)
        changes = source.pull(cursor)
        if changes.is_empty:  # the changes undid one another
            assert changes.cursor == cursor
            continue
        as_full_parse(source, path, changes)
        read_by_customer += by_customer(changes)
        assert changes.cursor is not None
        cursor = changes.cursor
    assert read_by_customer >= 20
