"""The commands of DESIGN §9, run through the installed `relance` console script.

Golden tests compare `relance plan --json` and `relance kpi --json` with the worked
examples beside DESIGN.md (``../shared/examples``; skipped when absent): the same actions
in the same order (``key`` and ``explanation`` are the project's own, priorities within
0.01), KPI ratios within 0.01 and the aged balance exact.  The other tests cover the JSON
shapes, `explain`, `render`, a config that changes the plan, `demo` and the help.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    TODAY,
    Result,
    assert_one_error_line,
    customer,
    document,
    example,
    example_json,
    invoice,
    script,
    write_json,
    write_text,
)

NAMES = ["small", "medium"]
NOT_COMPARED = {"key", "explanation"}
TOLERANCE = 0.0100001  # both sides rounded to 2 decimals: 0.01 plus float noise
COMMANDS = ["plan", "kpi", "validate", "explain", "render", "demo"]
# Optional spaces inside a French amount: "19 018,86 €" is written with a narrow
# no-break space between thousands and a no-break space before the sign.
SPACE = "[ \u00a0\u202f]"


@cache
def run_cached(*args: str) -> Result:
    """One run of the console script per distinct command line in this module."""
    return script(*args)


def today_of(name: str) -> str:
    return str(example_json(f"{name}.plan.expected.json")["today"])


def example_run(command: str, name: str, *more: str) -> Result:
    ledger = example(f"{name}.ledger.json")
    return run_cached(command, "--ledger", str(ledger), "--today", today_of(name), *more)


def ok_json(result: Result) -> Any:
    assert (result.code, result.err) == (0, ""), result
    return json.loads(result.out)


def plan_json(name: str) -> dict[str, Any]:
    return dict(ok_json(example_run("plan", name, "--json")))


def close(actual: Any, expected: float) -> bool:
    return isinstance(actual, int | float) and math.isclose(
        actual, expected, rel_tol=0, abs_tol=TOLERANCE
    )


def is_amount(value: Any) -> bool:
    """§9: an amount is a JSON string holding a finite decimal number ("1200.00")."""
    return isinstance(value, str) and bool(re.fullmatch(r"\d+(\.\d+)?", value))


def is_iso_date(value: Any) -> bool:
    return isinstance(value, str) and date.fromisoformat(value).isoformat() == value


# ------------------------------------------------------------------------- golden files


@pytest.mark.parametrize("name", NAMES)
def test_plan_json_matches_the_worked_example(name: str) -> None:
    """§5, §9: `relance plan --json` on the example gives the expected actions, in the
    expected priority order, field by field (priority within 0.01)."""
    expected = example_json(f"{name}.plan.expected.json")
    got = plan_json(name)
    assert got["today"] == expected["today"]
    actions = got["actions"]
    assert [(a["customer_id"], a["currency"]) for a in actions] == [
        (e["customer_id"], e["currency"]) for e in expected["actions"]
    ]
    for position, (action, want) in enumerate(zip(actions, expected["actions"], strict=True)):
        where = f"{name} action {position} ({want['customer_id']} {want['currency']})"
        for field, value in want.items():
            if field in NOT_COMPARED:
                continue
            if field == "priority":
                assert close(action[field], value), f"{where}: priority {action[field]}"
            else:
                assert action[field] == value, f"{where}: {field}"


@pytest.mark.parametrize("name", NAMES)
def test_kpi_json_matches_the_worked_example(name: str) -> None:
    """§6, §9: `relance kpi --json` gives the example's aged balance exactly and its
    ratios (DSO simple and count-back, overdue ratio) within 0.01."""
    expected = example_json(f"{name}.kpi.expected.json")
    got = ok_json(example_run("kpi", name, "--json"))
    assert got["today"] == expected["today"]
    assert {bucket: Decimal(amount) for bucket, amount in got["aged_balance"].items()} == {
        bucket: Decimal(amount) for bucket, amount in expected["aged_balance"].items()
    }
    for field, value in expected.items():
        if field not in ("today", "aged_balance"):
            assert close(got[field], value), f"{name}: {field} {got[field]} != {value}"


# ----------------------------------------------------------------------------- JSON shapes


@pytest.mark.parametrize("name", NAMES)
def test_plan_json_amounts_are_strings_and_dates_iso(name: str) -> None:
    """§9: every amount of `plan --json` is a JSON string, the run date an ISO string."""
    got = plan_json(name)
    assert is_iso_date(got["today"])
    amounts: list[Any] = []
    for action in got["actions"]:
        amounts += [action["overdue_amount"], action["net_due"]]
        amounts += [line["open_amount"] for line in action["invoices"]]
        amounts += [credit["open_amount"] for credit in action["credits"]]
        assert isinstance(action["priority"], int | float)
    assert amounts and all(is_amount(value) for value in amounts), amounts


def test_kpi_json_amounts_are_strings_and_dates_iso() -> None:
    """§9: the aged balance and receivables of `kpi --json` are strings, ratios numbers."""
    got = ok_json(example_run("kpi", "medium", "--json"))
    assert is_iso_date(got["today"])
    assert set(got["aged_balance"]) == {"not_due", "1_30", "31_60", "61_90", "over_90"}
    assert all(is_amount(value) for value in got["aged_balance"].values())
    assert is_amount(got["receivables"])
    for field in ("dso_simple", "dso_countback", "overdue_ratio", "cei"):
        assert isinstance(got[field], int | float), field


@pytest.mark.parametrize("name", NAMES)
def test_every_planned_action_has_a_unique_key(name: str) -> None:
    """§5.6: each action carries a key, unique within the run."""
    keys = [action.get("key") for action in plan_json(name)["actions"]]
    assert keys and all(isinstance(key, str) and key for key in keys), keys
    assert len(set(keys)) == len(keys)


def test_planning_twice_gives_the_same_output() -> None:
    """§2, §5.6: the plan is a pure function of (ledger, config, today): a second run
    prints exactly the same actions, keys included."""
    first = example_run("plan", "medium", "--json")
    ledger = example("medium.ledger.json")
    second = script("plan", "--ledger", ledger, "--today", today_of("medium"), "--json")
    assert first.code == second.code == 0
    assert second.out == first.out


def test_formal_notice_lists_late_payment_amounts(tmp_path: Path) -> None:
    """§7, §9: in a formal_notice action each listed invoice of a company also carries its
    interest and the EUR 40 indemnity, as amount strings."""
    actions = ok_json(own_plan(tmp_path, None))["actions"]
    notice = next(a for a in actions if a["customer_id"] == "C1")
    assert notice["channel"] == "formal_notice"
    for line in notice["invoices"]:
        assert is_amount(line["interest"]) and Decimal(line["interest"]) > 0
        assert Decimal(line["indemnity"]) == Decimal("40")


# ---------------------------------------------------------------------------- human output


def test_human_plan_output_is_a_table_of_the_customers() -> None:
    """§9: without --json, `relance plan` prints a worklist table naming each customer."""
    result = example_run("plan", "small")
    assert (result.code, result.err) == (0, ""), result
    expected = example_json("small.plan.expected.json")["actions"]
    assert "customer" in result.out
    assert any(ch in result.out for ch in "┃│|")  # table borders
    for action in expected:
        assert action["customer_id"] in result.out, action["customer_id"]


def test_human_kpi_output_shows_the_figures() -> None:
    """§6: without --json, `relance kpi` prints the aged balance and DSO figures, rounded
    to one decimal."""
    result = example_run("kpi", "small")
    assert (result.code, result.err) == (0, ""), result
    got = ok_json(example_run("kpi", "small", "--json"))
    assert "DSO" in result.out
    assert (
        f"{Decimal(str(got['dso_simple'])).quantize(Decimal('0.1'), ROUND_HALF_UP)}" in result.out
    )


def test_human_plan_output_shows_customer_names_as_written(tmp_path: Path) -> None:
    """§9: a customer name with square brackets is shown as it is written."""
    data = document(
        [customer("C1", name="Dupont [lyon] & fils")], [invoice("F1", "C1", "2026-10-01")]
    )
    result = script("plan", "--ledger", write_json(tmp_path / "l.json", data), "--today", TODAY)
    assert result.code == 0, result
    assert "Dupont [lyon] & fils" in result.out


# --------------------------------------------------------------------------------- explain


def explain_json(customer_id: str) -> dict[str, Any]:
    return dict(ok_json(example_run("explain", "small", "--customer", customer_id, "--json")))


def open_invoice_ids(customer_id: str) -> set[str]:
    ledger = example_json("small.ledger.json")
    return {
        i["id"]
        for i in ledger["invoices"]
        if i["customer_id"] == customer_id
        and i["kind"] == "invoice"
        and Decimal(i["open_amount"]) > 0
    }


def test_explain_json_gives_segment_plan_metrics_and_each_open_invoice() -> None:
    """§4, §5: `explain --json` shows the customer's segment and plan (as planned), the
    metrics, and for each open invoice its reached and done step and why it fires or not:
    C011's F00001 was reminded at step 3 of its plan, F00056 is under a promise to pay."""
    got = explain_json("C011")
    planned = next(a for a in plan_json("small")["actions"] if a["customer_id"] == "C011")
    assert (got["segment"], got["plan"]) == (planned["segment"], planned["plan"])
    assert {
        "outstanding",
        "overdue_amount",
        "max_days_overdue",
        "avg_days_late",
        "late_count",
        "dso",
        "open_disputes",
        "customer_age_days",
        "credit_usage",
    } <= set(got["metrics"])
    assert Decimal(got["metrics"]["outstanding"]) == Decimal("5614.87") + Decimal("7401.30")
    rows = {row["id"]: row for row in got["invoices"]}
    assert set(rows) == open_invoice_ids("C011")
    for row in rows.values():
        assert isinstance(row["reached"], int) and isinstance(row["done"], int)
        assert isinstance(row["why"], str) and row["why"]
        assert is_iso_date(row["due_date"]) and is_amount(row["open_amount"])
    assert rows["F00001"]["done"] == 3  # reminder h1: plan strict, step 3
    assert "promise" in rows["F00056"]["why"]


