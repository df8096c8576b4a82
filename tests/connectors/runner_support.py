"""Helpers of the runner and `relance sync` tests: a ledger file, a daemon config
around it, and a real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it gets."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SECRET = "s3cr3t-smtp-pa55"


class Inbox:
    """An aiosmtpd handler keeping every message it accepts.

    With ``accepted_log``, it also behaves as a relay that logs the Message-ID of
    each message it accepted, durably, before answering 250 (the channel check the
    daemon reads after a crash, docs/daemon.md "Exactly once")."""

    def __init__(self, accepted_log: Path | None = None) -> None:
        self.messages: list[Message] = []
        self.accepted_log = accepted_log

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        if self.accepted_log is not None:
            with self.accepted_log.open("a") as log:
                log.write(f"accepted message-id={message['Message-ID']}\n")
                log.flush()
                os.fsync(log.fileno())
        self.messages.append(message)
        return "250 OK"

    def keys(self) -> list[str]:
        return [str(m["X-Relance-Key"]) for m in self.messages]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == SECRET.encode()
    return AuthResult(success=ok)


@contextmanager
def smtp_server(accepted_log: Path | None = None) -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server taking LOGIN with SECRET; yields its handler and port."""
    handler = Inbox(accepted_log)
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


INVOICE = {
    "kind": "invoice",
    "issue_date": "2026-10-11",
    "due_date": "2026-11-10",
    "amount": "1200.00",
    "currency": "EUR",
    "dispute": None,
    "promise_date": None,
    "escalated": False,
    "factored": False,
}


def ledger_document(
    customers: int = 2, *, open_amounts: dict[str, str] | None = None, **invoice: Any
) -> dict[str, Any]:
    """``customers`` customers C1..Cn, each with one invoice F1..Fn of 1200.00 due
    2026-11-10 (14 days overdue on 2026-11-24: step 3 of the standard plan, an e-mail).
    ``open_amounts`` changes some open amounts (0: paid the day before)."""
    amounts = open_amounts or {}
    return {
        "format": "relance.ledger/1",
        "currency": "EUR",
        "customers": [
            {
                "id": f"C{n}",
                "name": f"Client {n} SARL",
                "emails": [f"compta@client{n}.example"],
                "language": "fr",
            }
            for n in range(1, customers + 1)
        ],
        "invoices": [
            {
                **INVOICE,
                **invoice,
                "id": f"F{n}",
                "customer_id": f"C{n}",
                "number": f"F{n}",
                "open_amount": amounts.get(f"F{n}", "1200.00"),
                "paid_date": "2026-11-23" if amounts.get(f"F{n}") == "0.00" else None,
            }
            for n in range(1, customers + 1)
        ],
        "reminders": [],
    }


def write_ledger(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


def write_config(
    tmp: Path,
    *,
    port: int | None = None,
    send: bool = True,
    store: str | None = None,
    ledger: Path | None = None,
    top: str = "",
    smtp: str = "",
) -> Path:
    """A daemon config for one company "acme" reading ``ledger`` (ledger.json with
    two customers when not given), storing in ``store`` (a SQLite file in ``tmp``)."""
    if ledger is None:
        ledger = write_ledger(tmp / "ledger.json", ledger_document())
    smtp_table = (
        ""
        if port is None
        else f"""
[delivery.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
username = "relance"
password_env = "RELANCE_TEST_SMTP_PASSWORD"
from_address = "compta@atelier-martin.example"
{smtp}
"""
    )
    config = tmp / "relance.toml"
    config.write_text(f"""
store = "{store or f"sqlite:///{tmp / 'relance.db'}"}"
send = {str(send).lower()}
{top}

[sender]
name = "Atelier Martin SAS"
email = "compta@atelier-martin.example"
{smtp_table}
[delivery.letters]
output_dir = "{tmp / "letters"}"

[delivery.worklist]
csv = "{tmp / "worklist.csv"}"
xlsx = ""

[[companies]]
id = "acme"
name = "Atelier Martin SAS"
source = {{ kind = "jsonfile", path = "{ledger}" }}
""")
    return config
