"""A workspace's rules are read once per process and kept: a rule change is seen by the next transaction
of every process, a rolled-back one by none, and a ticket change with the rules kept reads none of them."""

from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.models import TicketStatus, Trigger
from app.rules.snapshot import rules_of
from tests.conftest import Tenant
from tests.factories import create, create_agent, create_category, create_group, create_ticket
from tests.processes import start_api

TAGGING = {
    "name": "Gắn nhãn giao hàng",
    "events": ["ticket.created"],
    "conditions": {"all": [{"field": "subject", "operator": "contains", "value": "giao hàng"}]},
    "actions": [{"type": "add_tags", "tags": ["giao-hang"]}],
}


async def version_of(db: Database, workspace_id: UUID) -> int:
    async with db.sessionmaker() as session:
        return await session.scalar(
            text("SELECT rules_version FROM workspaces WHERE id = :id"), {"id": workspace_id}
        )


async def test_a_rule_change_is_seen_by_the_next_ticket_change_of_another_process(
    database_url: str, tenant: Tenant
) -> None:
    api = start_api(database_url)
    try:
        await api.ready()
        headers = {"Authorization": tenant.agent.headers["Authorization"]}
        async with httpx.AsyncClient(base_url=api.url, headers=headers) as other_process:
            before = await other_process.post("/v1/tickets", json={"subject": "Giao hàng chậm"})
            assert before.json()["tags"] == [], "the other process has read and kept the rules"
            await create(tenant.admin, "/v1/triggers", TAGGING)
            after = await other_process.post("/v1/tickets", json={"subject": "Giao hàng chậm"})
            assert after.json()["tags"] == ["giao-hang"]

            trigger_id = (await tenant.viewer.get("/v1/triggers")).json()["items"][0]["id"]
            response = await tenant.admin.patch(f"/v1/triggers/{trigger_id}", json={"active": False})
            assert response.status_code == 200, response.text
            last = await other_process.post("/v1/tickets", json={"subject": "Giao hàng chậm"})
            assert last.json()["tags"] == []
    finally:
        api.stop()


@pytest.mark.parametrize(
    "change",
    [
        "INSERT INTO groups (workspace_id, id, name) VALUES (:ws, gen_random_uuid(), 'Kho')",
        "UPDATE ticket_statuses SET name = name || ' ' WHERE workspace_id = :ws AND kind = 'open'",
        "DELETE FROM groups WHERE workspace_id = :ws",
        "INSERT INTO business_calendars (workspace_id, id, name, time_zone) "
        "VALUES (:ws, gen_random_uuid(), 'Giờ hành chính', 'Asia/Ho_Chi_Minh')",
        "INSERT INTO categories (workspace_id, id, name) VALUES (:ws, gen_random_uuid(), 'Đổi trả')",
        "UPDATE categories SET parent_id = NULL WHERE workspace_id = :ws",
    ],
)
async def test_every_change_to_a_rule_table_moves_the_version(
    db: Database, tenant: Tenant, change: str
) -> None:
    """Also changes made outside the service (a migration, an operator's SQL): the database moves it."""
    await create_group(tenant.admin, "CSKH")
    await create_category(tenant.admin, "Giao hàng")
    before = await version_of(db, tenant.workspace_id)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(text(change), {"ws": tenant.workspace_id})
    assert await version_of(db, tenant.workspace_id) != before


async def test_a_category_change_that_leaves_the_tree_as_it_is_keeps_the_version(
    db: Database, tenant: Tenant
) -> None:
    """The rules hold only the category tree: a new name, or a watcher, moves no version."""
    category = await create_category(tenant.admin, "Giao hàng")
    agent = await create_agent(tenant.admin, "cskh-1")
    before = await version_of(db, tenant.workspace_id)
    path = f"/v1/categories/{category['id']}"
    assert (await tenant.admin.patch(path, json={"name": "Vận chuyển"})).status_code == 200
    assert (await tenant.admin.put(f"{path}/watchers/{agent['id']}")).status_code == 204
    assert await version_of(db, tenant.workspace_id) == before


