"""Bad input of any kind is one clear line and exit code 2, never a traceback (DESIGN §9).

Every test starts from a small valid ledger (``base_ledger()``: customers C1 and C2,
invoices F1 and F2, reminder K1) or a valid config, breaks exactly one thing, and checks
that ``relance plan`` and ``relance kpi`` both stop with exit code 2 and a single line
``error: <file>: <record>: field '<field>': <message>`` on stderr.  ``relance validate``
lists every problem instead of the first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    TODAY,
    Result,
    assert_one_error_line,
    base_ledger,
    customer,
    document,
    invoice,
    write_json,
    write_text,
)

Run = Callable[..., Result]
Change = Callable[[dict[str, Any]], Any]


@pytest.fixture(params=["plan", "kpi"])
def command(request: pytest.FixtureRequest) -> str:
    """Both commands that read a ledger and a config must refuse bad input alike."""
    return str(request.param)


def run(relance: Run, command: str, ledger: Path, config: Path | None = None) -> Result:
    args: list[Any] = [command, "--ledger", ledger, "--today", TODAY, "--json"]
    if config is not None:
        args += ["--config", config]
    return relance(*args)


def broken_ledger(tmp_path: Path, change: Change) -> Path:
    """The base ledger with one change applied, written to ``ledger.json``."""
    data = base_ledger()
    change(data)
    return write_json(tmp_path / "ledger.json", data)


def valid_ledger(tmp_path: Path) -> Path:
    return write_json(tmp_path / "ledger.json", base_ledger())


def config_file(tmp_path: Path, text: str) -> Path:
    return write_text(tmp_path / "relance.toml", text)


def plan_toml(name: str = "mine", steps: str = "", **options: str) -> str:
    """A ``[[plans]]`` table; ``steps`` is the TOML of its ``[[plans.steps]]`` tables."""
    lines = ["[[plans]]", f'name = "{name}"', *(f"{k} = {v}" for k, v in options.items())]
    return "\n".join(lines) + "\n" + (steps or step_toml()) + "\n"


def step_toml(
    offset: int = 10, channel: str = "email", template: str = "reminder_1", **extra: str
) -> str:
    lines = [
        "[[plans.steps]]",
        f"offset = {offset}",
        f'channel = "{channel}"',
        f'template = "{template}"',
        *(f"{k} = {v}" for k, v in extra.items()),
    ]
    return "\n".join(lines) + "\n"


def segment_toml(name: str, when: str, plan: str = "standard", **extra: str) -> str:
    lines = [
        "[[segments]]",
        f'name = "{name}"',
        f"when = {json.dumps(when)}",
        f'plan = "{plan}"',
        *(f"{k} = {v}" for k, v in extra.items()),
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ controls


def test_the_base_ledger_is_valid(relance: Run, command: str, tmp_path: Path) -> None:
    """§9: the ledger every test below breaks is accepted as it is, so each failure is
    due to the one thing the test changes."""
    result = run(relance, command, valid_ledger(tmp_path))
    assert (result.code, result.err) == (0, "")
    assert json.loads(result.out)["today"] == TODAY


# ------------------------------------------------------------------------- the JSON file


def test_json_syntax_error_names_line_and_column(
    relance: Run, command: str, tmp_path: Path
) -> None:
    """§9: a ledger that is not JSON is refused with the line and column of the error."""
    path = write_text(
        tmp_path / "ledger.json", '{\n  "format": "relance.ledger/1",\n  "customers": [,]\n}\n'
    )
    assert_one_error_line(
        run(relance, command, path), file=path, says=("not valid JSON", "line 3, column 17")
    )


def test_truncated_json_is_refused(relance: Run, command: str, tmp_path: Path) -> None:
    """§9: a file cut short (an interrupted export) is bad JSON, not a crash."""
    text = json.dumps(base_ledger())
    path = write_text(tmp_path / "ledger.json", text[: len(text) // 2])
    assert_one_error_line(
        run(relance, command, path), file=path, says=("not valid JSON", "line 1, column")
    )


@pytest.mark.parametrize("content", ["[]", '"ledger"', "42", "null"])
def test_a_document_that_is_not_an_object_is_refused(
    relance: Run, command: str, tmp_path: Path, content: str
) -> None:
    """§9: the ledger is a JSON object {format, currency, customers, invoices, reminders}."""
    path = write_text(tmp_path / "ledger.json", content)
    assert_one_error_line(run(relance, command, path), file=path, says=("JSON object",))


@pytest.mark.parametrize("value", ["relance.ledger/2", "", None])
def test_wrong_format_string_is_refused(
    relance: Run, command: str, tmp_path: Path, value: str | None
) -> None:
    """§9: the document declares "format": "relance.ledger/1"."""

    def change(data: dict[str, Any]) -> None:
        if value is None:
            del data["format"]
        else:
            data["format"] = value

    path = broken_ledger(tmp_path, change)
    assert_one_error_line(
        run(relance, command, path), file=path, field="format", says=("relance.ledger/1",)
    )


def test_unknown_top_level_field_is_refused(relance: Run, command: str, tmp_path: Path) -> None:
    """§9: a misspelt section ("invoice" for "invoices") is an unknown field, not an
    empty ledger."""
    path = broken_ledger(tmp_path, lambda d: d.update(invoice=d.pop("invoices")))
    assert_one_error_line(
        run(relance, command, path), file=path, field="invoice", says=("unknown field",)
    )


UNKNOWN_FIELDS = {
    "customer": (
        lambda d: d["customers"][1].update(vat_number="FR123"),
        "customers[1] (id 'C2')",
        "vat_number",
    ),
    "invoice": (lambda d: d["invoices"][1].update(vat="20.00"), "invoices[1] (id 'F2')", "vat"),
    "reminder": (
        lambda d: d["reminders"][0].update(sent_by="bob"),
        "reminders[0] (key 'K1')",
        "sent_by",
    ),
    "dispute": (
        lambda d: d["invoices"][1].update(dispute={"reason": "price", "status": "open"}),
        "invoices[1] (id 'F2')",
        "dispute.status",
    ),
}


@pytest.mark.parametrize("case", UNKNOWN_FIELDS.values(), ids=UNKNOWN_FIELDS.keys())
def test_unknown_field_in_a_record_is_refused(
    relance: Run, command: str, tmp_path: Path, case: tuple[Change, str, str]
) -> None:
    """§2, §9: records carry the section 2 fields only; an unknown one is named with its
    record."""
    change, record, field = case
    path = broken_ledger(tmp_path, change)
    assert_one_error_line(
        run(relance, command, path), file=path, record=record, field=field, says=("unknown field",)
    )


def test_unknown_field_in_a_reminder_line_is_named(
    relance: Run, command: str, tmp_path: Path
) -> None:
    """§2, §9: a reminder's invoice lines are {id, step}; an extra field is named like any
    other unknown field."""
    path = broken_ledger(
        tmp_path, lambda d: d["reminders"][0]["invoices"][0].update(amount="1200.00")
    )
    assert_one_error_line(
        run(relance, command, path),
        file=path,
        record="reminders[0] (key 'K1')",
        field="invoices[0].amount",
        says=("unknown field",),
    )


WRONG_TYPES = {
    "amount-as-list": (
        lambda d: d["invoices"][1].update(amount=["500.00"]),
        "invoices[1] (id 'F2')",
        "amount",
        "expected an amount",
    ),
    "excluded-as-string": (
        lambda d: d["customers"][1].update(excluded="yes"),
        "customers[1] (id 'C2')",
        "excluded",
        "expected true or false",
    ),
    "step-as-string": (
        lambda d: d["reminders"][0]["invoices"][0].update(step="2"),
        "reminders[0] (key 'K1')",
        "invoices[0].step",
        "'2'",
    ),
    "id-as-number": (
        lambda d: d["invoices"][1].update(id=2),
        "invoices[1]",
        "id",
        "expected a string",
    ),
    "tags-as-string": (
        lambda d: d["customers"][1].update(tags="vip"),
        "customers[1] (id 'C2')",
        "tags",
        "expected a list of strings",
    ),
    "escalated-as-number": (
        lambda d: d["invoices"][1].update(escalated=1),
        "invoices[1] (id 'F2')",
        "escalated",
        "expected true or false",
    ),
}


@pytest.mark.parametrize("case", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_field_of_the_wrong_type_is_refused(
    relance: Run, command: str, tmp_path: Path, case: tuple[Change, str, str, str]
) -> None:
    """§2, §9: each field has one type (amounts, booleans, step numbers, string ids)."""
    change, record, field, says = case
    path = broken_ledger(tmp_path, change)
    assert_one_error_line(
        run(relance, command, path), file=path, record=record, field=field, says=(says,)
    )


def test_section_that_is_not_a_list_is_refused(relance: Run, command: str, tmp_path: Path) -> None:
    """§9: customers, invoices and reminders are lists of records."""
    path = broken_ledger(tmp_path, lambda d: d.update(customers={"C1": {}}))
    assert_one_error_line(
        run(relance, command, path), file=path, record="customers", says=("expected a list",)
    )


@pytest.mark.parametrize(
    ("section", "index", "record", "field"),
    [
        ("invoices", 1, "invoices[1] (id 'F2')", "amount"),
        ("invoices", 1, "invoices[1] (id 'F2')", "open_amount"),
        ("customers", 1, "customers[1] (id 'C2')", "credit_limit"),
    ],
)
def test_negative_amount_is_refused(
    relance: Run, command: str, tmp_path: Path, section: str, index: int, record: str, field: str
) -> None:
    """§2, §9: amounts are never negative (a credit note is its own kind, not a negative
    invoice)."""
    path = broken_ledger(tmp_path, lambda d: d[section][index].update({field: "-500.00"}))
    assert_one_error_line(
        run(relance, command, path),
        file=path,
        record=record,
        field=field,
        says=("negative", "-500.00"),
    )


def test_open_amount_above_the_amount_is_refused(
    relance: Run, command: str, tmp_path: Path
) -> None:
    """§2: open_amount is what is still unpaid of the amount, so never more than it."""
    path = broken_ledger(tmp_path, lambda d: d["invoices"][1].update(open_amount="600.00"))
    assert_one_error_line(
        run(relance, command, path),
        file=path,
        record="invoices[1] (id 'F2')",
        field="open_amount",
        says=("600.00", "500.00"),
    )


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_amount_is_refused(
    relance: Run, command: str, tmp_path: Path, value: str
) -> None:
    """§2, §9: money is a finite Decimal; NaN and infinities are not amounts."""
    path = broken_ledger(tmp_path, lambda d: d["invoices"][1].update(amount=value))
    assert_one_error_line(
        run(relance, command, path),
        file=path,
        record="invoices[1] (id 'F2')",
        field="amount",
        says=("not a valid amount", value),
    )


def test_bare_nan_token_is_refused(relance: Run, command: str, tmp_path: Path) -> None:
    """§9: the non-standard JSON token NaN (as some exporters write it) is not an amount."""
    text = json.dumps(base_ledger()).replace('"amount": "500.00"', '"amount": NaN')
    assert "NaN" in text
    path = write_text(tmp_path / "ledger.json", text)
    assert_one_error_line(
        run(relance, command, path), file=path, record="invoices[1] (id 'F2')", field="amount"
    )


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "22/11/2026"])
def test_bad_date_is_refused(relance: Run, command: str, tmp_path: Path, value: str) -> None:
    """§2, §9: dates are real calendar dates written YYYY-MM-DD."""
    path = broken_ledger(tmp_path, lambda d: d["invoices"][1].update(due_date=value))
    assert_one_error_line(
        run(relance, command, path),
        file=path,
        record="invoices[1] (id 'F2')",
        field="due_date",
        says=(value,),
    )


@pytest.mark.parametrize(
    ("section", "index", "record", "field"),
    [
        ("invoices", 1, "invoices[1] (id 'F2')", "due_date"),
        ("invoices", 1, "invoices[1] (id 'F2')", "amount"),
        ("invoices", 1, "invoices[1] (id 'F2')", "customer_id"),
        ("invoices", 1, "invoices[1]", "id"),
        ("customers", 1, "customers[1] (id 'C2')", "name"),
        ("reminders", 0, "reminders[0] (key 'K1')", "date"),
    ],
)
def test_missing_required_field_is_refused(
    relance: Run, command: str, tmp_path: Path, section: str, index: int, record: str, field: str
) -> None:
    """§2, §9: a record without one of its required fields is named with that field."""
    path = broken_ledger(tmp_path, lambda d: d[section][index].pop(field))
    assert_one_error_line(
        run(relance, command, path), file=path, record=record, field=field, says=("required",)
    )


def test_invoice_of_an_unknown_customer_is_refused(
    relance: Run, command: str, tmp_path: Path
) -> None:
    """§9: an invoice whose customer is not in the ledger is refused."""
    path = broken_ledger(tmp_path, lambda d: d["invoices"][1].update(customer_id="C9"))
    assert_one_error_line(
        run(relance, command, path),
        file=path,
        record="invoices[1] (id 'F2')",
        field="customer_id",
        says=("unknown customer", "'C9'"),
    )


def test_reminder_of_an_unknown_customer_is_refused(
    relance: Run, command: str, tmp_path: Path
) -> None:
    """§2, §9: a history entry for a customer who is not in the ledger is refused."""
    path = broken_ledger(tmp_path, lambda d: d["reminders"][0].update(customer_id="C9"))
    assert_one_error_line(
        run(relance, command, path),
        file=path,
        record="reminders[0] (key 'K1')",
        field="customer_id",
        says=("unknown customer", "'C9'"),
    )


@pytest.mark.parametrize(
    ("change", "record", "field", "says"),
    [
        (
            lambda d: d["invoices"][1].update(id="F1"),
            "invoices[1] (id 'F1')",
            "id",
            "duplicate invoice id 'F1'",
        ),
        (
            lambda d: d["customers"][1].update(id="C1"),
            "customers[1] (id 'C1')",
            "id",
            "duplicate customer id 'C1'",
        ),
        (
            lambda d: d["reminders"].append(dict(d["reminders"][0])),
            "reminders[1] (key 'K1')",
            "key",
            "duplicate reminder key 'K1'",
        ),
    ],
    ids=["invoice", "customer", "reminder-key"],
)
def test_duplicate_id_is_refused(
    relance: Run, command: str, tmp_path: Path, change: Change, record: str, field: str, says: str
) -> None:
    """§2, §5.6: ids identify records; a second record with the same id (or a second
    reminder with the same key) is refused, naming the second one."""
    path = broken_ledger(tmp_path, change)
    assert_one_error_line(
        run(relance, command, path), file=path, record=record, field=field, says=(says,)
    )


@pytest.mark.parametrize(
    ("change", "record", "field", "value"),
    [
        (
            lambda d: d["invoices"][1].update(kind="proforma"),
            "invoices[1] (id 'F2')",
            "kind",
            "proforma",
        ),
        (
            lambda d: d["reminders"][0].update(channel="fax"),
            "reminders[0] (key 'K1')",
            "channel",
            "fax",
        ),
        (
            lambda d: d["customers"][1].update(kind="person"),
            "customers[1] (id 'C2')",
            "kind",
            "person",
        ),
    ],
    ids=["invoice-kind", "reminder-channel", "customer-kind"],
)
def test_value_outside_its_list_is_refused(
    relance: Run, command: str, tmp_path: Path, change: Change, record: str, field: str, value: str
) -> None:
    """§2, §3: invoice kinds (invoice, credit_note), customer kinds (company, individual)
    and channels are closed lists; the message shows the value given."""
    path = broken_ledger(tmp_path, change)
    assert_one_error_line(
        run(relance, command, path), file=path, record=record, field=field, says=(f"'{value}'",)
    )


@pytest.mark.parametrize(
    ("change", "record", "shown"),
    [
        (lambda d: d["invoices"][1].update(currency="euro"), "invoices[1] (id 'F2')", "'euro'"),
        (lambda d: d.update(currency="euro"), None, "'euro'"),
        (lambda d: d["invoices"][1].update(currency="EUR\n"), "invoices[1] (id 'F2')", "EUR"),
        (lambda d: d.update(currency="EUR\n"), None, "EUR"),
    ],
    ids=["invoice", "ledger", "invoice-newline", "ledger-newline"],
)
def test_bad_currency_code_is_refused(
    relance: Run, command: str, tmp_path: Path, change: Change, record: str | None, shown: str
) -> None:
    """§2: amounts carry an ISO 4217 currency code ("EUR"), not a name, and nothing
    after it (not even a newline)."""
    path = broken_ledger(tmp_path, change)
    assert_one_error_line(
        run(relance, command, path),
        file=path,
        record=record,
        field="currency",
        says=("ISO 4217", shown),
    )


# ----------------------------------------------------------------------- the file itself


def test_missing_file_is_refused(relance: Run, command: str, tmp_path: Path) -> None:
    """§9: a ledger path that does not exist is bad input naming the file."""
    path = tmp_path / "nowhere" / "ledger.json"
    assert_one_error_line(run(relance, command, path), file=path, says=("cannot read the file",))


def with_folder(command: str, tmp_path: Path, option: str, folder: Path) -> list[Any]:
    """The command line with ``folder`` given as the ledger or as the config."""
    ledger = folder if option == "--ledger" else valid_ledger(tmp_path)
    config = ["--config", folder] if option == "--config" else []
    return [command, "--ledger", ledger, *config, "--today", TODAY]


@pytest.mark.parametrize("option", ["--ledger", "--config"])
def test_directory_instead_of_a_file_exits_2_naming_it(
    relance: Run, command: str, tmp_path: Path, option: str
) -> None:
    """§9: a directory given as the ledger or config is refused with exit code 2."""
    folder = tmp_path / "exports"
    folder.mkdir()
    result = relance(*with_folder(command, tmp_path, option, folder))
    assert result.code == 2, result
    assert "Traceback" not in result.err
    assert str(folder) in result.err


@pytest.mark.parametrize("option", ["--ledger", "--config"])
def test_directory_instead_of_a_file_is_one_error_line(
    relance: Run, command: str, tmp_path: Path, option: str
) -> None:
    """§9: a directory is bad input like a missing file: one line naming it."""
    folder = tmp_path / "exports"
    folder.mkdir()
    result = relance(*with_folder(command, tmp_path, option, folder))
    assert_one_error_line(result, file=folder)


def test_ledger_that_is_not_utf8_is_refused(relance: Run, command: str, tmp_path: Path) -> None:
    """§9: a ledger saved in Latin-1 (é as byte 0xE9) is bad input, not an internal error."""
    data = base_ledger()
    data["customers"][0]["name"] = "Société Générale de Café"
    path = tmp_path / "ledger.json"
    path.write_bytes(json.dumps(data, ensure_ascii=False).encode("latin-1"))
    assert_one_error_line(run(relance, command, path), file=path)


def test_config_that_is_not_utf8_is_refused(relance: Run, command: str, tmp_path: Path) -> None:
    """§9: a config saved in Latin-1 is bad input naming the config file."""
    path = tmp_path / "relance.toml"
    path.write_bytes('company_language = "fr" # société\n'.encode("latin-1"))
    assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path), file=path, says=("UTF-8",)
    )


# ------------------------------------------------------------------------------- config


def test_toml_syntax_error_names_the_line(relance: Run, command: str, tmp_path: Path) -> None:
    """§9: a config that is not TOML is refused with the line of the error."""
    path = config_file(tmp_path, 'ecb_rate = 0.0215\n[[plans]\nname = "mine"\n')
    assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path),
        file=path,
        says=("not valid TOML", "line 2"),
    )


def test_segment_with_an_unknown_plan_is_refused(
    relance: Run, command: str, tmp_path: Path
) -> None:
    """§4, §9: a segment sends customers to a plan that exists."""
    path = config_file(tmp_path, segment_toml("everyone", "true", plan="nope"))
    assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path),
        file=path,
        record="segments[0] (name 'everyone')",
        field="plan",
        says=("unknown plan 'nope'",),
    )


@pytest.mark.parametrize(
    ("when", "column"),
    [
        ("outstanding > 1000 and __import__('os')", 24),
        ("outstanding >> 1000", 14),
        ("customer.name == 'x'", 1),
        ("overdue_amount > 1000 and", 26),
    ],
)
def test_bad_segment_expression_names_rule_and_column(
    relance: Run, command: str, tmp_path: Path, when: str, column: int
) -> None:
    """§4: a condition outside the safe language is rejected when the config is loaded,
    naming the rule and the column of the offending text."""
    path = config_file(tmp_path, segment_toml("big", when))
    message = assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path),
        file=path,
        record="segments[0] (name 'big')",
        field="when",
    )
    assert "'big'" in message
    assert f"column {column}" in message


@pytest.mark.parametrize(("first", "second"), [(10, 10), (10, 5)])
def test_non_increasing_offsets_are_refused(
    relance: Run, command: str, tmp_path: Path, first: int, second: int
) -> None:
    """§3: offsets must strictly increase."""
    steps = step_toml(first) + step_toml(second, template="reminder_2")
    path = config_file(tmp_path, plan_toml("mine", steps))
    assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path),
        file=path,
        record="plans[0] (name 'mine')",
        field="steps[1].offset",
        says=("strictly increase",),
    )


def test_unknown_channel_in_a_step_is_refused(relance: Run, command: str, tmp_path: Path) -> None:
    """§3: a step's channel is one of email, sms, letter, phone, formal_notice, escalation."""
    path = config_file(tmp_path, plan_toml("mine", step_toml(channel="fax")))
    assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path),
        file=path,
        record="plans[0] (name 'mine')",
        field="steps[0].channel",
        says=("'fax'",),
    )


