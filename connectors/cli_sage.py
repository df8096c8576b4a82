"""`relance sage ...`: commands about a company's Sage 100 database."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from connectors.cli import FILE
from connectors.sage.build import options_from_settings
from connectors.sage.check import check_source
from connectors.sage.source import Sage100Source
from connectors.settings import Sage100Source as Sage100Settings
from connectors.settings import load_settings
from core.errors import InputError


@click.group("sage")
def sage_group() -> None:
    """Sage 100 (SQL Server) sources."""


@sage_group.command("check")
@click.option(
    "--config", "config_path", required=True, type=FILE, help="The daemon's relance.toml."
)
@click.option("--company", default=None, help="Only this company (its id).")
def check_command(config_path: Path, company: str | None) -> None:
    """Connectivity, read permissions, the write-back columns and the right to write them."""
    settings = load_settings(config_path, os.environ)
    chosen = [
        c
        for c in settings.companies
        if isinstance(c.source, Sage100Settings) and (company is None or c.id == company)
    ]
    if not chosen:
        raise InputError(
            f"no company '{company}' with a sage100 source in the config"
            if company
            else "no company of the config has a sage100 source",
            file=str(config_path),
            field="companies",
        )
    failed = False
    for entry in chosen:
        assert isinstance(entry.source, Sage100Settings)
        source = Sage100Source(options_from_settings(entry.source))
        report = check_source(source)
        click.echo(f"{entry.id}:")
        for line in report.lines:
            click.echo(f"  {line}")
        click.echo(f"  {'OK' if report.ok else 'FAILED'}: {len(report.problems)} problem(s)")
        failed = failed or not report.ok
    if failed:
        sys.exit(1)
