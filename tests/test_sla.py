"""SLA: calendars and policies, the clocks of tickets through their life, and the workers' announcements.

Hours cannot be waited for here, so the tests travel in time (time-machine) while they create and
change tickets, then look at what the clocks say.
"""

import asyncio
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import time_machine
from fastapi import FastAPI

from app.config import Settings, WorkerSettings
from app.sla.tasks import announce_due
from tests.conftest import Tenant, running_worker
from tests.factories import create, create_contact, create_ticket, status_id
from tests.test_comments import comment
from tests.test_worker import start_worker
from tests.world import calendar_example

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
NINE_TO_FIVE = [{"day": day, "start": "09:00", "end": "17:00"} for day in WEEKDAYS]


def at(*parts: int) -> datetime:
    """A local time in Hồ Chí Minh City."""
    return datetime(*parts, tzinfo=SAIGON)  # type: ignore[misc]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def travel(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


async def calendar(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    return await create(client, "/v1/calendars", {"name": "Giờ hành chính", "hours": NINE_TO_FIVE, **fields})


async def policy(client: httpx.AsyncClient, targets: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    body = {"name": f"SLA {len(targets)} {sorted(fields)}", "targets": targets, **fields}
    return await create(client, "/v1/sla-policies", body)


def target(
    metric: str, minutes: int, priority: str = "normal", business_hours: bool = True
) -> dict[str, Any]:
    return {"priority": priority, "metric": metric, "minutes": minutes, "business_hours": business_hours}


async def sla_of(tenant: Tenant, ticket_id: str) -> dict[str, Any]:
    ticket = (await tenant.viewer.get(f"/v1/tickets/{ticket_id}")).json()
    return {metric["metric"]: metric for metric in ticket["sla"]["metrics"]} | {"ticket": ticket}


async def patch(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.patch(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def events(tenant: Tenant, event_type: str) -> list[dict[str, Any]]:
    response = await tenant.viewer.get("/v1/events", params={"types": event_type, "limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


# Calendars and policies


async def test_calendars_refuse_what_is_not_a_calendar(tenant: Tenant) -> None:
    created = await calendar(
        tenant.admin, holidays=[{"start": "2027-02-05", "end": "2027-02-11", "name": "Tết"}]
    )
    assert created["time_zone"] == "Asia/Ho_Chi_Minh", "Vietnam's zone unless another is given"
    assert created["holidays"] == [{"start": "2027-02-05", "end": "2027-02-11", "name": "Tết"}]
    bad = {
        "time_zone": {"name": "Lịch 2", "hours": NINE_TO_FIVE, "time_zone": "GMT+7"},
        "hours": {"name": "Lịch 3", "hours": [{"day": "monday", "start": "09:00", "end": "25:00"}]},
        "equal": {"name": "Lịch 4", "hours": [{"day": "monday", "start": "09:00", "end": "09:00"}]},
        "weekday": {"name": "Lịch 5", "hours": [{"day": "thu-hai", "start": "09:00", "end": "17:00"}]},
        "empty": {"name": "Lịch 6", "hours": []},
        "holiday": {
            "name": "Lịch 7",
            "hours": NINE_TO_FIVE,
            "holidays": [{"start": "2027-02-11", "end": "2027-02-05"}],
        },
    }
    for case, body in bad.items():
        response = await tenant.admin.post("/v1/calendars", json=body)
        assert response.status_code == 422, (case, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    taken = await tenant.admin.post("/v1/calendars", json={"name": "GIỜ HÀNH CHÍNH", "hours": NINE_TO_FIVE})
    assert taken.status_code == 409
    night = await calendar(
        tenant.admin, name="Ca đêm", hours=[{"day": "friday", "start": "22:00", "end": "06:00"}]
    )
    assert night["hours"] == [{"day": "friday", "start": "22:00", "end": "06:00"}]
    assert (
        await tenant.agent.post("/v1/calendars", json={"name": "x", "hours": NINE_TO_FIVE})
    ).status_code == 403


async def test_policies_refuse_inconsistent_targets_and_conditions(tenant: Tenant) -> None:
    hours = await calendar(tenant.admin)
    first = target("first_response", 60)
    cases = {
        "needs a calendar": {"name": "a", "targets": [first]},
        "twice": {"name": "b", "calendar_id": hours["id"], "targets": [first, first]},
        "two leads": {
            "name": "c",
            "calendar_id": hours["id"],
            "targets": [first],
            "warn_at_percent": 80,
            "warn_minutes_before": 10,
        },
        "unknown field": {
            "name": "d",
            "calendar_id": hours["id"],
            "targets": [first],
            "conditions": {"all": [{"field": "mood", "operator": "equals", "value": "x"}]},
        },
        "wrong operator": {
            "name": "e",
            "calendar_id": hours["id"],
            "targets": [first],
            "conditions": {"all": [{"field": "tags", "operator": "equals", "value": "vip"}]},
        },
        "wrong value": {
            "name": "f",
            "calendar_id": hours["id"],
            "targets": [first],
            "conditions": {"any": [{"field": "priority", "operator": "in", "value": ["gấp"]}]},
        },
        "unknown calendar": {
            "name": "g",
            "calendar_id": "01a21066-5bc5-7752-86b4-7854846c4566",
            "targets": [first],
        },
    }
    for case, body in cases.items():
        response = await tenant.admin.post("/v1/sla-policies", json=body)
        assert response.status_code == 422, (case, response.text)
    created = await policy(tenant.admin, [first], calendar_id=hours["id"])
    assert created["warn_at_percent"] == 80 and created["warn_minutes_before"] is None
    changed = await patch(tenant.admin, f"/v1/sla-policies/{created['id']}", {"warn_minutes_before": 15})
    assert changed["warn_minutes_before"] == 15 and changed["warn_at_percent"] is None
    refused = await tenant.admin.patch(f"/v1/sla-policies/{created['id']}", json={"calendar_id": None})
    assert refused.status_code == 422, "its business-hours targets need the calendar"


async def test_what_clocks_count_in_cannot_be_deleted(tenant: Tenant) -> None:
    hours = await calendar(tenant.admin)
    used = await policy(tenant.admin, [target("first_response", 60)], calendar_id=hours["id"])
    assert (await tenant.admin.delete(f"/v1/calendars/{hours['id']}")).status_code == 409
    await create_ticket(tenant.agent)
    assert (await tenant.admin.delete(f"/v1/sla-policies/{used['id']}")).status_code == 409
    await patch(tenant.admin, f"/v1/sla-policies/{used['id']}", {"active": False})
    unused = await policy(tenant.admin, [target("resolution", 60, business_hours=False)])
    assert (await tenant.admin.delete(f"/v1/sla-policies/{unused['id']}")).status_code == 204


# Clocks


async def test_friday_afternoon_with_a_one_hour_target_is_due_monday_morning(tenant: Tenant) -> None:
    hours = await calendar(tenant.admin)
    await policy(
        tenant.admin, [target("first_response", 60), target("resolution", 8 * 60)], calendar_id=hours["id"]
    )
    with travel(at(2026, 11, 27, 16, 30)):
        ticket = await create_ticket(tenant.agent)
        clocks = await sla_of(tenant, ticket["id"])
    assert clocks["first_response"]["due_at"] == iso(at(2026, 11, 30, 9, 30))
    assert clocks["resolution"]["due_at"] == iso(at(2026, 11, 30, 16, 30)), "30 min Friday, 7 h 30 Monday"
    assert ticket["sla_due_at"] == iso(at(2026, 11, 30, 9, 30)) and ticket["sla_breached"] is False
    assert clocks["first_response"]["state"] == "running" and clocks["first_response"]["target_minutes"] == 60
    with travel(at(2026, 11, 28, 11, 0)):  # Saturday: nothing counts
        weekend = await sla_of(tenant, ticket["id"])
        fetched = await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")
        # The ETag names the minute the figures are for; If-Match still compares the version.
        assert fetched.headers["ETag"] == f'"1.{int(at(2026, 11, 28, 11, 0).timestamp()) // 60}"'
        changed = await tenant.agent.patch(
            f"/v1/tickets/{ticket['id']}",
            json={"tags": ["vip"]},
            headers={"If-Match": fetched.headers["ETag"]},
        )
        assert changed.status_code == 200, changed.text
    assert weekend["first_response"]["elapsed_minutes"] == 30.0
    assert weekend["first_response"]["remaining_minutes"] == 30.0


async def test_a_ticket_opened_on_a_holiday_counts_from_the_next_working_minute(tenant: Tenant) -> None:
    hours = await calendar(tenant.admin, holidays=[{"start": "2026-12-02", "name": "Nghỉ bù"}])
    await policy(tenant.admin, [target("first_response", 30)], calendar_id=hours["id"])
    with travel(at(2026, 12, 2, 10, 0)):
        ticket = await create_ticket(tenant.agent)
    assert ticket["sla_due_at"] == iso(at(2026, 12, 3, 9, 30))


async def test_split_shifts_and_calendar_time(tenant: Tenant) -> None:
    shifts = await create(tenant.admin, "/v1/calendars", calendar_example("ca"))  # 08:00-12:00, 13:30-17:30
    await policy(
        tenant.admin,
        [target("first_response", 60), target("resolution", 24 * 60, business_hours=False)],
        calendar_id=shifts["id"],
    )
    with travel(at(2026, 12, 1, 11, 30)):
        ticket = await create_ticket(tenant.agent)
        clocks = await sla_of(tenant, ticket["id"])
    assert clocks["first_response"]["due_at"] == iso(at(2026, 12, 1, 14, 0)), "lunch does not count"
    assert clocks["resolution"]["due_at"] == iso(at(2026, 12, 2, 11, 30)), "every hour counts"
    assert clocks["resolution"]["business_hours"] is False and clocks["resolution"]["calendar_id"] is None


async def test_policies_apply_in_order_and_follow_the_fields_they_look_at(tenant: Tenant) -> None:
    vip_rule = {"all": [{"field": "requester_vip", "operator": "equals", "value": True}]}
    vip = await policy(
        tenant.admin,
        [target("first_response", 15, business_hours=False), target("first_response", 5, "urgent", False)],
        name="Khách VIP",
        conditions=vip_rule,
        position=0,
    )
    everyone = await policy(
        tenant.admin,
        [target("first_response", 120, business_hours=False), target("first_response", 30, "urgent", False)],
        name="Mọi phiếu",
        position=1,
    )
    important = await create_contact(tenant.agent, name="Ông Lâm", email="lam@example.vn", vip=True)
    ordinary = await create_contact(tenant.agent, name="Bà Hương", email="huong@example.vn")
    start = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    with travel(start):
        for_vip = await create_ticket(tenant.agent, requester_id=important["id"])
        for_others = await create_ticket(tenant.agent, requester_id=ordinary["id"])
    assert for_vip["sla_policy_id"] == vip["id"] and for_others["sla_policy_id"] == everyone["id"]
    assert for_others["sla_due_at"] == iso(start + timedelta(minutes=120))

    with travel(start + timedelta(minutes=10)):
        urgent = await patch(tenant.agent, f"/v1/tickets/{for_others['id']}", {"priority": "urgent"})
    assert urgent["sla_due_at"] == iso(start + timedelta(minutes=30)), "the 10 minutes counted stay counted"

    with travel(start + timedelta(minutes=12)):
        moved = await patch(
            tenant.agent, f"/v1/tickets/{for_others['id']}", {"requester_id": important["id"]}
        )
    assert moved["sla_policy_id"] == vip["id"], "the requester is what the policies look at"
    assert moved["sla_due_at"] == iso(start + timedelta(minutes=12)), "12 minutes counted of 5: due now"
    history = (await tenant.viewer.get(f"/v1/tickets/{for_others['id']}/history")).json()["items"]
    assert [e["new_value"] for e in history if e["field"] == "sla_policy_id"][-1] == vip["id"]


async def test_waiting_on_the_customer_stops_the_clock(tenant: Tenant) -> None:
    await policy(tenant.admin, [target("first_response", 120, business_hours=False)])
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with travel(start):
        ticket = await create_ticket(tenant.agent)
    pending = await status_id(tenant.viewer, "pending")
    with travel(start + timedelta(minutes=20)):
        paused = await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_id": pending})
        clocks = await sla_of(tenant, ticket["id"])
    assert paused["sla_due_at"] is None
    assert clocks["first_response"]["state"] == "paused" and clocks["first_response"]["due_at"] is None
    with travel(start + timedelta(minutes=80)):
        resumed = await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_kind": "open"})
        clocks = await sla_of(tenant, ticket["id"])
    assert resumed["sla_due_at"] == iso(start + timedelta(minutes=180)), "moved by the hour it waited"
    assert clocks["first_response"]["elapsed_minutes"] == 20.0

    # A status of kind pending can be made not to stop the clocks.
    keeps_counting = await create(
        tenant.admin, "/v1/statuses", {"name": "Chờ xác minh", "kind": "pending", "pauses_sla": False}
    )
    with travel(start + timedelta(minutes=90)):
        still = await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_id": keeps_counting["id"]})
    assert still["sla_due_at"] == iso(start + timedelta(minutes=180))


async def test_replies_fulfil_responses_and_each_customer_message_starts_the_next(tenant: Tenant) -> None:
    await policy(
        tenant.admin,
        [
            target("first_response", 60, business_hours=False),
            target("next_response", 30, business_hours=False),
            target("resolution", 600, business_hours=False),
        ],
    )
    customer = await create_contact(tenant.agent, name="Chị Ngọc", email="ngoc@example.vn")
    staff = (await tenant.admin.post("/v1/agents", json={"external_id": "ho-tro", "name": "Anh Khoa"})).json()
    agent = {"type": "agent", "id": staff["id"]}
    contact = {"type": "contact", "id": customer["id"]}
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    with travel(start):
        ticket = await create_ticket(tenant.agent, requester_id=customer["id"])
    with travel(start + timedelta(minutes=5)):
        await comment(tenant.agent, ticket["id"], public=False, author=agent, body="Ghi chú")
        await comment(tenant.agent, ticket["id"], public=True, author=agent)
        clocks = await sla_of(tenant, ticket["id"])
    assert clocks["first_response"]["state"] == "fulfilled"
    assert clocks["first_response"]["elapsed_minutes"] == 5.0
    assert "next_response" not in clocks, "nothing to answer yet"

    with travel(start + timedelta(minutes=10)):
        await comment(
            tenant.agent, ticket["id"], public=True, author=contact, body="Em vẫn chưa nhận được hàng"
        )
    with travel(start + timedelta(minutes=15)):
        await comment(tenant.agent, ticket["id"], public=True, author=contact, body="Anh kiểm tra giúp em")
        clocks = await sla_of(tenant, ticket["id"])
    assert clocks["next_response"]["cycle"] == 1 and clocks["next_response"]["state"] == "running"
    assert clocks["next_response"]["due_at"] == iso(start + timedelta(minutes=40)), "from the first message"

    with travel(start + timedelta(minutes=25)):
        await comment(tenant.agent, ticket["id"], public=True, author=agent)
    with travel(start + timedelta(minutes=30)):
        await comment(tenant.agent, ticket["id"], public=True, author=contact, body="Cảm ơn anh")
        clocks = await sla_of(tenant, ticket["id"])
    assert clocks["next_response"]["cycle"] == 2 and clocks["next_response"]["state"] == "running"
    assert clocks["next_response"]["due_at"] == iso(start + timedelta(minutes=60))

    with travel(start + timedelta(minutes=40)):
        solved = await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_kind": "solved"})
        clocks = await sla_of(tenant, ticket["id"])
    assert clocks["resolution"]["state"] == "fulfilled" and clocks["next_response"]["state"] == "cancelled"
    assert solved["sla_due_at"] is None
    with travel(start + timedelta(minutes=100)):
        await tenant.agent.post(f"/v1/tickets/{ticket['id']}/reopen")
        clocks = await sla_of(tenant, ticket["id"])
    assert clocks["resolution"]["state"] == "running", "reopened: the resolution is due again"
    assert clocks["resolution"]["due_at"] == iso(start + timedelta(minutes=100 + 600 - 40))


async def test_new_holidays_move_the_due_times_of_running_clocks(tenant: Tenant) -> None:
    hours = await calendar(tenant.admin)
    await policy(tenant.admin, [target("first_response", 60)], calendar_id=hours["id"])
    with travel(at(2026, 11, 27, 16, 30)):
        ticket = await create_ticket(tenant.agent)
        before = await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")
        await patch(tenant.admin, f"/v1/calendars/{hours['id']}", {"holidays": [{"start": "2026-11-30"}]})
        after = await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")
    assert after.json()["sla_due_at"] == iso(at(2026, 12, 1, 9, 30))
    assert after.headers["ETag"] != before.headers["ETag"]


async def test_lists_filter_and_sort_by_due_time_and_breach(
    app: FastAPI, settings: Settings, tenant: Tenant
) -> None:
    await policy(tenant.admin, [target("first_response", 60, business_hours=False)])
    start = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    with travel(start):
        late = await create_ticket(tenant.agent, subject="Trễ hạn")
    with travel(start + timedelta(minutes=30)):
        soon = await create_ticket(tenant.agent, subject="Sắp đến hạn")
        await create_ticket(tenant.agent, subject="Đã xong", status_kind="solved")
    await announce_due(app.state.db, settings, start + timedelta(minutes=61))

    def subjects(response: httpx.Response) -> list[str]:
        return [item["subject"] for item in response.json()["items"]]

    breached = await tenant.viewer.get("/v1/tickets", params={"sla_breached": "true"})
    assert subjects(breached) == ["Trễ hạn"]
    by_due = await tenant.viewer.get("/v1/tickets", params={"sort": "sla_due_at"})
    assert subjects(by_due) == ["Trễ hạn", "Sắp đến hạn", "Đã xong"], "no due time last"
    window = {
        "sla_due_after": iso(start + timedelta(minutes=70)),
        "sla_due_before": iso(start + timedelta(hours=2)),
    }
    assert subjects(await tenant.viewer.get("/v1/tickets", params=window)) == ["Sắp đến hạn"]
    assert late["sla_due_at"] < soon["sla_due_at"]


# Announcements


async def test_a_warning_then_a_breach_each_once_per_cycle(
    app: FastAPI, settings: Settings, tenant: Tenant
) -> None:
    await policy(tenant.admin, [target("first_response", 60, business_hours=False)], warn_at_percent=80)
    start = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    with travel(start):
        ticket = await create_ticket(tenant.agent)
    for minutes in (47, 49, 50, 61, 75):
        await announce_due(app.state.db, settings, start + timedelta(minutes=minutes))
        if minutes == 47:
            assert await events(tenant, "ticket.sla_warning") == []
    [warning] = await events(tenant, "ticket.sla_warning")
    [breach] = await events(tenant, "ticket.sla_breached")
    assert (
        warning["data"]["sla"]["metric"] == "first_response"
        and warning["data"]["ticket"]["id"] == ticket["id"]
    )
    assert warning["data"]["sla"]["warned_at"] == iso(start + timedelta(minutes=48))
    assert breach["data"]["sla"]["breached_at"] == iso(start + timedelta(minutes=60))
    assert breach["data"]["ticket"]["sla_breached"] is True and breach["actor"]["type"] == "system"
    with travel(start + timedelta(minutes=75)):
        fetched = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()
    assert fetched["sla_breached"] is True and fetched["sla"]["metrics"][0]["remaining_minutes"] == -15


async def test_a_pause_moves_the_breach(app: FastAPI, settings: Settings, tenant: Tenant) -> None:
    await policy(tenant.admin, [target("first_response", 60, business_hours=False)], warn_minutes_before=10)
    start = datetime(2026, 12, 9, 2, 0, tzinfo=UTC)
    with travel(start):
        ticket = await create_ticket(tenant.agent)
    with travel(start + timedelta(minutes=30)):
        await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_kind": "on_hold"})
    await announce_due(app.state.db, settings, start + timedelta(minutes=65))
    assert await events(tenant, "ticket.sla_breached") == [], "paused: nothing is due"
    with travel(start + timedelta(minutes=90)):
        await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_kind": "open"})
    await announce_due(app.state.db, settings, start + timedelta(minutes=105))
    assert await events(tenant, "ticket.sla_warning") == [], "30 + 15 minutes counted of 50"
    await announce_due(app.state.db, settings, start + timedelta(minutes=111))
    assert await events(tenant, "ticket.sla_breached") == []
    [warning] = await events(tenant, "ticket.sla_warning")
    assert warning["data"]["sla"]["warned_at"] == iso(start + timedelta(minutes=110))
    await announce_due(app.state.db, settings, start + timedelta(minutes=121))
    [breach] = await events(tenant, "ticket.sla_breached")
    assert breach["data"]["sla"]["breached_at"] == iso(start + timedelta(minutes=120))


async def test_the_worker_announces_a_breach_within_seconds_of_the_due_time(
    app: FastAPI, database_url: str, settings: Settings, tenant: Tenant
) -> None:
    await policy(tenant.admin, [target("first_response", 1, business_hours=False)], warn_at_percent=50)
    with travel(datetime.now(UTC) - timedelta(seconds=57)):
        ticket = await create_ticket(tenant.agent)
    configured = settings.model_copy(update={"worker": WorkerSettings(poll_seconds=0.2, sla_seconds=1)})
    async with running_worker(app, database_url, configured):
        for _ in range(150):
            if await events(tenant, "ticket.sla_breached"):
                break
            await asyncio.sleep(0.1)
    [breach] = await events(tenant, "ticket.sla_breached")
    due = datetime.fromisoformat(ticket["sla_due_at"])
    late = datetime.fromisoformat(breach["occurred_at"]) - due
    assert timedelta(0) <= late < timedelta(seconds=60)
    [warning] = await events(tenant, "ticket.sla_warning")
    assert warning["data"]["sla"]["warned_at"] < breach["data"]["sla"]["breached_at"]


async def test_breaches_are_announced_once_by_two_workers_one_of_them_killed(
    database_url: str, tenant: Tenant
) -> None:
    await policy(
        tenant.admin,
        [target("first_response", 60, business_hours=False), target("resolution", 90, business_hours=False)],
    )
    with travel(datetime.now(UTC) - timedelta(hours=3)):
        tickets = [await create_ticket(tenant.agent) for _ in range(40)]
    fast = {"HELPDESK_WORKER_SLA_SECONDS": "0.2"}
    workers = [start_worker(database_url, **fast) for _ in range(2)]
    try:
        await asyncio.sleep(0.4)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        workers[0] = start_worker(database_url, **fast)
        for _ in range(150):
            if len(await events(tenant, "ticket.sla_breached")) >= 80:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        breaches = await events(tenant, "ticket.sla_breached")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
    announced = Counter((e["data"]["ticket"]["id"], e["data"]["sla"]["metric"]) for e in breaches)
    assert len(announced) == 80 and set(announced.values()) == {1}
    assert {ticket_id for ticket_id, _ in announced} == {ticket["id"] for ticket in tickets}
    assert await events(tenant, "ticket.sla_warning") == [], "past due already: the breach says it all"


# Reports


async def test_the_sla_report_counts_met_breached_and_running_with_times(
    app: FastAPI, settings: Settings, tenant: Tenant
) -> None:
    await policy(
        tenant.admin,
        [
            target("first_response", 30, business_hours=False),
            target("first_response", 15, "urgent", False),
            target("resolution", 240, business_hours=False),
        ],
    )
    staff = (await tenant.admin.post("/v1/agents", json={"external_id": "bao-cao", "name": "Chị Vy"})).json()
    reply = {"public": True, "author": {"type": "agent", "id": staff["id"]}}
    start = datetime(2026, 12, 14, 2, 0, tzinfo=UTC)
    with travel(start):
        normal = [await create_ticket(tenant.agent) for _ in range(4)]
        await create_ticket(tenant.agent, priority="urgent")
    for ticket, minutes in zip(normal[:3], (5, 10, 20), strict=True):
        with travel(start + timedelta(minutes=minutes)):
            await comment(tenant.agent, ticket["id"], **reply)
    with travel(start + timedelta(minutes=60)):
        await patch(tenant.agent, f"/v1/tickets/{normal[0]['id']}", {"status_kind": "solved"})
    await announce_due(app.state.db, settings, start + timedelta(minutes=31))  # normal[3] and urgent are late

    period = {"from": iso(start - timedelta(hours=1)), "to": iso(start + timedelta(hours=1))}
    response = await tenant.viewer.get("/v1/reports/sla", params=period)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["group_by"] == "priority" and report["from"] == period["from"]
    rows = {row["key"]: row for row in report["rows"]}
    assert rows["normal"]["tickets"] == 4 and rows["urgent"]["tickets"] == 1
    first = rows["normal"]["metrics"]["first_response"]
    assert (first["met"], first["breached"], first["running"]) == (3, 1, 0)
    assert first["median_minutes"] == 10.0 and first["p90_minutes"] == 18.0, "5, 10 and 20 minutes"
    resolution = rows["normal"]["metrics"]["resolution"]
    assert (resolution["met"], resolution["breached"], resolution["running"]) == (1, 0, 3)
    assert resolution["median_minutes"] == 60.0
    assert rows["urgent"]["metrics"]["first_response"]["breached"] == 1

    by_agent = (await tenant.viewer.get("/v1/reports/sla", params={**period, "group_by": "agent"})).json()
    assert [row["key"] for row in by_agent["rows"]] == [None], "nobody is assigned"
    elsewhere = await tenant.viewer.get("/v1/reports/sla", params={"to": iso(start - timedelta(days=40))})
    assert elsewhere.json()["rows"] == []
    backwards = await tenant.viewer.get(
        "/v1/reports/sla", params={"from": period["to"], "to": period["from"]}
    )
    assert backwards.status_code == 400
    assert (await tenant.viewer.get("/v1/reports/sla", params={"group_by": "mood"})).status_code == 422
