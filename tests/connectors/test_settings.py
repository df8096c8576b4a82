"""The daemon's settings: relance.toml + RELANCE_* variables (DESIGN §9, §10; docs/daemon.md)."""

from __future__ import annotations

import logging
import os
import textwrap
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors import settings as settings_module
from connectors.settings import (
    DemoSource,
    JsonFileSource,
    PennylaneSource,
    Sage100Source,
    Settings,
    load_settings,
    settings_problems,
)
from core.config import config_problems
from core.errors import InputError
from core.texts import template_ids

SECRET = "s3cr3t-Pa55word"

COMPANY = """
[[companies]]
id = "acme"
name = "ACME SAS"
source = { kind = "jsonfile", path = "ledger.json" }
"""

FULL = """
store = "sqlite:///relance.db"
send = false
interval_minutes = 30
timezone = "Europe/Paris"
company_language = "fr"
ecb_rate = 0.0215

[sender]
name = "Atelier Martin SAS"
email = "compta@atelier-martin.fr"

[[plans]]
name = "public_sector"
cooldown_days = 10
[[plans.steps]]
offset = 15
channel = "email"
template = "reminder_1"

[[segments]]
name = "public"
when = "'public_sector' in tags"
plan = "public_sector"
[[segments]]
name = "default"
when = "true"
plan = "standard"

[delivery]
sending_hours = ["08:30", "17:30"]

[delivery.smtp]
host = "smtp.example.fr"
port = 587
security = "starttls"
username = "relance"
password_env = "RELANCE_SMTP_PASSWORD"
from_address = "compta@example.fr"

[delivery.letters]
output_dir = "out/letters"

[delivery.sms]
provider = "file"
path = "out/sms.jsonl"
sender = "ACME"

[delivery.worklist]
csv = "out/worklist.csv"
xlsx = "/srv/relance/worklist.xlsx"

[[companies]]
id = "acme"
name = "ACME SAS"
source = { kind = "jsonfile", path = "ledger.json" }
send = true
sender = { email = "relances@acme.fr" }

[[companies]]
id = "demo"
name = "Démo SARL"
source = { kind = "demo", customers = 20, invoices = 100 }
"""


def write(folder: Path, text: str, name: str = "relance.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path, environ: Mapping[str, str] | None = None) -> list[str]:
    return [str(p) for p in settings_problems(path, environ or {})]


def secret_file(folder: Path, mode: int, content: str = SECRET + "\n") -> Path:
    path = folder / "smtp.secret"
    path.write_text(content, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the config's folder, so messages name it "relance.toml" as the user typed it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# The file --------------------------------------------------------------------------------


def test_full_example_loads_with_core_config_and_daemon_keys(tmp_path: Path) -> None:
    """DESIGN §10: one file holds core's config and the daemon's keys."""
    settings = load_settings(write(tmp_path, FULL), {"RELANCE_SMTP_PASSWORD": SECRET})
    assert settings.send is False
    assert settings.interval_minutes == 30
    assert settings.delivery.sending_hours == (time(8, 30), time(17, 30))
    smtp = settings.delivery.smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.security, smtp.username) == (
        "smtp.example.fr",
        587,
        "starttls",
        "relance",
    )
    assert smtp.password is not None and smtp.password.get_secret_value() == SECRET
    assert [c.id for c in settings.companies] == ["acme", "demo"]
    assert isinstance(settings.companies[1].source, DemoSource)
    assert settings.companies[1].source.customers == 20
    # The core part is core's Config, with the user's plan and segments.
    assert "public_sector" in settings.core.plans
    assert [s.name for s in settings.core.segments] == ["public", "default"]
    assert str(settings.core.ecb_rate) == "0.0215"
    assert settings.core.sender["name"] == "Atelier Martin SAS"


def test_the_documented_example_loads(tmp_path: Path) -> None:
    """The example in connectors/settings.py's docstring is a valid file."""
    doc = settings_module.__doc__ or ""
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    settings = load_settings(write(tmp_path, example), {"RELANCE_SMTP_PASSWORD": SECRET})
    assert [c.id for c in settings.companies] == ["acme"]
    assert settings.sends("acme") is True


def test_defaults_for_a_file_with_only_a_company(tmp_path: Path) -> None:
    """Dry run by default (DESIGN §10), hourly, 9:00-18:00, shipped plans and segments."""
    settings = load_settings(write(tmp_path, COMPANY), {})
    assert settings.send is False
    assert settings.interval_minutes == 60
    assert settings.delivery.sending_hours == (time(9), time(18))
    assert settings.delivery.smtp is None and settings.delivery.sms is None
    assert settings.store == f"sqlite:///{tmp_path.resolve()}/relance.db"
    assert set(settings.core.plans) == {"standard", "gentle", "strict"}
    assert settings.sends("acme") is False


def test_relative_paths_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    """Wherever the daemon is started from, paths in relance.toml mean the same files."""
    settings = load_settings(write(tmp_path, FULL), {"RELANCE_SMTP_PASSWORD": SECRET})
    base = tmp_path.resolve()
    source = settings.companies[0].source
    assert isinstance(source, JsonFileSource)
    assert source.path == base / "ledger.json"
    assert settings.delivery.letters.output_dir == base / "out/letters"
    assert settings.delivery.worklist.csv == base / "out/worklist.csv"
    assert settings.delivery.worklist.xlsx == Path("/srv/relance/worklist.xlsx")
    assert settings.delivery.sms is not None
    assert settings.delivery.sms.path == base / "out/sms.jsonl"
    assert settings.store == f"sqlite:///{base}/relance.db"


def test_default_output_paths_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, COMPANY), {})
    assert settings.delivery.letters.output_dir == tmp_path.resolve() / "out/letters"
    assert settings.delivery.worklist.xlsx == tmp_path.resolve() / "out/worklist.xlsx"