def test_unknown_template_id_is_refused(relance: Run, command: str, tmp_path: Path) -> None:
    """§3, §8: a step's template is a known text id."""
    path = config_file(tmp_path, plan_toml("mine", step_toml(template="reminder_9")))
    assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path),
        file=path,
        record="plans[0] (name 'mine')",
        field="steps[0].template",
        says=("'reminder_9'",),
    )


@pytest.mark.parametrize("option", ["min_amount", "cooldown_days"])
def test_negative_plan_option_is_refused(
    relance: Run, command: str, tmp_path: Path, option: str
) -> None:
    """§3: a plan's min_amount and cooldown_days are not negative."""
    path = config_file(tmp_path, plan_toml("mine", **{option: "-5"}))
    assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path),
        file=path,
        record="plans[0] (name 'mine')",
        field=option,
        says=("-5",),
    )


def test_a_step_is_named_the_same_way_in_every_message(
    relance: Run, command: str, tmp_path: Path
) -> None:
    """§3, §9: the second step of a plan is named alike whichever of its fields is wrong
    (a negative step min_amount, an unknown channel)."""
    ledger = valid_ledger(tmp_path)
    fields = []
    for bad in (step_toml(20, channel="fax"), step_toml(20, min_amount="-5")):
        path = config_file(tmp_path, plan_toml("mine", step_toml(10) + bad))
        result = run(relance, command, ledger, path)
        assert result.code == 2, result
        fields.append(result.err.split("field '")[1].split(".")[0])
    assert fields[0] == fields[1], fields