def test_explain_human_output_names_segment_plan_and_invoices() -> None:
    """§4, §5: the human `explain` shows the same segment, plan, metrics and invoices; an
    invoice in dispute says why it is never reminded."""
    got = explain_json("C000")
    result = example_run("explain", "small", "--customer", "C000")
    assert (result.code, result.err) == (0, ""), result
    for text in (
        "C000",
        got["segment"],
        got["plan"],
        "outstanding",
        "reached",
        "done",
        *open_invoice_ids("C000"),
    ):
        assert text in result.out, text
    assert "dispute" in result.out


def test_explain_unknown_customer_is_bad_input() -> None:
    """§9: explaining a customer who is not in the ledger is exit code 2, one line."""
    result = example_run("explain", "small", "--customer", "C999")
    assert_one_error_line(
        result, file=example("small.ledger.json"), field="customer", says=("'C999'",)
    )


# ---------------------------------------------------------------------------------- render


def test_render_customer_gives_the_text_with_invoice_and_amount() -> None:
    """§8: `render --customer C003` prints the text of C003's action today, naming the
    invoice and its amount (C003 reads English: €13,438.79)."""
    result = example_run("render", "small", "--customer", "C003")
    assert (result.code, result.err) == (0, ""), result
    assert "F00038" in result.out
    assert "13,438.79" in result.out