def test_every_source_kind_with_its_keys(tmp_path: Path) -> None:
    token = secret_file(tmp_path, 0o600)
    text = """
    [[companies]]
    id = "a"
    name = "A"
    source = { kind = "demo" }
    [[companies]]
    id = "b"
    name = "B"
    source = { kind = "jsonfile", path = "b.json" }
    [[companies]]
    id = "c"
    name = "C"
    source = { kind = "fec", path = "c.txt", account_prefix = "4111" }
    [[companies]]
    id = "d"
    name = "D"
    source = { kind = "pennylane", token_file = "smtp.secret" }
    [[companies]]
    id = "e"
    name = "E"
    [companies.source]
    kind = "sage100"
    url = "mssql+pyodbc://relance@sage/BIJOU"
    password_env = "SAGE_PW"
    """
    settings = load_settings(write(tmp_path, text), {"SAGE_PW": "sage-pw"})
    kinds = [c.source.kind for c in settings.companies]
    assert kinds == ["demo", "jsonfile", "fec", "pennylane", "sage100"]
    pennylane = settings.companies[3].source
    assert isinstance(pennylane, PennylaneSource)
    assert pennylane.token_file == token
    assert pennylane.token is not None and pennylane.token.get_secret_value() == SECRET
    sage = settings.companies[4].source
    assert isinstance(sage, Sage100Source)
    assert sage.password is not None and sage.password.get_secret_value() == "sage-pw"


# Problems --------------------------------------------------------------------------------


def test_unknown_source_kind_names_file_company_and_field(in_tmp: Path) -> None:
    """DESIGN §9: one clear message naming the file, the record and the field."""
    text = (
        COMPANY
        + """
    [[companies]]
    id = "acme2"
    name = "ACME 2"
    source = { kind = "sag", path = "x" }
    """
    )
    path = write(in_tmp, text)
    with pytest.raises(InputError) as raised:
        load_settings(Path("relance.toml"), {})
    assert str(raised.value) == (
        "relance.toml: companies[1] (id 'acme2'): field 'source.kind': unknown source kind "
        "'sag' (known: demo, fec, jsonfile, pennylane, sage100)"
    )
    assert raised.value.file == "relance.toml"
    assert problems(path) == [f"{path}: " + str(raised.value).split(": ", 1)[1]]


def test_core_keys_are_checked_by_core_with_the_same_words(tmp_path: Path) -> None:
    """A bad plan, segment or rate reads exactly as `relance plan --config` would say it."""
    core_part = """
    [[plans]]
    name = "p"
    [[plans.steps]]
    offset = 10
    channel = "email"
    template = "nope"
    [[plans.steps]]
    offset = 5
    channel = "email"
    template = "reminder_1"
    [[segments]]
    name = "s"
    when = "__class__ > 1"
    plan = "p"
    """
    path = write(tmp_path, core_part + COMPANY)
    data = tomllib.loads(textwrap.dedent(core_part))
    expected = [str(p.located(str(path))) for p in config_problems(data, template_ids())]
    assert len(expected) >= 3
    assert problems(path) == expected


