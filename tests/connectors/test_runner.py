"""The sync cycle end to end: a jsonfile source, SQLite store, a real SMTP server on
127.0.0.1 (DESIGN §10)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from runner_support import SECRET, Inbox, ledger_document, smtp_server
from runner_support import write_config as support_config

from connectors.runner import Runner
from connectors.settings import load_settings
from connectors.store.store import Store

TODAY = date(2026, 11, 24)  # a Tuesday


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


def write_config(tmp: Path, port: int, *, send: bool) -> Path:
    return support_config(tmp, port=port, send=send)


def runner_for(config: Path) -> Runner:
    settings = load_settings(config, {"RELANCE_TEST_SMTP_PASSWORD": SECRET})
    store = Store.open(settings.store_url())
    return Runner(settings, store, clock=lambda: datetime(2026, 11, 24, 10, 0))


def test_dry_run_renders_every_action_and_sends_nothing(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    """§10: dry run is the default: the outbox records what would go out, nothing is
    sent and the journal stays empty, so a later real run still sends."""
    handler, port = inbox
    runner = runner_for(write_config(tmp_path, port, send=False))
    report = runner.cycle(runner.settings.companies[0], today=TODAY)
    assert (report.actions, report.dry_runs, report.sent) == (2, 2, 0)
    assert handler.messages == []
    assert runner.store.history("acme", "C1") == []


def test_a_real_run_sends_each_reminder_once_with_a_stable_message_id(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    """§5.6, §10: two customers each get one e-mail; running the cycle again the same
    day sends nothing more (the action keys are in the outbox and the journal)."""
    handler, port = inbox
    runner = runner_for(write_config(tmp_path, port, send=True))
    company = runner.settings.companies[0]
    first = runner.cycle(company, today=TODAY)
    second = runner.cycle(company, today=TODAY)
    assert (first.sent, second.actions, second.sent) == (2, 0, 0)
    recipients = sorted(m["To"] for m in handler.messages)
    assert recipients == ["compta@client1.example", "compta@client2.example"]
    ids = {m["Message-ID"] for m in handler.messages}
    assert len(ids) == 2
    assert all(m.get_content_type() == "multipart/mixed" for m in handler.messages)


def test_an_invoice_paid_between_planning_and_sending_is_not_reminded(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    """§10 fresh at send time: F1 is paid after the actions were enqueued; just before
    sending, the source says so, and C1's reminder is cancelled, not sent."""
    handler, port = inbox
    config = write_config(tmp_path, port, send=True)
    runner = runner_for(config)
    company = runner.settings.companies[0]
    source = runner.source(company)
    runner.pull(company, source)
    actions = runner.plan(company, TODAY)
    with runner.store.transaction() as tx:
        runner.store.enqueue(tx, "acme", actions, dry_run=False, today=TODAY)
    (tmp_path / "ledger.json").write_text(json.dumps(ledger_document(open_amounts={"F1": "0.00"})))
    from connectors.runner import CycleReport

    report = CycleReport("acme", dry_run=False)
    runner.deliver(company, source, TODAY, report)
    assert (report.sent, report.cancelled) == (1, 1)
    assert [m["To"] for m in handler.messages] == ["compta@client2.example"]


def test_the_smtp_password_never_reaches_the_logs(
    tmp_path: Path, inbox: tuple[Inbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    """§10: secrets come from the environment and are never logged."""
    _, port = inbox
    caplog.set_level(logging.DEBUG)
    runner = runner_for(write_config(tmp_path, port, send=True))
    runner.cycle(runner.settings.companies[0], today=TODAY)
    assert caplog.records
    assert SECRET not in caplog.text
    assert SECRET not in repr(runner.settings)
