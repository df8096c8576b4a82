"""Contract suite against a real Sage 100 SQL Server database (skipped unless configured).

For Sage partners and pilot customers: run it against a COPY of a dossier (or
Sage's BIJOU demo company), from the machine the daemon will run on:

    RELANCE_SAGE_TEST_URL='mssql+pymssql://relance_ro@srv-sage:1433/BIJOU' \
    RELANCE_SAGE_TEST_PASSWORD='...' \
    .venv/bin/pytest tests/connectors/sage/test_contract_sqlserver.py -v

It only reads, unless RELANCE_SAGE_TEST_WRITE names an information libre column of
F_COMPTET (for example "Relance niveau"): then one customer's value in that column
is written and put back.  See docs/sage.md, "Contract suite".
"""

from __future__ import annotations

import os
from datetime import date

import pytest
from sqlalchemy import inspect

from connectors.sage import queries
from connectors.sage.check import check_source
from connectors.sage.schema import READ_TABLES
from connectors.sage.source import Sage100Source, SageOptions, WriteBack
from connectors.sources import Flag

URL = os.environ.get("RELANCE_SAGE_TEST_URL")
WRITE = os.environ.get("RELANCE_SAGE_TEST_WRITE")
pytestmark = pytest.mark.skipif(
    not URL,
    reason="no SQL Server: set RELANCE_SAGE_TEST_URL (and RELANCE_SAGE_TEST_PASSWORD) to run "
    "the Sage 100 contract suite (docs/sage.md)",
)


@pytest.fixture(scope="module")
def source() -> Sage100Source:
    assert URL
    write = WriteBack(reminder_level=WRITE) if WRITE else WriteBack()
    options = SageOptions(
        url=URL, password=os.environ.get("RELANCE_SAGE_TEST_PASSWORD"), write_back=write
    )
    return Sage100Source(options)


def test_every_column_the_connector_names_exists_in_the_real_schema(source: Sage100Source) -> None:
    inspector = inspect(source.engine)
    missing = []
    for table in READ_TABLES:
        real = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in real]
    assert missing == []


def test_check_finds_the_read_permissions(source: Sage100Source) -> None:
    report = check_source(source)
    assert report.ok, "\n".join(report.lines)


def test_a_full_pull_reads_customers_and_open_items(source: Sage100Source) -> None:
    changes = source.pull(None)
    assert changes.full and changes.customers
    ids = {c.id for c in changes.customers}
    assert {i.customer_id for i in changes.invoices} <= ids
    assert all(i.open_amount >= 0 for i in changes.invoices)


def test_an_incremental_pull_right_after_is_small(source: Sage100Source) -> None:
    first = source.pull(None)
    again = source.pull(first.cursor)
    assert not again.full
    assert len(again.invoices) <= len(first.invoices)


def test_refresh_agrees_with_the_pull(source: Sage100Source) -> None:
    changes = source.pull(None)
    some = [i.id for i in changes.invoices if i.kind == "invoice" and i.open_amount > 0][:20]
    fresh = source.refresh(some)
    expected = {i.id: i.open_amount for i in changes.invoices if i.id in some}
    assert fresh == expected  # nothing posted in between: run it outside office hours


@pytest.mark.skipif(not WRITE, reason="set RELANCE_SAGE_TEST_WRITE to test the write-back")
def test_write_back_writes_the_column_and_puts_it_back(source: Sage100Source) -> None:
    assert WRITE
    changes = source.pull(None)
    invoice = next(i for i in changes.invoices if i.kind == "invoice")
    account = invoice.customer_id

    def value() -> object:
        with source.engine.connect() as connection:
            rows = connection.execute(
                queries.libre_values(source.comptet, [WRITE]), {"accounts": [account]}
            ).all()
        return rows[0][2]

    original = value()
    try:
        assert source.push([Flag("reminder_level", invoice.id, 9, date.today())])
        assert value() == "9"
    finally:
        with source.engine.begin() as connection:
            marq = connection.execute(
                queries.libre_values(source.comptet, [WRITE]), {"accounts": [account]}
            ).all()[0][0]
            connection.execute(
                queries.write_libres(source.comptet, [WRITE]), {"marq": marq, "v0": original}
            )