def test_unknown_keys_are_errors_at_every_level(tmp_path: Path) -> None:
    text = """
    stor = "sqlite:///x.db"
    [delivery]
    sending_hour = ["09:00", "18:00"]
    [delivery.smtp]
    from_address = "a@b.fr"
    hots = "x"
    [[companies]]
    id = "acme"
    name = "ACME"
    colour = "red"
    source = { kind = "jsonfile", path = "l.json", encoding = "latin-1" }
    """
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}: config: field 'stor': unknown field",
        f"{path}: config: field 'delivery.smtp.hots': unknown field",
        f"{path}: config: field 'delivery.sending_hour': unknown field",
        f"{path}: companies[0] (id 'acme'): field 'source.encoding': unknown field",
        f"{path}: companies[0] (id 'acme'): field 'colour': unknown field",
    ]


def test_settings_problems_lists_every_problem(tmp_path: Path) -> None:
    """`relance validate --config` lists them all; load_settings raises the first."""
    text = """
    send = "sometimes"
    interval_minutes = 0
    timezone = "Mars/Olympus"
    [delivery]
    sending_hours = ["18:00", "09:00"]
    [[companies]]
    id = "acme"
    name = "ACME"
    source = { kind = "jsonfile" }
    [[companies]]
    id = "acme"
    name = "ACME bis"
    source = { kind = "demo", customers = 0 }
    [[companies]]
    name = "No id"
    source = { path = "x" }
    """
    path = write(tmp_path, text)
    found = problems(path)
    assert found == [
        f"{path}: config: field 'send': Input should be a valid boolean, unable to interpret "
        "input, got 'sometimes'",
        f"{path}: config: field 'interval_minutes': Input should be greater than 0, got 0",
        f"{path}: companies[0] (id 'acme'): field 'source.path': Field required",
        f"{path}: companies[1] (id 'acme'): field 'source.customers': Input should be greater "
        "than or equal to 1, got 0",
        f"{path}: companies[2]: field 'id': Field required",
        f"{path}: companies[2]: field 'source.kind': Field required (one of: demo, fec, "
        "jsonfile, pennylane, sage100)",
    ]
    with pytest.raises(InputError) as raised:
        load_settings(path, {})
    assert str(raised.value) == found[0]


def test_checks_that_types_cannot_make(tmp_path: Path) -> None:
    """Hours in order, a real time zone, unique company ids, SMS over HTTP fully set."""
    text = """
    timezone = "Mars/Olympus"
    [delivery]
    sending_hours = ["18:00", "09:00"]
    [delivery.sms]
    provider = "http"
    [[companies]]
    id = "acme"
    name = "ACME"
    source = { kind = "demo" }
    [[companies]]
    id = "acme"
    name = "ACME bis"
    source = { kind = "demo" }
    """
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}: config: field 'timezone': unknown time zone 'Mars/Olympus' (e.g. Europe/Paris)",
        f"{path}: config: field 'delivery.sending_hours': the first hour must come before the "
        "second, got 18:00 and 09:00",
        f"{path}: config: field 'delivery.sms.url': the http provider needs its endpoint: "
        'url = "https://..."',
        f"{path}: config: field 'delivery.sms.api_key_env': the http provider needs an API key: "
        "name the environment variable that holds it with api_key_env, or a file only its "
        "owner can read (mode 0600) with api_key_file",
        f"{path}: companies[1] (id 'acme'): field 'id': duplicate company id 'acme'",
    ]


def test_bad_store_url(tmp_path: Path) -> None:
    path = write(tmp_path, 'store = "mysql://db/relance"\n' + COMPANY)
    assert problems(path) == [
        f"{path}: config: field 'store': unknown store 'mysql://db/relance': use "
        "sqlite:///relance.db (a file) or postgresql://user@host/database"
    ]


def test_a_missing_file_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    assert problems(path) == [f"{path}: cannot read the file: No such file or directory"]
    with pytest.raises(InputError):
        load_settings(path, {})


def test_invalid_toml_is_one_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "send = \n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}: not valid TOML")


