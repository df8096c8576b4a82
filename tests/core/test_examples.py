"""Golden tests against the worked examples shipped beside DESIGN.md (``../shared/examples``).

Each ``NAME.plan.expected.json`` is what ``relance plan`` must print for ``NAME.ledger.json``
with the shipped defaults, on the date it names; ``NAME.kpi.expected.json`` holds some of the
KPIs of ``relance kpi`` for the same date.  ``key`` and ``explanation`` are the project's own
and not compared; priorities and KPI ratios are rounded to 2 decimals in the files.
"""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from builders import config

from core.engine import plan
from core.ledger import load_ledger
from core.metrics import compute_kpis
from core.serialize import action_to_json, kpis_to_json

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "examples"
NAMES = ["small", "medium"]
NOT_COMPARED = {"key", "explanation"}
RATIO_TOLERANCE = 0.01


def example(name: str, kind: str) -> Any:
    path = EXAMPLES / f"{name}.{kind}.json"
    if not path.is_file():
        pytest.skip(f"worked example {path} is absent (DESIGN.md's examples folder not found)")
    return json.loads(path.read_text(encoding="utf-8"))


def close(actual: float | None, expected: float) -> bool:
    # Both sides are rounded to 2 decimals, so allow a hair over 0.01 for float noise.
    return actual is not None and math.isclose(actual, expected, rel_tol=0, abs_tol=0.0100001)


@pytest.mark.parametrize("name", NAMES)
def test_plan_matches_expected_actions(name: str) -> None:
    """§5, §9: the actions planned for the example ledger equal the expected ones, in the
    same (priority) order, field by field and in the same field order."""
    expected = example(name, "plan.expected")
    today = date.fromisoformat(expected["today"])
    actions = [
        action_to_json(a) for a in plan(load_ledger(example(name, "ledger")), config(), today)
    ]
    assert [(a["customer_id"], a["currency"]) for a in actions] == [
        (e["customer_id"], e["currency"]) for e in expected["actions"]
    ]
    for position, (got, want) in enumerate(zip(actions, expected["actions"], strict=True)):
        where = f"{name} action {position} ({want['customer_id']} {want['currency']})"
        assert list(want) == [k for k in got if k in want], f"{where}: field order"
        assert set(got) - set(want) <= NOT_COMPARED | {"interest_rate", "payment_deadline_days"}
        for field, value in want.items():
            if field == "priority":
                assert close(got[field], value), f"{where}: priority {got[field]} != {value}"
            else:
                assert got[field] == value, f"{where}: {field}"


@pytest.mark.parametrize("name", NAMES)
def test_kpis_match_expected(name: str) -> None:
    """§6, §9: the example's aged balance is exact; dso_simple, dso_countback, overdue_ratio
    (and any other ratio given) are within 0.01."""
    expected = example(name, "kpi.expected")
    today = date.fromisoformat(expected["today"])
    kpis = compute_kpis(load_ledger(example(name, "ledger")), today)
    got = kpis_to_json(kpis)
    assert got["today"] == expected["today"]
    want_aged = {bucket: Decimal(amount) for bucket, amount in expected["aged_balance"].items()}
    assert kpis.aged_balance == want_aged
    for field, value in expected.items():
        if field in ("today", "aged_balance"):
            continue
        assert close(got[field], value), f"{name}: {field} {got[field]} != {value}"


@pytest.mark.parametrize("name", NAMES)
def test_plan_is_stable_when_run_twice(name: str) -> None:
    """§5.6: planning the same example twice gives the same actions and keys."""
    ledger_data = example(name, "ledger")
    today = date.fromisoformat(example(name, "plan.expected")["today"])
    first = plan(load_ledger(ledger_data), config(), today)
    second = plan(load_ledger(ledger_data), config(), today)
    assert [a.key for a in first] == [a.key for a in second]
    assert len({a.key for a in first}) == len(first)
