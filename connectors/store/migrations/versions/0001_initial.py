"""The initial schema: customers, invoices, journal, outbox, cursors, runs, pushed flags.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Types are written out plainly (text for money and JSON, naive UTC timestamps)
rather than imported from ``models.py``, so this revision keeps creating the
same tables whatever the models become.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("company", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("company", "source", name=op.f("pk_cursors")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "customers",
        sa.Column("company", sa.String(length=100), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("emails", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=20), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("plan", sa.String(length=100), nullable=True),
        sa.Column("credit_limit", sa.String(length=64), nullable=True),
        sa.Column("created", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("company", "id", name=op.f("pk_customers")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "invoices",
        sa.Column("company", sa.String(length=100), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.String(length=64), nullable=False),
        sa.Column("open_amount", sa.String(length=64), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_date", sa.Date(), nullable=True),
        sa.Column("dispute_reason", sa.Text(), nullable=True),
        sa.Column("dispute_opened", sa.Date(), nullable=True),
        sa.Column("dispute_note", sa.Text(), nullable=True),
        sa.Column("dispute_closed", sa.Date(), nullable=True),
        sa.Column("promise_date", sa.Date(), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("factored", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("company", "id", name=op.f("pk_invoices")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoices_company_customer_id"), ["company", "customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_invoices_company_is_open"), ["company", "is_open"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_invoices_company_paid_date"), ["company", "paid_date"], unique=False
        )

    op.create_table(
        "journal",
        sa.Column("company", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("plan", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("company", "key", name=op.f("pk_journal")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_journal_company_customer_id_date"),
            ["company", "customer_id", "date"],
            unique=False,
        )

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("company", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claim_expires_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=True),
        sa.Column("not_before", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'claimed', 'sent', 'cancelled', 'failed', 'dry_run')",
            name=op.f("ck_outbox_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("company", "key", name=op.f("uq_outbox_company_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_company_state"), ["company", "state"], unique=False
        )

    op.create_table(
        "pushed",
        sa.Column("company", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("pushed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("company", "kind", "ref", name=op.f("pk_pushed")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("company", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("counts", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IS NULL OR status IN ('ok', 'failed')", name=op.f("ck_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_runs_company_started_at"), ["company", "started_at"], unique=False
        )

    op.create_table(
        "journal_lines",
        sa.Column("company", sa.String(length=100), nullable=False),
        sa.Column("reminder_key", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.String(length=200), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company", "reminder_key"],
            ["journal.company", "journal.key"],
            name=op.f("fk_journal_lines_company_reminder_key_journal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "company", "reminder_key", "position", name=op.f("pk_journal_lines")
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("journal_lines")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_company_started_at"))

    op.drop_table("runs")
    op.drop_table("pushed")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_company_state"))

    op.drop_table("outbox")
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_company_customer_id_date"))

    op.drop_table("journal")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_company_paid_date"))
        batch_op.drop_index(batch_op.f("ix_invoices_company_is_open"))
        batch_op.drop_index(batch_op.f("ix_invoices_company_customer_id"))

    op.drop_table("invoices")
    op.drop_table("customers")
    op.drop_table("cursors")