def test_a_company_sender_is_checked_by_core(tmp_path: Path) -> None:
    text = COMPANY + 'sender = { email = "r@acme.fr", fax = "01" }\n'
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}: companies[0] (id 'acme'): field 'sender.fax': unknown field"
    ]


def test_a_company_sender_replaces_only_its_own_keys(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FULL), {"RELANCE_SMTP_PASSWORD": SECRET})
    acme = settings.config_for("acme")
    assert acme.sender["email"] == "relances@acme.fr"
    assert acme.sender["name"] == "Atelier Martin SAS"
    assert acme.plans == settings.core.plans
    assert settings.config_for("demo") is settings.core


# The environment -------------------------------------------------------------------------


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    environ = {
        "RELANCE_SEND": "true",
        "RELANCE_STORE": "postgresql+psycopg://relance@db/relance",
        "RELANCE_INTERVAL_MINUTES": "5",
        "RELANCE_DELIVERY__SMTP__HOST": "mail.internal",
        "RELANCE_DELIVERY__SENDING_HOURS": '["10:00", "16:00"]',
        "RELANCE_SMTP_PASSWORD": SECRET,
        "RELANCE_DEBUG": "1",  # not a setting: ignored
    }
    settings = load_settings(write(tmp_path, FULL), environ)
    assert settings.send is True
    assert settings.store == "postgresql+psycopg://relance@db/relance"
    assert settings.interval_minutes == 5
    assert settings.delivery.smtp is not None
    assert settings.delivery.smtp.host == "mail.internal"
    assert settings.delivery.smtp.port == 587  # the rest of the table stays as written
    assert settings.delivery.sending_hours == (time(10), time(16))


def test_only_the_given_environment_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_settings reads its ``environ`` argument, never os.environ behind the caller's back."""
    monkeypatch.setenv("RELANCE_SEND", "true")
    assert os.environ["RELANCE_SEND"] == "true"
    assert load_settings(write(tmp_path, COMPANY), {}).send is False


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, COMPANY)
    assert problems(path, {"RELANCE_SEND": "maybe", "RELANCE_DELIVERY__SMTP__PORT": "x"}) == [
        "environment: field 'RELANCE_SEND': Input should be a valid boolean, unable to "
        "interpret input, got 'maybe'",
        "environment: field 'RELANCE_DELIVERY__SMTP__PORT': Input should be a valid integer, "
        "unable to parse string as an integer, got 'x'",
        f"{path}: config: field 'delivery.smtp.from_address': Field required",
    ]


def test_an_unknown_nested_variable_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, COMPANY)
    assert problems(path, {"RELANCE_DELIVERY__LETTERS__OUTPUT": "x"}) == [
        "environment: field 'RELANCE_DELIVERY__LETTERS__OUTPUT': unknown field"
    ]


def test_company_send_overrides_the_top_level_send(tmp_path: Path) -> None:
    """A company's own `send` wins over the top-level one (dry run stays the default)."""
    text = """
    send = false
    [[companies]]
    id = "live"
    name = "Live"
    source = { kind = "demo" }
    send = true
    [[companies]]
    id = "trial"
    name = "Trial"
    source = { kind = "demo" }
    """
    settings = load_settings(write(tmp_path, text), {})
    assert settings.sends("live") is True
    assert settings.sends("trial") is False
    with pytest.raises(KeyError):
        settings.sends("nobody")


def test_relance_send_decides_for_every_company(tmp_path: Path) -> None:
    """RELANCE_SEND is the operator's switch: it stops (or starts) every company at once."""
    text = """
    send = true
    [[companies]]
    id = "live"
    name = "Live"
    source = { kind = "demo" }
    send = true
    [[companies]]
    id = "paused"
    name = "Paused"
    source = { kind = "demo" }
    send = false
    """
    path = write(tmp_path, text)
    stopped = load_settings(path, {"RELANCE_SEND": "false"})
    assert [stopped.sends(c) for c in ("live", "paused")] == [False, False]
    started = load_settings(path, {"RELANCE_SEND": "1"})
    assert [started.sends(c) for c in ("live", "paused")] == [True, True]
    as_written = load_settings(path, {})
    assert [as_written.sends(c) for c in ("live", "paused")] == [True, False]


# Secrets ---------------------------------------------------------------------------------

SMTP_WITH_FILE = """
[delivery.smtp]
username = "relance"
password_file = "smtp.secret"
from_address = "compta@example.fr"
"""


