"""The journal's bulk writes: rows as COPY text, read back by a real PostgreSQL."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from typing import Any

import psycopg2
import pytest
from mapping_support import load_addon_module

from connectors.demo import generate_ledger
from core.config import load_config
from core.engine import Planner
from core.serialize import jsonable
from core.texts import template_ids

bulk = load_addon_module("bulk")

PG_DSNS = ["host=127.0.0.1 dbname=test user=root", "host=127.0.0.1 dbname=test user=postgres"]


def test_none_is_null_and_booleans_are_t_and_f() -> None:
    assert bulk.copy_text([(None, True, False, 0)]) == "\\N\tt\tf\t0\n"


def test_tabs_newlines_and_backslashes_are_escaped() -> None:
    assert bulk.copy_value("a\tb\nc\rd\\e") == "a\\tb\\nc\\rd\\\\e"


def test_amounts_and_dates_print_as_postgresql_reads_them() -> None:
    row = (Decimal("1234.50"), 0.1, date(2026, 12, 4), datetime(2026, 12, 4, 8, 30, 5))
    assert bulk.copy_text([row]) == "1234.50\t0.1\t2026-12-04\t2026-12-04 08:30:05\n"


@pytest.fixture
def pg_cursor() -> Iterator[Any]:
    dsns = [os.environ["RELANCE_TEST_PG_DSN"]] if "RELANCE_TEST_PG_DSN" in os.environ else PG_DSNS
    reasons = []
    for dsn in dsns:
        try:
            connection = psycopg2.connect(dsn, connect_timeout=3)
        except psycopg2.OperationalError as error:
            reasons.append(f"{dsn}: {' '.join(str(error).split())}")
            continue
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.rollback()
            connection.close()
        return
    pytest.skip("PostgreSQL unreachable: " + "; ".join(reasons))


def test_a_reminder_text_comes_back_from_postgresql_unchanged(pg_cursor: Any) -> None:
    pg_cursor.execute(
        "CREATE TEMPORARY TABLE journal (body text, amount numeric, day date,"
        " at timestamp, done bool, explanation jsonb, step int4)"
    )
    body = "Madame, Monsieur,\n\n\tFAC\\2026\\001 : 1 234,56 €\r\nÀ régler sous 8 jours. \\N"
    rows = [
        (body, Decimal("1234.56"), date(2026, 12, 4), datetime(2026, 12, 4, 8, 30), True,
         '{"rule": "segment \\"pme\\"", "days": 35}', 3),
        (None, None, None, None, False, None, None),
        ("", Decimal("0.00"), date(2027, 1, 18), None, None, "[]", 0),
    ]  # fmt: skip
    pg_cursor.copy_expert("COPY journal FROM STDIN", StringIO(bulk.copy_text(rows)))
    pg_cursor.execute("SELECT body, amount, day, at, done, explanation, step FROM journal")
    back = pg_cursor.fetchall()
    assert back[0] == (
        body, Decimal("1234.56"), date(2026, 12, 4), datetime(2026, 12, 4, 8, 30), True,
        {"rule": 'segment "pme"', "days": 35}, 3,
    )  # fmt: skip
    assert back[1] == (None, None, None, None, False, None, None)
    assert back[2] == ("", Decimal("0.00"), date(2027, 1, 18), None, None, [], 0)


def test_the_journal_stores_each_explanation_as_cores_json_of_it() -> None:
    """The run dumps an explanation in one pass (``default=jsonable``); that must be
    the JSON of ``jsonable(explanation)``, what the journal held before."""
    today = date(2026, 11, 24)
    ledger = generate_ledger(today, customers=60, invoices=600, seed=5)
    actions = Planner(ledger, load_config(None, template_ids()), today).run()
    assert actions
    for action in actions:
        explanation = action.explanation
        assert json.dumps(explanation, default=jsonable) == json.dumps(jsonable(explanation))
