"""Production SQL is SQL the tests have seen.

Every statement the source and `relance sage check` send while running against
the test database is compiled again for the ``mssql`` dialect (what
``mssql+pymssql`` runs) and must be, word for word, one of the statements of
snapshots/mssql.sql; the snapshot holds nothing that no run sends.  After a
deliberate change of a query: RELANCE_UPDATE_SNAPSHOTS=1 pytest this file, and
review the diff of the snapshot.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sage_support import make_source
from sqlalchemy import event
from sqlalchemy.dialects import mssql
from sqlalchemy.sql import ClauseElement

from connectors.sage import queries
from connectors.sage.check import check_source
from connectors.sage.source import WriteBack
from connectors.sources import Flag

SNAPSHOT = Path(__file__).parent / "snapshots" / "mssql.sql"
SEPARATOR = "\n;\n"


def as_mssql(statement: ClauseElement) -> str:
    return str(statement.compile(dialect=mssql.dialect())).strip()


def sent_by_a_full_run(url: str) -> set[str]:
    """Pull (full, then incremental), refresh, push and check, recording every statement."""
    seen: set[str] = set()
    source = make_source(url, write_back=WriteBack("Relance niveau", "Litige", None))

    def record(conn: Any, clause: ClauseElement, *args: Any) -> None:
        seen.add(as_mssql(clause))

    event.listen(source.engine, "before_execute", record)
    first = source.pull(None)
    source.pull(first.cursor)
    source.refresh(["CDUPONT|FA00125|20261015"])
    source.push([Flag("reminder_level", "CDUPONT|FA00125|20261015", 2, date(2026, 12, 2))])
    assert check_source(source).ok
    # Asked of SQL Server only (the test databases answer the same question otherwise).
    seen.add(as_mssql(queries.can_update_mssql()))
    return seen


@pytest.fixture
def sqlite_sage(tmp_path: Path) -> str:
    import sage_db
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'sage.db'}"
    engine = create_engine(url)
    sage_db.build(engine)
    engine.dispose()
    return url


def test_every_statement_sent_is_in_the_mssql_snapshot(sqlite_sage: str) -> None:
    seen = sent_by_a_full_run(sqlite_sage)
    if os.environ.get("RELANCE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(SEPARATOR.join(sorted(seen)) + "\n", encoding="utf-8")
    known = set(SNAPSHOT.read_text(encoding="utf-8").strip().split(SEPARATOR))
    assert sorted(seen - known) == [], "statements not in the snapshot (see the module docstring)"
    assert sorted(known - seen) == [], "snapshot statements no run sends any more"


def test_the_snapshot_is_t_sql_with_bracket_quoting_and_named_parameters() -> None:
    text = SNAPSHOT.read_text(encoding="utf-8")
    assert "[Relance niveau]" in text  # a column name with a space, quoted the T-SQL way
    assert "TOP" in text  # LIMIT rendered as SQL Server does
    assert "LIMIT" not in text and '"' not in text