@pytest.mark.parametrize(
    ("text", "record", "field"),
    [
        ("ecb_rat = 0.0215\n", "config", "ecb_rat"),
        (plan_toml("mine", cooldown="3"), "plans[0] (name 'mine')", "cooldown"),
        (segment_toml("big", "true", condition='"true"'), "segments[0] (name 'big')", "condition"),
    ],
    ids=["top-level", "plan", "segment"],
)
def test_unknown_config_field_is_refused(
    relance: Run, command: str, tmp_path: Path, text: str, record: str, field: str
) -> None:
    """§9: a misspelt config key is refused rather than silently ignored."""
    path = config_file(tmp_path, text)
    assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path),
        file=path,
        record=record,
        field=field,
        says=("unknown field",),
    )


@pytest.mark.parametrize(
    ("option", "value"), [("ecb_rate", "2.15"), ("late_interest_rate", "12.15")]
)
def test_rate_written_as_a_percentage_is_refused(
    relance: Run, command: str, tmp_path: Path, option: str, value: str
) -> None:
    """§7: rates are fractions (0.0215 for 2.15 %); 2.15 would mean 215 % interest."""
    path = config_file(tmp_path, f"{option} = {value}\n")
    assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path),
        file=path,
        record="config",
        field=option,
        says=(value,),
    )


