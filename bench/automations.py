"""What automations cost at scale: the workers' scan when nothing is due, working out the next times of
a workspace's tickets after its automations change, and how fast due automations act.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one) in a fresh database and
fills one workspace with `--tickets` tickets through `helpdesk demo load` (no comments). Then, in this
process, on the workers' own functions:

1. the idle scan (`act_on_due` with nothing due) before any automation exists, `--repeat` times;
2. three automations are made (close solved tickets 72 hours after they were solved; tag urgent tickets
   nobody took 30 minutes after they were opened; tag tickets waiting on the customer for 2 business
   days of a calendar of two shifts a day), and the rescan works out every open ticket's next time:
   tickets per second;
3. the due automations act (`act_on_due` until nothing is due): actions per second;
4. the idle scan again, with every ticket scheduled, and the plan of its query.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from app.assembly import assemble  # noqa: E402
from app.automations.schemas import AutomationCreate  # noqa: E402
from app.automations.service import create_automation  # noqa: E402
from app.automations.tasks import act_on_due, rescan  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import Database, create_database  # noqa: E402
from app.kit.time import utcnow  # noqa: E402
from app.models import Ticket, Workspace  # noqa: E402
from app.sla.configuration import create_calendar  # noqa: E402
from app.sla.schemas import CalendarCreate  # noqa: E402
from bench.common import (  # noqa: E402
    HELPDESK,
    bench_database,
    helpdesk_env,
    server_kind,
    server_version,
    table,
)

# The workers' query for due tickets (app/automations/tasks.py), as SQL for EXPLAIN.
DUE_QUERY = (
    "SELECT workspace_id, id FROM tickets WHERE automation_due_at <= now() "
    "ORDER BY automation_due_at LIMIT 200"
)


def since(field: str, hours: float, **extra: str) -> dict[str, object]:
    return {"field": f"hours_since_{field}", "operator": "at_least", "value": hours, **extra}


# Working hours in Hồ Chí Minh City: two shifts a day, Monday to Saturday.
WORKING_HOURS = CalendarCreate(
    name="Giờ hành chính",
    time_zone="Asia/Ho_Chi_Minh",
    hours=[
        {"day": day, "start": start, "end": end}
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
        for start, end in (("08:00", "12:00"), ("13:30", "17:30"))
    ],
)


def automations(calendar_id: str) -> list[AutomationCreate]:
    waiting = since("status_entered", 16, calendar_id=calendar_id)
    return [
        AutomationCreate.model_validate(body)
        for body in (
            {
                "name": "Đóng phiếu đã giải quyết sau 72 giờ",
                "conditions": {
                    "all": [
                        {"field": "status_kind", "operator": "equals", "value": "solved"},
                        since("solved", 72),
                    ]
                },
                "actions": [{"type": "set_status", "status_kind": "closed"}],
            },
            {
                "name": "Phiếu khẩn chưa ai nhận sau 30 phút",
                "conditions": {
                    "all": [
                        {"field": "priority", "operator": "equals", "value": "urgent"},
                        {"field": "assignee_id", "operator": "equals", "value": None},
                        since("created", 0.5),
                    ]
                },
                "actions": [{"type": "add_tags", "tags": ["can-gap"]}],
            },
            {
                "name": "Chờ khách 2 ngày làm việc",
                "conditions": {
                    "all": [{"field": "status_kind", "operator": "equals", "value": "pending"}, waiting]
                },
                "actions": [{"type": "add_tags", "tags": ["nhac-khach"]}],
            },
        )
    ]


async def idle_scans(database: Database, settings: Settings, repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        acted = await act_on_due(database, settings, utcnow())
        timings.append((time.perf_counter() - started) * 1000)
        assert acted == 0, acted
    return sorted(timings)


@dataclass
class Result:
    tickets: int
    idle_before_ms: list[float]
    rescanned: int
    rescan_seconds: float
    scheduled: int
    due: int
    acted: int
    act_seconds: float
    idle_after_ms: list[float]
    plan: str


async def measure(url: str, repeat: int) -> Result:
    assemble()
    settings = Settings()
    database = create_database(url, settings)
    try:
        async with database.sessionmaker() as session:
            workspace_id = await session.scalar(select(Workspace.id).limit(1))
            tickets = await session.scalar(select(func.count()).select_from(Ticket))
        assert workspace_id is not None
        before = await idle_scans(database, settings, repeat)

        async with database.sessionmaker() as session, session.begin():
            calendar = await create_calendar(session, workspace_id, WORKING_HOURS)
            for data in automations(str(calendar.id)):
                await create_automation(session, workspace_id, data, settings)
        started = time.perf_counter()
        looked_at = 0
        while looked := await rescan(database, utcnow()):
            looked_at += looked
        rescan_seconds = time.perf_counter() - started
        async with database.sessionmaker() as session:
            scheduled = await session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.automation_due_at.is_not(None))
            )
            due = await session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.automation_due_at <= utcnow())
            )

        started = time.perf_counter()
        acted = 0
        while True:
            done = await act_on_due(database, settings, utcnow())
            acted += done
            if not done:
                break
        act_seconds = time.perf_counter() - started

        after = await idle_scans(database, settings, repeat)
        async with database.sessionmaker() as session:
            rows = await session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {DUE_QUERY}"))
            plan = "\n".join(row[0] for row in rows)
        return Result(
            tickets or 0,
            before,
            looked_at,
            rescan_seconds,
            scheduled or 0,
            due or 0,
            acted,
            act_seconds,
            after,
            plan,
        )
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50, help="idle scans timed, before and after")
    arguments = parser.parse_args()
    with bench_database() as url:
        load = [HELPDESK, "demo", "load", "--tickets", str(arguments.tickets), "--workspaces", "1"]
        load += ["--comments-per-ticket", "0"]
        subprocess.run(load, cwd=ROOT, env=helpdesk_env(url), check=True, stdout=subprocess.DEVNULL)
        result = asyncio.run(measure(url, arguments.repeat))
        version = asyncio.run(server_version(url))
    print(f"PostgreSQL {version} ({server_kind()}), {result.tickets:,} tickets in one workspace")
    rescan_rate = result.rescanned / result.rescan_seconds
    act_rate = result.acted / result.act_seconds
    print(
        table(
            ["measure", "figure"],
            [
                ["idle scan, no automation (p50 / p95 ms)", _p50_p95(result.idle_before_ms)],
                ["rescan after 3 automations (tickets/s)", f"{rescan_rate:,.0f}"],
                ["tickets scheduled / due at once", f"{result.scheduled:,} / {result.due:,}"],
                ["automations acted (actions/s)", f"{result.acted:,} ({act_rate:,.0f}/s)"],
                ["idle scan, all scheduled (p50 / p95 ms)", _p50_p95(result.idle_after_ms)],
            ],
        )
    )
    print(result.plan)
    if os.environ.get("BENCH_JSON"):
        print(json.dumps({name: value for name, value in asdict(result).items() if name != "plan"}))


def _p50_p95(ordered: list[float]) -> str:
    return f"{statistics.median(ordered):.2f} / {ordered[int(len(ordered) * 0.95) - 1]:.2f}"


if __name__ == "__main__":
    main()
