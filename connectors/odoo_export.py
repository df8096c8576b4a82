"""`relance odoo-export`: the data of an Odoo running odoo_addon_relance, as a ledger file.

The addon builds the ``relance.ledger/1`` document with the same builder as its own
run (``res.company.relance_export_ledger``), so `relance plan` on the file plans the
actions the addon would plan.  XML-RPC through the standard library only.
"""

from __future__ import annotations

import http.client
import json
import os
import xmlrpc.client
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from core.errors import InputError
from core.ledger import load_ledger
from core.model import Ledger

TIMEOUT_SECONDS = 300


class _TimeoutTransport(xmlrpc.client.Transport):
    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = TIMEOUT_SECONDS
        return connection


class _SafeTimeoutTransport(xmlrpc.client.SafeTransport):
    def make_connection(self, host: Any) -> http.client.HTTPSConnection:
        connection = super().make_connection(host)
        connection.timeout = TIMEOUT_SECONDS
        return connection


def _proxy(url: str, endpoint: str) -> xmlrpc.client.ServerProxy:
    transport = _SafeTimeoutTransport() if url.startswith("https://") else _TimeoutTransport()
    return xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/{endpoint}", transport=transport)


def check_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(
            f"expected the Odoo address, such as http://localhost:8069, got {url!r}",
            field="--url",
        )
    return url.rstrip("/")


def password_from_env(variable: str, environ: Any = os.environ) -> str:
    password = environ.get(variable)
    if not password:
        raise InputError(
            f"the environment variable {variable} is not set (it holds the Odoo password "
            "or API key)",
            field="--password-env",
        )
    return str(password)


def _call(what: str, url: str, function: Any, *args: Any) -> Any:
    """One XML-RPC call; every failure becomes one clear InputError."""
    try:
        return function(*args)
    except xmlrpc.client.Fault as fault:
        text = str(fault.faultString).strip().splitlines()
        detail = text[-1] if text else str(fault.faultCode)
        raise InputError(f"Odoo refused to {what}: {detail}", field="--url") from None
    except xmlrpc.client.ProtocolError as error:
        raise InputError(
            f"{url} answered HTTP {error.errcode} {error.errmsg} (is it an Odoo server?)",
            field="--url",
        ) from None
    except (OSError, http.client.HTTPException) as error:
        raise InputError(f"cannot reach {url}: {error}", field="--url") from None
    except xmlrpc.client.ResponseError as error:
        raise InputError(
            f"{url} sent an answer that is not XML-RPC: {error}", field="--url"
        ) from None


def fetch_document(
    url: str, db: str, user: str, password: str, company: int | None, today: date | None
) -> str:
    """The ledger JSON text that the addon builds for the company (default: the user's)."""
    url = check_url(url)
    common = _proxy(url, "common")
    uid = _call("log in", url, common.authenticate, db, user, password, {})
    if not uid:
        raise InputError(
            f"login refused for user {user!r} on database {db!r} (wrong password or API key?)",
            field="--user",
        )
    models = _proxy(url, "object")
    if company is None:
        (me,) = _call(
            "read the user", url, models.execute_kw, db, uid, password, "res.users", "read",
            [[uid], ["company_id"]],
        )  # fmt: skip
        company = int(me["company_id"][0])
    kwargs = {"today": today.isoformat()} if today is not None else {}
    text = _call(
        "export the ledger (is odoo_addon_relance installed, and the user a Relances user?)",
        url, models.execute_kw, db, uid, password, "res.company", "relance_export_ledger",
        [[company]], kwargs,
    )  # fmt: skip
    if not isinstance(text, str):
        raise InputError("the export did not return a ledger document", field="--url")
    return text


def export_ledger(
    url: str,
    db: str,
    user: str,
    password: str,
    output: Path,
    *,
    company: int | None = None,
    today: date | None = None,
) -> Ledger:
    """Fetch, check with core's loader, then write ``output`` (whole or not at all)."""
    text = fetch_document(url, db, user, password, company, today)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"the export is not valid JSON: {error.msg}", field="--url") from None
    try:
        ledger = load_ledger(document)
    except InputError as error:
        raise InputError(f"the exported ledger is not valid: {error}", field="--url") from None
    temporary = output.with_name(output.name + ".part")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(output)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise InputError(f"cannot write the file: {error.strerror}", file=str(output)) from None
    return ledger


# --------------------------------------------------------------------------- command


def _command() -> Any:
    import click

    from connectors.cli import FILE, DateParam

    @click.command("odoo-export")
    @click.option("--url", required=True, help="The Odoo address, e.g. http://localhost:8069.")
    @click.option("--db", required=True, help="The Odoo database.")
    @click.option("--user", required=True, help="The Odoo login (a Relances user).")
    @click.option(
        "--password-env",
        required=True,
        metavar="VAR",
        help="The environment variable holding the password or API key.",
    )
    @click.option("--output", required=True, type=FILE, help="The relance.ledger/1 file to write.")
    @click.option("--company", type=int, default=None, help="Company id (default: the user's).")
    @click.option("--today", type=DateParam(), default=None, help="Export as of this date.")
    def odoo_export_command(
        url: str,
        db: str,
        user: str,
        password_env: str,
        output: Path,
        company: int | None,
        today: date | None,
    ) -> None:
        """Write the data of an Odoo with odoo_addon_relance as a relance.ledger/1 file,
        so that `relance plan` runs on the same data outside Odoo.

        \b
        Example:
          ODOO_PASSWORD=... relance odoo-export --url http://localhost:8069 --db prod \\
              --user collector@example.com --password-env ODOO_PASSWORD --output ledger.json
        """
        password = password_from_env(password_env)
        ledger = export_ledger(url, db, user, password, output, company=company, today=today)
        click.echo(
            f"{output}: {len(ledger.customers)} customers, {len(ledger.invoices)} invoices, "
            f"{len(ledger.reminders)} reminders"
        )

    return odoo_export_command


odoo_export_command = _command()