def test_rate_written_as_a_fraction_is_accepted(relance: Run, command: str, tmp_path: Path) -> None:
    """§7: ecb_rate = 0.0215 is 2.15 %."""
    path = config_file(tmp_path, "ecb_rate = 0.0215\nlate_interest_rate = 0.12\n")
    result = run(relance, command, valid_ledger(tmp_path), path)
    assert (result.code, result.err) == (0, "")


def test_segment_named_manual_is_refused(relance: Run, command: str, tmp_path: Path) -> None:
    """§4: the segment "manual" is the one of customers with a manual plan override."""
    path = config_file(tmp_path, segment_toml("manual", "true"))
    assert_one_error_line(
        run(relance, command, valid_ledger(tmp_path), path),
        file=path,
        record="segments[0] (name 'manual')",
        field="name",
        says=("reserved",),
    )


def test_customer_with_an_unknown_manual_plan_is_refused(
    relance: Run, command: str, tmp_path: Path
) -> None:
    """§2, §4: a customer's manual plan names a plan of the config (here the shipped
    defaults); the error points at the ledger's customer."""
    path = broken_ledger(tmp_path, lambda d: d["customers"][1].update(plan="vip"))
    assert_one_error_line(
        run(relance, command, path),
        file=path,
        record="customers[1] (id 'C2')",
        field="plan",
        says=("unknown plan 'vip'",),
    )


