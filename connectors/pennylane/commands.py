"""``relance pennylane check`` and ``relance pennylane setup``; what ``relance status`` adds.

``check``: ``GET /me`` with the configured token: the Pennylane company, the
scopes granted and the missing ones named, the rate-limit headroom, whether the
category group exists.  ``setup``: creates the missing categories in the
group.  Both warn that Pennylane's own reminder sequences may remind the same
customers (double reminders) unless ``native_reminders_off = true``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from connectors.pennylane.categories import ensure_catalog, labels, load_catalog
from connectors.pennylane.client import PennylaneClient
from connectors.pennylane.errors import TOKEN_HELP
from connectors.pennylane.position import RETENTION, Position
from connectors.settings import CompanySettings, PennylaneSource, Settings, load_settings
from connectors.sources import SourceError
from core.errors import InputError

__all__ = ["REQUIRED_SCOPES", "double_reminder_warning", "pennylane_group", "status_notes"]

# What the connector does and the scope each needs (``:all`` covers ``:readonly``).
REQUIRED_SCOPES = {
    "customers:readonly": "read customers and their contacts",
    "customer_invoices:all": "read invoices and write their categories",
    "categories:all": "read the category group and create Relance's categories",
}
EXIT_BAD_INPUT = 2


DOUBLE_REMINDERS = (
    "Pennylane's own reminders (Paramètres › Facturation clients › Relance d'impayés) may "
    "also be active for these customers, and the API cannot tell: customers would be reminded "
    "twice. Pause those sequences or unassign them, then set native_reminders_off = true in "
    "the source to silence this warning."
)


def double_reminder_warning(company: str) -> str:
    return f"warning: {company}: {DOUBLE_REMINDERS}"


def granted(scopes: list[str], needed: str) -> bool:
    resource = needed.split(":", 1)[0]
    return needed in scopes or f"{resource}:all" in scopes


def _client(source: PennylaneSource) -> PennylaneClient:
    if source.token is None:  # load_settings refuses this; kept for type checkers
        raise SourceError("no Pennylane API token", kind="config", source="pennylane")
    return PennylaneClient(source.token.get_secret_value(), source.base_url, timeout=source.timeout)


def _companies(settings: Settings, only: str | None, config: Path) -> Iterator[CompanySettings]:
    chosen = [
        c
        for c in settings.companies
        if c.source.kind == "pennylane" and (only is None or c.id == only)
    ]
    if not chosen:
        raise InputError(
            f"no company with a pennylane source{f' and id {only!r}' if only else ''}",
            file=str(config),
            field="companies",
        )
    yield from chosen


def _fail(company: str, error: SourceError) -> None:
    click.echo(f"error: {company}: {error.message}", err=True)


config_required = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The daemon's relance.toml.",
)
company_option = click.option("--company", default=None, help="Only this company (its id).")


@click.group("pennylane")
def pennylane_group() -> None:
    """Pennylane: check the API token, set up the write-back categories."""


@pennylane_group.command("check")
@config_required
@company_option
def check_command(config_path: Path, company: str | None) -> None:
    """The Pennylane company behind the token, its scopes (missing ones named), the
    rate-limit headroom and the category group."""
    settings = load_settings(config_path, os.environ)
    problems = 0
    for entry in _companies(settings, company, config_path):
        source = entry.source
        assert isinstance(source, PennylaneSource)
        client = _client(source)
        try:
            problems += _check_one(entry.id, source, client)
        except SourceError as error:
            _fail(entry.id, error)
            problems += 1
        finally:
            client.close()
    if problems:
        sys.exit(1)


def _check_one(company: str, source: PennylaneSource, client: PennylaneClient) -> int:
    answer = client.request("GET", "/me")
    me: dict[str, Any] = answer.data if isinstance(answer.data, dict) else {}
    info = me.get("company") or {}
    scopes = sorted(str(s) for s in me.get("scopes") or [])
    click.echo(
        f"{company}: Pennylane company {info.get('name')!r} (id {info.get('id')}"
        + (f", SIREN {info['reg_no']}" if info.get("reg_no") else "")
        + f") at {source.base_url}"
    )
    click.echo(f"  scopes granted: {', '.join(scopes) or 'none'}")
    missing = [s for s in REQUIRED_SCOPES if not granted(scopes, s)]
    if missing:
        for scope in missing:
            click.echo(f"  scope missing: {scope} (to {REQUIRED_SCOPES[scope]})")
        click.echo(f"  add them to the token in {TOKEN_HELP}")
    else:
        click.echo("  scopes missing: none")
    limit = answer.headers.get("ratelimit-limit")
    left = answer.headers.get("ratelimit-remaining")
    if limit and left:
        click.echo(f"  rate limit: {left} of {limit} requests left in the current window")
    else:
        click.echo("  rate limit: no ratelimit-* headers in the answer")
    problems = len(missing)
    if granted(scopes, "categories:readonly"):
        catalog = load_catalog(client, source.category_group)
        if catalog is None:
            click.echo(
                f"  category group {source.category_group!r}: not found; create it in "
                f"Pennylane, then run `relance pennylane setup`"
            )
            problems += 1
        else:
            absent = catalog.missing(source.levels)
            problems += bool(absent)
            click.echo(
                f"  category group {source.category_group!r}: found, "
                + (
                    f"missing {', '.join(absent)} (run `relance pennylane setup`)"
                    if absent
                    else "all categories present"
                )
            )
    if not source.native_reminders_off:
        click.echo(double_reminder_warning(company), err=True)
    return problems


@pennylane_group.command("setup")
@config_required
@company_option
def setup_command(config_path: Path, company: str | None) -> None:
    """Create Relance's categories ("Litige", "Relance 1".."Relance N", "Mise en demeure",
    "Contentieux") in the configured category group; the group itself is made in Pennylane."""
    settings = load_settings(config_path, os.environ)
    failures = 0  # the exit code: 2 when something must be fixed, 1 when worth retrying
    for entry in _companies(settings, company, config_path):
        source = entry.source
        assert isinstance(source, PennylaneSource)
        client = _client(source)
        try:
            catalog, created = ensure_catalog(client, source.category_group, source.levels)
        except SourceError as error:
            _fail(entry.id, error)
            failures = max(failures, 1 if error.retryable else EXIT_BAD_INPUT)
            continue
        finally:
            client.close()
        wanted = labels(source.levels)
        click.echo(
            f"{entry.id}: category group {catalog.group.title!r} (id {catalog.group.id}): "
            + (f"created {', '.join(created)}" if created else "nothing to create")
            + f"; {len(wanted) - len(created)} already there"
        )
        if not source.native_reminders_off:
            click.echo(double_reminder_warning(entry.id), err=True)
    if failures:
        sys.exit(failures)


def status_notes(
    company: CompanySettings, cursor: str | None, now: datetime | None = None
) -> list[str]:
    """What ``relance status`` adds for a Pennylane company: last full sync, resyncs, warnings."""
    source = company.source
    if not isinstance(source, PennylaneSource):
        return []
    notes: list[str] = []
    position = Position.load(cursor)
    moment = now or datetime.now(UTC)
    if position is None:
        notes.append("no sync yet: the first one reads everything")
    else:
        notes.append(
            f"changes read up to {position.oldest():%Y-%m-%d %H:%M} UTC; last full sync "
            f"{position.full_sync:%Y-%m-%d %H:%M} UTC"
            + (f" (full resync: {position.resync_reason})" if position.resync_reason else "")
        )
        if position.expired(moment):
            notes.append(
                "the next sync is a full resync: the position is older than Pennylane's "
                "4-week changelog retention"
            )
        elif moment - position.oldest() > RETENTION / 2:
            notes.append("no sync for over two weeks: past four weeks a full resync is needed")
    if not source.native_reminders_off:
        notes.append(f"warning: {DOUBLE_REMINDERS}")
    return notes
