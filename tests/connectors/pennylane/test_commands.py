"""`relance pennylane check` / `setup` and what `relance status` says, against the fake."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from pennylane_fake import FakePennylane
from sync_support import TOKEN, relance, relance_group, small_ledger, write_config

from connectors.settings import load_settings


def test_check_names_the_company_the_scopes_and_the_headroom(
    fake: tuple[FakePennylane, str], tmp_path: Path
) -> None:
    server, url = fake
    relance_group(server)
    result = relance("pennylane", "check", "--config", str(write_config(tmp_path, url)))
    assert result.exit_code == 1, result.output  # the categories are not set up yet
    assert "martin: Pennylane company 'Atelier Martin SAS' (id 4242, SIREN 512345678)" in (
        result.output
    )
    assert "scopes missing: none" in result.output
    assert "requests left in the current window" in result.output
    assert "missing Litige, Relance 1" in result.output


def test_check_names_each_missing_scope(fake: tuple[FakePennylane, str], tmp_path: Path) -> None:
    server, url = fake
    server.token(TOKEN, ("customers:readonly", "customer_invoices:readonly"))
    result = relance("pennylane", "check", "--config", str(write_config(tmp_path, url)))
    assert result.exit_code == 1
    assert "scope missing: customer_invoices:all (to read invoices and write their" in result.output
    assert "scope missing: categories:all" in result.output


def test_check_with_an_expired_token_says_to_generate_a_new_one(
    fake: tuple[FakePennylane, str], tmp_path: Path
) -> None:
    server, url = fake
    server.tokens[TOKEN].expired = True
    result = relance("pennylane", "check", "--config", str(write_config(tmp_path, url)))
    assert result.exit_code == 1
    assert "Pennylane refused the API token (The access token expired)" in result.output
    assert TOKEN not in result.output


def test_setup_creates_the_missing_categories_once_and_warns_of_double_reminders(
    fake: tuple[FakePennylane, str], tmp_path: Path
) -> None:
    server, url = fake
    group = relance_group(server)
    server.add_category(group, "Litige")
    config = write_config(tmp_path, url)

    first = relance("pennylane", "setup", "--config", str(config))
    second = relance("pennylane", "setup", "--config", str(config))

    assert first.exit_code == 0 and second.exit_code == 0
    assert "created Relance 1, Relance 2, Relance 3, Relance 4, Mise en demeure, Contentieux" in (
        first.output
    )
    assert "nothing to create" in second.output
    labels = sorted(c["label"] for c in server.categories.values())
    assert len(labels) == len(set(labels)) == 7
    assert "Pennylane's own reminders" in first.output


def test_setup_without_the_group_says_to_create_it_in_pennylane(
    fake: tuple[FakePennylane, str], tmp_path: Path
) -> None:
    _, url = fake
    result = relance("pennylane", "setup", "--config", str(write_config(tmp_path, url)))
    assert result.exit_code == 2
    assert "there is no category group 'Relance' in Pennylane: create it in Pennylane" in (
        result.output
    )


def test_native_reminders_off_silences_the_double_reminder_warning(
    fake: tuple[FakePennylane, str], tmp_path: Path
) -> None:
    server, url = fake
    relance_group(server)
    config = write_config(tmp_path, url, extra="native_reminders_off = true")
    assert "own reminders" not in relance("pennylane", "setup", "--config", str(config)).output
    assert "own reminders" not in relance("status", "--config", str(config)).output


def test_status_warns_of_double_reminders_and_shows_the_last_full_sync(
    fake: tuple[FakePennylane, str], tmp_path: Path
) -> None:
    server, url = fake
    small_ledger(server, date.today())
    config = write_config(tmp_path, url)
    assert relance("sync", "--config", str(config), "--once").exit_code == 0
    status = relance("status", "--config", str(config))
    assert "last full sync" in status.output
    assert "Pennylane's own reminders" in status.output


def test_the_token_never_reaches_the_logs(
    fake: tuple[FakePennylane, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, url = fake
    small_ledger(server, date.today())
    server.fail_next(503, 1)
    config = write_config(tmp_path, url)
    caplog.set_level(logging.DEBUG)
    result = relance("sync", "--config", str(config), "--once", "-v")
    settings = load_settings(config, {"PL_TOKEN": TOKEN})
    assert result.exit_code == 0
    assert TOKEN not in caplog.text and TOKEN not in result.output
    assert TOKEN not in repr(settings.companies[0].source_options())


def test_a_plain_http_base_url_off_this_machine_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://pennylane.example/api/external/v2")
    result = relance("validate", "--config", str(config))
    assert "the token would cross the network in clear to pennylane.example" in result.output
