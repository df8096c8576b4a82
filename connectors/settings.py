"""The sync daemon's settings: ``relance.toml`` and ``RELANCE_*`` overrides (DESIGN §10).

One TOML file holds two things:

- the **core config** (``plans``, ``segments``, ``ecb_rate``, ``late_interest_rate``,
  ``company_language``, ``payment_deadline_days``, ``templates``, ``sender``): the
  very keys ``relance plan --config`` reads, validated by ``core.config`` so the
  messages are the same word for word;
- the **daemon keys** below, validated here.

```toml
store = "sqlite:///relance.db"      # or postgresql://relance@db/relance
# store_password_env = "PGPASSWORD" # PostgreSQL: or store_password_file (mode 0600)
send = false                        # dry run until this says true
interval_minutes = 60
timezone = "Europe/Paris"           # the companies' calendar: today's date, sending hours

[delivery]
sending_hours = ["09:00", "18:00"]  # SMS and phone tasks only inside these hours

[delivery.smtp]                     # absent: e-mails cannot be delivered
host = "127.0.0.1"
security = "none"                   # "none", "starttls" or "ssl"
port = 25                           # default 25, 587 (starttls), 465 (ssl)
username = ""                       # set: a password is needed
password_env = "RELANCE_SMTP_PASSWORD"  # or password_file = "/etc/relance/smtp" (mode 0600)
from_address = "compta@example.fr"  # or "Dupont Frères <compta@dupont.fr>"
reply_to = "relances@example.fr"    # optional
timeout = 30                        # seconds
# accepted_log = "/var/log/relay/accepted.log"  # the relay's log of accepted Message-IDs

[delivery.letters]
output_dir = "out/letters"

[delivery.sms]                      # absent: SMS cannot be delivered
provider = "file"                   # "file" (writes JSON lines to path) or "http"
path = "out/sms.jsonl"
# url = "https://sms.example/api"  # http: the provider's endpoint
# api_key_env = "SMS_API_KEY"      # http: or api_key_file
sender = "ACME"                     # sender id: up to 11 letters/digits, or a number

[delivery.worklist]
csv = "out/worklist.csv"
xlsx = "out/worklist.xlsx"          # "" turns a format off

[[companies]]
id = "acme"                         # letters, digits, '_', '-', '.'; unique
name = "ACME SAS"
source = { kind = "jsonfile", path = "ledger.json" }
send = true                         # optional: this company's own send
sender = { email = "relances@acme.fr" }   # optional: replaces these keys of [sender]
```

Source kinds and their keys:

- ``demo``: ``seed`` (from the company id), ``customers`` (300), ``invoices``
  (5000), ``start``, ``today``;
- ``jsonfile``: ``path`` (a ``relance.ledger/1`` file);
- ``fec``: ``path``, ``default_payment_days`` (30), ``encoding``,
  ``sales_journals``, ``accounts`` or ``account_prefix`` (``411``);
- ``pennylane``: ``token_env`` or ``token_file``, ``base_url``, ``category_group``
  ("Relance"), ``levels`` (4), ``contacts`` (true), ``native_reminders_off``
  (false), ``timeout`` (30 s);
- ``sage100``: ``url`` (a SQLAlchemy URL without password), ``password_env`` or
  ``password_file``, ``accounts`` (``411``), ``currency``, ``overlap_minutes``,
  ``full_every_hours``, ``paid_days``, ``opening_journals``, ``contact_functions``,
  ``history_plan``, ``history_step_offset``, ``write_back`` (docs/sage.md).

The demo, jsonfile, fec and pennylane keys are those ``connectors.sources.build_source``
reads: ``company.source_options()`` hands them over, paths resolved.

Rules settled here (see the docstrings for each):

- Unknown keys are errors, at every level.  Problems are ``InputError``s naming
  file, record and field, in core's words (``relance.toml: companies[1] (id
  'acme'): field 'source.kind': unknown source kind 'sag' (known: ...)``).
- Secrets (SMTP and store passwords, the SMS API key, the Pennylane token) are
  never written in the file or the environment overrides: a ``*_env`` key names
  the environment variable that holds one, a ``*_file`` key a file that only
  its owner can read (mode 0600 or stricter).  They are read once, at load, into
  ``SecretStr`` fields left out of ``repr``, ``str`` and every dump.
- The environment overrides the file: ``RELANCE_<KEY>``, nested tables with
  ``__`` (``RELANCE_DELIVERY__SMTP__HOST``).  Only the daemon keys other than
  ``companies`` can be overridden; a variable that names no setting is ignored
  (``RELANCE_DEBUG``, or the variables named by ``*_env``).
- ``send``: a company sends when its own ``send`` says so, else when the
  top-level ``send`` does; ``RELANCE_SEND``, when set, decides for every company.
- Relative paths (sources, secret files, outputs, a SQLite store) are relative
  to the folder of the config file, wherever the daemon is started from.
"""

