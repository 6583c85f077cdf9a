"""The incremental export of tickets: pages walk every ticket once, deleted ones flagged, to the end of
the stream and on when polled; a change committed late, stamped before changes already exported, is
not passed over."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import Tenant
from tests.factories import create_ticket
from tests.test_sla import travel

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def no_margin(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changes are exported at once (the margin for clocks is for machines apart, not one process)."""
    monkeypatch.setattr(app.state.settings, "export_margin_seconds", 0)


async def export(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/export/tickets", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def walk(client: httpx.AsyncClient, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every page until the end of the stream; the tickets and the cursor to poll with."""
    items: list[dict[str, Any]] = []
    page = await export(client, limit=2, **params)
    while True:
        items += page["items"]
        assert page["next_cursor"]
        if page["end_of_stream"]:
            return items, page["next_cursor"]
        page = await export(client, limit=2, cursor=page["next_cursor"])


@pytest.mark.usefixtures("no_margin")
async def test_pages_walk_every_ticket_once_to_the_end_of_the_stream(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    created = []
    for hours in range(5):
        with travel(START + timedelta(hours=hours)):
            created.append(await create_ticket(tenant.agent, subject=f"Phiếu số {hours}"))
    await create_ticket(other_tenant.agent, subject="Của công ty khác")
    deleted = await tenant.agent.delete(f"/v1/tickets/{created[1]['id']}")
    assert deleted.status_code == 204

    items, cursor = await walk(tenant.admin, start_time=START.isoformat())
    assert [item["id"] for item in items] == [t["id"] for t in (created[0], *created[2:], created[1])]
    assert [item["deleted"] for item in items] == [False, False, False, False, True]
    assert items[0]["metrics"]["agent_replies"] == 0

    later = await export(tenant.admin, cursor=cursor)
    assert later["items"] == [] and later["end_of_stream"] is True and later["next_cursor"] == cursor
    changed = await tenant.agent.patch(f"/v1/tickets/{created[0]['id']}", json={"priority": "urgent"})
    assert changed.status_code == 200
    polled = await export(tenant.admin, cursor=cursor)
    assert [item["id"] for item in polled["items"]] == [created[0]["id"]], "changed again, given again"
    assert polled["items"][0]["priority"] == "urgent"

    from_later = await export(tenant.admin, start_time=(START + timedelta(hours=3)).isoformat())
    assert [item["id"] for item in from_later["items"]][:2] == [created[3]["id"], created[4]["id"]]


@pytest.mark.usefixtures("no_margin")
async def test_a_change_committed_late_is_not_passed_over(app: FastAPI, tenant: Tenant) -> None:
    with travel(START):
        late, early = [await create_ticket(tenant.agent, subject=s) for s in ("Chậm", "Nhanh")]
    _, cursor = await walk(tenant.admin, start_time=START.isoformat())

    # A transaction changes a ticket, stamped with its start, and commits after another change that
    # a client has already exported.
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE tickets SET subject = 'Chậm mà chắc', updated_at = now() WHERE id = :id"),
            {"id": late["id"]},
        )
        changed = await tenant.agent.patch(f"/v1/tickets/{early['id']}", json={"priority": "high"})
        assert changed.status_code == 200
        meanwhile = await export(tenant.admin, cursor=cursor)
        assert meanwhile["items"] == [] and meanwhile["end_of_stream"] is True, "held back"
        cursor = meanwhile["next_cursor"]
    after = await export(tenant.admin, cursor=cursor)
    assert [item["id"] for item in after["items"]] == [late["id"], early["id"]]
    assert after["items"][0]["subject"] == "Chậm mà chắc"


async def test_only_admins_export_and_bad_positions_are_refused(tenant: Tenant) -> None:
    start = {"start_time": START.isoformat()}
    assert (await tenant.agent.get("/v1/export/tickets", params=start)).status_code == 403
    assert (await tenant.viewer.get("/v1/export/tickets", params=start)).status_code == 403
    page = await export(tenant.admin, **start)
    bad = {
        "both": {**start, "cursor": page["next_cursor"]},
        "cursor": {"cursor": "không-phải-con-trỏ"},
        "another list's cursor": {"cursor": "eyJzIjoiLWNyZWF0ZWRfYXQiLCJ2IjpbXX0"},
    }
    for case, params in bad.items():
        response = await tenant.admin.get("/v1/export/tickets", params=params)
        assert response.status_code == 400, (case, response.text)
    everything = await export(tenant.admin)
    assert everything["end_of_stream"] is True, "without a position: from the beginning"
    too_many = await tenant.admin.get("/v1/export/tickets", params={**start, "limit": 1001})
    assert too_many.status_code == 422
