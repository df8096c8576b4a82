"""The ``relance`` console script.

Every command is a thin wrapper over one core function.  This is the only
place that turns errors into exit codes: bad input of any kind is one line on
stderr naming file, record and field, and exit code 2; never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import click
import orjson

from connectors import views
from connectors.inputs import config_file_problems, ledger_file_problems, open_config, open_ledger
from core.actions import Action
from core.config import Config
from core.engine import Planner, check_manual_plans, plan
from core.errors import InputError
from core.metrics import compute_kpis
from core.model import Customer, Reminder
from core.serialize import action_to_json, jsonable, kpis_to_json
from core.texts import RenderedText, Sender, choose_language, render_action, template_ids

EXIT_BAD_INPUT = 2
F = TypeVar("F", bound=Callable[..., Any])


# Set by the commands that read a whole ledger, once their output is written: the
# console script then ends without freeing the ledger object by object (over a
# second for a million invoices, docs/performance.md).  The ledger is kept here so
# that returning from the command does not free it either.
_finished_with: list[Any] = []


def ledger_done(*kept: Any) -> None:
    _finished_with.extend(kept)
    _finished_with.append(True)


def dump_json(data: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


class DateParam(click.ParamType):  # type: ignore[type-arg]  # generic in click >= 8.4
    """A calendar date written YYYY-MM-DD."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
        except ValueError:
            pass
        self.fail(f"{value!r} is not a date written YYYY-MM-DD", param, ctx)


# Paths are checked by our own readers, so that a missing file or a folder gets
# the same one-line "error: <file>: ..." as any other bad input.
FILE = click.Path(path_type=Path)


def ledger_option(f: F) -> F:
    return click.option(
        "--ledger", "ledger_path", required=True, type=FILE, help="A relance.ledger/1 JSON file."
    )(f)


def config_option(f: F) -> F:
    return click.option(
        "--config",
        "config_path",
        default=None,
        type=FILE,
        help="A TOML config (plans, segments, rates); default: shipped plans.",
    )(f)


def today_option(f: F) -> F:
    return click.option(
        "--today",
        type=DateParam(),
        default=None,
        help="The run date, YYYY-MM-DD (default: the current date).",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")(f)


def run_date(value: date | None) -> date:
    return value if value is not None else date.today()


class LazyGroup(click.Group):
    """Commands whose modules load only when they run: `relance plan` need not
    import the daemon's database and PDF libraries."""

    lazy: ClassVar[dict[str, str]] = {
        "sync": "connectors.cli_daemon:sync_command",
        "status": "connectors.cli_daemon:status_command",
        "history": "connectors.cli_daemon:history_command",
        "report": "connectors.cli_daemon:report_command",
        "pennylane": "connectors.pennylane.commands:pennylane_group",
        "odoo-export": "connectors.odoo_export:odoo_export_command",
        "sage": "connectors.cli_sage:sage_group",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attribute = self.lazy[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attribute)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="relance")
def cli() -> None:
    """Relance: receivables collection (relances clients) inside your accounting tool."""


@cli.command("plan")
@ledger_option
@config_option
@today_option
@json_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Show only the first N actions (human output).",
)
def plan_command(
    ledger_path: Path, config_path: Path | None, today: Any, as_json: bool, limit: int | None
) -> None:
    """What is due today: one action per customer and currency, highest priority first.

    \b
    Example:
      relance plan --ledger ledger.json --today 2026-11-24 --json
    """
    config = open_config(config_path)
    ledger = open_ledger(ledger_path)
    day = run_date(today)
    try:
        actions = plan(ledger, config, day)
    except InputError as error:
        raise error.located(str(ledger_path)) from None
    if as_json:
        dump_json({"today": day.isoformat(), "actions": [action_to_json(a) for a in actions]})
    else:
        views.show_actions(actions, ledger, day, limit=limit)
    ledger_done(ledger, actions)