def test_secret_from_a_file_with_mode_0600(tmp_path: Path) -> None:
    secret_file(tmp_path, 0o600)
    settings = load_settings(write(tmp_path, COMPANY + SMTP_WITH_FILE), {})
    assert settings.delivery.smtp is not None
    password = settings.delivery.smtp.password
    assert password is not None
    assert password.get_secret_value() == SECRET  # the final newline is not part of it


def test_secret_file_with_a_stricter_mode_is_accepted(tmp_path: Path) -> None:
    secret_file(tmp_path, 0o400)
    assert problems(write(tmp_path, COMPANY + SMTP_WITH_FILE)) == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o700, 0o666])
def test_secret_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    """DESIGN §10: a secret file must have mode 0600 (or stricter)."""
    secret = secret_file(tmp_path, mode)
    path = write(tmp_path, COMPANY + SMTP_WITH_FILE)
    assert problems(path) == [
        f"{path}: config: field 'delivery.smtp.password_file': the secret file {secret} has "
        f"mode {mode:04o}; it must be readable by its owner only: mode 0600 or stricter "
        f"(chmod 600 {secret})"
    ]


def test_missing_or_empty_secret_file(tmp_path: Path) -> None:
    path = write(tmp_path, COMPANY + SMTP_WITH_FILE)
    secret = tmp_path / "smtp.secret"
    assert problems(path) == [
        f"{path}: config: field 'delivery.smtp.password_file': cannot read the secret file "
        f"{secret}: No such file or directory"
    ]
    secret_file(tmp_path, 0o600, content="\n")
    assert problems(path) == [
        f"{path}: config: field 'delivery.smtp.password_file': the secret file {secret} is empty"
    ]


def test_secret_from_an_unset_environment_variable(tmp_path: Path) -> None:
    text = COMPANY + SMTP_WITH_FILE.replace(
        'password_file = "smtp.secret"', 'password_env = "RELANCE_SMTP_PASSWORD"'
    )
    path = write(tmp_path, text)
    assert problems(path, {}) == [
        f"{path}: config: field 'delivery.smtp.password_env': the environment variable "
        "RELANCE_SMTP_PASSWORD is not set"
    ]
    assert problems(path, {"RELANCE_SMTP_PASSWORD": ""}) == [
        f"{path}: config: field 'delivery.smtp.password_env': the environment variable "
        "RELANCE_SMTP_PASSWORD is empty"
    ]


def test_a_username_needs_a_password(tmp_path: Path) -> None:
    text = COMPANY + SMTP_WITH_FILE.replace('password_file = "smtp.secret"\n', "")
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}: config: field 'delivery.smtp.password_env': a username needs a password: "
        "name the environment variable that holds it with password_env, or a file only its "
        "owner can read (mode 0600) with password_file"
    ]


def test_env_and_file_together_are_refused(tmp_path: Path) -> None:
    secret_file(tmp_path, 0o600)
    text = COMPANY + SMTP_WITH_FILE.replace(
        'password_file = "smtp.secret"',
        'password_file = "smtp.secret"\npassword_env = "RELANCE_SMTP_PASSWORD"',
    )
    path = write(tmp_path, text)
    assert problems(path, {"RELANCE_SMTP_PASSWORD": SECRET}) == [
        f"{path}: config: field 'delivery.smtp.password_file': give password_env or "
        "password_file, not both"
    ]


def test_pennylane_needs_a_token(tmp_path: Path) -> None:
    text = """
    [[companies]]
    id = "pl"
    name = "PL"
    source = { kind = "pennylane" }
    """
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}: companies[0] (id 'pl'): field 'source.token_env': Pennylane needs an API "
        "token: name the environment variable that holds it with token_env, or a file only "
        "its owner can read (mode 0600) with token_file"
    ]


