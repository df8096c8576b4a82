"""Write-back (DESIGN §10 "Push back"): reminder levels, dispute and escalation
flags reach the source through ``source.push(flags)``, each change once.

The source here is an accounting system's stand-in: it reads a real ledger file
(our jsonfile source) and records every flag it is given, as a remote system
would store them."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from runner_support import SECRET, Inbox, ledger_document, smtp_server, write_config, write_ledger

from connectors.jsonfile.source import JsonFileSource
from connectors.runner import Runner
from connectors.settings import CompanySettings, load_settings
from connectors.sources import Changes, Flag, Source
from connectors.store.store import Store

TODAY = date(2026, 11, 24)


class RecordingSource:
    """A Source that pulls a ledger file and keeps every flag pushed to it."""

    name = "recording"

    def __init__(self, path: Path) -> None:
        self.file = JsonFileSource(path)
        self.pushes: list[list[Flag]] = []
        self.writes = True  # False: like a read-only file, writes nothing

    def pull(self, cursor: str | None) -> Changes:
        return self.file.pull(cursor)

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal] | None:
        return self.file.refresh(invoice_ids)

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        self.pushes.append(list(flags))
        return list(flags) if self.writes else []

    def pushed(self, kind: str) -> list[tuple[str, Any]]:
        return [(f.ref, f.value) for batch in self.pushes for f in batch if f.kind == kind]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


def setup(tmp: Path, port: int, document: dict[str, Any]) -> tuple[Runner, RecordingSource]:
    ledger = write_ledger(tmp / "ledger.json", document)
    config = write_config(tmp, port=port, ledger=ledger)
    settings = load_settings(config, {**os.environ, "RELANCE_TEST_SMTP_PASSWORD": SECRET})
    source = RecordingSource(ledger)
    assert isinstance(source, Source)
    runner = Runner(
        settings,
        Store.open(settings.store_url()),
        clock=lambda: datetime(2026, 11, 24, 10, 0),
        sources={"acme": source},
    )
    return runner, source


def company(runner: Runner) -> CompanySettings:
    return runner.settings.companies[0]


def dispute(reason: str, closed: str | None = None) -> dict[str, Any]:
    return {"reason": reason, "opened": "2026-11-20", "note": "", "closed": closed}


def test_the_reminder_level_of_a_sent_invoice_is_pushed_once(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    runner, source = setup(tmp_path, inbox[1], ledger_document(2))
    runner.cycle(company(runner), today=TODAY)
    runner.cycle(company(runner), today=TODAY)
    assert sorted(source.pushed("reminder_level")) == [("F1", 3), ("F2", 3)]


def test_an_open_dispute_is_pushed_once_with_its_reason(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    document = ledger_document(2)
    document["invoices"][0]["dispute"] = dispute("prix contesté")
    runner, source = setup(tmp_path, inbox[1], document)
    runner.cycle(company(runner), today=TODAY)
    runner.cycle(company(runner), today=TODAY)
    assert source.pushed("dispute") == [("F1", "prix contesté")]
    assert [ref for ref, _ in source.pushed("reminder_level")] == ["F2"]  # F1 is on hold


def test_closing_a_dispute_pushes_its_closing_once(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    document = ledger_document(1)
    document["invoices"][0]["dispute"] = dispute("livraison incomplète")
    runner, source = setup(tmp_path, inbox[1], document)
    runner.cycle(company(runner), today=TODAY)
    document["invoices"][0]["dispute"] = dispute("livraison incomplète", closed="2026-11-24")
    write_ledger(tmp_path / "ledger.json", document)
    runner.cycle(company(runner), today=TODAY)
    runner.cycle(company(runner), today=TODAY)
    assert source.pushed("dispute") == [("F1", "livraison incomplète"), ("F1", None)]


def test_a_dispute_closed_before_any_push_says_nothing(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    document = ledger_document(1)
    document["invoices"][0]["dispute"] = dispute("erreur de TVA", closed="2026-11-21")
    runner, source = setup(tmp_path, inbox[1], document)
    runner.cycle(company(runner), today=TODAY)
    assert source.pushed("dispute") == []


def test_a_dispute_removed_at_the_source_is_pushed_as_closed(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    document = ledger_document(1)
    document["invoices"][0]["dispute"] = dispute("doublon")
    runner, source = setup(tmp_path, inbox[1], document)
    runner.cycle(company(runner), today=TODAY)
    document["invoices"][0]["dispute"] = None
    write_ledger(tmp_path / "ledger.json", document)
    runner.cycle(company(runner), today=TODAY)
    assert source.pushed("dispute") == [("F1", "doublon"), ("F1", None)]


def test_a_disputed_invoice_deleted_at_the_source_gets_no_closing(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    """F1 (disputed, pushed) and F2 (disputed, pushed) both lose their dispute, F2
    because it is gone from the ledger: only F1's closing is written back."""
    document = ledger_document(2)
    for invoice in document["invoices"]:
        invoice["dispute"] = dispute("doublon")
    runner, source = setup(tmp_path, inbox[1], document)
    runner.cycle(company(runner), today=TODAY)
    document["invoices"] = [dict(document["invoices"][0], dispute=None)]
    write_ledger(tmp_path / "ledger.json", document)
    runner.cycle(company(runner), today=TODAY)
    assert source.pushed("dispute") == [("F1", "doublon"), ("F2", "doublon"), ("F1", None)]


def test_an_escalated_invoice_is_pushed_once_and_its_clearing_too(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    document = ledger_document(1)
    document["invoices"][0]["escalated"] = True
    runner, source = setup(tmp_path, inbox[1], document)
    runner.cycle(company(runner), today=TODAY)
    runner.cycle(company(runner), today=TODAY)
    document["invoices"][0]["escalated"] = False
    write_ledger(tmp_path / "ledger.json", document)
    runner.cycle(company(runner), today=TODAY)
    runner.cycle(company(runner), today=TODAY)
    assert source.pushed("escalated") == [("F1", True), ("F1", False)]


def test_flags_a_source_did_not_write_are_offered_again(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    """Only what ``push`` says it wrote is recorded: a source that wrote nothing
    (a file, a failed write) gets the flags again next cycle."""
    document = ledger_document(1)
    document["invoices"][0]["dispute"] = dispute("prix contesté")
    runner, source = setup(tmp_path, inbox[1], document)
    source.writes = False
    runner.cycle(company(runner), today=TODAY)
    runner.cycle(company(runner), today=TODAY)
    assert source.pushed("dispute") == [("F1", "prix contesté")] * 2


def test_a_dry_run_writes_nothing_back_into_the_source(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    document = ledger_document(2)
    document["invoices"][0]["dispute"] = dispute("prix contesté")
    runner, source = setup(tmp_path, inbox[1], document)
    runner.cycle(company(runner), today=TODAY, send=False)
    assert source.pushes == []
    runner.cycle(company(runner), today=TODAY, send=True)
    assert source.pushed("dispute") == [("F1", "prix contesté")]