async def test_a_category_moved_under_another_parent_is_seen_by_the_next_ticket_change(
    tenant: Tenant,
) -> None:
    """A condition on a category matches the categories under it, as the tree is when the ticket changes."""
    delivery = await create_category(tenant.admin, "Giao hàng")
    billing = await create_category(tenant.admin, "Thanh toán")
    late = await create_category(tenant.admin, "Giao trễ", parent_id=billing["id"])
    await create(
        tenant.admin,
        "/v1/triggers",
        {
            "name": "Gắn nhãn giao hàng",
            "events": ["ticket.created", "ticket.updated"],
            "conditions": {"all": [{"field": "category_id", "operator": "equals", "value": delivery["id"]}]},
            "actions": [{"type": "add_tags", "tags": ["giao-hang"]}],
        },
    )
    ticket = await create_ticket(tenant.agent, subject="Giao chậm", category_id=late["id"])
    assert ticket["tags"] == [], "the rules were read, and kept, with the category under billing"

    moved = await tenant.admin.patch(f"/v1/categories/{late['id']}", json={"parent_id": delivery["id"]})
    assert moved.status_code == 200, moved.text
    changed = await tenant.agent.patch(f"/v1/tickets/{ticket['id']}", json={"priority": "high"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["tags"] == ["giao-hang"]


async def test_a_rolled_back_rule_change_is_never_taken_for_the_rules(db: Database, tenant: Tenant) -> None:
    """The transaction that changed the rules reads them with its change; once it rolls back, the next
    transaction reads the rules as committed, although the process kept the rolled-back ones."""
    async with db.sessionmaker() as session:
        async with session.begin():
            assert (await rules_of(session, tenant.workspace_id)).triggers == ()
            session.add(Trigger(workspace_id=tenant.workspace_id, **TAGGING))
            await session.flush()
            [seen] = (await rules_of(session, tenant.workspace_id)).triggers
            assert seen.name == TAGGING["name"]
            await session.rollback()
        async with session.begin():
            assert (await rules_of(session, tenant.workspace_id)).triggers == ()


async def test_workspaces_keep_rules_of_their_own(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    await create(tenant.admin, "/v1/triggers", TAGGING)
    async with db.sessionmaker() as session, session.begin():
        assert len((await rules_of(session, tenant.workspace_id)).triggers) == 1
        assert (await rules_of(session, other_tenant.workspace_id)).triggers == ()
    mine = await create_ticket(other_tenant.agent, subject="Giao hàng chậm")
    assert mine["tags"] == []


async def test_a_ticket_change_with_the_rules_kept_reads_no_rule_table(db: Database, tenant: Tenant) -> None:
    """Triggers, an SLA policy, a round-robin group and custom fields in use: once the process has the
    rules, creating and changing tickets reads none of their tables again."""
    agent = await create_agent(tenant.admin, "cskh-1", availability="online")
    group = await create_group(tenant.admin, "CSKH", [agent["id"]], assignment_strategy="round_robin")
    await create(tenant.admin, "/v1/triggers", TAGGING)
    targets = [{"priority": "normal", "metric": "first_response", "minutes": 30, "business_hours": False}]
    await create(tenant.admin, "/v1/sla-policies", {"name": "SLA", "targets": targets})
    await create(
        tenant.admin,
        "/v1/custom-fields",
        {"entity": "ticket", "key": "order_id", "label": "Đơn hàng", "type": "text"},
    )
    ticket = await create_ticket(tenant.agent, subject="Giao hàng chậm", group_id=group["id"])

    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        created = await create_ticket(
            tenant.agent, subject="Giao hàng chậm", group_id=group["id"], custom_fields={"order_id": "DH-1"}
        )
        response = await tenant.agent.patch(
            f"/v1/tickets/{ticket['id']}", json={"priority": "high", "status_kind": "pending"}
        )
        assert response.status_code == 200, response.text
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert created["tags"] == ["giao-hang"] and created["assignee_id"] == agent["id"]
    rule_tables = (
        "triggers",
        "sla_policies",
        "business_calendars",
        "ticket_statuses",
        "custom_field_definitions",
    )
    read = [s for s in statements if any(f"FROM {table}" in s for table in rule_tables)]
    assert read == []


async def test_rules_read_in_a_transaction_are_the_transactions_own(db: Database, tenant: Tenant) -> None:
    """One read of the version per transaction: a transaction keeps the rules it read first, unless it
    changes them itself."""
    async with db.sessionmaker() as session, session.begin():
        first = await rules_of(session, tenant.workspace_id)
        await create(tenant.admin, "/v1/triggers", TAGGING)  # committed by another transaction meanwhile
        assert await rules_of(session, tenant.workspace_id) is first
    async with db.sessionmaker() as session, session.begin():
        assert len((await rules_of(session, tenant.workspace_id)).triggers) == 1
        await _rename_statuses(session, tenant.workspace_id)
        renamed = await rules_of(session, tenant.workspace_id)
        assert all(status.name.endswith("!") for status in renamed.statuses.values())


async def _rename_statuses(session: AsyncSession, workspace_id: UUID) -> None:
    await session.execute(
        update(TicketStatus)
        .where(TicketStatus.workspace_id == workspace_id)
        .values(name=TicketStatus.name + "!")
    )
