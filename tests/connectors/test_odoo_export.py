"""`relance odoo-export` against a fake Odoo XML-RPC server on 127.0.0.1 (started here)."""

from __future__ import annotations

import json
import sys
import threading
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xmlrpc.server import MultiPathXMLRPCServer, SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

import pytest

from connectors.cli import main

DOCUMENT: dict[str, Any] = {
    "format": "relance.ledger/1",
    "currency": "EUR",
    "customers": [{"id": "7", "name": "Atelier Durand", "kind": "company", "phone": None}],
    "invoices": [
        {
            "id": "42",
            "customer_id": "7",
            "number": "INV/2026/00042",
            "kind": "invoice",
            "issue_date": "2026-10-01",
            "due_date": "2026-10-31",
            "amount": "1200.00",
            "open_amount": "1200.00",
            "currency": "EUR",
            "paid_date": None,
            "dispute": None,
            "promise_date": None,
            "escalated": False,
            "factored": False,
        }
    ],
    "reminders": [],
}


@dataclass
class FakeOdoo:
    """Just enough of Odoo's external API: login, read the user, the addon's export."""

    url: str = ""
    password: str = "s3cret"
    document: str = json.dumps(DOCUMENT)
    addon_installed: bool = True
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def authenticate(self, db: str, login: str, password: str, _env: Any) -> int | bool:
        return 2 if (db, login, password) == ("prod", "collector", self.password) else False

    def execute_kw(
        self, db: str, uid: int, password: str, model: str, method: str, args: Any, kw: Any = None
    ) -> Any:
        self.calls.append((model, method, args, kw or {}))
        if (model, method) == ("res.users", "read"):
            return [{"id": uid, "company_id": [1, "My Company"]}]
        if (model, method) == ("res.company", "relance_export_ledger") and self.addon_installed:
            return self.document
        raise xmlrpc.client.Fault(2, f"The method '{method}' does not exist on '{model}'")


class _Paths(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/xmlrpc/2/common", "/xmlrpc/2/object")


@pytest.fixture
def odoo() -> Iterator[FakeOdoo]:
    fake = FakeOdoo()
    server = MultiPathXMLRPCServer(
        ("127.0.0.1", 0), requestHandler=_Paths, logRequests=False, allow_none=True
    )
    common, objects = SimpleXMLRPCDispatcher(), SimpleXMLRPCDispatcher()
    common.register_function(fake.authenticate, "authenticate")
    objects.register_function(fake.execute_kw, "execute_kw")
    server.add_dispatcher("/xmlrpc/2/common", common)
    server.add_dispatcher("/xmlrpc/2/object", objects)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


def relance(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["relance", *args])
    try:
        main()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    return 0


def export_args(odoo: FakeOdoo, output: Path, *more: str) -> list[str]:
    return [
        "odoo-export", "--url", odoo.url, "--db", "prod", "--user", "collector",
        "--password-env", "ODOO_PASSWORD", "--output", str(output), *more,
    ]  # fmt: skip


def test_export_writes_the_addons_ledger_for_the_users_company(
    odoo: FakeOdoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("ODOO_PASSWORD", "s3cret")
    output = tmp_path / "ledger.json"
    assert relance(monkeypatch, *export_args(odoo, output, "--today", "2026-11-24")) == 0
    assert json.loads(output.read_text()) == DOCUMENT
    assert odoo.calls[-1] == (
        "res.company", "relance_export_ledger", [[1]], {"today": "2026-11-24"},
    )  # fmt: skip
    assert "1 customers, 1 invoices, 0 reminders" in capsys.readouterr().out


def test_exported_file_plans_with_relance_plan(
    odoo: FakeOdoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("ODOO_PASSWORD", "s3cret")
    output = tmp_path / "ledger.json"
    relance(monkeypatch, *export_args(odoo, output, "--company", "1"))
    capsys.readouterr()
    args = ["plan", "--ledger", str(output), "--today", "2026-11-24", "--json"]
    assert relance(monkeypatch, *args) == 0
    (action,) = json.loads(capsys.readouterr().out)["actions"]
    assert (action["customer_id"], action["invoices"][0]["id"]) == ("7", "42")


def test_missing_password_variable_is_exit_2_naming_it(
    odoo: FakeOdoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("ODOO_PASSWORD", raising=False)
    assert relance(monkeypatch, *export_args(odoo, tmp_path / "l.json")) == 2
    err = capsys.readouterr().err
    assert "ODOO_PASSWORD is not set" in err and "Traceback" not in err


def test_wrong_password_is_exit_2(
    odoo: FakeOdoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("ODOO_PASSWORD", "wrong")
    output = tmp_path / "l.json"
    assert relance(monkeypatch, *export_args(odoo, output)) == 2
    assert "login refused for user 'collector'" in capsys.readouterr().err
    assert not output.exists()


def test_unreachable_server_is_exit_2(
    odoo: FakeOdoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("ODOO_PASSWORD", "s3cret")
    odoo.url = "http://127.0.0.1:9"
    assert relance(monkeypatch, *export_args(odoo, tmp_path / "l.json")) == 2
    assert "cannot reach http://127.0.0.1:9" in capsys.readouterr().err


def test_not_an_url_is_exit_2(
    odoo: FakeOdoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("ODOO_PASSWORD", "s3cret")
    odoo.url = "localhost:8069"
    assert relance(monkeypatch, *export_args(odoo, tmp_path / "l.json")) == 2
    assert "--url" in capsys.readouterr().err


def test_odoo_without_the_addon_is_exit_2(
    odoo: FakeOdoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("ODOO_PASSWORD", "s3cret")
    odoo.addon_installed = False
    assert relance(monkeypatch, *export_args(odoo, tmp_path / "l.json", "--company", "1")) == 2
    err = capsys.readouterr().err
    assert "is odoo_addon_relance installed" in err and "does not exist" in err


def test_invalid_exported_ledger_writes_nothing(
    odoo: FakeOdoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("ODOO_PASSWORD", "s3cret")
    bad = json.loads(odoo.document)
    bad["invoices"][0]["customer_id"] = "unknown"
    odoo.document = json.dumps(bad)
    output = tmp_path / "l.json"
    output.write_text("previous")
    assert relance(monkeypatch, *export_args(odoo, output)) == 2
    assert "unknown customer 'unknown'" in capsys.readouterr().err
    assert output.read_text() == "previous"