def test_a_secret_written_in_the_file_is_refused_and_never_repeated(tmp_path: Path) -> None:
    """Secrets come only from the environment or a 0600 file (DESIGN §10)."""
    text = (
        COMPANY.replace(
            'source = { kind = "jsonfile", path = "ledger.json" }',
            f'source = {{ kind = "pennylane", token = "{SECRET}" }}',
        )
        + f"""
    [delivery.smtp]
    from_address = "a@b.fr"
    password = "{SECRET}"
    [delivery.sms]
    provider = "http"
    url = "https://sms.example/api"
    api_key = "{SECRET}"
    """
    )
    path = write(tmp_path, text)
    found = problems(path)
    assert found[:3] == [
        f"{path}: companies[0] (id 'acme'): field 'source.token': a secret is never written in "
        "the settings: name the environment variable that holds it with token_env, or a file "
        "only its owner can read (mode 0600) with token_file",
        f"{path}: config: field 'delivery.smtp.password': a secret is never written in the "
        "settings: name the environment variable that holds it with password_env, or a file "
        "only its owner can read (mode 0600) with password_file",
        f"{path}: config: field 'delivery.sms.api_key': a secret is never written in the "
        "settings: name the environment variable that holds it with api_key_env, or a file "
        "only its owner can read (mode 0600) with api_key_file",
    ]
    assert not any(SECRET in problem for problem in found)


def test_a_secret_in_an_environment_override_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, COMPANY)
    found = problems(path, {"RELANCE_DELIVERY__SMTP__PASSWORD": SECRET})
    assert found[0] == (
        "environment: field 'RELANCE_DELIVERY__SMTP__PASSWORD': a secret is never written in "
        "the settings: name the environment variable that holds it with password_env, or a "
        "file only its owner can read (mode 0600) with password_file"
    )
    assert not any(SECRET in problem for problem in found)


@pytest.mark.parametrize("origin", ["file", "environment"])
def test_a_password_in_the_store_url_is_refused_and_masked(tmp_path: Path, origin: str) -> None:
    url = f"postgresql://relance:{SECRET}@db/relance"
    if origin == "file":
        path = write(tmp_path, f'store = "{url}"\n' + COMPANY)
        environ = {}
        where = f"{path}: config: field 'store'"
    else:
        path = write(tmp_path, COMPANY)
        environ = {"RELANCE_STORE": url}
        where = "environment: field 'RELANCE_STORE'"
    assert problems(path, environ) == [
        f"{where}: the store URL 'postgresql://relance:***@db/relance' holds a password: "
        "remove it and name the environment variable that holds it with store_password_env, "
        "or a file only its owner can read (mode 0600) with store_password_file"
    ]


def test_store_password_from_the_environment_reaches_only_the_driver(tmp_path: Path) -> None:
    text = 'store = "postgresql://relance@db:5432/relance"\nstore_password_env = "PGPW"\n'
    settings = load_settings(write(tmp_path, text + COMPANY), {"PGPW": "p@ss/word"})
    assert settings.store == "postgresql://relance@db:5432/relance"
    assert settings.store_url() == "postgresql://relance:p%40ss%2Fword@db:5432/relance"
    assert "p@ss" not in repr(settings)


def test_secrets_never_show_in_repr_str_dumps_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret_file(tmp_path, 0o600)
    text = (
        FULL.replace('password_env = "RELANCE_SMTP_PASSWORD"', 'password_file = "smtp.secret"')
        + """
    [[companies]]
    id = "pl"
    name = "PL"
    source = { kind = "pennylane", token_env = "PL_TOKEN" }
    """
    )
    settings = load_settings(write(tmp_path, text), {"PL_TOKEN": SECRET})
    smtp = settings.delivery.smtp
    assert smtp is not None and isinstance(smtp.password, SecretStr)
    assert smtp.password.get_secret_value() == SECRET
    with caplog.at_level(logging.INFO):
        logging.getLogger("relance.test").info("settings: %s / %r", settings, settings)
    shown = [
        repr(settings),
        str(settings),
        repr(smtp),
        str(settings.companies[-1]),
        settings.model_dump_json(),
        str(settings.model_dump()),
        str(settings.model_dump(mode="json")),
        caplog.text,
    ]
    for text_shown in shown:
        assert SECRET not in text_shown
    assert "**********" in repr(settings)


def test_settings_can_be_rebuilt_from_their_dump(tmp_path: Path) -> None:
    """A dump (e.g. `relance validate --show`) holds no secret but is complete otherwise."""
    settings = load_settings(write(tmp_path, FULL), {"RELANCE_SMTP_PASSWORD": SECRET})
    again = Settings.model_validate(settings.model_dump())
    assert again.delivery.smtp is not None and again.delivery.smtp.password is None
    assert again.companies == settings.companies


# Alignment with the delivery and source modules ------------------------------------------


