"""The subset of Sage 100's SQL Server schema the connector reads, as SQLAlchemy Core tables.

Column names and types are Sage's own (/work/shared/reference/sage.md, section A2):
strings are ``varchar``, amounts ``numeric(24,6)``, dates ``datetime``, flags and
enums ``smallint``; every table has ``cbMarq`` (int identity, primary key) and
``cbModification`` (datetime, bumped by Sage's triggers on every change).

Sage's computed ``cb<Col>`` varbinary columns and ``cbHash*`` are left out: the
connector never selects or writes them.  Information libre columns are physical
columns of ``F_COMPTET`` named after their label; ``comptet_table(libres)`` adds
the configured ones to a table of the source's own.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
)

__all__ = [
    "CB_SYS_LIBRE",
    "COMPTET_COLUMNS",
    "F_COMPTET",
    "F_CONTACTT",
    "F_DRECOUVREMENT",
    "F_DRECOUVREMENTEC",
    "F_ECRITUREC",
    "LIBRE_LENGTH",
    "P_LITIGE",
    "READ_TABLES",
    "comptet_table",
]

metadata = MetaData()
AMOUNT = Numeric(24, 6)
LIBRE_LENGTH = 69  # a "Texte" information libre is a varchar(69)


def _housekeeping() -> list[Column[object]]:
    """The columns every Sage table has (cbMarq identity, cbModification, ...)."""
    return [
        Column("cbMarq", Integer, primary_key=True, autoincrement=True),
        Column("cbCreateur", String(4)),
        Column("cbModification", DateTime),
        Column("cbCreation", DateTime),
        Column("cbProt", SmallInteger),
        Column("cbReplication", Integer),
        Column("cbFlag", SmallInteger),
    ]


def _comptet_columns() -> list[Column[object]]:
    return [
        Column("CT_Num", String(17), nullable=False, unique=True),
        Column("CT_Intitule", String(69)),
        Column("CT_Type", SmallInteger),
        Column("CG_NumPrinc", String(13)),
        Column("CT_Adresse", String(35)),
        Column("CT_Complement", String(35)),
        Column("CT_CodePostal", String(9)),
        Column("CT_Ville", String(35)),
        Column("CT_Pays", String(35)),
        Column("CT_Telephone", String(21)),
        Column("CT_Telecopie", String(21)),
        Column("CT_EMail", String(69)),
        Column("CT_Site", String(69)),
        Column("CT_Contact", String(35)),
        Column("CT_Siret", String(15)),
        Column("CT_Identifiant", String(25)),
        Column("CT_Sommeil", SmallInteger),
        Column("CT_NotRappel", SmallInteger),
        Column("CT_NotPenal", SmallInteger),
        Column("CT_Encours", AMOUNT),
        Column("N_Risque", SmallInteger),
        Column("CT_NumPayeur", String(17)),
        Column("CO_No", Integer),
        *_housekeeping(),
    ]


COMPTET_COLUMNS: tuple[str, ...] = tuple(c.name for c in _comptet_columns())
F_COMPTET = Table("F_COMPTET", metadata, *_comptet_columns())

F_CONTACTT = Table(
    "F_CONTACTT",
    metadata,
    Column("CT_Num", String(17)),
    Column("CT_No", Integer),
    Column("CT_Civilite", SmallInteger),
    Column("CT_Nom", String(35)),
    Column("CT_Prenom", String(35)),
    Column("CT_Fonction", String(35)),
    Column("N_Service", SmallInteger),
    Column("CT_Telephone", String(21)),
    Column("CT_TelPortable", String(21)),
    Column("CT_Telecopie", String(21)),
    Column("CT_EMail", String(69)),
    Column("N_Contact", SmallInteger),
    *_housekeeping(),
)

F_ECRITUREC = Table(
    "F_ECRITUREC",
    metadata,
    Column("EC_No", Integer, unique=True),
    Column("JO_Num", String(7)),
    Column("JM_Date", DateTime),
    Column("EC_Jour", SmallInteger),
    Column("EC_Date", DateTime),
    Column("EC_Piece", String(13)),
    Column("EC_RefPiece", String(17)),
    Column("EC_Reference", String(17)),
    Column("CG_Num", String(13)),
    Column("CT_Num", String(17)),
    Column("EC_Intitule", String(69)),
    Column("N_Reglement", SmallInteger),
    Column("EC_Echeance", DateTime),
    Column("EC_Sens", SmallInteger),
    Column("EC_Montant", AMOUNT),
    Column("EC_Lettre", SmallInteger),
    Column("EC_Lettrage", String(5)),
    Column("EC_Point", SmallInteger),
    Column("EC_Pointage", String(5)),
    Column("EC_Rappel", SmallInteger),
    Column("EC_DateRelance", DateTime),
    Column("EC_Cloture", SmallInteger),
    Column("EC_NoCloture", Integer),
    Column("EC_ANType", SmallInteger),
    *_housekeeping(),
)

F_DRECOUVREMENT = Table(
    "F_DRECOUVREMENT",
    metadata,
    Column("DR_Num", String(17)),
    Column("CT_Num", String(17)),
    Column("DR_Statut", SmallInteger),
    Column("DR_Priorite", SmallInteger),
    Column("DR_DateDebut", DateTime),
    Column("DR_DateFin", DateTime),
    Column("N_Litige", SmallInteger),
    Column("DR_Resume", String(69)),
    Column("CO_No", Integer),
    Column("CT_No", Integer),
    *_housekeeping(),
)

F_DRECOUVREMENTEC = Table(
    "F_DRECOUVREMENTEC",
    metadata,
    Column("DR_Num", String(17)),
    Column("EC_No", Integer),
    Column("EC_DateTiersDouteux", DateTime),
    *_housekeeping(),
)

P_LITIGE = Table(
    "P_LITIGE",
    metadata,
    Column("L_Intitule", String(35)),
    Column("cbIndice", SmallInteger),
    *_housekeeping(),
)

CB_SYS_LIBRE = Table(
    "cbSysLibre",
    metadata,
    Column("CB_File", String(35)),
    Column("CB_Name", String(35)),
    Column("CB_Pos", SmallInteger),
    Column("CB_Type", SmallInteger),
    Column("CB_Len", SmallInteger),
    Column("CB_Formule", String(255)),
    Column("cbMarq", Integer, primary_key=True, autoincrement=True),
)

# What `relance sage check` proves the login can read.
READ_TABLES: tuple[Table, ...] = (
    F_COMPTET,
    F_CONTACTT,
    F_ECRITUREC,
    F_DRECOUVREMENT,
    F_DRECOUVREMENTEC,
    P_LITIGE,
    CB_SYS_LIBRE,
)


def comptet_table(libres: Iterable[str], *, into: MetaData | None = None) -> Table:
    """``F_COMPTET`` with these information libre columns (text, like Sage's "Texte" type)."""
    return Table(
        "F_COMPTET",
        into or MetaData(),
        *_comptet_columns(),
        *(Column(name, String(LIBRE_LENGTH)) for name in libres),
    )