@cli.command("kpi")
@ledger_option
@config_option
@today_option
@json_option
def kpi_command(ledger_path: Path, config_path: Path | None, today: Any, as_json: bool) -> None:
    """Receivables KPIs: aged balance, DSO (simple and count-back), overdue ratio, CEI,
    reminder effectiveness.

    \b
    Example:
      relance kpi --ledger ledger.json --today 2026-11-24 --json
    """
    config = open_config(config_path)
    ledger = open_ledger(ledger_path)
    day = run_date(today)
    try:
        check_manual_plans(ledger, config)
    except InputError as error:
        raise error.located(str(ledger_path)) from None
    planner = Planner(ledger, config, day)
    segments = planner.journal_segments()
    kpis = compute_kpis(ledger, day, segments)
    if as_json:
        dump_json(kpis_to_json(kpis))
    else:
        views.show_kpis(kpis)
    ledger_done(ledger, planner)


@cli.command("validate")
@click.option(
    "--ledger", "ledger_path", default=None, type=FILE, help="A ledger JSON file to check."
)
@config_option
def validate_command(ledger_path: Path | None, config_path: Path | None) -> None:
    """Check a config and/or a ledger: every problem is listed; exit code 2 if any.

    \b
    Example:
      relance validate --config relance.toml --ledger ledger.json
    """
    if ledger_path is None and config_path is None:
        raise click.UsageError("give --config, --ledger or both")
    problems: list[InputError] = []
    if config_path is not None:
        problems += config_file_problems(config_path)
    if ledger_path is not None:
        ledger_problems_found = ledger_file_problems(ledger_path)
        problems += ledger_problems_found
        if not problems:
            try:
                check_manual_plans(open_ledger(ledger_path), open_config(config_path))
            except InputError as error:
                problems.append(error.located(str(ledger_path)))
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(EXIT_BAD_INPUT)
    checked = [str(p) for p in (config_path, ledger_path) if p is not None]
    click.echo(f"ok: {' and '.join(checked)} {'is' if len(checked) == 1 else 'are'} valid")


@cli.command("explain")
@ledger_option
@config_option
@today_option
@json_option
@click.option("--customer", "customer_id", required=True, help="The customer id.")
def explain_command(
    ledger_path: Path, config_path: Path | None, today: Any, as_json: bool, customer_id: str
) -> None:
    """Why a customer is (or is not) reminded today: segment, metrics, plan, and each
    open invoice's reached and done step."""
    config = open_config(config_path)
    ledger = open_ledger(ledger_path)
    day = run_date(today)
    customer = next((c for c in ledger.customers if c.id == customer_id), None)
    if customer is None:
        raise InputError(
            f"no customer with id '{customer_id}'", file=str(ledger_path), field="customer"
        )
    try:
        check_manual_plans(ledger, config)
    except InputError as error:
        raise error.located(str(ledger_path)) from None
    explanation = Planner(ledger, config, day).explain(customer)
    if as_json:
        dump_json(jsonable(explanation))
    else:
        views.show_explanation(explanation)


