"""`relance sync` and `relance sage check` on the Sage test database (the real console script)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sage_db
from sqlalchemy import Engine, create_engine, make_url

RELANCE = Path(sys.executable).with_name("relance")
TODAY = "2026-12-02"  # a Wednesday
LIBRE = ("Relance niveau", "Litige")

CONFIG = """\
store = "sqlite:///relance.db"
send = true

[sender]
name = "Bijouterie Lyonnaise SA"
email = "compta@bijou.example"
phone = "04 78 00 00 00"
address = "3 place Bellecour, 69002 Lyon"
iban = "FR76 3000 4000 0500 0012 3456 789"

[delivery.letters]
output_dir = "letters"

[[plans]]
name = "letters"
cooldown_days = 5

[[plans.steps]]
offset = 3
channel = "letter"
template = "reminder_1"

[[plans.steps]]
offset = 60
channel = "letter"
template = "reminder_2"

[[segments]]
name = "everyone"
when = "true"
plan = "letters"

[[companies]]
id = "bijou"
name = "Bijouterie Lyonnaise SA"

[companies.source]
kind = "sage100"
url = "{url}"
history_plan = "letters"
history_step_offset = 0

[companies.source.write_back]
reminder_level = "Relance niveau"
dispute = "Litige"
"""


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def relance(*args: object, cwd: Path) -> Run:
    env = {k: v for k, v in os.environ.items() if k != "RELANCE_DEBUG"}
    done = subprocess.run(
        [str(RELANCE), *map(str, args)],
        capture_output=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "relance.toml"
    path.write_text(CONFIG.replace("{url}", url), encoding="utf-8")
    return path


def comptet(engine: Engine) -> dict[str, dict[str, object]]:
    return {str(r["CT_Num"]): r for r in sage_db.rows(engine, "F_COMPTET")}


def test_sync_reminds_respecting_sage_history_and_disputes_and_writes_back_the_level(
    sage_url: str, sage_engine: Engine, tmp_path: Path
) -> None:
    before = comptet(sage_engine)
    lines_before = sage_db.rows(sage_engine, "F_ECRITUREC")
    run = relance(
        "sync", "--config", config(tmp_path, sage_url), "--once", "--today", TODAY, cwd=tmp_path
    )
    assert run.code == 0, run.err
    assert "bijou: sent: 2 action(s) planned, 2 new, 2 sent" in run.out
    letters = sorted(p.name for p in (tmp_path / "letters").rglob("*") if p.is_file())
    assert len([n for n in letters if "cdupont" in n]) >= 1
    assert len([n for n in letters if "cmartinbtp" in n]) >= 1
    assert not [n for n in letters if "cbernard" in n or "cleroy" in n]  # Sage's level, excluded
    history = relance(
        "history",
        "--config",
        tmp_path / "relance.toml",
        "--customer",
        "CDUPONT",
        "--json",
        cwd=tmp_path,
    )
    entries = json.loads(history.out)
    # FA00125's first due date had Sage's level 1: only the second one gets a first reminder.
    assert [(e["key"].startswith("sage100:"), e["invoices"]) for e in entries] == [
        (False, [{"id": "CDUPONT|FA00125|20261115", "step": 1}]),
        (True, [{"id": "CDUPONT|FA00125|20261015", "step": 1}]),
    ]
    martin = relance(
        "history",
        "--config",
        tmp_path / "relance.toml",
        "--customer",
        "CMARTINBTP",
        "--json",
        cwd=tmp_path,
    )
    # FA00131 is in recovery dossier REC0007 with reason "Litige qualité": left alone.
    assert [e["invoices"] for e in json.loads(martin.out)] == [
        [{"id": "CMARTINBTP|FA00140|20261120", "step": 1}]
    ]
    after = comptet(sage_engine)
    assert (after["CDUPONT"]["Relance niveau"], after["CMARTINBTP"]["Relance niveau"]) == ("1", "1")
    for num, row in after.items():
        changed = {k for k in row if row[k] != before[num][k]}
        assert changed <= {*LIBRE, "cbModification"}, (num, changed)
        if num not in ("CDUPONT", "CMARTINBTP"):
            assert row == before[num]
    assert sage_db.rows(sage_engine, "F_ECRITUREC") == lines_before  # the ledger is never written


def test_a_second_sync_reads_the_changes_and_sends_nothing_twice(
    sage_url: str, sage_engine: Engine, tmp_path: Path
) -> None:
    path = config(tmp_path, sage_url)
    assert relance("sync", "--config", path, "--once", "--today", TODAY, cwd=tmp_path).code == 0
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    sage_db.add(
        sage_engine,
        "F_ECRITUREC",
        [
            sage_db.line(
                43100,
                "CBERNARD",
                "FA00170",
                datetime(2026, 10, 20),
                "480",
                due=datetime(2026, 11, 19),
                modified=now,
            )
        ],
    )
    sage_db.change(sage_engine, "F_ECRITUREC", {"EC_No": 41400}, EC_Lettre=1, EC_Lettrage="AE")
    sage_db.remove(sage_engine, "F_ECRITUREC", EC_No=41251)
    run = relance("sync", "--config", path, "--once", "--today", TODAY, cwd=tmp_path)
    assert run.code == 0, run.err
    # BERNARD's new invoice goes out; DUPONT and MARTIN were reminded already.
    assert "bijou: sent: 1 action(s) planned, 1 new, 1 sent" in run.out
    assert comptet(sage_engine)["CBERNARD"]["Relance niveau"] == "1"


@pytest.fixture
def pg_sage(request: pytest.FixtureRequest) -> Iterator[tuple[str, Engine]]:
    from sage_support import pg_schema

    url = pg_schema(request.getfixturevalue("pg_database"))
    engine = create_engine(url)
    sage_db.build(engine)
    yield url, engine
    engine.dispose()


@pytest.fixture
def limited_role(pg_sage: tuple[str, Engine]) -> Iterator[tuple[str, str]]:
    """A login that may read some tables only (the URL, and the role's name)."""
    url, engine = pg_sage
    role = f"relance_ro_{secrets.token_hex(4)}"
    schema = make_url(url).query["options"].split("=")[-1]
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        connection.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        for table in ("F_COMPTET", "F_CONTACTT", "F_ECRITUREC", "F_DRECOUVREMENT", "cbSysLibre"):
            connection.exec_driver_sql(f'GRANT SELECT ON "{table}" TO "{role}"')
    yield make_url(url).set(username=role).render_as_string(hide_password=False), role
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
        connection.exec_driver_sql(f'DROP ROLE "{role}"')


def test_check_names_each_missing_permission_and_the_grant_that_fixes_it(
    pg_sage: tuple[str, Engine], limited_role: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = limited_role
    run = relance("sage", "check", "--config", config(tmp_path, url), cwd=tmp_path)
    assert run.code == 1
    assert "ok: connected to" in run.out
    assert "error: cannot read F_DRECOUVREMENTEC: permission denied" in run.out
    assert "GRANT SELECT ON dbo.P_LITIGE TO <login>" in run.out
    assert "error: the login may not UPDATE F_COMPTET.[Relance niveau]" in run.out
    assert "ok: information libre 'Litige' exists on F_COMPTET" in run.out
    assert "FAILED: 4 problem(s)" in run.out


def test_sync_with_a_login_lacking_a_grant_says_so_and_stores_nothing(
    pg_sage: tuple[str, Engine], limited_role: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = limited_role
    run = relance(
        "sync", "--config", config(tmp_path, url), "--once", "--today", TODAY, cwd=tmp_path
    )
    assert run.code == 1
    assert "error: bijou: source 'sage100':" in run.err
    assert "the login lacks a permission" in run.err and "relance sage check" in run.err
    assert "Traceback" not in run.err


def test_check_passes_with_exactly_the_documented_grants(
    pg_sage: tuple[str, Engine], limited_role: tuple[str, str], tmp_path: Path
) -> None:
    url, role = limited_role
    _, engine = pg_sage
    with engine.begin() as connection:
        for table in ("F_DRECOUVREMENTEC", "P_LITIGE"):
            connection.exec_driver_sql(f'GRANT SELECT ON "{table}" TO "{role}"')
        connection.exec_driver_sql(
            f'GRANT UPDATE ("Relance niveau", "Litige") ON "F_COMPTET" TO "{role}"'
        )
    run = relance("sage", "check", "--config", config(tmp_path, url), cwd=tmp_path)
    assert run.code == 0, run.out + run.err
    assert "ok: may UPDATE F_COMPTET.[Relance niveau]" in run.out
    assert "warning" not in run.out
    assert "OK: 0 problem(s)" in run.out


def test_check_warns_when_the_login_may_write_sage_columns(sage_url: str, tmp_path: Path) -> None:
    run = relance("sage", "check", "--config", config(tmp_path, sage_url), cwd=tmp_path)
    assert run.code == 0, run.out + run.err
    assert "ok: can read F_COMPTET, F_CONTACTT, F_ECRITUREC" in run.out
    assert "warning: the login may also UPDATE F_COMPTET.CT_Intitule" in run.out


def test_check_with_no_sage_company_is_a_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "relance.toml"
    path.write_text('[[companies]]\nid = "x"\nname = "X"\nsource = { kind = "demo" }\n')
    run = relance("sage", "check", "--config", path, cwd=tmp_path)
    assert run.code == 2
    assert "no company of the config has a sage100 source" in run.err