def test_source_options_build_the_registered_sources(tmp_path: Path) -> None:
    """company.source_options() is what connectors.sources.build_source reads."""
    from connectors.sources import build_source

    text = """
    [[companies]]
    id = "a"
    name = "A"
    source = { kind = "demo", customers = 10, invoices = 50, start = 2026-01-01 }
    [[companies]]
    id = "b"
    name = "B"
    source = { kind = "jsonfile", path = "ledger.json" }
    [[companies]]
    id = "c"
    name = "C"
    source = { kind = "fec", path = "fec.txt", encoding = "cp1252", accounts = ["411", "416"] }
    """
    settings = load_settings(write(tmp_path, text), {})
    demo, jsonfile, fec = settings.companies
    assert demo.source_options() == {
        "customers": 10,
        "invoices": 50,
        "start": date(2026, 1, 1),
    }
    assert jsonfile.source_options() == {"path": tmp_path.resolve() / "ledger.json"}
    assert fec.source_options()["accounts"] == ("411", "416")
    for company in settings.companies:
        source = build_source(company.source.kind, company.source_options(), company=company.id)
        assert source is not None


def test_source_checks_match_the_source_registry(tmp_path: Path) -> None:
    text = """
    [[companies]]
    id = "c"
    name = "C"
    [companies.source]
    kind = "fec"
    path = "f.txt"
    accounts = ["411"]
    account_prefix = "41"
    encoding = "klingon"
    [[companies]]
    id = "d"
    name = "D"
    source = { kind = "demo", start = 2026-05-01, today = 2026-04-01 }
    """
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}: companies[0] (id 'c'): field 'source.account_prefix': give either "
        "'accounts' or 'account_prefix', not both",
        f"{path}: companies[0] (id 'c'): field 'source.encoding': unknown text encoding "
        "'klingon' (try 'utf-8' or 'cp1252')",
        f"{path}: companies[1] (id 'd'): field 'source.start': the simulation starts "
        "2026-05-01, after 'today' (2026-04-01)",
    ]


@pytest.mark.parametrize(("security", "port"), [("none", 25), ("starttls", 587), ("ssl", 465)])
def test_smtp_port_follows_security_unless_given(tmp_path: Path, security: str, port: int) -> None:
    text = (
        COMPANY
        + f"""
    [delivery.smtp]
    host = "mail.example.fr"
    security = "{security}"
    from_address = "Dupont Frères <compta@dupont.fr>"
    """
    )
    settings = load_settings(write(tmp_path, text), {})
    assert settings.delivery.smtp is not None
    assert settings.delivery.smtp.port == port
    assert settings.delivery.smtp.from_address == "Dupont Frères <compta@dupont.fr>"


def test_a_password_never_crosses_the_network_in_clear(tmp_path: Path) -> None:
    text = (
        COMPANY
        + """
    [delivery.smtp]
    host = "mail.example.fr"
    security = "none"
    username = "relance"
    password_env = "RELANCE_SMTP_PASSWORD"
    from_address = "compta@example.fr"
    """
    )
    path = write(tmp_path, text)
    assert problems(path, {"RELANCE_SMTP_PASSWORD": SECRET}) == [
        f"{path}: config: field 'delivery.smtp.security': a password would cross the network "
        'in clear to mail.example.fr: use security = "starttls" or "ssl" (plain "none" only '
        "to localhost)"
    ]


def test_an_empty_worklist_path_turns_that_format_off(tmp_path: Path) -> None:
    text = COMPANY + '[delivery.worklist]\nxlsx = ""\n'
    settings = load_settings(write(tmp_path, text), {})
    assert settings.delivery.worklist.xlsx is None
    assert settings.delivery.worklist.csv == tmp_path.resolve() / "out/worklist.csv"


def test_a_list_in_the_environment_is_written_in_json(tmp_path: Path) -> None:
    path = write(tmp_path, COMPANY)
    [problem] = problems(path, {"RELANCE_DELIVERY__SENDING_HOURS": "9-18"})
    assert problem.startswith(
        "environment: field 'RELANCE_DELIVERY__SENDING_HOURS': lists and tables are written "
        'in JSON, e.g. \'["09:00", "18:00"]\''
    )
    assert problems(path, {"RELANCE_DELIVERY__SENDING_HOURS": '["09:00"]'}) == [
        "environment: field 'RELANCE_DELIVERY__SENDING_HOURS': give two hours, the start and "
        'the end: ["09:00", "18:00"], got [\'09:00\']'
    ]