@cli.command("render")
@ledger_option
@config_option
@today_option
@json_option
@click.option(
    "--action",
    "action_key",
    default=None,
    help="The action key (or a unique prefix of it), from `relance plan`.",
)
@click.option(
    "--customer",
    "customer_id",
    default=None,
    help="Render the customer's first action today instead.",
)
@click.option("--language", default=None, help="Force a language (fr, en).")
def render_command(
    ledger_path: Path,
    config_path: Path | None,
    today: Any,
    as_json: bool,
    action_key: str | None,
    customer_id: str | None,
    language: str | None,
) -> None:
    """The full text of a planned reminder, as the customer would read it, in their language."""

    if (action_key is None) == (customer_id is None):
        raise click.UsageError("give exactly one of --action or --customer")
    config = open_config(config_path)
    ledger = open_ledger(ledger_path)
    day = run_date(today)
    try:
        actions = plan(ledger, config, day)
    except InputError as error:
        raise error.located(str(ledger_path)) from None
    if action_key is not None:
        found = [a for a in actions if a.key.startswith(action_key)]
        what = f"action key '{action_key}'"
    else:
        found = [a for a in actions if a.customer_id == customer_id][:1]
        what = f"an action today for customer '{customer_id}'"
    if len(found) != 1:
        reason = "no" if not found else "more than one"
        raise InputError(
            f"{reason} planned action matches {what} on {day.isoformat()}",
            file=str(ledger_path),
            field="action",
        )
    action = found[0]
    customer = next(c for c in ledger.customers if c.id == action.customer_id)
    text = render(action, customer, config, day, language, history=ledger.reminders)
    if as_json:
        dump_json(
            {
                "key": action.key,
                "customer_id": action.customer_id,
                "channel": action.channel,
                "template": text.template,
                "language": text.language,
                "subject": text.subject,
                "body": text.body,
            }
        )
    else:
        views.show_rendered(action, text)


# The demo's supplier: a made-up Lyon workshop.
DEMO_SENDER = {
    "name": "Atelier Martin SAS",
    "email": "compta@atelier-martin.example",
    "phone": "04 72 00 00 00",
    "address": "12 rue des Forges, 69003 Lyon",
    "iban": "FR76 3000 4000 0500 0012 3456 789",
}


@cli.command("demo")
@today_option
@click.option("--customers", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--invoices", type=click.IntRange(min=1), default=5000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--save-ledger",
    type=FILE,
    default=None,
    help="Also write the generated ledger as a relance.ledger/1 file.",
)
def demo_command(
    today: Any, customers: int, invoices: int, seed: int, save_ledger: Path | None
) -> None:
    """Generate a realistic French SME ledger and plan today's reminders.

    A dry run: nothing is sent.
    """
    from connectors.demo.generator import generate_ledger, write_ledger_json
    from core.config import load_config

    day = run_date(today)
    ledger = generate_ledger(day, customers=customers, invoices=invoices, seed=seed)
    if save_ledger is not None:
        write_ledger_json(ledger, save_ledger)
    config = load_config({"sender": DEMO_SENDER}, template_ids())
    planner = Planner(ledger, config, day)
    actions = planner.run()
    segments = planner.journal_segments()
    kpis = compute_kpis(ledger, day, segments)
    by_id = {c.id: c for c in ledger.customers}
    samples = []
    for channel in ("email", "sms", "phone", "formal_notice", "escalation"):
        action = next((a for a in actions if a.channel == channel), None)
        if action is not None:
            samples.append(
                (
                    action,
                    render(
                        action, by_id[action.customer_id], config, day, history=ledger.reminders
                    ),
                )
            )
    views.show_demo(ledger, actions, kpis, samples, day, saved=save_ledger)


def render(
    action: Action,
    customer: Customer,
    config: Config,
    day: date,
    language: str | None = None,
    history: Sequence[Reminder] = (),
) -> RenderedText:
    """The text of an action in the customer's language (else the company's)."""
    sender = Sender(**{**config.sender, "language": config.company_language})
    chosen = language or choose_language(customer.language, config.company_language)
    return render_action(
        action, customer, sender, day, language=chosen, overrides=config.templates, history=history
    )


def run() -> None:
    """The console script: ``main()``; after a successful ``plan`` or ``kpi``, the
    process ends at once, its output flushed, without freeing the ledger."""
    main()
    if _finished_with:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            pass
        os._exit(0)


def main() -> None:
    """Run the command, turning our errors into one line and exit code 2."""
    try:
        cli.main(prog_name="relance", standalone_mode=False)
    except InputError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as error:  # the last line of defence: no traceback for users
        if os.environ.get("RELANCE_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(error).__name__}: {error} (set RELANCE_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(1)
