"""The prediction log and the feedback table (core/tables.py).

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# sqlite_autoincrement: ids are never reused after a delete (a /train cutoff and export pages rely on it).


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("item", sa.Integer, nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("label", sa.SmallInteger, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("model", sa.String(16), nullable=False),
        sa.Column("version", sa.String(32)),
        sa.Column("created_at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_predictions_request", "predictions", ["request_id", "item"])
    op.create_index("ix_predictions_created", "predictions", ["created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(256), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.SmallInteger, nullable=False),
        sa.Column("request_id", sa.String(128)),
        sa.Column("item", sa.Integer),
        sa.Column("predicted_label", sa.SmallInteger),
        sa.Column("predicted_model", sa.String(16)),
        sa.Column("predicted_version", sa.String(32)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("quarantined", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("dedupe_key", name="uq_feedback_dedupe_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_feedback_request", "feedback", ["request_id"])
    op.create_index("ix_feedback_source", "feedback", ["source"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("predictions")