def test_manual_plan_defined_in_the_config_is_accepted(
    relance: Run, command: str, tmp_path: Path
) -> None:
    """§9: a config's plans are added to the shipped ones, so a customer may use one."""
    ledger = broken_ledger(tmp_path, lambda d: d["customers"][1].update(plan="vip"))
    config = config_file(tmp_path, plan_toml("vip"))
    result = run(relance, command, ledger, config)
    assert (result.code, result.err) == (0, "")


# --------------------------------------------------------------------------- arguments


def test_impossible_run_date_is_a_usage_error(relance: Run, command: str, tmp_path: Path) -> None:
    """§9: --today is a real date YYYY-MM-DD; 30 February is refused with exit code 2."""
    result = relance(command, "--ledger", valid_ledger(tmp_path), "--today", "2026-02-30")
    assert result.code == 2, result
    assert "Traceback" not in result.err
    assert "--today" in result.err
    assert result.out == ""


# ----------------------------------------------------------------------------- validate


def test_validate_lists_every_ledger_problem(relance: Run, tmp_path: Path) -> None:
    """§9: `relance validate` lists each problem of the ledger, not only the first, then
    their count, and exits with 2."""

    def change(d: dict[str, Any]) -> None:
        d["invoices"][0]["due_date"] = "2026-02-30"
        d["invoices"][1]["vat"] = "20.00"
        d["reminders"][0]["channel"] = "fax"

    path = broken_ledger(tmp_path, change)
    result = relance("validate", "--ledger", path)
    assert result.code == 2, result
    assert result.out == ""
    assert "Traceback" not in result.err
    *errors, count = result.err_lines
    expected = [
        ("invoices[0] (id 'F1')", "due_date", "'2026-02-30'"),
        ("invoices[1] (id 'F2')", "vat", "unknown field"),
        ("reminders[0] (key 'K1')", "channel", "'fax'"),
    ]
    assert len(errors) == len(expected), errors
    for line, (record, field, says) in zip(errors, expected, strict=True):
        assert line.startswith(f"error: {path}: {record}: field '{field}': "), line
        assert says in line
    assert "3" in count and "error" not in count


