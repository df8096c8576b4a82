"""Per-record digests of the last full snapshot, for cheap incremental file pulls.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

A store migrated from 0001 has no digests: the first snapshot pulled after it
upserts every record, as before, and records their digests.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snapshot_digests",
        sa.Column("company", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("company", "kind", "id", name=op.f("pk_snapshot_digests")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("snapshot_digests")
