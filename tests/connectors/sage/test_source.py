"""The sage100 source against a Sage test database, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sage_db
from sage_support import TODAY, make_source
from sqlalchemy import Engine

from connectors.sage.source import WriteBack
from connectors.sources import Changes, Flag, SourceError
from core.model import Invoice

WRITE = WriteBack(reminder_level="Relance niveau", dispute="Litige")


def by_id(changes: Changes) -> dict[str, Invoice]:
    return {inv.id: inv for inv in changes.invoices}


def test_first_pull_reads_customers_only_with_dormant_and_no_reminder_ones_excluded(
    sage_url: str,
) -> None:
    changes = make_source(sage_url).pull(None)
    customers = {c.id: c for c in changes.customers}
    assert sorted(customers) == ["CANCIEN", "CBERNARD", "CDUPONT", "CLEROY", "CMARTINBTP"]
    assert customers["CLEROY"].excluded and customers["CANCIEN"].excluded
    assert not customers["CDUPONT"].excluded
    assert changes.full


def test_a_contact_marked_for_collections_receives_the_reminders(sage_url: str) -> None:
    customers = {c.id: c for c in make_source(sage_url).pull(None).customers}
    assert customers["CDUPONT"].emails == ("c.martin@dupont-industrie.example",)
    assert customers["CDUPONT"].phone == "06 00 00 00 57"
    assert customers["CDUPONT"].tags == frozenset({"collector:3"})
    assert customers["CBERNARD"].emails == ("compta@bernard-fils.example",)


def test_an_invoice_with_two_due_dates_is_two_invoices(sage_url: str) -> None:
    invoices = by_id(make_source(sage_url).pull(None))
    first, second = invoices["CDUPONT|FA00125|20261015"], invoices["CDUPONT|FA00125|20261115"]
    assert (first.number, first.due_date, first.open_amount) == (
        "FA00125 (1/2)",
        date(2026, 10, 15),
        Decimal("720.00"),
    )
    assert (second.number, second.due_date) == ("FA00125 (2/2)", date(2026, 11, 15))


def test_a_partial_payment_lettered_against_an_invoice_reduces_it(sage_url: str) -> None:
    invoice = by_id(make_source(sage_url).pull(None))["CDUPONT|FA00130|20261130"]
    assert (invoice.amount, invoice.open_amount) == (Decimal("1000.00"), Decimal("600.00"))


def test_unlettered_payments_and_credit_notes_are_credits(sage_url: str) -> None:
    invoices = by_id(make_source(sage_url).pull(None))
    credits = {i.number: i.open_amount for i in invoices.values() if i.kind == "credit_note"}
    assert credits == {"VIR DUPONT": Decimal("500.00"), "AV00012": Decimal("150.00")}
    dupont = [i for i in invoices.values() if i.customer_id == "CDUPONT"]
    owed = sum(i.open_amount for i in dupont if i.kind == "invoice")
    owed -= sum(i.open_amount for i in dupont if i.kind == "credit_note")
    assert owed == Decimal("1390.00")  # 720 + 720 + 600 - 500 - 150


def test_a_lettered_invoice_is_paid_on_the_payment_day(sage_url: str) -> None:
    invoice = by_id(make_source(sage_url).pull(None))["CDUPONT|FA00098|20260809"]
    assert (invoice.open_amount, invoice.paid_date) == (Decimal("0.00"), date(2026, 8, 8))


def test_an_opening_balance_copy_is_not_counted_twice(sage_url: str) -> None:
    bernard = [i for i in make_source(sage_url).pull(None).invoices if i.customer_id == "CBERNARD"]
    assert [(i.number, i.open_amount) for i in bernard] == [("FA00042", Decimal("2400.00"))]


def test_an_opening_line_alone_is_the_debt(sage_url: str, sage_engine: Engine) -> None:
    sage_db.remove(sage_engine, "F_ECRITUREC", EC_No=30042)  # last year purged
    bernard = [i for i in make_source(sage_url).pull(None).invoices if i.customer_id == "CBERNARD"]
    assert [(i.number, i.open_amount) for i in bernard] == [("FA00042", Decimal("2400.00"))]


def test_suppliers_and_general_accounts_are_not_read(sage_url: str) -> None:
    changes = make_source(sage_url).pull(None)
    assert {i.customer_id for i in changes.invoices} <= {c.id for c in changes.customers}
    assert not any(i.number == "F-2026-77" for i in changes.invoices)


def test_a_recovery_dossier_with_a_reason_is_a_dispute(sage_url: str) -> None:
    invoices = by_id(make_source(sage_url).pull(None))
    dispute = invoices["CMARTINBTP|FA00131|20261101"].dispute
    assert dispute is not None
    assert (dispute.reason, dispute.opened, dispute.closed) == (
        "Litige qualité",
        date(2026, 11, 5),
        None,
    )
    assert "Conteste livraison partielle" in dispute.note
    assert invoices["CMARTINBTP|FA00140|20261120"].dispute is None


def test_a_dossier_closed_in_sage_closes_the_dispute(sage_url: str, sage_engine: Engine) -> None:
    source = make_source(sage_url, overlap_minutes=0)
    first = source.pull(None)
    sage_db.change(
        sage_engine, "F_DRECOUVREMENT", {"DR_Num": "REC0007"}, DR_DateFin=datetime(2026, 11, 28)
    )
    dispute = by_id(source.pull(first.cursor))["CMARTINBTP|FA00131|20261101"].dispute
    assert dispute is not None and dispute.closed == date(2026, 11, 28)


def test_sage_reminder_levels_become_history_under_the_configured_plan(sage_url: str) -> None:
    reminders = {r.key: r for r in make_source(sage_url).pull(None).reminders}
    dupont = reminders["sage100:CDUPONT|FA00125|20261015:1"]
    assert (dupont.date, dupont.plan, [tuple(x) for x in dupont.invoices]) == (
        date(2026, 10, 22),
        "standard",
        [
            ("CDUPONT|FA00125|20261015", 2)
        ],  # Sage level 1 = the first reminder after the pre-due one
    )
    assert reminders["sage100:CBERNARD|FA00042|20251231:2"].invoices[0].step == 3
    assert len(reminders) == 2


def test_incremental_pull_sends_only_the_changed_accounts_again(
    sage_url: str, sage_engine: Engine
) -> None:
    source = make_source(sage_url, overlap_minutes=1)
    # Move the watermark past the fixture's rows (all written at sage_db.BASE).
    sage_db.change(sage_engine, "F_COMPTET", {"CT_Num": "CDUPONT"}, CT_Ville="LYON 3E")
    first = source.pull(None)
    later = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    sage_db.change(sage_engine, "F_ECRITUREC", {"EC_No": 41400}, EC_Lettre=1, EC_Lettrage="AC")
    sage_db.add(
        sage_engine,
        "F_ECRITUREC",
        [
            sage_db.line(
                43000, "CBERNARD", "FA00160", datetime(2026, 11, 25), "84", modified=later
            ),
            sage_db.line(
                43001,
                "CMARTINBTP",
                "VIR MARTIN",
                datetime(2026, 11, 26),
                "1200",
                sens=1,
                journal="BQ1",
                lettre=1,
                code="AC",
                modified=later,
            ),
        ],
    )
    second = source.pull(first.cursor)
    assert not second.full
    # CDUPONT changed within the overlap window: read again, harmlessly.
    assert {c.id for c in second.customers} == {"CBERNARD", "CMARTINBTP", "CDUPONT"}
    invoices = by_id(second)
    assert invoices["CMARTINBTP|FA00140|20261120"].open_amount == Decimal("0.00")
    assert invoices["CMARTINBTP|FA00140|20261120"].paid_date == date(2026, 11, 26)
    assert invoices["CBERNARD|FA00160|20261125"].open_amount == Decimal("84.00")


def test_pulling_the_same_changes_twice_gives_the_same_records(
    sage_url: str, sage_engine: Engine
) -> None:
    source = make_source(sage_url, overlap_minutes=30)
    first = source.pull(None)
    sage_db.change(sage_engine, "F_COMPTET", {"CT_Num": "CBERNARD"}, CT_EMail="b@bernard.example")
    again = source.pull(first.cursor)
    once_more = source.pull(first.cursor)
    assert again.customers == once_more.customers and again.invoices == once_more.invoices
    assert {c.id: c.emails for c in again.customers}["CBERNARD"] == ("b@bernard.example",)


def test_a_full_read_comes_back_after_the_period_and_leaves_deleted_lines_out(
    sage_url: str, sage_engine: Engine
) -> None:
    source = make_source(sage_url, full_every_hours=24)
    first = source.pull(None)
    sage_db.remove(sage_engine, "F_ECRITUREC", EC_No=41500)
    source.clock = lambda: TODAY + timedelta(hours=25)
    later = source.pull(first.cursor)
    assert later.full
    assert "CLEROY|FA00150|20261001" in by_id(first)
    assert "CLEROY|FA00150|20261001" not in by_id(later)


def test_refresh_reads_open_amounts_now_and_zero_for_gone_invoices(
    sage_url: str, sage_engine: Engine
) -> None:
    source = make_source(sage_url)
    sage_db.change(sage_engine, "F_ECRITUREC", {"EC_No": 41251}, EC_Lettre=1, EC_Lettrage="AD")
    fresh = source.refresh(["CDUPONT|FA00125|20261015", "CDUPONT|FA00125|20261115", "CX|F|1"])
    assert fresh == {
        "CDUPONT|FA00125|20261015": Decimal("720.00"),
        "CDUPONT|FA00125|20261115": Decimal("0.00"),
        "CX|F|1": Decimal("0.00"),
    }


def test_without_write_back_columns_nothing_is_written(sage_url: str, sage_engine: Engine) -> None:
    before = sage_db.rows(sage_engine, "F_COMPTET")
    flag = Flag("reminder_level", "CDUPONT|FA00125|20261015", 3, date(2026, 12, 2))
    assert make_source(sage_url).push([flag]) == []
    assert sage_db.rows(sage_engine, "F_COMPTET") == before


def test_write_back_lands_in_the_information_libre_columns_only(
    sage_url: str, sage_engine: Engine
) -> None:
    before = {r["CT_Num"]: r for r in sage_db.rows(sage_engine, "F_COMPTET")}
    lines_before = sage_db.rows(sage_engine, "F_ECRITUREC")
    flags = [
        Flag("reminder_level", "CDUPONT|FA00125|20261015", 3, date(2026, 12, 2)),
        Flag("reminder_level", "CDUPONT|FA00130|20261130", 2, date(2026, 12, 2)),
        Flag("dispute", "CMARTINBTP|FA00131|20261101", "Litige qualité", date(2026, 12, 2)),
        Flag("escalated", "CBERNARD|FA00042|20251231", True, date(2026, 12, 2)),  # no column
    ]
    written = make_source(sage_url, write_back=WRITE).push(flags)
    assert written == flags[:3]
    after = {r["CT_Num"]: r for r in sage_db.rows(sage_engine, "F_COMPTET")}
    assert after["CDUPONT"]["Relance niveau"] == "3"
    assert after["CMARTINBTP"]["Litige"] == "Litige qualité"
    untouched = ("Relance niveau", "Litige", "cbModification")
    for num, row in after.items():
        changed = {k for k in row if row[k] != before[num][k]}
        assert changed <= set(untouched), (num, changed)
        if num not in ("CDUPONT", "CMARTINBTP"):
            assert row == before[num]
    assert sage_db.rows(sage_engine, "F_ECRITUREC") == lines_before


def test_a_closed_dispute_empties_the_column_and_an_equal_value_is_not_rewritten(
    sage_url: str, sage_engine: Engine
) -> None:
    source = make_source(sage_url, write_back=WRITE)
    ref = "CMARTINBTP|FA00131|20261101"
    source.push([Flag("dispute", ref, "Litige qualité", date(2026, 12, 1))])
    stamp = {r["CT_Num"]: r for r in sage_db.rows(sage_engine, "F_COMPTET")}["CMARTINBTP"]
    source.push([Flag("dispute", ref, "Litige qualité", date(2026, 12, 1))])
    same = {r["CT_Num"]: r for r in sage_db.rows(sage_engine, "F_COMPTET")}["CMARTINBTP"]
    assert same == stamp  # not written again: cbModification unchanged
    source.push([Flag("dispute", ref, None, date(2026, 12, 2))])
    closed = {r["CT_Num"]: r for r in sage_db.rows(sage_engine, "F_COMPTET")}["CMARTINBTP"]
    assert closed["Litige"] == ""


def test_an_unreachable_server_is_a_transient_error(tmp_path: object) -> None:
    source = make_source("postgresql+psycopg2://relance@127.0.0.1:1/BIJOU")
    with pytest.raises(SourceError) as caught:
        source.pull(None)
    assert caught.value.kind == "transient"
    assert "127.0.0.1:1" in str(caught.value)


def test_a_database_that_is_not_sage_is_a_config_error(tmp_path: object) -> None:
    source = make_source(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(SourceError) as caught:
        source.pull(None)
    assert caught.value.kind == "config"
    assert "relance sage check" in str(caught.value)


def test_a_new_partial_payment_reduces_its_invoice_in_an_incremental_pull(
    sage_url: str, sage_engine: Engine
) -> None:
    source = make_source(sage_url, overlap_minutes=1)
    sage_db.change(sage_engine, "F_COMPTET", {"CT_Num": "CBERNARD"}, CT_Ville="BEAUNE")
    first = source.pull(None)
    later = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    payment = sage_db.line(
        43200, "CDUPONT", "VIR DUPONT 3", datetime(2026, 11, 28), "250", sens=1, journal="BQ1"
    )
    sage_db.add(
        sage_engine, "F_ECRITUREC", [{**payment, "EC_Lettrage": "ab", "cbModification": later}]
    )
    invoices = by_id(source.pull(first.cursor))
    # Only the payment line changed; the invoice it is lettered with is read with it.
    assert invoices["CDUPONT|FA00130|20261130"].open_amount == Decimal("350.00")
    assert not any(i.number == "VIR DUPONT 3" for i in invoices.values())


def test_the_cursor_moves_to_the_latest_line_change_read_and_never_back(
    sage_url: str, sage_engine: Engine
) -> None:
    """An incremental pull takes the lines' part of its watermark from the changed lines
    it reads (no scan of every line for it): the next pull starts from the latest one."""
    source = make_source(sage_url, overlap_minutes=1)
    # Move the watermark past the fixture's rows (all written at sage_db.BASE).
    sage_db.change(sage_engine, "F_COMPTET", {"CT_Num": "CDUPONT"}, CT_Ville="LYON 3E")
    first = source.pull(None)
    later = datetime.now(UTC).replace(microsecond=0, tzinfo=None) + timedelta(days=1)
    line = sage_db.line(43300, "CBERNARD", "FA00170", datetime(2026, 11, 27), "60", modified=later)
    sage_db.add(sage_engine, "F_ECRITUREC", [line])
    second = source.pull(first.cursor)
    assert json.loads(second.cursor or "")["since"] == later.isoformat()
    assert by_id(second)["CBERNARD|FA00170|20261127"].open_amount == Decimal("60.00")
    third = source.pull(second.cursor)  # the same line again (overlap), the cursor stays
    assert json.loads(third.cursor or "")["since"] == later.isoformat()
    assert {i.id for i in third.invoices} == {i.id for i in second.invoices}
    assert {c.id for c in third.customers} == {"CBERNARD"}


def test_lines_entered_after_a_first_read_of_an_empty_database_are_read_next(
    tmp_path: object,
) -> None:
    """A company set up before its first entries: the next pull reads what was
    entered since, instead of starting from it."""
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path}/new.db"
    engine = create_engine(url)
    sage_db.create_schema(engine)
    sage_db.add(engine, "cbSysLibre", sage_db.LIBRE_ROWS)
    source = make_source(url)
    first = source.pull(None)
    assert not first.invoices
    sage_db.add(engine, "F_COMPTET", [sage_db.customer("CNEUF", "Client Neuf")])
    sage_db.add(
        engine,
        "F_ECRITUREC",
        [
            sage_db.line(
                1, "CNEUF", "FA00001", datetime(2026, 11, 20), "120", due=datetime(2026, 12, 20)
            )
        ],
    )
    second = source.pull(first.cursor)
    engine.dispose()
    assert [c.id for c in second.customers] == ["CNEUF"]
    assert [i.number for i in second.invoices] == ["FA00001"]
