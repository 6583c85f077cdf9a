"""Assignment: by hand, by each group strategy, under capacity and concurrency, and as agents come and go."""

import asyncio
from collections import Counter
from typing import Any

import httpx
from fastapi import FastAPI

from app.assignment.tasks import assign_waiting
from app.config import Settings, WorkerSettings
from tests.conftest import Tenant, agent_token_client, running_worker
from tests.factories import create_agent, create_group, create_ticket, status_id


async def team(
    tenant: Tenant, size: int, *, strategy: str, availability: str = "online", **group: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A group of `size` agents (named by position) assigning by `strategy`."""
    suffix = f"{strategy}-{size}-{id(group)}"
    agents = [
        await create_agent(tenant.admin, f"{suffix}-{n}", name=f"Nhân viên {n}", availability=availability)
        for n in range(size)
    ]
    created = await create_group(
        tenant.admin, f"Nhóm {suffix}", [a["id"] for a in agents], assignment_strategy=strategy, **group
    )
    return created, agents


async def patch(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.patch(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def assign(client: httpx.AsyncClient, ticket_id: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/v1/tickets/{ticket_id}/assign", json=body)


async def assignee_of(tenant: Tenant, ticket_id: str) -> str | None:
    return (await tenant.viewer.get(f"/v1/tickets/{ticket_id}")).json()["assignee_id"]


# By hand


async def test_assigning_to_an_agent_of_the_group(tenant: Tenant) -> None:
    group, [mai, lan] = await team(tenant, 2, strategy="manual")
    outsider = await create_agent(tenant.admin, "ngoai-nhom", name="Người ngoài nhóm")
    ticket = await create_ticket(tenant.agent, group_id=group["id"])
    assert ticket["assignee_id"] is None, "a manual group leaves new tickets for someone to assign"

    response = await assign(tenant.agent, ticket["id"], {"agent_id": mai["id"]})
    assert response.status_code == 200, response.text
    assert response.json()["assignee_id"] == mai["id"] and response.headers["ETag"]

    refused = await assign(tenant.agent, ticket["id"], {"agent_id": outsider["id"]})
    assert refused.status_code == 422
    assert refused.json()["code"] == "agent_not_in_group" and refused.json()["field"] == "assignee_id"

    await patch(tenant.admin, f"/v1/agents/{lan['id']}", {"active": False})
    inactive = await assign(tenant.agent, ticket["id"], {"agent_id": lan["id"]})
    assert inactive.status_code == 422 and "inactive" in inactive.json()["detail"]

    elsewhere = await create_group(tenant.admin, "Nhóm khác", [outsider["id"]])
    moved = await assign(
        tenant.agent, ticket["id"], {"group_id": elsewhere["id"], "agent_id": outsider["id"]}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["group_id"] == elsewhere["id"] and moved.json()["assignee_id"] == outsider["id"]

    history = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}/history")).json()["items"]
    assert [entry["new_value"] for entry in history if entry["field"] == "assignee_id"][-2:] == [
        mai["id"],
        outsider["id"],
    ]


async def test_assignment_is_checked_on_create_and_update_too(tenant: Tenant) -> None:
    group, [member] = await team(tenant, 1, strategy="manual")
    outsider = await create_agent(tenant.admin, "ngoai", name="Người ngoài")
    refused = await tenant.agent.post(
        "/v1/tickets", json={"subject": "Lỗi", "group_id": group["id"], "assignee_id": outsider["id"]}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "agent_not_in_group"

    ticket = await create_ticket(tenant.agent, group_id=group["id"], assignee_id=member["id"])
    other = await create_group(tenant.admin, "Nhóm Kế toán", assignment_strategy="manual")
    moved = await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"group_id": other["id"]})
    assert moved["assignee_id"] is None, "moving to a group the assignee is not in leaves it to that group"


async def test_bad_assign_requests(tenant: Tenant) -> None:
    group, [member] = await team(tenant, 1, strategy="manual")
    ticket = await create_ticket(tenant.agent, group_id=group["id"])
    assert (await assign(tenant.agent, ticket["id"], {})).status_code == 422
    both = await assign(tenant.agent, ticket["id"], {"agent_id": member["id"], "strategy": "round_robin"})
    assert both.status_code == 422
    unknown = await assign(tenant.agent, ticket["id"], {"group_id": "01a21066-5bc5-7752-86b4-7854846c4566"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "group_id"
    no_group = await create_ticket(tenant.agent)
    assert (await assign(tenant.viewer, no_group["id"], {"agent_id": member["id"]})).status_code == 403
    stale = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/assign", json={"agent_id": member["id"]}, headers={"If-Match": '"99"'}
    )
    assert stale.status_code == 412


async def test_a_group_with_a_strategy_given_for_once(tenant: Tenant) -> None:
    group, agents = await team(tenant, 2, strategy="manual")
    ticket = await create_ticket(tenant.agent, group_id=group["id"])
    response = await assign(tenant.agent, ticket["id"], {"group_id": group["id"], "strategy": "least_loaded"})
    assert response.status_code == 200, response.text
    assert response.json()["assignee_id"] in {a["id"] for a in agents}


async def test_unassigning(tenant: Tenant) -> None:
    manual, [mai] = await team(tenant, 1, strategy="manual")
    ticket = await create_ticket(tenant.agent, group_id=manual["id"], assignee_id=mai["id"])
    response = await tenant.agent.post(f"/v1/tickets/{ticket['id']}/unassign")
    assert response.status_code == 200 and response.json()["assignee_id"] is None

    automatic, [first, second] = await team(tenant, 2, strategy="round_robin")
    ticket = await create_ticket(tenant.agent, group_id=automatic["id"])
    taken_from = ticket["assignee_id"]
    response = await tenant.agent.post(f"/v1/tickets/{ticket['id']}/unassign")
    assert response.json()["assignee_id"] == ({first["id"], second["id"]} - {taken_from}).pop(), (
        "an automatic group hands an unassigned ticket to another agent at once"
    )


# Strategies


async def test_round_robin_takes_turns(tenant: Tenant) -> None:
    group, agents = await team(tenant, 3, strategy="round_robin")
    tickets = [await create_ticket(tenant.agent, group_id=group["id"]) for _ in range(7)]
    order = [ticket["assignee_id"] for ticket in tickets]
    assert set(order[:3]) == {a["id"] for a in agents}
    assert order[3:6] == order[:3] and order[6] == order[0], "the same rotation, over and over"


async def test_least_loaded_counts_running_tickets_relative_to_capacity(tenant: Tenant) -> None:
    group, [small, large] = await team(tenant, 2, strategy="least_loaded")
    await patch(tenant.admin, f"/v1/agents/{small['id']}", {"capacity": 2})
    await patch(tenant.admin, f"/v1/agents/{large['id']}", {"capacity": 6})
    tickets = [await create_ticket(tenant.agent, group_id=group["id"]) for _ in range(8)]
    counts = Counter(ticket["assignee_id"] for ticket in tickets)
    assert counts == {small["id"]: 2, large["id"]: 6}, "each filled in proportion to capacity"

    # A ticket waiting on the customer does not count: its SLA clock is stopped.
    pending = await status_id(tenant.viewer, "pending")
    small_ticket = next(t for t in tickets if t["assignee_id"] == small["id"])
    await patch(tenant.agent, f"/v1/tickets/{small_ticket['id']}", {"status_id": pending})
    freed = await create_ticket(tenant.agent, group_id=group["id"])
    assert freed["assignee_id"] == small["id"]
    full = await create_ticket(tenant.agent, group_id=group["id"])
    assert full["assignee_id"] is None, "everyone at capacity: the ticket waits in the group"


async def test_skills_pick_agents_who_know_everything_required(tenant: Tenant) -> None:
    group, [generalist, english, both] = await team(tenant, 3, strategy="skills")
    await patch(tenant.admin, f"/v1/agents/{english['id']}", {"skills": ["tieng-anh"]})
    await patch(tenant.admin, f"/v1/agents/{both['id']}", {"skills": ["tieng-anh", "Hoa-Don"]})

    invoice = await create_ticket(
        tenant.agent, group_id=group["id"], required_skills=["tieng-anh", "hoa-don"]
    )
    assert invoice["assignee_id"] == both["id"] and invoice["required_skills"] == ["tieng-anh", "hoa-don"]
    english_tickets = [
        await create_ticket(tenant.agent, group_id=group["id"], required_skills=["TIENG-ANH"])
        for _ in range(3)
    ]
    counts = Counter(ticket["assignee_id"] for ticket in english_tickets)
    assert set(counts) == {english["id"], both["id"]} and generalist["id"] not in counts
    assert counts[english["id"]] == 2, "then the least loaded of those who qualify"
    nobody = await create_ticket(tenant.agent, group_id=group["id"], required_skills=["tieng-nhat"])
    assert nobody["assignee_id"] is None
    anything = await create_ticket(tenant.agent, group_id=group["id"])
    assert anything["assignee_id"] == generalist["id"], "no required skills: any agent, least loaded"


async def test_only_available_agents_receive_tickets(tenant: Tenant) -> None:
    group, [online, away, offline] = await team(tenant, 3, strategy="round_robin")
    await patch(tenant.admin, f"/v1/agents/{away['id']}", {"availability": "away"})
    await patch(tenant.admin, f"/v1/agents/{offline['id']}", {"availability": "offline"})
    tickets = [await create_ticket(tenant.agent, group_id=group["id"]) for _ in range(3)]
    assert {t["assignee_id"] for t in tickets} == {online["id"]}

    await patch(tenant.admin, f"/v1/groups/{group['id']}", {"assign_to_away": True})
    tickets = [await create_ticket(tenant.agent, group_id=group["id"]) for _ in range(4)]
    assert {t["assignee_id"] for t in tickets} == {online["id"], away["id"]}

    viewer = await create_agent(tenant.admin, "chi-xem", role="viewer", availability="online")
    await tenant.admin.put(f"/v1/groups/{group['id']}/members/{viewer['id']}")
    tickets = [await create_ticket(tenant.agent, group_id=group["id"]) for _ in range(4)]
    assert viewer["id"] not in {t["assignee_id"] for t in tickets}, "viewers never receive tickets"


# Capacity and concurrency


async def test_concurrent_tickets_never_put_an_agent_over_capacity(tenant: Tenant) -> None:
    group, agents = await team(tenant, 5, strategy="round_robin")
    tickets = await asyncio.gather(*(create_ticket(tenant.agent, group_id=group["id"]) for _ in range(100)))
    counts = Counter(ticket["assignee_id"] for ticket in tickets)
    assert counts == {agent["id"]: 20 for agent in agents}, "capacity 20 each: exactly full, nobody over"

    overflow = await asyncio.gather(*(create_ticket(tenant.agent, group_id=group["id"]) for _ in range(5)))
    assert {ticket["assignee_id"] for ticket in overflow} == {None}


async def test_concurrent_round_robin_stays_fair(tenant: Tenant) -> None:
    group, agents = await team(tenant, 5, strategy="round_robin")
    for agent in agents:
        await patch(tenant.admin, f"/v1/agents/{agent['id']}", {"capacity": 100})
    tickets = await asyncio.gather(*(create_ticket(tenant.agent, group_id=group["id"]) for _ in range(48)))
    counts = Counter(ticket["assignee_id"] for ticket in tickets)
    assert set(counts) == {agent["id"] for agent in agents}
    # In turn, but for turns taken out of order: an agent locked for a moment by an assignment that only
    # waits for them (or finds them given meanwhile) is passed over for the next in turn, and is first in
    # line after. Over 16 runs of this burst the counts were 1 apart 11 times, 2 apart 4 times, 3 once.
    assert max(counts.values()) - min(counts.values()) <= 3


async def test_concurrent_least_loaded_across_two_groups_respects_capacity(tenant: Tenant) -> None:
    """An agent in two groups is held while one assignment counts their load."""
    shared = await create_agent(tenant.admin, "hai-nhom", availability="online", capacity=10)
    first = await create_group(tenant.admin, "Nhóm A", [shared["id"]], assignment_strategy="least_loaded")
    second = await create_group(tenant.admin, "Nhóm B", [shared["id"]], assignment_strategy="least_loaded")
    tickets = await asyncio.gather(
        *(create_ticket(tenant.agent, group_id=group["id"]) for group in [first, second] * 15)
    )
    assert Counter(ticket["assignee_id"] for ticket in tickets) == {shared["id"]: 10, None: 20}


# Agents coming and going


async def test_waiting_tickets_go_to_the_first_agent_who_becomes_available(
    app: FastAPI, settings: Settings, tenant: Tenant
) -> None:
    group, [mai, lan] = await team(tenant, 2, strategy="round_robin", availability="offline")
    waiting = [await create_ticket(tenant.agent, group_id=group["id"]) for _ in range(3)]
    assert {ticket["assignee_id"] for ticket in waiting} == {None}

    await patch(tenant.admin, f"/v1/agents/{mai['id']}", {"availability": "online", "capacity": 2})
    await assign_waiting(app.state.db, settings)
    assignees = [await assignee_of(tenant, ticket["id"]) for ticket in waiting]
    assert assignees == [mai["id"], mai["id"], None], "oldest first, up to capacity"

    history = (await tenant.viewer.get(f"/v1/tickets/{waiting[0]['id']}/history")).json()["items"]
    assert history[-1]["actor_type"] == "system" and history[-1]["actor_id"] == group["id"]

    await patch(tenant.admin, f"/v1/agents/{lan['id']}", {"availability": "online"})
    await assign_waiting(app.state.db, settings)
    assert await assignee_of(tenant, waiting[2]["id"]) == lan["id"]


async def test_the_worker_assigns_as_soon_as_an_agent_comes_online(
    app: FastAPI, database_url: str, settings: Settings, tenant: Tenant
) -> None:
    group, [mai] = await team(tenant, 1, strategy="least_loaded", availability="offline")
    ticket = await create_ticket(tenant.agent, group_id=group["id"])
    # Its beat is too slow to matter here: only the notification can wake it in time.
    configured = settings.model_copy(
        update={"worker": WorkerSettings(poll_seconds=0.2, assignment_seconds=300)}
    )
    async with running_worker(app, database_url, configured):
        await asyncio.sleep(0.5)
        await patch(tenant.admin, f"/v1/agents/{mai['id']}", {"availability": "online"})
        for _ in range(100):
            if await assignee_of(tenant, ticket["id"]):
                break
            await asyncio.sleep(0.1)
        assert await assignee_of(tenant, ticket["id"]) == mai["id"]


async def test_an_agent_going_offline_gives_back_the_tickets_of_groups_that_ask(
    app: FastAPI, settings: Settings, tenant: Tenant
) -> None:
    releasing, [leaving, staying] = await team(tenant, 2, strategy="least_loaded", reassign_on_offline=True)
    keeping = await create_group(
        tenant.admin, "Nhóm giữ phiếu", [leaving["id"]], assignment_strategy="manual"
    )
    released = [
        await create_ticket(tenant.agent, group_id=releasing["id"], assignee_id=leaving["id"])
        for _ in range(2)
    ]
    kept = await create_ticket(tenant.agent, group_id=keeping["id"], assignee_id=leaving["id"])
    solved = await create_ticket(
        tenant.agent, group_id=releasing["id"], assignee_id=leaving["id"], status_kind="solved"
    )

    await patch(tenant.admin, f"/v1/agents/{leaving['id']}", {"availability": "offline"})
    assert [await assignee_of(tenant, ticket["id"]) for ticket in released] == [None, None]
    assert await assignee_of(tenant, kept["id"]) == leaving["id"]
    assert await assignee_of(tenant, solved["id"]) == leaving["id"], "resolved tickets keep their assignee"

    await assign_waiting(app.state.db, settings)
    assert [await assignee_of(tenant, ticket["id"]) for ticket in released] == [staying["id"]] * 2

    # Deactivating an agent gives the tickets back as well.
    await patch(tenant.admin, f"/v1/agents/{leaving['id']}", {"availability": "online"})
    again = await create_ticket(tenant.agent, group_id=releasing["id"], assignee_id=leaving["id"])
    await patch(tenant.admin, f"/v1/agents/{leaving['id']}", {"active": False})
    assert await assignee_of(tenant, again["id"]) in {None, staying["id"]}


async def test_availability_changes_are_events_and_agents_set_their_own(app: FastAPI, tenant: Tenant) -> None:
    agent = await create_agent(tenant.admin, "tu-doi", name="Võ Thị Hạnh")
    other = await create_agent(tenant.admin, "nguoi-khac", name="Lý Văn Tài")
    own = await agent_token_client(app, tenant, "tu-doi")

    changed = await patch(own, f"/v1/agents/{agent['id']}", {"availability": "online"})
    assert changed["availability"] == "online"
    assert (await own.patch(f"/v1/agents/{agent['id']}", json={"capacity": 50})).status_code == 403
    assert (await own.patch(f"/v1/agents/{other['id']}", json={"availability": "away"})).status_code == 403
    await patch(tenant.admin, f"/v1/agents/{agent['id']}", {"capacity": 30})
    await patch(tenant.admin, f"/v1/agents/{agent['id']}", {"active": False})

    feed = await tenant.viewer.get("/v1/events", params={"types": "agent.availability_changed"})
    availability = feed.json()["items"]
    assert [e["data"]["changes"] for e in availability] == [
        {"availability": {"old": "offline", "new": "online"}},
        {"active": {"old": True, "new": False}},
    ], "a change of capacity alone is not an availability change"
    assert availability[0]["data"]["agent"]["id"] == agent["id"]
    assert availability[0]["actor"]["type"] == "agent"


async def test_statuses_say_whether_they_pause_the_sla(tenant: Tenant) -> None:
    statuses = (await tenant.viewer.get("/v1/statuses")).json()["items"]
    assert {s["kind"]: s["pauses_sla"] for s in statuses} == {
        "new": False,
        "open": False,
        "pending": True,
        "on_hold": True,
        "solved": False,
        "closed": False,
    }
    by_kind = await tenant.admin.post("/v1/statuses", json={"name": "Chờ nhà cung cấp", "kind": "on_hold"})
    assert by_kind.json()["pauses_sla"] is True
    chosen = await tenant.admin.post(
        "/v1/statuses", json={"name": "Chờ khách gửi ảnh", "kind": "pending", "pauses_sla": False}
    )
    assert chosen.json()["pauses_sla"] is False
    fixed = await tenant.admin.patch(f"/v1/statuses/{chosen.json()['id']}", json={"pauses_sla": True})
    assert fixed.status_code == 422
