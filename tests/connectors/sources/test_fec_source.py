"""The ``fec`` source: cursor = file hash, full snapshots, refresh (DESIGN.md section 10)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from source_samples import realistic_rows, receipt, write_fec

from connectors.fec import FecSource
from connectors.sources import Flag, Source, SourceError


@pytest.fixture
def fec(tmp_path: Path) -> Path:
    return write_fec(tmp_path / "FEC.txt", realistic_rows())


def test_it_is_a_source(fec: Path) -> None:
    assert isinstance(FecSource(fec), Source)
    assert FecSource(fec).name == "fec"


def test_first_pull_is_a_full_snapshot(fec: Path) -> None:
    changes = FecSource(fec).pull(None)
    assert changes.full
    assert len(changes.customers) == 4
    assert len(changes.invoices) == 11
    assert changes.reminders == ()
    assert changes.cursor is not None


def test_unchanged_file_gives_no_changes_and_the_same_cursor(fec: Path) -> None:
    """Run it twice: the second pull finds nothing new."""
    source = FecSource(fec)
    cursor = source.pull(None).cursor
    again = FecSource(fec).pull(cursor)  # a new process: only the cursor is kept
    assert again.is_empty
    assert again.cursor == cursor


def test_changed_file_gives_a_full_snapshot(fec: Path) -> None:
    source = FecSource(fec)
    cursor = source.pull(None).cursor
    write_fec(fec, realistic_rows() + receipt(20, "20260331", "CMARTIN", "FA-2026-0002", "2400,00"))
    changes = source.pull(cursor)
    assert changes.full and changes.cursor != cursor
    paid = {inv.id: inv.open_amount for inv in changes.invoices}
    assert paid["CMARTIN/FA-2026-0002"] == 0


def test_changing_payment_terms_reads_the_file_again(fec: Path) -> None:
    """The same file read with other terms gives other due dates."""
    cursor = FecSource(fec, 30).pull(None).cursor
    changes = FecSource(fec, 60).pull(cursor)
    assert changes.full and changes.cursor != cursor


def test_refresh_returns_open_amounts_and_zero_for_unknown_ids(fec: Path) -> None:
    amounts = FecSource(fec).refresh(["CDUPONT/FA-2026-0005", "CDUPONT/FA-2026-0001", "nope"])
    assert amounts == {
        "CDUPONT/FA-2026-0005": Decimal("340.00"),
        "CDUPONT/FA-2026-0001": Decimal("0.00"),
        "nope": Decimal("0.00"),
    }


def test_refresh_sees_a_payment_booked_since_the_pull(fec: Path) -> None:
    """Fresh at send time: a payment since planning drops the invoice."""
    source = FecSource(fec)
    source.pull(None)
    write_fec(fec, realistic_rows() + receipt(20, "20260331", "CDUPONT", "FA-2026-0005", "340,00"))
    assert source.refresh(["CDUPONT/FA-2026-0005"]) == {"CDUPONT/FA-2026-0005": Decimal("0.00")}


def test_malformed_file_is_a_data_error_naming_the_line(fec: Path) -> None:
    rows = realistic_rows()
    rows[3][11] = "douze"
    write_fec(fec, rows)
    with pytest.raises(SourceError) as caught:
        FecSource(fec).pull(None)
    assert caught.value.kind == "data"
    assert f"{fec}: line 5: field 'Debit'" in str(caught.value)


def test_failed_pull_leaves_the_cursor_to_the_caller(fec: Path) -> None:
    """A bad export raises; fixing it gives the snapshot on the next pull."""
    source = FecSource(fec)
    cursor = source.pull(None).cursor
    rows = realistic_rows()
    rows[0][3] = "2026-01-05"
    write_fec(fec, rows)
    with pytest.raises(SourceError):
        source.pull(cursor)
    write_fec(fec, realistic_rows())
    assert source.pull(cursor).is_empty


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        FecSource(tmp_path / "absent.txt").pull(None)
    assert caught.value.kind == "config"
    assert "file not found" in str(caught.value) and "'path'" in str(caught.value)


def test_push_writes_nothing(fec: Path) -> None:
    from datetime import date

    flag = Flag("reminder_level", "CDUPONT/FA-2026-0005", 2, date(2026, 4, 10))
    assert FecSource(fec).push([flag]) == []
