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


# -- snapshots: digests of the record bytes, only changed records decoded ------------


class Decodes:
    """Counts what ``decode_ledger`` is given: (customers, invoices, reminders) per call."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import connectors.jsonfile.source as module

        self.calls: list[tuple[int, int, int]] = []
        real = module.decode_ledger

        def counting(data: bytes) -> Any:
            ledger = real(data)
            self.calls.append((len(ledger.customers), ledger.invoice_count, len(ledger.reminders)))
            return ledger

        monkeypatch.setattr(module, "decode_ledger", counting)


def paid_later(doc: dict[str, Any], n: int = 0) -> dict[str, Any]:
    """The ``n``-th open invoice of ``doc``, now paid."""
    invoice = [i for i in doc["invoices"] if i["open_amount"] != "0.00"][n]
    invoice["open_amount"] = "0.00"
    invoice["paid_date"] = "2026-11-03"
    return invoice


def test_the_snapshot_gives_a_digest_per_record_that_changes_with_it(ledger_file: Path) -> None:
    """§10: a changed file's snapshot describes each record; only the changed
    record's digest differs from the last snapshot's."""
    source = JsonFileSource(ledger_file)
    first = source.pull(None).snapshot
    doc = document()
    invoice = paid_later(doc)
    write(ledger_file, doc, age_ns=HOUR_NS // 2)
    second = JsonFileSource(ledger_file).pull(None).snapshot
    assert first is not None and second is not None
    assert first.context == second.context
    assert first.customers == second.customers and first.reminders == second.reminders
    changed = {k for k, v in second.invoices.items() if first.invoices[k] != v}
    assert changed == {invoice["id"]}
    assert second.invoice_owners[invoice["id"]] == invoice["customer_id"]
    records = second.records([], [invoice["id"]], [])
    assert [(i.id, i.open_amount) for i in records.invoices] == [(invoice["id"], 0)]


def test_a_changed_file_decodes_only_its_changed_records_once_read(
    ledger_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The source has decoded the file before: the next pull checks only the
    records whose bytes changed (with the customer they refer to)."""
    source = JsonFileSource(ledger_file)
    cursor = source.pull(None).cursor
    decodes = Decodes(monkeypatch)
    doc = document()
    paid_later(doc)
    write(ledger_file, doc, age_ns=HOUR_NS // 2)
    changes = source.pull(cursor)
    assert decodes.calls == [(1, 1, 0)]
    assert changes.full and changes.snapshot is not None


def test_a_malformed_record_in_a_changed_file_names_record_and_field(ledger_file: Path) -> None:
    """Only the changed record is decoded, but the error is the whole file's: it
    names the record by its place in the file."""
    source = JsonFileSource(ledger_file)
    cursor = source.pull(None).cursor
    doc = document()
    doc["invoices"][3]["amount"] = "-12.00"
    write(ledger_file, doc, age_ns=HOUR_NS // 2)
    with pytest.raises(SourceError) as caught:
        source.pull(cursor)
    invoice_id = doc["invoices"][3]["id"]
    assert caught.value.kind == "data"
    assert f"invoices[3] (id '{invoice_id}'): field 'amount'" in str(caught.value)


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["invoices"].append(dict(d["invoices"][0])),  # an id twice
        lambda d: d["invoices"][5].update(customer_id="C-UNKNOWN"),
        lambda d: d["reminders"][0].update(customer_id="C-UNKNOWN"),
        lambda d: d.update(currency="euro"),
        lambda d: d.update(extra=1),
    ],
    ids=["duplicate id", "unknown customer", "journal of an unknown customer", "currency", "field"],
)
def test_rules_between_records_still_hold_in_a_changed_file(
    ledger_file: Path, break_it: Any
) -> None:
    """The checks that involve several records (unique ids, known customers) or the
    whole file are made on every pull, whatever changed."""
    source = JsonFileSource(ledger_file)
    cursor = source.pull(None).cursor
    doc = document()
    break_it(doc)
    write(ledger_file, doc, age_ns=HOUR_NS // 2)
    with pytest.raises(SourceError) as caught:
        source.pull(cursor)
    assert caught.value.kind == "data"
    assert str(ledger_file) in str(caught.value)


def test_refresh_decodes_only_the_invoices_asked_for(
    ledger_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Just before sending, the file read at the pull gives the open amounts of the
    listed invoices: those are decoded, not the whole file."""
    source = JsonFileSource(ledger_file)
    snapshot = source.pull(None).snapshot
    assert snapshot is not None
    snapshot.records([], [], [])  # as the runner does: then only digests are kept
    decodes = Decodes(monkeypatch)
    doc = document()
    wanted = [i["id"] for i in doc["invoices"][:2]]
    amounts = source.refresh(wanted)
    assert amounts == {i["id"]: Decimal(i["open_amount"]) for i in doc["invoices"][:2]}
    assert [invoices for _, invoices, _ in decodes.calls] == [2]


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["invoices"].insert(0, {**d["invoices"][-1], "id": "FA-NEW"}),
        lambda d: d["invoices"].pop(2),
        lambda d: d["invoices"][4].update(id="FA-RENAMED"),
        lambda d: d["invoices"][6].update(customer_id=d["customers"][-1]["id"]),
        lambda d: d["customers"].append({**d["customers"][0], "id": "C-NEW"}),
        lambda d: d["reminders"].reverse(),
        lambda d: d["reminders"][0].update(key="hist-renamed"),
    ],
    ids=["inserted", "removed", "renamed", "moved", "customer added", "reordered", "key"],
)
def test_a_snapshot_read_after_another_describes_the_file_as_a_first_read(
    ledger_file: Path, edit: Any
) -> None:
    """The source reuses what it knows of the bytes it read before (ids, digests):
    the result is what reading the changed file afresh gives."""
    source = JsonFileSource(ledger_file)
    cursor = source.pull(None).cursor
    doc = document()
    edit(doc)
    write(ledger_file, doc, age_ns=HOUR_NS // 2)
    warm, cold = source.pull(cursor).snapshot, JsonFileSource(ledger_file).pull(None).snapshot
    assert warm is not None and cold is not None
    for name in ("customers", "invoices", "reminders", "invoice_owners", "reminder_owners"):
        assert getattr(warm, name) == getattr(cold, name), name
        assert list(getattr(warm, name)) == list(getattr(cold, name)), name