def test_validate_lists_every_config_problem(relance: Run, tmp_path: Path) -> None:
    """§9: `relance validate --config` lists each problem of the config."""
    path = config_file(
        tmp_path,
        plan_toml("mine", step_toml(template="reminder_9"))
        + segment_toml("everyone", "true", plan="nope")
        + segment_toml("big", "outstanding >> 1000"),
    )
    result = relance("validate", "--config", path)
    assert result.code == 2, result
    *errors, count = result.err_lines
    assert len(errors) == 3, errors
    assert all(line.startswith(f"error: {path}: ") for line in errors), errors
    assert {line.split(": ")[2] for line in errors} == {
        "plans[0] (name 'mine')",
        "segments[0] (name 'everyone')",
        "segments[1] (name 'big')",
    }
    assert "3" in count


def test_validate_a_valid_ledger_says_ok(relance: Run, tmp_path: Path) -> None:
    """§9: a valid file passes validation with exit code 0 and says so."""
    result = relance("validate", "--ledger", valid_ledger(tmp_path))
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith("ok")


def test_validate_a_valid_ledger_and_config_says_ok(relance: Run, tmp_path: Path) -> None:
    """§9: a valid config (with a plan used by a customer's manual override) and ledger."""
    ledger = broken_ledger(tmp_path, lambda d: d["customers"][1].update(plan="vip"))
    config = config_file(tmp_path, plan_toml("vip"))
    result = relance("validate", "--ledger", ledger, "--config", config)
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith("ok")