from __future__ import annotations

import codecs
import json
import stat
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, SettingsError

from connectors.inputs import read_toml
from core.config import Config, config_problems, load_config
from core.errors import InputError
from core.texts import template_ids

__all__ = [
    "ENV_PREFIX",
    "SOURCE_KINDS",
    "CompanySettings",
    "DeliverySettings",
    "DemoSource",
    "FecSource",
    "JsonFileSource",
    "LetterSettings",
    "PennylaneSource",
    "Sage100Source",
    "Sage100WriteBack",
    "Settings",
    "SmsSettings",
    "SmtpSettings",
    "SourceSettings",
    "WorklistSettings",
    "load_settings",
    "settings_problems",
]

ENV_PREFIX = "RELANCE_"
ENVIRONMENT = "environment"  # the "file" named by problems found in RELANCE_* variables
SOURCE_KINDS = ("demo", "fec", "jsonfile", "pennylane", "sage100")
STORE_SCHEMES = ("sqlite", "postgresql")
SECRET_KEYS = ("password", "api_key", "token")
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
SECRET_MODE_MASK = 0o7177  # any bit outside 0600 makes a secret file too open
SMTP_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _relative_to_config(value: Path, info: ValidationInfo) -> Path:
    """A relative path is relative to the config file's folder (given as validation context)."""
    value = value.expanduser()
    base = info.context.get("base") if isinstance(info.context, dict) else None
    if isinstance(base, Path) and not value.is_absolute():
        return base / value
    return value


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


