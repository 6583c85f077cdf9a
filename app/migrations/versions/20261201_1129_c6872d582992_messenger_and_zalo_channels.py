"""messenger and zalo channels

Revision ID: c6872d582992
Revises: f932652a754a
Create Date: 2026-12-01 11:29:09.875244+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'c6872d582992'
down_revision: str | None = 'f932652a754a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for kind in ("messenger", "zalo"):
        op.execute(f"ALTER TYPE channel_kind ADD VALUE IF NOT EXISTS '{kind}'")


def downgrade() -> None:
    # PostgreSQL cannot drop a value of an enum, and a downgrade keeps data: the values and any Messenger
    # or Zalo channels stay; deactivate those channels before running older code.
    pass