def test_validate_checks_manual_plans_against_the_shipped_plans(
    relance: Run, tmp_path: Path
) -> None:
    """§4: without a config, a customer's manual plan must be a shipped plan."""
    path = broken_ledger(tmp_path, lambda d: d["customers"][1].update(plan="vip"))
    result = relance("validate", "--ledger", path)
    assert result.code == 2, result
    assert result.err_lines[0].startswith(
        f"error: {path}: customers[1] (id 'C2'): field 'plan': unknown plan 'vip'"
    )
    assert len(result.err_lines) == 2


def test_validate_names_a_ledger_that_is_not_utf8(relance: Run, tmp_path: Path) -> None:
    """§9: validate refuses a Latin-1 ledger as bad JSON with exit code 2."""
    path = tmp_path / "ledger.json"
    path.write_bytes('{"format": "relance.ledger/1", "currency": "€"}'.encode("cp1252"))
    result = relance("validate", "--ledger", path)
    assert result.code == 2, result
    assert result.err_lines[0].startswith(f"error: {path}: ")
    assert "Traceback" not in result.err


def test_validate_needs_something_to_check(relance: Run) -> None:
    """§9: `relance validate` without --ledger or --config is a usage error."""
    result = relance("validate")
    assert result.code == 2, result
    assert "--ledger" in result.err and "--config" in result.err


