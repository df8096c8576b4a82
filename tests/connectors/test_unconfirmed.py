"""A message whose send attempt was recorded but never concluded (the process died
between the final dot and the store's commit) is checked, not blindly resent
(DESIGN §10, docs/daemon.md "Exactly once")."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from runner_support import SECRET, Inbox, smtp_server, write_config

from connectors.runner import CycleReport, Runner, local_worker_is_dead
from connectors.settings import load_settings
from connectors.store.store import Store

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 10, 0)
DEAD = f"{socket.gethostname()}:{2**22 + 12345}"  # above Linux's pid_max: never alive


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


def crashed_runner(tmp: Path, port: int, smtp: str = "") -> tuple[Runner, list[str]]:
    """A runner over two planned e-mails, both claimed by a worker that recorded its
    send attempt and died; returns it and the rows' Message-IDs."""
    config = write_config(tmp, port=port, smtp=smtp)
    settings = load_settings(config, {**os.environ, "RELANCE_TEST_SMTP_PASSWORD": SECRET})
    runner = Runner(settings, Store.open(settings.store_url()), clock=lambda: NOW)
    company = runner.settings.companies[0]
    runner.pull(company, runner.source(company))
    with runner.store.transaction() as tx:
        runner.store.enqueue(tx, "acme", runner.plan(company, TODAY), dry_run=False, today=TODAY)
    ids = []
    for row in runner.store.claim("acme", DEAD, 10, 300, NOW):
        message_id = f"<relance.{row.key}@atelier-martin.example>"
        runner.store.record_attempt("acme", row.key, message_id, NOW, worker=DEAD)
        ids.append(message_id)
    return runner, ids


def deliver(runner: Runner) -> CycleReport:
    company = runner.settings.companies[0]
    report = CycleReport("acme", dry_run=False)
    runner.deliver(company, runner.source(company), TODAY, report)
    return report


def test_without_a_channel_check_an_unconfirmed_email_is_held_not_resent(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    runner, _ = crashed_runner(tmp_path, port)
    report = deliver(runner)
    rows = runner.store.outbox_rows("acme")
    assert handler.messages == []
    assert report.failed == 2
    assert {r.state for r in rows} == {"failed"}
    assert all(r.last_error and r.last_error.startswith("unconfirmed") for r in rows)


def test_an_unconfirmed_email_the_relay_accepted_is_marked_sent_without_resending(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    log = tmp_path / "accepted.log"
    runner, ids = crashed_runner(tmp_path, port, f'accepted_log = "{log}"')
    log.write_text("".join(f"accepted message-id={i}\n" for i in ids))
    report = deliver(runner)
    assert handler.messages == []
    assert report.sent == 2
    assert {r.state for r in runner.store.outbox_rows("acme")} == {"sent"}


def test_an_unconfirmed_email_the_relay_never_accepted_is_sent_once(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    log = tmp_path / "accepted.log"
    runner, ids = crashed_runner(tmp_path, port, f'accepted_log = "{log}"')
    log.write_text(f"accepted message-id={ids[0]}\n")
    report = deliver(runner)
    assert report.sent == 2
    assert handler.keys() == [ids[1].removeprefix("<relance.").split("@")[0]]


def test_claims_of_a_dead_process_of_this_host_are_released_at_once(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    """No waiting for the lease: the worker's pid is gone."""
    runner, _ = crashed_runner(tmp_path, inbox[1])
    assert runner.release_dead_claims("acme", NOW) == 2
    assert {r.state for r in runner.store.outbox_rows("acme")} == {"pending"}


def test_only_a_gone_process_of_this_host_counts_as_dead() -> None:
    assert local_worker_is_dead(DEAD)
    assert not local_worker_is_dead(f"{socket.gethostname()}:{os.getpid()}")
    assert not local_worker_is_dead(f"{socket.gethostname()}:1")  # alive (init)
    assert not local_worker_is_dead("another-host:999999")
