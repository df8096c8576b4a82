"""Alembic migrations of the store, run from code: no ``alembic.ini`` needed.

``Store.open`` calls :func:`upgrade` on every start, which is a no-op when the
database is already at the head revision.  To write a new revision after
changing ``models.py``::

    from alembic import command
    from connectors.store.migrations import alembic_config
    command.revision(alembic_config(url="sqlite:///dev.db"), "what changed", autogenerate=True)
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic config for this folder; env.py uses ``connection`` if given, else ``url``."""
    config = Config()
    # ConfigParser interpolates '%': escape it in paths and URLs.
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the database behind ``connection`` to ``revision`` (a no-op when it is there)."""
    command.upgrade(alembic_config(connection), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
