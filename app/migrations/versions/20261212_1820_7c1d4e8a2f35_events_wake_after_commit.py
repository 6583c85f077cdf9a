"""events no longer notify from inside the writing transaction: the process that committed them wakes
the listeners after the commit (app.kit.wakeups)

Revision ID: 7c1d4e8a2f35
Revises: 5b8e1c3f9a24
Create Date: 2026-12-12 18:20:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7c1d4e8a2f35"
down_revision: str | None = "5b8e1c3f9a24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP TRIGGER events_notify ON events")


def downgrade() -> None:
    op.execute(
        "CREATE TRIGGER events_notify AFTER INSERT ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_notify('helpdesk_events')"
    )