def test_render_shows_the_text_exactly() -> None:
    """§8: the human `render` shows the text as --json gives it, brackets included."""
    body = ok_json(example_run("render", "small", "--customer", "C003", "--json"))["body"]
    assert "[your name]" in body
    assert "[your name]" in example_run("render", "small", "--customer", "C003").out


def test_render_json_gives_subject_body_and_language() -> None:
    """§8: `render --json` gives the subject, body and language of the text."""
    got = ok_json(example_run("render", "small", "--customer", "C003", "--json"))
    assert got["customer_id"] == "C003"
    assert got["language"] == "en"
    assert isinstance(got["subject"], str) and "13,438.79" in got["subject"]
    assert isinstance(got["body"], str) and "F00038" in got["body"]


def test_render_action_by_key_prefix() -> None:
    """§5.6, §9: an action is rendered by (a unique prefix of) the key `plan --json` gave."""
    action = next(a for a in plan_json("small")["actions"] if a["customer_id"] == "C005")
    got = ok_json(example_run("render", "small", "--action", action["key"][:10], "--json"))
    assert (got["key"], got["customer_id"]) == (action["key"], "C005")
    assert got["channel"] == action["channel"]


def test_render_unknown_action_key_is_bad_input() -> None:
    """§9: a key that matches no action planned today is exit code 2 and one line."""
    result = example_run("render", "small", "--action", "not-a-key")
    assert_one_error_line(
        result, file=example("small.ledger.json"), field="action", says=("not-a-key",)
    )


def test_french_customer_text_uses_french_formatting() -> None:
    """§8: a French customer's text writes amounts the French way, "19 018,86 €" (comma
    decimal, euro sign after the number), and dates as 27/05/2026."""
    action = next(a for a in plan_json("small")["actions"] if a["customer_id"] == "C005")
    got = ok_json(example_run("render", "small", "--action", action["key"][:10], "--json"))
    assert got["language"] == "fr"
    text = got["subject"] + "\n" + got["body"]
    assert re.search(f"19{SPACE}018,86{SPACE}€", text), text
    assert "€19" not in text and "19,018.86" not in text
    assert "27/05/2026" in text


