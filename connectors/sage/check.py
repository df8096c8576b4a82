"""``relance sage check``: what the daemon's login can do in the Sage database.

Checks, in order, and says what it found: the connection; SELECT on every table
read; the configured information libre columns (defined in cbSysLibre for
F_COMPTET, and physically present); UPDATE on exactly those columns; whether the
login could also change other columns (it should not: grant column by column).
Nothing is written: SQL Server and PostgreSQL are asked about the permission
(HAS_PERMS_BY_NAME, has_column_privilege); elsewhere an UPDATE of no row is run
in a transaction that is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Table
from sqlalchemy.exc import SQLAlchemyError

from connectors.sage import queries
from connectors.sage.schema import READ_TABLES
from connectors.sage.source import Sage100Source, database_error, safe_url
from connectors.sources import SourceError

__all__ = ["CheckReport", "check_source"]

NATIVE_PROBE = "CT_Intitule"  # a native column the daemon must not be able to change


@dataclass
class CheckReport:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def found(self, text: str) -> None:
        self.lines.append(f"ok: {text}")

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.lines.append(f"error: {text}")

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self.lines.append(f"warning: {text}")


def check_source(source: Sage100Source) -> CheckReport:
    report = CheckReport()
    where = safe_url(source.options.url)
    try:
        connection = source.engine.connect()
    except SourceError as error:
        report.problem(str(error))
        return report
    except SQLAlchemyError as error:
        report.problem(str(database_error(error, "connecting", source.options.url)))
        return report
    with connection:
        report.found(f"connected to {where} ({connection.dialect.name})")
        readable = _reads(connection, report)
        columns = source.options.write_back.columns()
        if not columns:
            report.found("write-back is off (no [write_back] columns configured): read-only")
            return report
        if "F_COMPTET" in readable and "cbSysLibre" in readable:
            present = _libres(connection, source, list(columns.values()), report)
            if present:
                _writes(connection, source.comptet, present, report)
    return report


def _reads(connection: Connection, report: CheckReport) -> set[str]:
    readable: set[str] = set()
    for table in READ_TABLES:
        try:
            with connection.begin():
                connection.execute(queries.probe(table)).all()
        except SQLAlchemyError as error:
            report.problem(
                f"cannot read {table.name}: {_short(error)} "
                f"(GRANT SELECT ON dbo.{table.name} TO <login>)"
            )
            continue
        readable.add(table.name)
    if len(readable) == len(READ_TABLES):
        report.found(f"can read {', '.join(t.name for t in READ_TABLES)}")
    return readable


def _libres(
    connection: Connection, source: Sage100Source, wanted: list[str], report: CheckReport
) -> list[str]:
    with connection.begin():
        defined = {str(row.CB_Name).strip() for row in connection.execute(queries.libre_names())}
    present: list[str] = []
    for name in wanted:
        if name not in defined:
            known = ", ".join(sorted(defined)) or "none"
            report.problem(
                f"information libre '{name}' is not defined on F_COMPTET in cbSysLibre "
                f"(defined: {known}); create it in Sage (Paramètres société > Informations libres)"
            )
            continue
        try:
            with connection.begin():
                connection.execute(queries.probe_column(source.comptet, name)).all()
        except SQLAlchemyError as error:
            report.problem(f"column F_COMPTET.[{name}] cannot be read: {_short(error)}")
            continue
        present.append(name)
        report.found(f"information libre '{name}' exists on F_COMPTET")
    return present


def _writes(connection: Connection, table: Table, names: list[str], report: CheckReport) -> None:
    for name in names:
        if _may_update(connection, table, name):
            report.found(f"may UPDATE F_COMPTET.[{name}]")
        else:
            report.problem(
                f"the login may not UPDATE F_COMPTET.[{name}]: "
                f"GRANT UPDATE ([{name}]) ON dbo.F_COMPTET TO <login>"
            )
    if _may_update(connection, table, NATIVE_PROBE):
        report.warn(
            f"the login may also UPDATE F_COMPTET.{NATIVE_PROBE} (a Sage column): grant UPDATE "
            f"on the information libre columns only, and db_datareader for the rest"
        )


def _may_update(connection: Connection, table: Table, column: str) -> bool:
    dialect = connection.dialect.name
    try:
        with connection.begin() as transaction:
            if dialect == "mssql":
                params = {"object": f"dbo.{table.name}", "column": column}
                return bool(connection.execute(queries.can_update_mssql(), params).scalar())
            if dialect == "postgresql":
                params = {"object": f'"{table.name}"', "column": column}
                return bool(connection.execute(queries.can_update_postgresql(), params).scalar())
            connection.execute(queries.noop_update(table, column))
            transaction.rollback()
            return True
    except SQLAlchemyError:
        return False


def _short(error: SQLAlchemyError) -> str:
    cause = getattr(error, "orig", None) or error
    return " ".join(str(cause).split())[:200]
