"""The ``jsonfile`` source: a relance.ledger/1 file, its cursor, its errors (DESIGN.md 9, 10)."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.demo import generate_ledger, ledger_to_json
from connectors.jsonfile import JsonFileSource
from connectors.sources import Flag, Source, SourceError

START = date(2026, 11, 2)
HOUR_NS = 3600 * 10**9


def document() -> dict[str, Any]:
    return ledger_to_json(generate_ledger(START, customers=8, invoices=60, seed=7))


def write(path: Path, doc: dict[str, Any], *, age_ns: int = HOUR_NS) -> Path:
    """Write the ledger and date it ``age_ns`` ago (an hour by default: not "racy")."""
    path.write_text(json.dumps(doc), encoding="utf-8")
    stamp = path.stat().st_mtime_ns - age_ns
    os.utime(path, ns=(stamp, stamp))
    return path


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    return write(tmp_path / "ledger.json", document())


def test_it_is_a_source(ledger_file: Path) -> None:
    assert isinstance(JsonFileSource(ledger_file), Source)


def test_first_pull_is_the_whole_ledger(ledger_file: Path) -> None:
    changes = JsonFileSource(ledger_file).pull(None)
    doc = document()
    assert changes.full
    assert [c.id for c in changes.customers] == [c["id"] for c in doc["customers"]]
    assert [i.id for i in changes.invoices] == [i["id"] for i in doc["invoices"]]
    assert [r.key for r in changes.reminders] == [r["key"] for r in doc["reminders"]]


def test_cursor_is_the_hash_size_and_mtime(ledger_file: Path) -> None:
    import hashlib

    cursor = JsonFileSource(ledger_file).pull(None).cursor
    stat = ledger_file.stat()
    digest = hashlib.sha256(ledger_file.read_bytes()).hexdigest()
    assert cursor == f"{digest}:{stat.st_size}:{stat.st_mtime_ns}"


def test_unchanged_file_gives_no_changes_and_the_same_cursor(ledger_file: Path) -> None:
    cursor = JsonFileSource(ledger_file).pull(None).cursor
    changes = JsonFileSource(ledger_file).pull(cursor)
    assert changes.is_empty and changes.cursor == cursor


def test_unchanged_file_is_not_read_again(
    ledger_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Size and mtime as the cursor saw them: trusted, as make and rsync do."""
    cursor = JsonFileSource(ledger_file).pull(None).cursor

    def no_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was read")

    monkeypatch.setattr("connectors.jsonfile.source.read_snapshot", no_read)
    assert JsonFileSource(ledger_file).pull(cursor).cursor == cursor


def test_same_content_rewritten_gives_no_changes(ledger_file: Path) -> None:
    """Content decides: a touched file is hashed, found equal, and only the cursor moves."""
    cursor = JsonFileSource(ledger_file).pull(None).cursor
    write(ledger_file, document(), age_ns=HOUR_NS // 2)
    changes = JsonFileSource(ledger_file).pull(cursor)
    assert changes.is_empty and not changes.full
    assert changes.cursor != cursor
    assert changes.cursor is not None and cursor is not None
    assert changes.cursor.split(":")[0] == cursor.split(":")[0]


def test_changed_file_gives_a_full_snapshot(ledger_file: Path) -> None:
    cursor = JsonFileSource(ledger_file).pull(None).cursor
    doc = document()
    open_invoice = next(i for i in doc["invoices"] if i["open_amount"] != "0.00")
    open_invoice["open_amount"] = "0.00"
    open_invoice["paid_date"] = "2026-11-03"
    write(ledger_file, doc, age_ns=HOUR_NS // 2)
    changes = JsonFileSource(ledger_file).pull(cursor)
    assert changes.full and changes.cursor != cursor
    assert {i.id: i.open_amount for i in changes.invoices}[open_invoice["id"]] == 0


def test_recently_written_file_is_hashed_next_time(ledger_file: Path) -> None:
    """A file written in the last two seconds may change again within the same clock
    tick: its cursor does not trust the time, so a same-size rewrite is still seen."""
    write(ledger_file, document(), age_ns=0)
    first = JsonFileSource(ledger_file).pull(None).cursor
    assert first is not None and first.endswith(":0")
    doc = document()
    doc["customers"][0]["name"] = doc["customers"][0]["name"][:-1] + "X"  # same size
    stat = ledger_file.stat()
    ledger_file.write_text(json.dumps(doc), encoding="utf-8")
    os.utime(ledger_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime
    changes = JsonFileSource(ledger_file).pull(first)
    assert changes.full


def test_a_cursor_from_elsewhere_gives_a_full_snapshot(ledger_file: Path) -> None:
    assert JsonFileSource(ledger_file).pull("2026-11-02").full


def test_refresh_returns_open_amounts_and_zero_for_unknown_ids(ledger_file: Path) -> None:
    doc = document()
    open_invoice = next(i for i in doc["invoices"] if i["open_amount"] != "0.00")
    paid_invoice = next(i for i in doc["invoices"] if i["open_amount"] == "0.00")
    ids = [open_invoice["id"], paid_invoice["id"], "FA-1999-000001"]
    assert JsonFileSource(ledger_file).refresh(ids) == {
        open_invoice["id"]: Decimal(open_invoice["open_amount"]),
        paid_invoice["id"]: Decimal("0.00"),
        "FA-1999-000001": Decimal("0.00"),
    }


def test_refresh_reads_the_file_as_it_is_now(ledger_file: Path) -> None:
    source = JsonFileSource(ledger_file)
    source.pull(None)
    doc = document()
    open_invoice = next(i for i in doc["invoices"] if i["open_amount"] != "0.00")
    open_invoice["open_amount"] = "0.00"
    open_invoice["paid_date"] = "2026-11-03"
    write(ledger_file, doc, age_ns=HOUR_NS // 2)
    assert source.refresh([open_invoice["id"]]) == {open_invoice["id"]: Decimal("0.00")}


def test_bad_record_is_a_data_error_naming_file_record_and_field(tmp_path: Path) -> None:
    doc = document()
    doc["invoices"][3]["amount"] = "-12.00"
    path = write(tmp_path / "ledger.json", doc)
    with pytest.raises(SourceError) as caught:
        JsonFileSource(path).pull(None)
    error = caught.value
    assert error.kind == "data" and not error.retryable
    invoice_id = doc["invoices"][3]["id"]
    assert f"{path}: invoices[3] (id '{invoice_id}'): field 'amount'" in str(error)
    assert "must not be negative" in str(error)


def test_not_json_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text('{"format": "relance.ledger/1", ', encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        JsonFileSource(path).pull(None)
    assert caught.value.kind == "data"
    assert f"{path}: not valid JSON" in str(caught.value)


def test_wrong_format_is_a_data_error(tmp_path: Path) -> None:
    doc = document()
    doc["format"] = "relance.ledger/2"
    path = write(tmp_path / "ledger.json", doc)
    with pytest.raises(SourceError) as caught:
        JsonFileSource(path).pull(None)
    assert "field 'format'" in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        JsonFileSource(tmp_path / "absent.json").pull(None)
    assert caught.value.kind == "config"
    assert str(tmp_path / "absent.json") in str(caught.value)


def test_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        JsonFileSource(tmp_path).pull(None)
    assert caught.value.kind == "config"
    assert "is a folder" in str(caught.value)


def test_push_writes_nothing(ledger_file: Path) -> None:
    flag = Flag("dispute", "FA-2026-000001", "Prix contesté", date(2026, 11, 3))
    assert JsonFileSource(ledger_file).push([flag]) == []
