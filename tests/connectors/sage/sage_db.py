"""A faithful subset of a Sage 100 company database, built for the tests (no SQL Server here).

The tables are the connector's own definitions (exact Sage names and types), with
two information libre columns on F_COMPTET declared in cbSysLibre, plus what Sage's
server does for us: ``cbMarq`` is an identity, and a trigger sets
``cbModification`` on every UPDATE (seconds precision, like Sage's datetime2(0)).
The data is fictitious and French (sage.md section E, extended).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, MetaData, Table, insert, select, update

from connectors.sage.schema import (
    CB_SYS_LIBRE,
    F_CONTACTT,
    F_DRECOUVREMENT,
    F_DRECOUVREMENTEC,
    F_ECRITUREC,
    P_LITIGE,
    comptet_table,
)

LIBRES = ("Relance niveau", "Litige")
TRACKED = ("F_COMPTET", "F_CONTACTT", "F_ECRITUREC", "F_DRECOUVREMENT", "F_DRECOUVREMENTEC")
BASE = datetime(2026, 11, 20, 10, 0, 0)
NONE = datetime(1900, 1, 1)
NONE_1753 = datetime(1753, 1, 1)

metadata = MetaData()
COMPTET = comptet_table(LIBRES, into=metadata)
TABLES: tuple[Table, ...] = (
    COMPTET,
    *(
        t.to_metadata(metadata)
        for t in (
            F_CONTACTT,
            F_ECRITUREC,
            F_DRECOUVREMENT,
            F_DRECOUVREMENTEC,
            P_LITIGE,
            CB_SYS_LIBRE,
        )
    ),
)
T = {t.name: t for t in TABLES}


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        for name in TRACKED:
            for statement in _trigger(engine.dialect.name, name):
                connection.exec_driver_sql(statement)


def _trigger(dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f'CREATE TRIGGER "TG_CBUPD_{table}" AFTER UPDATE ON "{table}" FOR EACH ROW '
            f'WHEN NEW."cbModification" IS OLD."cbModification" BEGIN '
            f'UPDATE "{table}" SET "cbModification" = '
            f"strftime('%Y-%m-%d %H:%M:%S.000000', 'now') "
            f'WHERE "cbMarq" = NEW."cbMarq"; END'
        ]
    return [
        f'CREATE OR REPLACE FUNCTION "tg_cbupd_{table}"() RETURNS trigger AS $$ BEGIN '
        f"NEW.\"cbModification\" := date_trunc('second', timezone('UTC', now())); "
        f"RETURN NEW; END $$ LANGUAGE plpgsql",
        f'CREATE TRIGGER "TG_CBUPD_{table}" BEFORE UPDATE ON "{table}" FOR EACH ROW '
        f'EXECUTE FUNCTION "tg_cbupd_{table}"()',
    ]


def customer(num: str, name: str, **values: Any) -> dict[str, Any]:
    row = {
        "CT_Num": num,
        "CT_Intitule": name,
        "CT_Type": 0,
        "CG_NumPrinc": "4110000",
        "CT_Ville": "",
        "CT_Telephone": "",
        "CT_EMail": "",
        "CT_Sommeil": 0,
        "CT_NotRappel": 0,
        "CT_NotPenal": 0,
        "CT_Encours": Decimal("0"),
        "CO_No": 0,
        "cbCreateur": "COLU",
        "cbCreation": datetime(2024, 3, 1, 9, 0),
        "cbModification": BASE,
        "Relance niveau": "",
        "Litige": "",
    }
    row.update(values)
    return row


def line(
    ec_no: int,
    num: str | None,
    ref: str,
    day: datetime,
    amount: str,
    *,
    sens: int = 0,
    due: datetime = NONE,
    journal: str = "VTE",
    account: str = "4110000",
    lettre: int = 0,
    code: str = "",
    rappel: int = 0,
    relance: datetime = NONE,
    an: int = 0,
    modified: datetime = BASE,
    piece: str | None = None,
) -> dict[str, Any]:
    return {
        "EC_No": ec_no,
        "JO_Num": journal,
        "JM_Date": day.replace(day=1),
        "EC_Jour": day.day,
        "EC_Date": day,
        "EC_Piece": piece or f"{journal}{ec_no % 10000:04d}",
        "EC_RefPiece": ref,
        "EC_Reference": "",
        "CG_Num": account,
        "CT_Num": num,
        "EC_Intitule": f"{ref} {num or ''}".strip(),
        "N_Reglement": 2,
        "EC_Echeance": due,
        "EC_Sens": sens,
        "EC_Montant": Decimal(amount),
        "EC_Lettre": lettre,
        "EC_Lettrage": code,
        "EC_Point": 0,
        "EC_Pointage": "",
        "EC_Rappel": rappel,
        "EC_DateRelance": relance,
        "EC_Cloture": 0,
        "EC_NoCloture": 0,
        "EC_ANType": an,
        "cbCreateur": "COLU",
        "cbCreation": modified,
        "cbModification": modified,
    }


def contact(
    num: str, no: int, name: str, first: str, function: str, **values: Any
) -> dict[str, Any]:
    row = {
        "CT_Num": num,
        "CT_No": no,
        "CT_Civilite": 0,
        "CT_Nom": name,
        "CT_Prenom": first,
        "CT_Fonction": function,
        "N_Service": 0,
        "CT_Telephone": "",
        "CT_TelPortable": "",
        "CT_EMail": "",
        "cbModification": BASE,
    }
    row.update(values)
    return row


def d(text: str) -> datetime:
    return datetime.fromisoformat(text)


CUSTOMERS = [
    customer(
        "CDUPONT",
        "DUPONT INDUSTRIE SAS",
        CT_Ville="LYON",
        CT_EMail="standard@dupont-industrie.example",
        CT_Telephone="04 72 00 00 01",
        CT_Encours=Decimal("50000"),
        CO_No=3,
    ),
    customer(
        "CMARTINBTP",
        "MARTIN BTP SARL",
        CT_Ville="NANTES",
        CT_EMail="factures@martin-btp.example",
        CT_Telephone="02 40 00 00 02",
        CO_No=3,
    ),
    customer(
        "CBERNARD",
        "BERNARD & FILS",
        CT_Ville="DIJON",
        CT_EMail="compta@bernard-fils.example",
        CT_Telephone="03 80 00 00 03",
    ),
    customer("CLEROY", "LEROY TRAITEUR", CT_EMail="leroy@traiteur.example", CT_NotRappel=1),
    customer("CANCIEN", "ANCIEN NEGOCE", CT_EMail="contact@ancien.example", CT_Sommeil=1),
    customer(
        "FACIER", "ACIERS DU RHONE", CT_Type=1, CG_NumPrinc="4010000", CT_EMail="ap@acier.example"
    ),
]

CONTACTS = [
    contact(
        "CDUPONT",
        57,
        "MARTIN",
        "Claire",
        "Comptable fournisseurs",
        CT_Civilite=1,
        N_Service=1,
        CT_EMail="c.martin@dupont-industrie.example",
        CT_TelPortable="06 00 00 00 57",
    ),
    contact(
        "CDUPONT",
        58,
        "DURAND",
        "Paul",
        "Directeur commercial",
        N_Service=2,
        CT_EMail="p.durand@dupont-industrie.example",
    ),
]

LINES = [
    # DUPONT: FA00125 in two due dates, the first one reminded by Sage (level 1).
    line(
        41250,
        "CDUPONT",
        "FA00125",
        d("2026-09-15"),
        "720",
        due=d("2026-10-15"),
        rappel=1,
        relance=d("2026-10-22"),
    ),
    line(41251, "CDUPONT", "FA00125", d("2026-09-15"), "720", due=d("2026-11-15")),
    line(41252, None, "FA00125", d("2026-09-15"), "1200", sens=1, account="7060000"),
    line(41253, None, "FA00125", d("2026-09-15"), "240", sens=1, account="4457100"),
    # A payment on account, not lettered: a credit.
    line(42807, "CDUPONT", "VIR DUPONT", d("2026-10-28"), "500", sens=1, journal="BQ1"),
    # FA00098 paid and lettered AB.
    line(
        39011,
        "CDUPONT",
        "FA00098",
        d("2026-07-10"),
        "360",
        due=d("2026-08-09"),
        lettre=1,
        code="AB",
        modified=d("2026-08-08 15:00:00"),
    ),
    line(
        40102,
        "CDUPONT",
        "VIR DUPONT",
        d("2026-08-08"),
        "360",
        sens=1,
        journal="BQ1",
        lettre=1,
        code="AB",
        modified=d("2026-08-08 15:00:00"),
    ),
    # FA00130 partly paid: 400 of 1000, partial lettering 'ab'.
    line(41300, "CDUPONT", "FA00130", d("2026-10-31"), "1000", due=d("2026-11-30"), code="ab"),
    line(
        42900, "CDUPONT", "VIR DUPONT 2", d("2026-11-10"), "400", sens=1, journal="BQ1", code="ab"
    ),
    # A credit note, not lettered.
    line(42950, "CDUPONT", "AV00012", d("2026-11-12"), "150", sens=1, due=NONE_1753),
    # MARTIN BTP: FA00131 disputed in recovery dossier REC0007; FA00140 not.
    line(40990, "CMARTINBTP", "FA00131", d("2026-10-02"), "3000", due=d("2026-11-01")),
    line(41400, "CMARTINBTP", "FA00140", d("2026-10-21"), "1200", due=d("2026-11-20")),
    # BERNARD: FA00042 of last year, reminded twice by Sage, carried into 2026 by an opening entry.
    line(
        30042,
        "CBERNARD",
        "FA00042",
        d("2025-12-01"),
        "2400",
        due=d("2025-12-31"),
        rappel=2,
        relance=d("2026-01-20"),
    ),
    line(
        50001,
        "CBERNARD",
        "FA00042",
        d("2026-01-01"),
        "2400",
        due=d("2025-12-31"),
        journal="RAN",
        an=1,
    ),
    # Excluded customers and a supplier.
    line(41500, "CLEROY", "FA00150", d("2026-09-01"), "500", due=d("2026-10-01")),
    line(20010, "CANCIEN", "FA00010", d("2024-01-10"), "90", due=d("2024-02-10")),
    line(
        41600,
        "FACIER",
        "F-2026-77",
        d("2026-10-01"),
        "880",
        sens=1,
        due=d("2026-11-01"),
        account="4010000",
        journal="ACH",
    ),
]

DOSSIERS = [
    {
        "DR_Num": "REC0007",
        "CT_Num": "CMARTINBTP",
        "DR_Statut": 0,
        "DR_Priorite": 1,
        "DR_DateDebut": d("2026-11-05"),
        "DR_DateFin": NONE,
        "N_Litige": 2,
        "DR_Resume": "Conteste livraison partielle",
        "CO_No": 3,
        "CT_No": 0,
        "cbModification": BASE,
    }
]
DOSSIER_LINES = [
    {"DR_Num": "REC0007", "EC_No": 40990, "EC_DateTiersDouteux": NONE, "cbModification": BASE}
]
REASONS = [
    {"cbIndice": 1, "L_Intitule": "Litige prix"},
    {"cbIndice": 2, "L_Intitule": "Litige qualité"},
]
LIBRE_ROWS = [
    {"CB_File": "F_COMPTET", "CB_Name": name, "CB_Pos": pos, "CB_Type": 9, "CB_Len": 69}
    for pos, name in enumerate(LIBRES, 1)
]


def fill(engine: Engine) -> None:
    with engine.begin() as connection:
        for table, rows in (
            (COMPTET, CUSTOMERS),
            (T["F_CONTACTT"], CONTACTS),
            (T["F_ECRITUREC"], LINES),
            (T["F_DRECOUVREMENT"], DOSSIERS),
            (T["F_DRECOUVREMENTEC"], DOSSIER_LINES),
            (T["P_LITIGE"], REASONS),
            (T["cbSysLibre"], LIBRE_ROWS),
        ):
            connection.execute(insert(table), rows)


def build(engine: Engine) -> None:
    create_schema(engine)
    fill(engine)


def add(engine: Engine, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(T[table]), [dict(r) for r in rows])


def change(engine: Engine, table: str, where: Mapping[str, Any], **values: Any) -> None:
    """An UPDATE as Sage does it: the trigger bumps cbModification."""
    t = T[table]
    with engine.begin() as connection:
        connection.execute(
            update(t).where(*(t.c[k] == v for k, v in where.items())).values(**values)
        )


def remove(engine: Engine, table: str, **where: Any) -> None:
    t = T[table]
    with engine.begin() as connection:
        connection.execute(t.delete().where(*(t.c[k] == v for k, v in where.items())))


def rows(engine: Engine, table: str) -> list[dict[str, Any]]:
    t = T[table]
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(t).order_by(t.c.cbMarq))]
