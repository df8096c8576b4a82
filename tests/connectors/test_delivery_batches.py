"""How the runner delivers a cycle's rows: every due batch, statements rendered in
worker processes for big batches, transient failures retried later, not at once."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from runner_support import (
    SECRET,
    free_port,
    ledger_document,
    smtp_server,
    write_config,
    write_ledger,
)

from connectors.runner import POOL_MIN, Runner, render_statements
from connectors.settings import load_settings
from connectors.store.store import Store, StoreError
from core.actions import Action
from core.texts import Sender

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 10, 0)


def runner_for(tmp: Path, customers: int, port: int) -> Runner:
    ledger = write_ledger(tmp / "ledger.json", ledger_document(customers))
    settings = load_settings(
        write_config(tmp, port=port, ledger=ledger),
        {**os.environ, "RELANCE_TEST_SMTP_PASSWORD": SECRET},
    )
    return Runner(settings, Store.open(settings.store_url()), clock=lambda: NOW)


def planned(run: Runner) -> list[Action]:
    company = run.settings.companies[0]
    run.pull(company, run.source(company))
    return run.plan(company, TODAY)


def test_statements_rendered_by_worker_processes_are_the_same_bytes(tmp_path: Path) -> None:
    run = runner_for(tmp_path, POOL_MIN + 2, free_port())
    actions = planned(run)
    ledger = run.store.ledger("acme", TODAY)
    customers = {c.id: c for c in ledger.customers}
    sender = Sender(name="Atelier Martin SAS", email="compta@atelier-martin.example")
    jobs = [(a, customers[a.customer_id], sender, TODAY, "fr") for a in actions]
    assert len(jobs) >= POOL_MIN
    assert list(render_statements(jobs, 2)) == list(render_statements(jobs, 1))


def test_every_batch_of_due_rows_goes_out_in_one_cycle(tmp_path: Path) -> None:
    """More rows than one claim takes: the cycle claims again until none is left."""
    with smtp_server() as (handler, port):
        run = runner_for(tmp_path, 5, port)
        run.batch_size = 2
        report = run.cycle(run.settings.companies[0], today=TODAY)
    assert report.sent == 5 and len(handler.messages) == 5


def test_a_transient_failure_is_retried_later_not_within_the_cycle(tmp_path: Path) -> None:
    """The relay is down (nothing listens): each row fails once and waits five
    minutes; the same cycle does not hammer the relay again."""
    run = runner_for(tmp_path, 2, free_port())
    report = run.cycle(run.settings.companies[0], today=TODAY)
    rows = run.store.outbox_rows("acme")
    assert report.failed == 2
    assert {r.state for r in rows} == {"pending"}
    later = (NOW + timedelta(minutes=5)).replace(tzinfo=UTC)  # the store reads back UTC
    assert [(r.attempts, r.not_before) for r in rows] == [(1, later)] * 2
    again = run.cycle(run.settings.companies[0], today=TODAY)
    assert again.failed == 0


def test_phone_tasks_are_marked_sent_only_once_the_worklist_is_written(tmp_path: Path) -> None:
    """§10 exactly once for the worklist: a file that cannot be written leaves the
    task to do again, never marked done without being on the list."""
    ledger = write_ledger(tmp_path / "ledger.json", ledger_document(1, due_date="2026-11-04"))
    settings = load_settings(write_config(tmp_path, ledger=ledger), dict(os.environ))
    clock = [NOW]
    run = Runner(settings, Store.open(settings.store_url()), clock=lambda: clock[0])
    (tmp_path / "worklist.csv").mkdir()  # in the way of the file
    first = run.cycle(run.settings.companies[0], today=TODAY)
    assert (first.actions, first.sent, first.failed) == (1, 0, 1)
    assert [r.channel for r in run.store.outbox_rows("acme", states=("pending",))] == ["phone"]
    (tmp_path / "worklist.csv").rmdir()
    clock[0] = NOW + timedelta(minutes=6)
    second = run.cycle(run.settings.companies[0], today=TODAY)
    assert second.sent == 1
    assert "Client 1 SARL" in (tmp_path / "worklist.csv").read_text("utf-8-sig")


def test_an_email_is_marked_sent_with_the_next_attempt_and_may_have_been_sent_until_then(
    tmp_path: Path,
) -> None:
    """docs/daemon.md "Exactly once": the server has the message and the row still
    says it may have been sent until the next attempt's transaction marks it; a
    crash in between leaves it to the channel check, never to a blind resend."""
    with smtp_server() as (handler, port):
        run = runner_for(tmp_path, 3, port)
        seen: list[tuple[int, dict[str, tuple[str, bool]]]] = []
        record_attempt = run.store.record_attempt

        def spying(*args: Any, **kwargs: Any) -> None:
            rows = run.store.outbox_rows("acme")
            seen.append(
                (len(handler.messages), {r.key: (r.state, r.may_have_been_sent) for r in rows})
            )
            record_attempt(*args, **kwargs)

        run.store.record_attempt = spying  # type: ignore[method-assign]
        report = run.cycle(run.settings.companies[0], today=TODAY)
        keys = [r.key for r in run.store.outbox_rows("acme")]
        assert report.sent == 3 and handler.keys() == keys
        # Before the second and third attempts: the message before is at the server,
        # its row claimed with its attempt (may have been sent), not yet sent.
        for n, (received, states) in enumerate(seen[1:], start=1):
            assert received == n
            assert states[keys[n - 1]] == ("claimed", True)
            assert all(states[k] == ("sent", False) for k in keys[: n - 1])
        assert {r.state for r in run.store.outbox_rows("acme")} == {"sent"}


def test_a_sent_mark_the_store_refused_once_is_tried_again_before_leaving(
    tmp_path: Path,
) -> None:
    """The batch's last e-mail is at the server; marking it sent fails once (the
    database was busy): the cycle fails, but before leaving the runner marks it
    again, and the second try records it."""
    with smtp_server() as (handler, port):
        run = runner_for(tmp_path, 3, port)
        mark_delivered = run.store.mark_delivered
        refused: list[int] = []

        def busy_once(*args: Any, **kwargs: Any) -> None:
            if not refused:
                refused.append(1)
                raise StoreError("database is locked")
            mark_delivered(*args, **kwargs)

        run.store.mark_delivered = busy_once  # type: ignore[method-assign]
        with pytest.raises(StoreError):
            run.cycle(run.settings.companies[0], today=TODAY)
        assert refused and len(handler.messages) == 3
        assert {r.state for r in run.store.outbox_rows("acme")} == {"sent"}
