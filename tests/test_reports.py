"""Reports on a small known set of tickets: volume, reply and resolution times, backlog and its trend,
agents' workload and throughput; the ticket list's filters, a restricted agent's share, CSV."""

import csv
import io
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import Tenant, agent_token_client
from tests.factories import create_agent, create_group, create_ticket
from tests.test_comments import comment
from tests.test_sla import NINE_TO_FIVE, at, calendar, iso, patch, travel

PERIOD = {"from": iso(at(2026, 12, 7, 0, 0)), "to": iso(at(2026, 12, 10, 0, 0))}
NOW = at(2026, 12, 10, 12, 0)


async def report(client: httpx.AsyncClient, name: str, **params: Any) -> dict[str, Any]:
    with travel(NOW):
        sent = {name: value for name, value in {**PERIOD, **params}.items() if value is not None}
        response = await client.get(f"/v1/reports/{name}", params=sent)
    assert response.status_code == 200, response.text
    return response.json()


async def known_tickets(tenant: Tenant) -> dict[str, Any]:
    """Four tickets from Monday to Wednesday in Hồ Chí Minh City, business hours 09:00-17:00."""
    await calendar(tenant.admin, hours=NINE_TO_FIVE)
    an = await create_agent(tenant.admin, "kho-an", name="Nguyễn Văn An")
    binh = await create_agent(tenant.admin, "kho-binh", name="Trần Thị Bình")
    group = await create_group(tenant.admin, "=1+1 Nhóm Kho", [an["id"], binh["id"]])

    async def reply(ticket: dict[str, Any], agent: dict[str, Any]) -> None:
        await comment(tenant.agent, ticket["id"], public=True, author={"type": "agent", "id": agent["id"]})

    async def solve(ticket: dict[str, Any]) -> None:
        await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_kind": "solved"})

    with travel(at(2026, 12, 7, 9, 0)):
        first = await create_ticket(
            tenant.agent, channel="email", priority="high", group_id=group["id"], assignee_id=an["id"]
        )
    with travel(at(2026, 12, 7, 9, 30)):
        await reply(first, an)
    with travel(at(2026, 12, 7, 10, 0)):
        second = await create_ticket(tenant.agent, channel="chat", subject="Đổi trả hàng")
    with travel(at(2026, 12, 7, 11, 0)):
        await solve(first)
        await reply(second, an)
    with travel(at(2026, 12, 8, 8, 0)):
        await create_ticket(tenant.agent, channel="email", group_id=group["id"], assignee_id=binh["id"])
    with travel(at(2026, 12, 8, 16, 0)):
        fourth = await create_ticket(tenant.agent, channel="chat", priority="low", assignee_id=an["id"])
    with travel(at(2026, 12, 9, 9, 30)):
        await reply(fourth, an)
    with travel(at(2026, 12, 9, 10, 0)):
        await solve(fourth)
    return {"an": an, "binh": binh, "group": group}


async def test_reports_count_the_known_tickets(tenant: Tenant) -> None:
    known = await known_tickets(tenant)

    volume = await report(tenant.viewer, "volume")
    assert volume["time_zone"] == "Asia/Ho_Chi_Minh", "the first calendar's zone"
    assert [(row["key"], row["tickets"]) for row in volume["rows"]] == [
        ("2026-12-07", 2),
        ("2026-12-08", 2),
        ("2026-12-09", 0),
    ]
    in_california = await report(tenant.viewer, "volume", time_zone="America/Los_Angeles")
    assert [row["tickets"] for row in in_california["rows"]] == [2, 1, 1, 0], "Monday is Sunday there"
    by_channel = await report(tenant.viewer, "volume", group_by="channel")
    assert {row["key"]: row["tickets"] for row in by_channel["rows"]} == {"chat": 2, "email": 2}
    by_group = await report(tenant.viewer, "volume", group_by="group")
    assert {(row["key"], row["name"], row["tickets"]) for row in by_group["rows"]} == {
        (known["group"]["id"], "=1+1 Nhóm Kho", 2),
        (None, None, 2),
    }

    [times] = (await report(tenant.viewer, "times"))["rows"]
    assert times["tickets"] == 4
    # First replies: 30, 60 and 1,050 minutes (business: 30, 60, 90).
    assert times["first_reply"] == {
        "tickets": 3,
        "median_minutes": 60.0,
        "p90_minutes": 852.0,
        "median_business_minutes": 60.0,
        "p90_business_minutes": 84.0,
    }
    # Resolutions: 120 and 1,080 minutes (business: 120 and 120).
    assert times["full_resolution"] == {
        "tickets": 2,
        "median_minutes": 600.0,
        "p90_minutes": 984.0,
        "median_business_minutes": 120.0,
        "p90_business_minutes": 120.0,
    }
    by_priority = await report(tenant.viewer, "times", group_by="priority")
    assert {row["key"]: row["tickets"] for row in by_priority["rows"]} == {"high": 1, "low": 1, "normal": 2}

    backlog = await report(tenant.viewer, "backlog", **{"from": None, "to": None})
    assert {b["age"]: b["tickets"] for b in backlog["buckets"]} == {
        "under_1_day": 0,
        "days_1_to_3": 1,
        "days_3_to_7": 1,
        "days_7_to_30": 0,
        "over_30_days": 0,
    }
    trend = await report(tenant.viewer, "backlog/trend", to=iso(at(2026, 12, 11, 0, 0)))
    assert [(day["day"], day["unresolved"]) for day in trend["days"]] == [
        ("2026-12-07", 1),
        ("2026-12-08", 3),
        ("2026-12-09", 2),
        ("2026-12-10", 2),
    ]

    agents = await report(tenant.viewer, "agents")
    assert {(row["name"], row["open_assigned"], row["solved"]) for row in agents["rows"]} == {
        ("Nguyễn Văn An", 0, 2),
        ("Trần Thị Bình", 1, 0),
        (None, 1, 0),
    }
    sla = await report(tenant.viewer, "sla", channel="email")
    assert sla["rows"] == [], "no SLA policy: no clocks"


