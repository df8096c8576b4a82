"""Bad input through `relance sync` (DESIGN §9, §10): a malformed ledger file, FEC or
config gets exit code 2 and one line naming the file, the record and the field,
never a traceback; and the store is exactly as it was (every table compared)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from runner_support import ledger_document, write_config, write_ledger

sys.path.insert(0, str(Path(__file__).resolve().parent / "sources"))
from source_samples import realistic_rows, write_fec

RELANCE = str(Path(sys.executable).with_name("relance"))


def sync(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RELANCE, "sync", "--config", str(config), "--once", "--today", "2026-11-24"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def dump(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with sqlite3.connect(database) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            table: sorted(map(tuple, connection.execute(f'SELECT * FROM "{table}"')), key=repr)
            for table in tables
        }


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line the user is told (logs are the other stderr lines)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture
def ledger_setup(tmp_path: Path) -> tuple[Path, Path]:
    """A config and ledger file after one good (dry) run: the store holds data."""
    ledger = write_ledger(tmp_path / "ledger.json", ledger_document(3))
    config = write_config(tmp_path, send=False, ledger=ledger)
    assert sync(config).returncode == 0
    return config, ledger


def test_a_ledger_file_that_is_not_json_changes_nothing(
    ledger_setup: tuple[Path, Path], tmp_path: Path
) -> None:
    config, ledger = ledger_setup
    before = dump(tmp_path / "relance.db")
    ledger.write_text('{"format": "relance.ledger/1", "customers": [')
    line = error_line(sync(config))
    assert f"{ledger}: not valid JSON" in line and "line 1" in line
    assert dump(tmp_path / "relance.db") == before


def test_a_bad_field_in_the_ledger_is_named_and_changes_nothing(
    ledger_setup: tuple[Path, Path], tmp_path: Path
) -> None:
    config, ledger = ledger_setup
    before = dump(tmp_path / "relance.db")
    document = ledger_document(4)  # one more invoice, which must not be stored either
    document["invoices"][2]["due_date"] = "2026-13-45"
    ledger.write_text(json.dumps(document))
    line = error_line(sync(config))
    assert f"{ledger}: invoices[2] (id 'F3'): field 'due_date'" in line
    assert dump(tmp_path / "relance.db") == before


def test_a_malformed_fec_is_named_by_line_and_field_and_changes_nothing(tmp_path: Path) -> None:
    fec = write_fec(tmp_path / "FEC.txt", realistic_rows())
    config = write_config(tmp_path, send=False)
    text = config.read_text()
    config.write_text(
        text[: text.index("source = {")] + f'source = {{ kind = "fec", path = "{fec}" }}\n'
    )
    assert sync(config).returncode == 0
    before = dump(tmp_path / "relance.db")
    rows = realistic_rows()
    rows[3][11] = "douze"
    write_fec(fec, rows)
    line = error_line(sync(config))
    assert f"{fec}: line 5: field 'Debit'" in line
    assert dump(tmp_path / "relance.db") == before


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda text: text + "\n[[companies]\n", "line"),  # TOML syntax
        (lambda text: text.replace("send = false", 'send = "sometimes"'), "field 'send'"),
        (
            lambda text: text.replace('id = "acme"', 'id = "a c m e"'),
            "companies[0] (id 'a c m e'): field 'id'",
        ),
    ],
    ids=["toml-syntax", "wrong-type", "bad-company-id"],
)
def test_a_malformed_config_is_named_and_changes_nothing(
    ledger_setup: tuple[Path, Path], tmp_path: Path, change: Any, named: str
) -> None:
    config, _ = ledger_setup
    before = dump(tmp_path / "relance.db")
    config.write_text(change(config.read_text()))
    line = error_line(sync(config))
    assert str(config) in line and named in line
    assert dump(tmp_path / "relance.db") == before
