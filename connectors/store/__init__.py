"""The sync daemon's store: SQLAlchemy models, the ``Store`` API, Alembic migrations."""

from connectors.store.engine import DEFAULT_URL
from connectors.store.store import (
    ClaimLost,
    OutboxRow,
    RunRow,
    Store,
    StoreError,
    Tx,
    UnknownKey,
)

__all__ = [
    "DEFAULT_URL",
    "ClaimLost",
    "OutboxRow",
    "RunRow",
    "Store",
    "StoreError",
    "Tx",
    "UnknownKey",
]
