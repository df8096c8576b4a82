"""Helpers for the command-line tests: run ``relance``, build small ledgers, check errors.

``script(...)`` runs the installed console script in a subprocess, exactly as a user
would.  ``in_process(...)`` calls ``connectors.cli.main()`` with a patched ``sys.argv``
(the exit-code-2 mapping lives in ``main()``), which is much faster; the ``relance``
fixture of ``conftest.py`` uses it unless ``RELANCE_CLI_TESTS_VIA_SCRIPT=1`` is set,
in which case every bad-input test goes through the real script instead.

Ledgers are built as plain dicts (the JSON document a user writes), by small
defaulting builders (STYLE.md, "Habits").
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

RELANCE = Path(sys.executable).with_name("relance")
EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "examples"
VIA_SCRIPT = os.environ.get("RELANCE_CLI_TESTS_VIA_SCRIPT") == "1"

TODAY = "2026-11-02"  # a Monday, not a French public holiday


@dataclass(frozen=True)
class Result:
    """What one run of ``relance`` left behind."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # Piped output: let the tool pick its own width, and never ask for tracebacks.
    for name in ("COLUMNS", "LINES", "RELANCE_DEBUG"):
        env.pop(name, None)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def script(*args: Any, timeout: float = 60.0) -> Result:
    """Run the installed ``relance`` console script in a subprocess."""
    if not RELANCE.exists():
        pytest.fail(f"the console script {RELANCE} is not installed (pip install -e .)")
    done = subprocess.run(
        [str(RELANCE), *map(str, args)],
        capture_output=True,
        encoding="utf-8",
        env=_environment(),
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def exit_code(value: object) -> int:
    """The process exit status ``sys.exit(value)`` gives."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return 1  # sys.exit("message") prints the message and exits with 1


def example(name: str) -> Path:
    """A worked example file beside DESIGN.md; the test is skipped when it is absent."""
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"worked example {path} is absent (../shared/examples not found)")
    return path


def example_json(name: str) -> Any:
    return json.loads(example(name).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- ledgers


def customer(id: str, **fields: Any) -> dict[str, Any]:
    """A French company customer, reachable by email."""
    return {
        "id": id,
        "name": f"Client {id}",
        "kind": "company",
        "emails": [f"{id.lower()}@example.fr"],
        "language": "fr",
        **fields,
    }


def invoice(
    id: str, customer_id: str, due: str, amount: str = "1000.00", **fields: Any
) -> dict[str, Any]:
    """A fully open invoice issued a month before it falls due."""
    issued = (date.fromisoformat(due) - timedelta(days=30)).isoformat()
    return {
        "id": id,
        "customer_id": customer_id,
        "number": f"FA-{id}",
        "issue_date": issued,
        "due_date": due,
        "amount": amount,
        "open_amount": amount,
        **fields,
    }


def reminder(
    key: str,
    customer_id: str,
    day: str,
    lines: list[tuple[str, int]],
    plan: str = "standard",
    channel: str = "email",
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "date": day,
        "plan": plan,
        "channel": channel,
        "key": key,
        "invoices": [{"id": invoice_id, "step": step} for invoice_id, step in lines],
    }


def document(
    customers: list[dict[str, Any]],
    invoices: list[dict[str, Any]],
    reminders: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "format": "relance.ledger/1",
        "currency": "EUR",
        "customers": customers,
        "invoices": invoices,
        "reminders": reminders or [],
    }


_BASE = document(
    customers=[customer("C1", name="Alpha SARL"), customer("C2", name="Beta Ltd", language="en")],
    invoices=[
        invoice("F1", "C1", "2026-10-01", "1200.00"),
        invoice("F2", "C2", "2026-10-05", "500.00"),
    ],
    reminders=[reminder("K1", "C1", "2026-10-05", [("F1", 2)])],
)


def base_ledger() -> dict[str, Any]:
    """A small valid ledger: customers C1 and C2, invoices F1 (C1) and F2 (C2), one
    reminder K1 (C1); each bad-input test breaks exactly one thing in it."""
    return copy.deepcopy(_BASE)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- errors


def assert_one_error_line(
    result: Result,
    *,
    file: Path | str,
    record: str | None = None,
    field: str | None = None,
    says: tuple[str, ...] = (),
) -> str:
    """DESIGN §9: exit code 2, no traceback, nothing on stdout, and exactly one line on
    stderr, ``error: <file>: <record>: field '<field>': <message>``; returns the message."""
    assert "Traceback" not in result.err, result.err
    assert result.code == 2, result
    assert result.out == "", result.out
    lines = result.err_lines
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    where = [str(file)] + ([record] if record else []) + ([f"field '{field}'"] if field else [])
    prefix = "error: " + ": ".join(where) + ": "
    line = lines[0]
    assert line.startswith(prefix), f"{line!r} does not start with {prefix!r}"
    message = line[len(prefix) :]
    assert message.strip(), line
    for fragment in says:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message