def test_validate_reports_only_the_problems_in_the_file(relance: Run, tmp_path: Path) -> None:
    """§9: a customer with one bad field is one problem; its invoices, whose customer is
    in the file, are not reported as having an unknown customer."""
    path = broken_ledger(tmp_path, lambda d: d["customers"][1].update(excluded="yes"))
    result = relance("validate", "--ledger", path)
    assert result.code == 2, result
    assert result.err_lines[:-1] == [
        f"error: {path}: customers[1] (id 'C2'): field 'excluded': expected true or false, "
        "got 'yes'"
    ]


def test_validate_names_records_by_their_position_in_the_file(relance: Run, tmp_path: Path) -> None:
    """§9: every problem names the record as it is in the file, invoices[1] for the
    second invoice, even when an earlier record had a problem too."""

    def change(d: dict[str, Any]) -> None:
        d["invoices"][0]["amount"] = "-1"
        d["invoices"][1]["customer_id"] = "C9"

    path = broken_ledger(tmp_path, change)
    result = relance("validate", "--ledger", path)
    assert result.code == 2, result
    assert result.err_lines[1].startswith(
        f"error: {path}: invoices[1] (id 'F2'): field 'customer_id': unknown customer 'C9'"
    )


# -------------------------------------------------------------- through the real script


def test_bad_input_through_the_console_script(tmp_path: Path) -> None:
    """§9: the installed `relance` script itself maps bad input to one line and exit code
    2 (the tests above call its entry point in-process)."""
    from cli_support import script

    data = document(
        [customer("C1")], [invoice("F1", "C1", "2026-10-01"), invoice("F2", "C9", "2026-10-05")]
    )
    path = write_json(tmp_path / "ledger.json", data)
    assert_one_error_line(
        script("plan", "--ledger", path, "--today", TODAY),
        file=path,
        record="invoices[1] (id 'F2')",
        field="customer_id",
        says=("unknown customer 'C9'",),
    )
