"""Every statement the Sage 100 connector sends, built with SQLAlchemy Core.

Nothing else in ``connectors.sage`` writes SQL: the tests compile each of these
for the ``mssql`` dialect and compare it with a committed snapshot, so what runs
against SQL Server is SQL the tests have seen (tests/connectors/sage/snapshots/).
Lists of accounts go through one expanding parameter, sent in chunks of at most
``IN_CHUNK`` values (SQL Server takes 2,100 parameters per statement).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.sql import CompoundSelect, TextClause

from connectors.sage.schema import (
    CB_SYS_LIBRE,
    F_COMPTET,
    F_CONTACTT,
    F_DRECOUVREMENT,
    F_DRECOUVREMENTEC,
    F_ECRITUREC,
    P_LITIGE,
)

IN_CHUNK = 1000
PAIR_CHUNK = 300  # (account, piece or code) pairs per statement: at most 900 parameters
CUSTOMER = 0  # CT_Type 0: client

C, K, E = F_COMPTET.c, F_CONTACTT.c, F_ECRITUREC.c
D, DE, L = F_DRECOUVREMENT.c, F_DRECOUVREMENTEC.c, P_LITIGE.c


def _accounts(accounts: Sequence[str], table: Any = F_ECRITUREC) -> ColumnElement[bool]:
    """Lines of the configured general accounts (411...)."""
    return or_(*(table.c.CG_Num.like(f"{prefix}%") for prefix in accounts))


def _some(column: ColumnElement[str]) -> ColumnElement[bool]:
    """Only the Sage accounts (CT_Num) given as the ``accounts`` parameter."""
    return column.in_(bindparam("accounts", expanding=True))


def watermark(*, lines: bool = True) -> Select[tuple[datetime | None, ...]]:
    """The latest cbModification of each table read: the next pull starts from there.

    ``lines=False`` leaves F_ECRITUREC out (a scan of every line: an incremental pull
    takes the latest change of the lines it reads instead)."""
    tables: tuple[Table, ...] = (
        F_COMPTET,
        F_CONTACTT,
        F_ECRITUREC,
        F_DRECOUVREMENT,
        F_DRECOUVREMENTEC,
    )
    if not lines:
        tables = tuple(t for t in tables if t is not F_ECRITUREC)
    return select(
        *(select(func.max(t.c.cbModification)).scalar_subquery().label(t.name) for t in tables)
    )


def customers(*, some: bool) -> Select[tuple[object, ...]]:
    query = select(
        C.CT_Num,
        C.CT_Intitule,
        C.CT_EMail,
        C.CT_Telephone,
        C.CT_Sommeil,
        C.CT_NotRappel,
        C.CT_Encours,
        C.CO_No,
        C.cbCreation,
    ).where(C.CT_Type == CUSTOMER)
    return query.where(_some(C.CT_Num)) if some else query


def contacts(*, some: bool) -> Select[tuple[object, ...]]:
    query = (
        select(
            K.CT_Num,
            K.CT_No,
            K.CT_Fonction,
            K.N_Service,
            K.CT_EMail,
            K.CT_Telephone,
            K.CT_TelPortable,
        )
        .join(F_COMPTET, C.CT_Num == K.CT_Num)
        .where(C.CT_Type == CUSTOMER)
        .order_by(K.CT_Num, K.CT_No)
    )
    return query.where(_some(K.CT_Num)) if some else query


LINE_COLUMNS = (
    E.cbMarq,
    E.EC_No,
    E.JO_Num,
    E.JM_Date,
    E.EC_Jour,
    E.EC_Date,
    E.EC_Piece,
    E.EC_RefPiece,
    E.CT_Num,
    E.EC_Echeance,
    E.EC_Sens,
    E.EC_Montant,
    E.EC_Lettre,
    E.EC_Lettrage,
    E.EC_Rappel,
    E.EC_DateRelance,
    E.EC_ANType,
    E.cbModification,
)


def _open_lines(accounts: Sequence[str]) -> Select[tuple[object, ...]]:
    """Customer-account lines: every unlettered one, and the lettered ones changed
    since ``:cutoff`` (to see invoices paid recently)."""
    return (
        select(*LINE_COLUMNS)
        .join(F_COMPTET, C.CT_Num == E.CT_Num)
        .where(
            C.CT_Type == CUSTOMER,
            _accounts(accounts),
            or_(E.EC_Lettre == 0, E.cbModification >= bindparam("cutoff")),
        )
        .order_by(E.cbModification, E.cbMarq)
    )


def piece_lines(accounts: Sequence[str]) -> Select[tuple[object, ...]]:
    """The lines of some pieces or lettering codes of some accounts (a superset: the
    caller keeps the (account, piece) and (account, code) pairs it asked for)."""
    return _open_lines(accounts).where(
        E.CT_Num.in_(bindparam("accounts", expanding=True)),
        or_(
            E.EC_RefPiece.in_(bindparam("refs", expanding=True)),
            E.EC_Piece.in_(bindparam("refs", expanding=True)),
            E.EC_Lettrage.in_(bindparam("codes", expanding=True)),
        ),
    )


def _piece_of(table: Any) -> ColumnElement[str]:
    """The piece a line belongs to: EC_RefPiece, else EC_Piece."""
    return func.coalesce(func.nullif(table.c.EC_RefPiece, ""), table.c.EC_Piece)


def lines_of_changes(accounts: Sequence[str]) -> Select[tuple[object, ...]]:
    """Every line of the pieces that have a line changed since ``:since``, and every line
    sharing a lettering code with such a line: one semi-join of the lines with the
    changed ones (a scan of each, hashed on the account), whatever the number of changes."""
    changed = F_ECRITUREC.alias("changed")
    code = changed.c.EC_Lettrage
    partner = exists().where(
        changed.c.cbModification >= bindparam("since"),
        changed.c.CT_Num == E.CT_Num,
        _accounts(accounts, changed),
        or_(
            _piece_of(changed) == _piece_of(F_ECRITUREC),
            and_(code.is_not(None), code != "", code == E.EC_Lettrage),
        ),
    )
    return _open_lines(accounts).where(partner)


def lines(accounts: Sequence[str], *, some: bool) -> Select[tuple[object, ...]]:
    """``_open_lines`` of every account, or of the ``accounts`` parameter."""
    query = _open_lines(accounts)
    return query.where(_some(E.CT_Num)) if some else query


def disputes(*, some: bool) -> Select[tuple[object, ...]]:
    """Lines in a recovery dossier that has a dispute reason (N_Litige -> P_LITIGE)."""
    query = (
        select(
            DE.EC_No,
            D.DR_Num,
            D.DR_DateDebut,
            D.DR_DateFin,
            D.DR_Resume,
            D.N_Litige,
            L.L_Intitule,
        )
        .join(F_DRECOUVREMENTEC, DE.DR_Num == D.DR_Num)
        .outerjoin(P_LITIGE, L.cbIndice == D.N_Litige)
        .where(D.N_Litige > 0)
        .order_by(D.DR_DateDebut, D.cbMarq)
    )
    return query.where(_some(D.CT_Num)) if some else query


def changed_accounts() -> CompoundSelect[tuple[str]]:
    """Accounts whose customer record or contacts changed since ``:since``."""
    since: BindParameter[datetime] = bindparam("since")
    return union(
        select(C.CT_Num).where(C.cbModification >= since),
        select(K.CT_Num).where(K.cbModification >= since),
    )


def changed_dossiers() -> CompoundSelect[tuple[str]]:
    """Accounts whose recovery dossiers (or their lines) changed since ``:since``."""
    since: BindParameter[datetime] = bindparam("since")
    return union(
        select(D.CT_Num).where(D.cbModification >= since),
        select(D.CT_Num)
        .join(F_DRECOUVREMENTEC, DE.DR_Num == D.DR_Num)
        .where(DE.cbModification >= since),
    )


def libre_names() -> Select[tuple[object, ...]]:
    """The information libre fields defined on F_COMPTET (cbSysLibre)."""
    S = CB_SYS_LIBRE.c
    return select(S.CB_Name, S.CB_Type, S.CB_Len).where(S.CB_File == "F_COMPTET").order_by(S.CB_Pos)


def libre_values(table: Table, columns: Sequence[str]) -> Select[tuple[object, ...]]:
    """The current write-back values of some customers, keyed by cbMarq."""
    return select(table.c.cbMarq, table.c.CT_Num, *(table.c[name] for name in columns)).where(
        table.c.CT_Type == CUSTOMER, _some(table.c.CT_Num)
    )


def write_libres(table: Table, columns: Sequence[str]) -> Update:
    """Set the information libre columns of one customer row (by cbMarq): nothing else."""
    return (
        update(table)
        .where(table.c.cbMarq == bindparam("marq"))
        .values({name: bindparam(f"v{index}") for index, name in enumerate(columns)})
    )


def probe(table: Table) -> Select[Any]:
    """One row of a table: proves the login may read it."""
    return select(literal(1)).select_from(table).limit(1)


def probe_column(table: Table, column: str) -> Select[Any]:
    return select(table.c[column]).where(false())


def can_update_mssql() -> TextClause:
    """SQL Server's own answer to "may this login UPDATE this column?" (nothing is written)."""
    return text("SELECT HAS_PERMS_BY_NAME(:object, 'OBJECT', 'UPDATE', :column, 'COLUMN')")


def can_update_postgresql() -> TextClause:
    return text("SELECT has_column_privilege(:object, :column, 'UPDATE')")


def noop_update(table: Table, column: str) -> Update:
    """An UPDATE that touches no row, run in a rolled-back transaction (SQLite's check)."""
    return update(table).where(and_(false())).values({column: table.c[column]})