# ------------------------------------------------------------------------ config and plan


def own_ledger(tmp_path: Path) -> Path:
    """On 2026-11-02: C1 is 30 days late, C2 (manual plan "gentle") 30 days late, C3's
    invoice falls due in 3 days."""
    return write_json(
        tmp_path / "ledger.json",
        document(
            customers=[customer("C1"), customer("C2", plan="gentle"), customer("C3")],
            invoices=[
                invoice("F1", "C1", "2026-10-03"),
                invoice("F2", "C2", "2026-10-03"),
                invoice("F3", "C3", "2026-11-05"),
            ],
        ),
    )


def own_plan(tmp_path: Path, config: Path | None) -> Result:
    args: list[Any] = ["plan", "--ledger", own_ledger(tmp_path), "--today", TODAY, "--json"]
    return script(*args, *(["--config", config] if config else []))


LETTERS = """\
[[plans]]
name = "letters"

[[plans.steps]]
offset = 0
channel = "letter"
template = "reminder_1"

[[segments]]
name = "everyone"
when = "true"
plan = "letters"
"""


def summary(result: Result) -> dict[str, tuple[str, str, int, str, str]]:
    return {
        a["customer_id"]: (a["segment"], a["plan"], a["step"], a["channel"], a["template"])
        for a in ok_json(result)["actions"]
    }


def test_config_segment_sends_everyone_to_a_custom_plan(tmp_path: Path) -> None:
    """§3, §4, §9: a config whose only segment (`when = "true"`) sends everyone to a
    one-step letter plan replaces the shipped segments: C1 gets the letter, C2 keeps its
    manual plan, C3 (not due yet) gets nothing; with the shipped defaults C1 would get
    the standard formal notice and C3 the pre-due email."""
    default = summary(own_plan(tmp_path, None))
    assert default == {
        "C1": ("default", "standard", 5, "formal_notice", "formal_notice"),
        "C2": ("manual", "gentle", 3, "phone", "phone"),
        "C3": ("default", "standard", 1, "email", "pre_due"),
    }
    config = write_text(tmp_path / "relance.toml", LETTERS)
    assert summary(own_plan(tmp_path, config)) == {
        "C1": ("everyone", "letters", 1, "letter", "reminder_1"),
        "C2": ("manual", "gentle", 3, "phone", "phone"),
    }


# ------------------------------------------------------------------------------ demo, help


def test_demo_prints_worklist_kpis_and_texts_quickly() -> None:
    """The demo generates a ledger, plans the day and shows the worklist, the KPIs and
    rendered texts, within about 15 seconds, sending nothing."""
    started = time.monotonic()
    result = script("demo", "--today", "2026-11-23", timeout=30)
    elapsed = time.monotonic() - started
    assert (result.code, result.err) == (0, ""), result
    assert elapsed < 15, f"relance demo took {elapsed:.1f} s"
    out = result.out
    assert "2026-11-23" in out
    assert "plan / step" in out and re.search(r"\bC\d+", out)  # the worklist
    assert "DSO" in out and "aged balance" in out  # the KPIs
    assert out.count("Subject:") >= 2  # rendered texts


def test_demo_size_options(tmp_path: Path) -> None:
    """The demo's --customers and --invoices size the generated ledger; --save-ledger
    writes a ledger that `relance validate` accepts."""
    saved = tmp_path / "demo.json"
    result = script(
        "demo",
        "--today",
        "2026-11-23",
        "--customers",
        20,
        "--invoices",
        200,
        "--save-ledger",
        saved,
    )
    assert (result.code, result.err) == (0, ""), result
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert (len(data["customers"]), len(data["invoices"])) == (20, 200)
    checked = script("validate", "--ledger", saved)
    assert checked.code == 0, checked


def test_help_lists_every_command() -> None:
    """§9: `relance --help` lists the commands."""
    result = script("--help")
    assert (result.code, result.err) == (0, ""), result
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", result.out, re.MULTILINE), command


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """§9: `relance COMMAND --help` prints its usage and options and exits with 0."""
    from connectors.cli import main

    monkeypatch.setattr(sys, "argv", ["relance", command, "--help"])
    try:
        main()
    except SystemExit as exited:
        assert exited.code in (0, None)
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: relance {command}")
    assert "--help" in out
