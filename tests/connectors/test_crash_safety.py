"""Exactly once per action key across crashes (DESIGN §10, docs/daemon.md "Exactly once").

The delivering process is `relance sync --once --send` itself (the CLI's entry point
in a child process) sending to a real SMTP server on 127.0.0.1.  It is SIGKILLed at
seeded random points, most of them right around a message's final dot and 250
reply (the ambiguous window), some at random times; then runs resume it until it
finishes.  The server must hold every action key exactly once, and none be lost.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from runner_support import SECRET, Inbox, ledger_document, smtp_server, write_config, write_ledger

from connectors.settings import load_settings
from connectors.store.store import Store

CUSTOMERS = 30
KILLS = 10
SEED = 20261124
# The CLI entry point, started ahead and waiting for a line on stdin: the next run's
# imports overlap the current run, so many runs stay fast.
CHILD = (
    "import sys, connectors.cli, connectors.cli_daemon, connectors.runner\n"
    "sys.stdin.readline()\n"
    "sys.argv = ['relance', *sys.argv[1:]]\n"
    "connectors.cli.main()\n"
)


class Runs:
    """`relance sync --once --send` runs, each started ahead of its turn."""

    def __init__(self, config: Path, tmp: Path) -> None:
        self.args = [
            sys.executable,
            "-c",
            CHILD,
            "sync",
            "--config",
            str(config),
            "--once",
            "--send",
            "--today",
            "2026-11-24",
        ]
        self.env = {**os.environ, "RELANCE_TEST_SMTP_PASSWORD": SECRET}
        self.tmp = tmp
        self.count = 0
        self._next = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.count += 1
        return subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=(self.tmp / f"run{self.count}.log").open("wb"),
            env=self.env,
        )

    def start(self) -> subprocess.Popen[bytes]:
        process, self._next = self._next, self._spawn()
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        process.stdin.flush()
        return process

    def close(self) -> None:
        self._next.kill()
        self._next.wait()


def kill_at_random_point(
    process: subprocess.Popen[bytes], inbox: Inbox, rng: random.Random
) -> bool:
    """SIGKILL ``process`` a few messages on (most runs) or after a random time;
    False if it finished first."""
    if rng.random() < 0.75:
        target = len(inbox.messages) + rng.randint(1, 4)
        deadline = time.monotonic() + 60
        while len(inbox.messages) < target and process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 0.003))  # around the 250 reply and the mark-sent commit
    else:
        started = time.monotonic()
        delay = rng.uniform(0.05, 1.5)
        while time.monotonic() - started < delay and process.poll() is None:
            time.sleep(0.001)
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


def test_sigkilled_deliveries_resume_and_send_every_key_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    accepted_log = tmp_path / "accepted.log"
    ledger = write_ledger(tmp_path / "ledger.json", ledger_document(CUSTOMERS))
    with smtp_server(accepted_log) as (inbox, port):
        config = write_config(
            tmp_path, port=port, ledger=ledger, smtp=f'accepted_log = "{accepted_log}"'
        )
        runs = Runs(config, tmp_path)
        try:
            kills = 0
            while kills < KILLS:
                process = runs.start()
                if not kill_at_random_point(process, inbox, rng):
                    break
                kills += 1
            finals = [runs.start().wait() for _ in range(2)]
        finally:
            runs.close()
        received = Counter(inbox.keys())

    settings = load_settings(config, {"RELANCE_TEST_SMTP_PASSWORD": SECRET})
    with Store.open(settings.store_url()) as store:
        rows = store.outbox_rows("acme", limit=10_000)
    assert kills >= 5, f"only {kills} kills landed before the runs finished"
    assert finals == [0, 0], (tmp_path / f"run{runs.count - 1}.log").read_text()
    assert len(rows) == CUSTOMERS
    assert {r.state for r in rows} == {"sent"}, [(r.key, r.state, r.last_error) for r in rows]
    assert {r.key for r in rows} == set(received)  # none lost
    assert [k for k, n in received.items() if n != 1] == []  # none twice
    # Whether a kill landed between the dot and the commit depends on timing; the
    # exactly-once checks above hold either way (test_unconfirmed.py covers that path).
