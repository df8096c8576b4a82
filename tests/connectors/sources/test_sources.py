"""The Source contract and the registry of source kinds (connectors/sources.py; DESIGN.md 10)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from source_samples import realistic_rows, write_fec

from connectors.demo.source import DemoSource
from connectors.fec import FecSource
from connectors.jsonfile import JsonFileSource
from connectors.sources import SOURCE_KINDS, Changes, Flag, Source, SourceError, build_source

# --------------------------------------------------------------------------- values


def test_changes_are_frozen_and_default_to_nothing() -> None:
    changes = Changes(cursor="c1")
    assert changes.is_empty and not changes.full
    with pytest.raises(dataclasses.FrozenInstanceError):
        changes.cursor = "c2"  # type: ignore[misc]


def test_a_full_snapshot_is_never_empty() -> None:
    """An empty full snapshot says the source has nothing left: everything is deleted."""
    assert not Changes(cursor="c", full=True).is_empty


def test_deletions_are_changes() -> None:
    assert not Changes(deleted_invoice_ids=("F1",)).is_empty


def test_flag_kinds_are_checked() -> None:
    Flag("reminder_level", "F1", 2, date(2026, 11, 3))
    Flag("dispute", "F1", None, date(2026, 11, 3))
    with pytest.raises(ValueError, match="unknown flag kind"):
        Flag("promise", "F1", True, date(2026, 11, 3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="id"):
        Flag("escalated", "", True, date(2026, 11, 3))


def test_source_error_kinds() -> None:
    error = SourceError("rate limited", kind="transient", source="pennylane", retry_after=30.0)
    assert error.retryable and error.retry_after == 30.0
    assert str(error) == "source 'pennylane': rate limited"
    assert not SourceError("bad file", kind="data").retryable
    with pytest.raises(ValueError):
        SourceError("?", kind="fatal")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- registry


def test_kinds() -> None:
    assert set(SOURCE_KINDS) == {"jsonfile", "demo", "fec", "pennylane", "sage100"}


def test_build_sage100_takes_the_password_read_at_load_and_checks_its_settings() -> None:
    from pydantic import SecretStr

    from connectors.sage.source import Sage100Source

    options = {"url": "mssql+pymssql://relance_ro@srv/BIJOU", "password": SecretStr("s3cret")}
    built = build_source("sage100", options, company="bijou")
    assert isinstance(built, Sage100Source) and isinstance(built, Source)
    assert built.options.password == "s3cret" and "s3cret" not in repr(built)
    with pytest.raises(SourceError) as caught:
        build_source("sage100", {**options, "overlap_minutes": -1}, company="bijou")
    assert "setting 'overlap_minutes'" in str(caught.value) and caught.value.kind == "config"


def test_build_jsonfile(tmp_path: Path) -> None:
    built = build_source("jsonfile", {"kind": "jsonfile", "path": tmp_path / "l.json"}, company="a")
    assert isinstance(built, JsonFileSource) and isinstance(built, Source)
    assert built.path == tmp_path / "l.json"


def test_build_fec_with_its_options(tmp_path: Path) -> None:
    path = write_fec(tmp_path / "FEC.txt", realistic_rows())
    built = build_source(
        "fec",
        {"path": str(path), "default_payment_days": 45, "sales_journals": ["VE"]},
        company="acme",
    )
    assert isinstance(built, FecSource)
    invoices = {inv.id: inv for inv in built.pull(None).invoices}
    assert invoices["CMARTIN/FA-2026-0002"].due_date == date(2026, 2, 24)


def test_build_fec_with_one_account_prefix(tmp_path: Path) -> None:
    built = build_source("fec", {"path": tmp_path / "F.txt", "account_prefix": "416"}, company="a")
    assert isinstance(built, FecSource) and built.accounts == ("416",)


def test_build_demo_with_defaults() -> None:
    built = build_source("demo", {"today": date(2026, 11, 2)}, company="acme")
    assert isinstance(built, DemoSource)
    assert (built.customers, built.invoices, built.start) == (300, 5000, date(2026, 11, 2))


def test_demo_seed_defaults_to_one_per_company() -> None:
    """Two demo companies do not show the same ledger; one company always the same."""
    settings = {"today": "2026-11-02", "customers": 5, "invoices": 20}
    acme = build_source("demo", settings, company="acme")
    again = build_source("demo", settings, company="acme")
    other = build_source("demo", settings, company="globex")
    assert isinstance(acme, DemoSource) and isinstance(again, DemoSource)
    assert isinstance(other, DemoSource)
    assert acme.seed == again.seed != other.seed


def test_demo_settings_pin_the_simulation() -> None:
    built = build_source(
        "demo",
        {"seed": 3, "customers": 10, "invoices": 80, "start": "2026-11-02", "today": "2026-11-09"},
        company="acme",
    )
    changes = built.pull("2026-11-02")
    assert changes.cursor == "2026-11-09" and not changes.full


def test_null_settings_take_their_defaults() -> None:
    """A settings dump may carry None for what the user left out."""
    built = build_source("demo", {"seed": None, "today": date(2026, 11, 2)}, company="acme")
    assert isinstance(built, DemoSource)


def _config_error(kind: str, settings: Any) -> SourceError:
    with pytest.raises(SourceError) as caught:
        build_source(kind, settings, company="acme")
    assert caught.value.kind == "config"
    return caught.value


def test_unknown_kind_names_the_known_ones() -> None:
    error = _config_error("sage", {})
    assert "unknown source kind 'sage'" in str(error)
    assert "jsonfile, demo, fec" in str(error)
    assert "company 'acme'" in str(error)


@pytest.mark.parametrize("kind", ["jsonfile", "fec"])
def test_missing_path(kind: str) -> None:
    error = _config_error(kind, {})
    assert f"company 'acme', source '{kind}', setting 'path': is required" in str(error)


@pytest.mark.parametrize(
    ("kind", "settings", "setting", "message"),
    [
        ("jsonfile", {"path": ""}, "path", "expected a file path"),
        ("jsonfile", {"path": 12}, "path", "expected a file path"),
        ("jsonfile", {"path": "l.json", "paht": "x"}, "paht", "unknown setting"),
        ("fec", {"path": "F.txt", "default_payment_days": -1}, "default_payment_days", "0 to"),
        ("fec", {"path": "F.txt", "default_payment_days": "30"}, "default_payment_days", "whole"),
        ("fec", {"path": "F.txt", "encoding": "klingon"}, "encoding", "unknown text encoding"),
        ("fec", {"path": "F.txt", "sales_journals": "VE"}, "sales_journals", "a list"),
        ("fec", {"path": "F", "accounts": ["411"], "account_prefix": "416"}, "account_prefix", ""),
        ("demo", {"customers": 0}, "customers", "from 1 to"),
        ("demo", {"seed": True}, "seed", "whole number"),
        ("demo", {"start": "02/11/2026"}, "start", "expected a date YYYY-MM-DD"),
        ("demo", {"start": "2026-11-10", "today": "2026-11-02"}, "start", "after 'today'"),
    ],
)
def test_bad_settings_name_the_setting(
    kind: str, settings: dict[str, Any], setting: str, message: str
) -> None:
    error = _config_error(kind, settings)
    assert f"setting '{setting}': " in str(error)
    assert message in str(error)


def test_settings_must_be_a_table() -> None:
    error = _config_error("jsonfile", ["path"])
    assert "expected a table of settings" in str(error)
