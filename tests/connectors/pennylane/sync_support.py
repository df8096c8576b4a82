"""Shared by the integration tests: a daemon config pointing at the fake, an SMTP inbox,
`relance` run in-process, and a small ledger in the fake."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from pennylane_fake import FakePennylane

from connectors.cli import cli

TOKEN = "pl-test-token-5f1c2e"
ENV = {"PL_TOKEN": TOKEN}


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def write_config(
    tmp: Path,
    url: str,
    *,
    smtp_port: int | None = None,
    send: bool = False,
    extra: str = "",
) -> Path:
    smtp = (
        f"""
[delivery.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from_address = "compta@atelier-martin.example"
"""
        if smtp_port
        else ""
    )
    config = tmp / "relance.toml"
    config.write_text(f"""
store = "sqlite:///{tmp / "relance.db"}"
send = {str(send).lower()}

[sender]
name = "Atelier Martin SAS"
email = "compta@atelier-martin.example"
{smtp}
[delivery.letters]
output_dir = "{tmp / "letters"}"

[delivery.worklist]
csv = "{tmp / "worklist.csv"}"
xlsx = ""

[[companies]]
id = "martin"
name = "Atelier Martin SAS"

[companies.source]
kind = "pennylane"
base_url = "{url}"
token_env = "PL_TOKEN"
category_group = "Relance"
{extra}
""")
    return config


def relance(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env or ENV, catch_exceptions=False)


@dataclass
class Ledger:
    """What `small_ledger` put in the fake."""

    martin: int
    durand: int
    overdue: int  # 14 days overdue: step 3 of the standard plan (e-mail)
    paid: int
    draft: int
    credit: int


def small_ledger(fake: FakePennylane, today: date) -> Ledger:
    martin = fake.add_customer(
        "Boulangerie Martin SARL", emails=["compta@martin.example"], reference="CLI-0042"
    )
    durand = fake.add_customer(
        "Claire Dupont",
        customer_type="individual",
        first_name="Claire",
        last_name="Dupont",
        emails=["claire@dupont.example"],
        billing_language="en_GB",
    )
    fake.add_contact(martin, "paul.durand@martin.example")
    overdue = fake.add_invoice(
        martin, "1200.00", issued=today - timedelta(days=44), deadline=today - timedelta(days=14)
    )
    paid = fake.add_invoice(
        durand,
        "300.00",
        remaining="0",
        issued=today - timedelta(days=60),
        deadline=today - timedelta(days=30),
    )
    draft = fake.add_invoice(
        durand, "80.00", issued=today, deadline=today + timedelta(days=30), draft=True
    )
    credit = fake.add_invoice(
        martin,
        "100.00",
        issued=today - timedelta(days=5),
        deadline=today - timedelta(days=5),
        credit_note=True,
    )
    return Ledger(martin, durand, overdue, paid, draft, credit)


def relance_group(fake: FakePennylane) -> int:
    """What the user does once in Pennylane's UI: a category group "Relance"."""
    return fake.add_group("Relance")
