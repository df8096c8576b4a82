"""`relance sync` as a daemon (DESIGN §10): without --once it repeats every
``interval_minutes``; SIGTERM or SIGINT stops it after the current step, with
exit code 0, the run recorded as finished and nothing left half-done."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from runner_support import SECRET, Inbox, ledger_document, smtp_server, write_config, write_ledger

from connectors.settings import load_settings
from connectors.store.store import RunRow, Store

RELANCE = str(Path(sys.executable).with_name("relance"))
ENV = {**os.environ, "RELANCE_TEST_SMTP_PASSWORD": SECRET}


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


def daemon_config(tmp: Path, port: int, customers: int, interval: float) -> Path:
    ledger = write_ledger(tmp / "ledger.json", ledger_document(customers))
    return write_config(tmp, port=port, ledger=ledger, top=f"interval_minutes = {interval}")


def sync(config: Path, *extra: str, stderr: int = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [RELANCE, "sync", "--config", str(config), "--send", "--today", "2026-11-24", *extra],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )


def runs(config: Path) -> list[RunRow]:
    settings = load_settings(config, ENV)
    with Store.open(settings.store_url()) as store:
        return store.last_runs("acme", 100)


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def outbox_states(config: Path) -> Counter[str]:
    settings = load_settings(config, ENV)
    with Store.open(settings.store_url()) as store:
        return Counter(r.state for r in store.outbox_rows("acme", limit=10_000))


def test_the_daemon_repeats_its_cycle_and_stops_on_sigterm(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    config = daemon_config(tmp_path, port, customers=3, interval=0.01)  # 0.6 s
    process = sync(config)
    wait_for(lambda: len([r for r in runs(config) if r.finished_at]) >= 3)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    done = runs(config)
    assert all(r.finished_at is not None and r.status == "ok" for r in done)
    assert sorted(Counter(handler.keys()).values()) == [1, 1, 1]  # later cycles add nothing
    assert outbox_states(config) == {"sent": 3}
    assert b"stop requested signal=SIGTERM" in err


def test_sigint_during_delivery_stops_after_the_message_under_way(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    """The run ends early but finished; the rows not reached go back to pending and
    the next run sends them, each once."""
    handler, port = inbox
    config = daemon_config(tmp_path, port, customers=40, interval=60)
    process = sync(config)
    wait_for(lambda: len(handler.messages) >= 3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    (run,) = runs(config)
    assert run.finished_at is not None and run.status == "ok" and run.counts["stopped"]
    states = outbox_states(config)
    assert states["sent"] == len(handler.messages) < 40
    assert states["claimed"] == 0 and states["sent"] + states["pending"] == 40
    finish = sync(config, "--once")
    finish.communicate(timeout=120)
    assert finish.returncode == 0
    assert outbox_states(config) == {"sent": 40}
    assert sorted(set(Counter(handler.keys()).values())) == [1] and len(handler.messages) == 40


def test_progress_bars_are_drawn_when_stderr_is_a_terminal(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    _, port = inbox
    config = daemon_config(tmp_path, port, customers=3, interval=60)
    leader, follower = pty.openpty()
    process = sync(config, "--once", stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        try:
            chunk = os.read(leader, 65536) if ready else b""
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    text = seen.decode("utf-8", "replace")
    for label in ("acme: pulling the ledger", "acme: planning", "acme: delivering"):
        assert label in text
    assert "3/3" in text  # the delivery bar counted every message


def test_without_a_terminal_no_bar_is_drawn(tmp_path: Path, inbox: tuple[Inbox, int]) -> None:
    _, port = inbox
    config = daemon_config(tmp_path, port, customers=1, interval=60)
    _, err = sync(config, "--once").communicate(timeout=60)
    assert b"delivering" not in err and b"\x1b[" not in err
