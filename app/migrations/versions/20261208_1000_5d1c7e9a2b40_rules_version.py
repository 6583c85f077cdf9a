"""rules version

Revision ID: 5d1c7e9a2b40
Revises: 7c1e4d2a9b35
Create Date: 2026-12-08 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1c7e9a2b40"
down_revision: str | None = "7c1e4d2a9b35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables a workspace's rules are read from; a change to any row moves the workspace's version.
RULE_TABLES = (
    "triggers",
    "sla_policies",
    "business_calendars",
    "groups",
    "ticket_statuses",
    "custom_field_definitions",
)


def upgrade() -> None:
    # Versions come from one sequence, so that a version a rolled-back change took is never seen again.
    op.execute("CREATE SEQUENCE rules_versions")
    op.add_column("workspaces", sa.Column("rules_version", sa.BigInteger(), server_default="0", nullable=False))
    op.execute(
        """
        CREATE FUNCTION move_rules_version() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            changed_workspace uuid;
        BEGIN
            IF TG_OP = 'DELETE' THEN
                changed_workspace := OLD.workspace_id;
            ELSE
                changed_workspace := NEW.workspace_id;
            END IF;
            UPDATE workspaces SET rules_version = nextval('rules_versions') WHERE id = changed_workspace;
            IF TG_OP = 'UPDATE' AND OLD.workspace_id IS DISTINCT FROM NEW.workspace_id THEN
                UPDATE workspaces SET rules_version = nextval('rules_versions') WHERE id = OLD.workspace_id;
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    for table in RULE_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_move_rules_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION move_rules_version()"
        )


def downgrade() -> None:
    for table in RULE_TABLES:
        op.execute(f"DROP TRIGGER {table}_move_rules_version ON {table}")
    op.execute("DROP FUNCTION move_rules_version()")
    op.drop_column("workspaces", "rules_version")
    op.execute("DROP SEQUENCE rules_versions")
