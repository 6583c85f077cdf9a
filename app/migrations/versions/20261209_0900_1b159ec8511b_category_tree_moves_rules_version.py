"""category tree moves rules version

Revision ID: 1b159ec8511b
Revises: 5d1c7e9a2b40
Create Date: 2026-12-09 09:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1b159ec8511b"
down_revision: str | None = "5d1c7e9a2b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The rules hold the category tree: a category added, removed or moved under another parent moves
    # the workspace's version. Other changes to a category (its name, its watchers' version) do not.
    op.execute(
        "CREATE TRIGGER categories_move_rules_version "
        "AFTER INSERT OR DELETE OR UPDATE OF parent_id, workspace_id ON categories "
        "FOR EACH ROW EXECUTE FUNCTION move_rules_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER categories_move_rules_version ON categories")