ConfigPath = Annotated[Path, AfterValidator(_relative_to_config)]
# An output the user may turn off with an empty string (worklist = "").
OptionalPath = Annotated[ConfigPath | None, BeforeValidator(_empty_is_none)]
EnvName = Annotated[str, Field(pattern=ENV_NAME)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    # validate_default: default paths, too, are relative to the config's folder.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# Sources -----------------------------------------------------------------------------------


class DemoSource(_Model):
    """The simulated demo company (``connectors.sources.build_source`` reads the same keys)."""

    kind: Literal["demo"]
    seed: int | None = Field(default=None, ge=0)  # None: derived from the company id
    customers: int = Field(default=300, ge=1, le=100_000)
    invoices: int = Field(default=5000, ge=0, le=1_000_000)
    start: date | None = None  # the simulation's first day (None: the day the daemon starts)
    today: date | None = None  # pins the simulated day (None: the clock)


class JsonFileSource(_Model):
    """A ``relance.ledger/1`` file, read again on every pull."""

    kind: Literal["jsonfile"]
    path: ConfigPath


class FecSource(_Model):
    """A Fichier des Écritures Comptables (``connectors.sources.build_source`` reads the same keys).

    Customer accounts are those starting with one of ``accounts`` (or with
    ``account_prefix``), ``411`` when neither is given.
    """

    kind: Literal["fec"]
    path: ConfigPath
    default_payment_days: int = Field(default=30, ge=0, le=366)
    encoding: str | None = None  # None: UTF-8, else Windows-1252
    sales_journals: tuple[NonEmpty, ...] | None = None  # None: found from sales accounts 70x
    accounts: tuple[NonEmpty, ...] | None = None
    account_prefix: NonEmpty | None = None


class PennylaneSource(_Model):
    """Pennylane's API v2; the token comes from ``token_env`` or ``token_file``.

    ``category_group``: the analytic category group (made by the user in
    Pennylane) that receives "Litige", "Relance 1".."Relance <levels>", "Mise en
    demeure" and "Contentieux"; ``contacts``: read each customer's contacts as
    extra recipients (one request per customer); ``native_reminders_off``: the
    user confirms Pennylane's own reminder sequences are off for these
    customers (silences the double-reminder warning).  See docs/pennylane.md.
    """

    kind: Literal["pennylane"]
    base_url: str = Field(
        default="https://app.pennylane.com/api/external/v2", pattern=r"^https?://[^\s/]+"
    )
    token_env: EnvName | None = None
    token_file: ConfigPath | None = None
    category_group: str = Field(default="Relance", min_length=1)
    levels: int = Field(default=4, ge=1, le=20)
    contacts: bool = True
    native_reminders_off: bool = False
    timeout: float = Field(default=30.0, gt=0, le=600)
    # Read at load from token_env / token_file; never from the config itself.
    token: SecretStr | None = Field(default=None, exclude=True)


class Sage100WriteBack(_Model):
    """Information libre columns of F_COMPTET the daemon writes (docs/sage.md); unset: none."""

    reminder_level: NonEmpty | None = None  # e.g. "Relance niveau"
    dispute: NonEmpty | None = None  # e.g. "Litige"
    escalated: NonEmpty | None = None  # e.g. "Contentieux"


class Sage100Source(_Model):
    """Sage 100's SQL Server database; the password from ``password_env`` or ``password_file``.

    See docs/sage.md for what each key changes.
    """

    kind: Literal["sage100"]
    url: str = Field(min_length=1)  # mssql+pymssql://relance_ro@srv-sage:1433/BIJOU
    password_env: EnvName | None = None
    password_file: ConfigPath | None = None
    password: SecretStr | None = Field(default=None, exclude=True)
    accounts: tuple[NonEmpty, ...] = ("411",)  # customer (collective) account prefixes
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")  # the dossier's currency
    overlap_minutes: int = Field(default=10, ge=0, le=1440)  # re-read before the watermark
    full_every_hours: int = Field(default=24, ge=1, le=744)  # full read: catches deletions
    paid_days: int = Field(default=400, ge=0, le=3660)  # lettered lines this recent are read
    opening_journals: tuple[NonEmpty, ...] = ("RAN",)  # journals of opening (à-nouveau) entries
    contact_functions: tuple[NonEmpty, ...] = ("compta", "recouvrement")  # collection contacts
    history_plan: NonEmpty = "standard"  # the plan Sage's own reminder levels count for
    history_step_offset: int = Field(default=1, ge=0, le=20)  # Sage level n = plan step n+this
    write_back: Sage100WriteBack = Field(default_factory=Sage100WriteBack)


SourceSettings = Annotated[
    DemoSource | FecSource | JsonFileSource | PennylaneSource | Sage100Source,
    Field(discriminator="kind"),
]


# Delivery ----------------------------------------------------------------------------------


class SmtpSettings(_Model):
    """The SMTP relay.  Without ``port``: 25, 587 with ``starttls``, 465 with ``ssl``."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str = ""
    password_env: EnvName | None = None
    password_file: ConfigPath | None = None
    # May carry a display name: "Dupont Frères <compta@dupont.fr>".
    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$|^.*<[^@\s<>]+@[^@\s<>]+>$")
    reply_to: str | None = None
    timeout: float = Field(default=30.0, gt=0)
    # A file where the relay writes the Message-ID of each message it accepted,
    # before it answers 250: read after a crash to settle a message that may have
    # gone out (docs/daemon.md, "Exactly once").  Unset: such a message is held.
    accepted_log: ConfigPath | None = None
    password: SecretStr | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _port_from_security(cls, data: Any) -> Any:
        if isinstance(data, dict) and "port" not in data:
            security = data.get("security")
            return {
                **data,
                "port": SMTP_PORTS.get(security, 25) if isinstance(security, str) else 25,
            }
        return data


class LetterSettings(_Model):
    output_dir: ConfigPath = Path("out/letters")


class SmsSettings(_Model):
    provider: Literal["file", "http"] = "file"
    path: ConfigPath = Path("out/sms.jsonl")
    url: str = ""
    api_key_env: EnvName | None = None
    api_key_file: ConfigPath | None = None
    sender: str = Field(default="", pattern=r"^([A-Za-z0-9 ]{1,11}|\+?[0-9]{3,15})?$")
    api_key: SecretStr | None = Field(default=None, exclude=True)


class WorklistSettings(_Model):
    """Phone tasks as CSV and XLSX; an empty string turns a format off."""

    csv: OptionalPath = Path("out/worklist.csv")
    xlsx: OptionalPath = Path("out/worklist.xlsx")


def _two_hours(value: Any) -> Any:
    if isinstance(value, list | tuple) and len(value) != 2:
        raise ValueError('give two hours, the start and the end: ["09:00", "18:00"]')
    return value


class DeliverySettings(_Model):
    # SMS and phone tasks go out only inside these hours, on business days (DESIGN §10).
    sending_hours: Annotated[tuple[time, time], BeforeValidator(_two_hours)] = (
        time(9, 0),
        time(18, 0),
    )
    smtp: SmtpSettings | None = None
    letters: LetterSettings = Field(default_factory=LetterSettings)
    sms: SmsSettings | None = None
    worklist: WorklistSettings = Field(default_factory=WorklistSettings)


# Companies and the whole -------------------------------------------------------------------


class CompanySettings(_Model):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    name: str = Field(min_length=1)
    source: SourceSettings
    # None: the top-level send decides.
    send: bool | None = None
    # Keys of [sender] this company replaces (checked by core.config).
    sender: dict[str, str] = Field(default_factory=dict)

    def source_options(self) -> dict[str, Any]:
        """The source's keys for ``connectors.sources.build_source(kind, options, company=id)``:
        paths resolved, unset keys left out; a secret read at load (the Pennylane
        ``token``, the Sage ``password``) is handed over as a ``SecretStr``, which
        prints as '**********' wherever it ends up."""
        options = self.source.model_dump(exclude={"kind"}, exclude_none=True)
        for name in ("token", "password"):
            secret = getattr(self.source, name, None)
            if isinstance(secret, SecretStr):
                options[name] = secret
        return options


class Settings(_Model):
    """The daemon's settings, secrets read and paths resolved.

    ``core`` is the core config (plans, segments, rates, texts, sender);
    ``config_for(company_id)`` is the same with the company's own sender.
    """

    store: str = "sqlite:///relance.db"
    store_password_env: EnvName | None = None
    store_password_file: ConfigPath | None = None
    send: bool = False
    # Minutes between cycles; fractions allowed (0.5 is thirty seconds).
    interval_minutes: float = Field(default=60, gt=0)
    timezone: str = "Europe/Paris"
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    companies: tuple[CompanySettings, ...] = ()
    store_password: SecretStr | None = Field(default=None, exclude=True)

    _core: Config = PrivateAttr(default_factory=Config)
    _configs: dict[str, Config] = PrivateAttr(default_factory=dict)
    _send_from_environment: bool = PrivateAttr(default=False)

    @property
    def core(self) -> Config:
        """The core config: plans, segments, rates, templates and sender."""
        return self._core

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def company(self, company_id: str) -> CompanySettings:
        for company in self.companies:
            if company.id == company_id:
                return company
        raise KeyError(company_id)

    def config_for(self, company_id: str) -> Config:
        """The core config with the company's own ``sender`` keys, if it has any."""
        self.company(company_id)
        return self._configs.get(company_id, self._core)

    def sends(self, company_id: str) -> bool:
        """Whether the company's reminders really go out (else: dry run).

        The company's own ``send`` wins over the top-level one, except that
        ``RELANCE_SEND``, when set, decides for every company: it is the switch
        an operator turns to stop (or start) everything at once.
        """
        company = self.company(company_id)
        if self._send_from_environment or company.send is None:
            return self.send
        return company.send

    def store_url(self) -> str:
        """The store URL with its password, for the database driver only: never log it."""
        if self.store_password is None:
            return self.store
        scheme, rest = self.store.split("://", 1)
        netloc, slash, tail = rest.partition("/")
        user, at, host = netloc.rpartition("@")
        if not at:
            return self.store  # no user to attach the password to
        password = quote(self.store_password.get_secret_value(), safe="")
        return f"{scheme}://{user}:{password}@{host}{slash}{tail}"


# The daemon's top-level keys; every other key goes to core.config, which reports
# the unknown ones ("config: field 'stor': unknown field").
DAEMON_KEYS = frozenset(name for name in Settings.model_fields if name != "store_password")


# The environment ---------------------------------------------------------------------------


class _Overridable(BaseSettings):
    """What the environment may override (``RELANCE_SEND``, ``RELANCE_DELIVERY__SMTP__HOST``).

    Only used to read the variables: their values are validated with the file's.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False, extra="ignore"
    )

    store: str | None = None
    store_password_env: str | None = None
    store_password_file: str | None = None
    send: bool | None = None
    interval_minutes: float | None = None
    timezone: str | None = None
    delivery: DeliverySettings | None = None


class _EnvironSource(EnvSettingsSource):
    """pydantic-settings' environment reader, over a given mapping instead of ``os.environ``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = {name.lower(): value for name, value in environ.items()}
        super().__init__(_Overridable)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._environ


def environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings ``RELANCE_*`` variables give, nested like the TOML file, not yet validated."""
    try:
        return dict(_EnvironSource(environ)())
    except SettingsError as error:
        # A list or table that is not JSON (RELANCE_DELIVERY__SENDING_HOURS=9-18).
        raise InputError(
            f'lists and tables are written in JSON, e.g. \'["09:00", "18:00"]\' '
            f"({error.__cause__ or error})",
            file=ENVIRONMENT,
            field=_not_json(environ),
        ) from None


def _not_json(environ: Mapping[str, str]) -> str | None:
    """The first variable read as JSON (a list or a table) whose value is not JSON."""
    delivery = f"{ENV_PREFIX}DELIVERY"
    complex_names = {delivery} | {
        f"{delivery}__{name.upper()}" for name in DeliverySettings.model_fields
    }
    for name, value in sorted(environ.items()):
        if name.upper() not in complex_names:
            continue
        try:
            json.loads(value)
        except ValueError:
            return name
    return None


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _env_variable(env: Mapping[str, Any], loc: Sequence[int | str]) -> str | None:
    """The variable that gave the value at ``loc``, if one did."""
    node: Any = env
    path: list[str] = []
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            break
        path.append(str(part))
        node = node[part]
        if not isinstance(node, Mapping):
            return ENV_PREFIX + "__".join(path).upper()
    return None


# Problems ----------------------------------------------------------------------------------


class _Problems(Exception):
    def __init__(self, items: list[InputError]) -> None:
        super().__init__(str(items[0]))
        self.items = items


def _company_record(data: Mapping[str, Any], index: int) -> str:
    record = f"companies[{index}]"
    try:
        company_id = data["companies"][index].get("id")
    except (KeyError, IndexError, TypeError, AttributeError):
        company_id = None
    if isinstance(company_id, str) and company_id:
        record += f" (id '{company_id}')"
    return record


def _dotted(parts: Sequence[int | str]) -> str:
    out: list[str] = []
    previous: int | str | None = None
    for part in parts:
        if isinstance(part, int) and out:
            out[-1] += f"[{part}]"
        elif previous == "source" and part in SOURCE_KINDS:
            pass  # pydantic names the union member; the user wrote only "source"
        else:
            out.append(str(part))
        previous = part
    return ".".join(out)


def _problem(
    data: Mapping[str, Any],
    env: Mapping[str, Any],
    loc: Sequence[int | str],
    message: str,
) -> InputError:
    variable = _env_variable(env, loc)
    if variable is not None:
        return InputError(message, file=ENVIRONMENT, field=variable)
    if len(loc) >= 2 and loc[0] == "companies" and isinstance(loc[1], int):
        return InputError(message, record=_company_record(data, loc[1]), field=_dotted(loc[2:]))
    return InputError(message, record="config", field=_dotted(loc))


def _validation_problems(
    data: Mapping[str, Any], env: Mapping[str, Any], error: ValidationError
) -> list[InputError]:
    """pydantic's errors, in core.config's words."""
    problems = []
    for item in error.errors():
        loc: tuple[int | str, ...] = tuple(item["loc"])
        kind = item["type"]
        if kind == "union_tag_invalid":
            loc += ("kind",)
            message = (
                f"unknown source kind '{item['ctx']['tag']}' (known: {', '.join(SOURCE_KINDS)})"
            )
        elif kind == "union_tag_not_found":
            loc += ("kind",)
            message = f"Field required (one of: {', '.join(SOURCE_KINDS)})"
        elif kind == "extra_forbidden":
            message = "unknown field"
        else:
            message = item["msg"].removeprefix("Value error, ")
            if kind != "missing":
                message += f", got {item['input']!r}"
        problems.append(_problem(data, env, loc, message))
    return problems


def _secret_keys(
    node: Any, loc: tuple[int | str, ...], data: Mapping[str, Any], env: Mapping[str, Any]
) -> list[InputError]:
    """Secrets written as values (``password = "..."``): refused, and removed before validation."""
    problems: list[InputError] = []
    if isinstance(node, dict):
        for key in list(node):
            if key in SECRET_KEYS:
                problems.append(
                    _problem(
                        data,
                        env,
                        (*loc, key),
                        f"a secret is never written in the settings: name the environment "
                        f"variable that holds it with {key}_env, or a file only its owner can "
                        f"read (mode 0600) with {key}_file",
                    )
                )
                del node[key]
            else:
                problems += _secret_keys(node[key], (*loc, key), data, env)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            problems += _secret_keys(item, (*loc, index), data, env)
    return problems


def _copy(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {key: _copy(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_copy(value) for value in node]
    return node


def _read_secret(
    environ: Mapping[str, str],
    env_name: str | None,
    file: Path | None,
    where: tuple[int | str, ...],
    stem: str,
    problem: _ProblemFactory,
) -> SecretStr | None:
    """The secret named by ``<stem>_env`` or ``<stem>_file``, or None when neither is given."""
    if env_name and file is not None:
        problem((*where, f"{stem}_file"), f"give {stem}_env or {stem}_file, not both")
        return None
    if env_name:
        value = environ.get(env_name)
        if value is None:
            problem((*where, f"{stem}_env"), f"the environment variable {env_name} is not set")
            return None
        if not value:
            problem((*where, f"{stem}_env"), f"the environment variable {env_name} is empty")
            return None
        return SecretStr(value)
    if file is None:
        return None
    field = (*where, f"{stem}_file")
    try:
        info = file.stat()
    except OSError as error:
        problem(field, f"cannot read the secret file {file}: {error.strerror}")
        return None
    if not stat.S_ISREG(info.st_mode):
        problem(field, f"the secret file {file} is not a regular file")
        return None
    mode = stat.S_IMODE(info.st_mode)
    if mode & SECRET_MODE_MASK:
        problem(
            field,
            f"the secret file {file} has mode {mode:04o}; it must be readable by its owner "
            f"only: mode 0600 or stricter (chmod 600 {file})",
        )
        return None
    try:
        value = file.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        problem(field, f"cannot read the secret file {file}: {error.strerror}")
        return None
    except UnicodeDecodeError:
        problem(field, f"the secret file {file} is not UTF-8 text")
        return None
    if not value:
        problem(field, f"the secret file {file} is empty")
        return None
    return SecretStr(value)


class _ProblemFactory:
    def __init__(self, data: Mapping[str, Any], env: Mapping[str, Any]) -> None:
        self.data, self.env = data, env
        self.items: list[InputError] = []

    def __call__(self, loc: tuple[int | str, ...], message: str) -> None:
        self.items.append(_problem(self.data, self.env, loc, message))


def _store(raw: str, base: Path, problem: _ProblemFactory) -> str:
    """Check the store URL; a relative SQLite path becomes relative to the config's folder."""
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme.split("+", 1)[0] not in STORE_SCHEMES:
        problem(
            ("store",),
            f"unknown store '{_masked(raw)}': use sqlite:///relance.db (a file) or "
            f"postgresql://user@host/database",
        )
        return raw
    try:
        password = urlsplit(raw).password
    except ValueError as error:
        problem(("store",), f"not a valid URL: {error}")
        return raw
    if password is not None:
        problem(
            ("store",),
            f"the store URL '{_masked(raw)}' holds a password: remove it and name the "
            f"environment variable that holds it with store_password_env, or a file only its "
            f"owner can read (mode 0600) with store_password_file",
        )
        return raw
    if scheme.startswith("sqlite") and rest.startswith("/"):
        path, question, query = rest[1:].partition("?")
        if path and path != ":memory:" and not path.startswith("/"):
            return f"{scheme}:///{(base / Path(path).expanduser()).as_posix()}{question}{query}"
    return raw


def _masked(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "..."
    if password is None:
        return url
    return url.replace(f":{password}@", ":***@", 1)


def _check(settings: Settings, environ: Mapping[str, str], problem: _ProblemFactory) -> Settings:
    """What types cannot say: secrets, required pairs, hours, time zone, unique ids."""
    updates: dict[str, Any] = {}
    store_password = _read_secret(
        environ,
        settings.store_password_env,
        settings.store_password_file,
        (),
        "store_password",
        problem,
    )
    if store_password is not None:
        updates["store_password"] = store_password
        if "@" not in settings.store.partition("://")[2].partition("/")[0]:
            problem(
                ("store",),
                "a store password needs a user in the store URL (postgresql://user@host/database)",
            )
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problem(("timezone",), f"unknown time zone '{settings.timezone}' (e.g. Europe/Paris)")

    delivery = settings.delivery
    delivery_updates: dict[str, Any] = {}
    start, end = delivery.sending_hours
    if start >= end:
        problem(
            ("delivery", "sending_hours"),
            f"the first hour must come before the second, got {start:%H:%M} and {end:%H:%M}",
        )
    if delivery.smtp is not None:
        smtp = delivery.smtp
        where: tuple[int | str, ...] = ("delivery", "smtp")
        password = _read_secret(
            environ, smtp.password_env, smtp.password_file, where, "password", problem
        )
        if smtp.username and password is None and not (smtp.password_env or smtp.password_file):
            problem(
                (*where, "password_env"),
                "a username needs a password: name the environment variable that holds it "
                "with password_env, or a file only its owner can read (mode 0600) with "
                "password_file",
            )
        if password is not None:
            delivery_updates["smtp"] = smtp.model_copy(update={"password": password})
            if smtp.security == "none" and smtp.host not in LOOPBACK:
                problem(
                    (*where, "security"),
                    f"a password would cross the network in clear to {smtp.host}: use "
                    f'security = "starttls" or "ssl" (plain "none" only to localhost)',
                )
    if delivery.sms is not None:
        sms = delivery.sms
        where = ("delivery", "sms")
        api_key = _read_secret(
            environ, sms.api_key_env, sms.api_key_file, where, "api_key", problem
        )
        if sms.provider == "http":
            if not sms.url.startswith(("https://", "http://")):
                problem(
                    (*where, "url"), 'the http provider needs its endpoint: url = "https://..."'
                )
            if api_key is None and not (sms.api_key_env or sms.api_key_file):
                problem(
                    (*where, "api_key_env"),
                    "the http provider needs an API key: name the environment variable that "
                    "holds it with api_key_env, or a file only its owner can read (mode 0600) "
                    "with api_key_file",
                )
        if api_key is not None:
            delivery_updates["sms"] = sms.model_copy(update={"api_key": api_key})
    if delivery_updates:
        updates["delivery"] = delivery.model_copy(update=delivery_updates)

    companies: list[CompanySettings] = []
    seen: set[str] = set()
    for index, company in enumerate(settings.companies):
        where = ("companies", index)
        if company.id in seen:
            problem((*where, "id"), f"duplicate company id '{company.id}'")
        seen.add(company.id)
        source = company.source
        if isinstance(source, DemoSource):
            if source.start and source.today and source.start > source.today:
                problem(
                    (*where, "source", "start"),
                    f"the simulation starts {source.start}, after 'today' ({source.today})",
                )
        elif isinstance(source, FecSource):
            if source.accounts is not None and source.account_prefix is not None:
                problem(
                    (*where, "source", "account_prefix"),
                    "give either 'accounts' or 'account_prefix', not both",
                )
            if source.encoding is not None:
                try:
                    codecs.lookup(source.encoding)
                except LookupError:
                    problem(
                        (*where, "source", "encoding"),
                        f"unknown text encoding '{source.encoding}' (try 'utf-8' or 'cp1252')",
                    )
        elif isinstance(source, PennylaneSource):
            token = _read_secret(
                environ, source.token_env, source.token_file, (*where, "source"), "token", problem
            )
            if token is None and not (source.token_env or source.token_file):
                problem(
                    (*where, "source", "token_env"),
                    "Pennylane needs an API token: name the environment variable that holds it "
                    "with token_env, or a file only its owner can read (mode 0600) with "
                    "token_file",
                )
            scheme, _, rest = source.base_url.partition("://")
            host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
            if scheme != "https" and host not in LOOPBACK:
                problem(
                    (*where, "source", "base_url"),
                    f"the token would cross the network in clear to {host}: use https:// "
                    f"(plain http only to localhost)",
                )
            if token is not None:
                company = company.model_copy(
                    update={"source": source.model_copy(update={"token": token})}
                )
        elif isinstance(source, Sage100Source):
            try:
                in_url = urlsplit(source.url).password
            except ValueError as error:
                problem((*where, "source", "url"), f"not a valid URL: {error}")
                in_url = None
            if in_url is not None:
                problem(
                    (*where, "source", "url"),
                    f"the URL '{_masked(source.url)}' holds a password: remove it and use "
                    f"password_env or password_file",
                )
            secret = _read_secret(
                environ,
                source.password_env,
                source.password_file,
                (*where, "source"),
                "password",
                problem,
            )
            if secret is not None:
                company = company.model_copy(
                    update={"source": source.model_copy(update={"password": secret})}
                )
        companies.append(company)
    updates["companies"] = tuple(companies)
    return settings.model_copy(update=updates)


# Loading -----------------------------------------------------------------------------------


def _build(path: Path, environ: Mapping[str, str]) -> Settings:
    data = read_toml(path)
    base = path.resolve().parent
    known = template_ids()
    problems: list[InputError] = []

    core_data = {key: value for key, value in data.items() if key not in DAEMON_KEYS}
    problems += config_problems(core_data, known)

    env = environment_overrides(environ)
    daemon = _merge(_copy({k: v for k, v in data.items() if k in DAEMON_KEYS}), _copy(env))
    found = _ProblemFactory(data, env)
    problems += _secret_keys(daemon, (), data, env)

    # Each company's sender goes through core.config, like [sender] itself.
    senders: dict[int, dict[str, str]] = {}
    raw_companies = daemon.get("companies")
    if isinstance(raw_companies, list):
        for index, raw in enumerate(raw_companies):
            if not isinstance(raw, dict) or "sender" not in raw:
                continue
            sender = raw["sender"]
            issues = config_problems({"sender": sender}, known)
            for issue in issues:
                problems.append(
                    InputError(
                        issue.message, record=_company_record(data, index), field=issue.field
                    )
                )
            if isinstance(sender, dict) and not issues:
                senders[index] = {str(k): str(v) for k, v in sender.items()}
            raw["sender"] = senders.get(index, {})

    # Built from dicts, so that their default paths are resolved like written ones.
    delivery = daemon.setdefault("delivery", {})
    if isinstance(delivery, dict):
        delivery.setdefault("letters", {})
        delivery.setdefault("worklist", {})
    try:
        settings = Settings.model_validate(daemon, context={"base": base})
    except ValidationError as error:
        problems += _validation_problems(data, env, error)
        raise _Problems(problems) from None

    store = _store(settings.store, base, found)
    settings = _check(settings.model_copy(update={"store": store}), environ, found)
    problems += found.items
    if problems:
        raise _Problems(problems)

    core = load_config(core_data, known)
    settings._core = core
    settings._configs = {
        settings.companies[index].id: replace(core, sender={**core.sender, **sender})
        for index, sender in senders.items()
        if sender
    }
    settings._send_from_environment = "send" in env
    return settings


def load_settings(path: Path, environ: Mapping[str, str]) -> Settings:
    """Read ``relance.toml`` and ``RELANCE_*`` variables; raise the first problem found."""
    try:
        return _build(path, environ)
    except InputError as error:
        raise error.located(str(path)) from None
    except _Problems as problems:
        raise problems.items[0].located(str(path)) from None


def settings_problems(path: Path, environ: Mapping[str, str]) -> list[InputError]:
    """Every problem of the daemon config and its environment, for ``relance validate --config``."""
    try:
        _build(path, environ)
    except InputError as error:
        return [error.located(str(path))]
    except _Problems as problems:
        return [problem.located(str(path)) for problem in problems.items]
    return []