async def test_reports_take_the_ticket_lists_filters_and_a_restricted_agents_share(
    app: FastAPI, tenant: Tenant
) -> None:
    known = await known_tickets(tenant)
    email = await report(tenant.viewer, "volume", channel="email")
    assert [row["tickets"] for row in email["rows"]] == [1, 1, 0]
    [high] = (await report(tenant.viewer, "times", priority="high"))["rows"]
    assert high["tickets"] == 1 and high["first_reply"]["median_minutes"] == 30.0
    [binh] = (await report(tenant.viewer, "agents", assignee=known["binh"]["id"]))["rows"]
    assert binh["name"] == "Trần Thị Bình" and binh["open_assigned"] == 1

    await create_agent(tenant.admin, "kho-xem", name="Lê Hạn Chế", ticket_access="restricted")
    with travel(NOW):  # the reports are read then, while the token lives
        restricted = await agent_token_client(app, tenant, "kho-xem")
    nothing = await report(restricted, "volume")
    assert [row["tickets"] for row in nothing["rows"]] == [0, 0, 0], "not in the group: sees none"
    member = await tenant.admin.get("/v1/agents", params={"limit": 200})
    restricted_id = next(a["id"] for a in member.json()["items"] if a["external_id"] == "kho-xem")
    added = await tenant.admin.put(f"/v1/groups/{known['group']['id']}/members/{restricted_id}")
    assert added.status_code == 204
    share = await report(restricted, "volume")
    assert [row["tickets"] for row in share["rows"]] == [1, 1, 0], "the group's two tickets"
    [times] = (await report(restricted, "times"))["rows"]
    assert times["tickets"] == 2


async def test_reports_as_csv_and_bad_periods(tenant: Tenant) -> None:
    known = await known_tickets(tenant)
    with travel(NOW):
        response = await tenant.viewer.get(
            "/v1/reports/volume", params={**PERIOD, "group_by": "group"}, headers={"Accept": "text/csv"}
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode()), "a byte order mark, for Excel"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["key", "name", "tickets"]
    assert sorted(rows[1:]) == sorted([[known["group"]["id"], "'=1+1 Nhóm Kho", "2"], ["", "", "2"]])

    for name in ("times", "backlog", "backlog/trend", "agents", "sla"):
        with travel(NOW):
            response = await tenant.viewer.get(
                f"/v1/reports/{name}", params=PERIOD, headers={"Accept": "text/csv"}
            )
        assert response.status_code == 200, (name, response.text)
        header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert header[0] in ("key", "age", "day", "agent_id"), name

    bad = {
        "from after to": {"from": PERIOD["to"], "to": PERIOD["from"]},
        "over a year": {"from": iso(at(2025, 1, 1, 0, 0)), "to": PERIOD["to"]},
        "filter": {**PERIOD, "priority": "gấp"},
    }
    for case, params in bad.items():
        response = await tenant.viewer.get("/v1/reports/volume", params=params)
        assert response.status_code == 400, (case, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    for zone in ("GMT+7", "Asia/Sài_Gòn", "../etc/passwd"):
        response = await tenant.viewer.get("/v1/reports/volume", params={**PERIOD, "time_zone": zone})
        assert response.status_code == 422, (zone, response.text)
        assert response.json()["field"] == "query.time_zone"
