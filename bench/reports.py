"""The reports and the incremental export on one workspace of many tickets.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one), migrates a fresh
database, writes `--tickets` tickets spread over a year (one in seven unresolved, over 50 agents, 10
groups and the 7 channels) with plain SQL, vacuums, then runs each report as a request would (the
service, its statements) and prints the best of three runs in milliseconds.
"""

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.auth.principal import Principal  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import create_database  # noqa: E402
from app.exports.service import export_page  # noqa: E402
from app.models.enums import ActorType, Role  # noqa: E402
from app.reports.service import ReportService  # noqa: E402
from app.tickets.filters import TicketFilters  # noqa: E402
from app.tickets.repository import TicketRepository  # noqa: E402
from bench.common import bench_database, plain, server_kind  # noqa: E402

WORKSPACE = UUID("00000000-0000-0000-0000-00000000aaaa")
NOW = datetime(2026, 12, 7, tzinfo=UTC)

SETUP = """
INSERT INTO workspaces (id, name) VALUES ($1, 'Quy mô');
"""
ROWS = [
    """INSERT INTO ticket_statuses (workspace_id, id, name, kind, is_default) VALUES
       ($1, '00000000-0000-0000-0000-000000000002', 'Đang xử lý', 'open', true),
       ($1, '00000000-0000-0000-0000-000000000005', 'Đã giải quyết', 'solved', true)""",
    """INSERT INTO agents (workspace_id, id, external_id, name, role)
       SELECT $1, ('00000000-0000-0000-0001-' || lpad(g::text, 12, '0'))::uuid, 'a' || g,
              'Nhân viên ' || g, 'agent'
       FROM generate_series(1, 50) g""",
    """INSERT INTO groups (workspace_id, id, name)
       SELECT $1, ('00000000-0000-0000-0002-' || lpad(g::text, 12, '0'))::uuid, 'Nhóm ' || g
       FROM generate_series(1, 10) g""",
    # One ticket every `spacing` seconds back from NOW; resolved ones solved up to 60 h later.
    """INSERT INTO tickets (workspace_id, id, number, subject, status_id, status_kind, priority, channel,
                           group_id, assignee_id, created_at, updated_at, solved_at, first_response_at,
                           first_reply_seconds, resolution_seconds, agent_replies)
       SELECT $1, gen_random_uuid(), g, 'Phiếu ' || g,
         CASE WHEN g % 7 = 0 THEN '00000000-0000-0000-0000-000000000002'::uuid
              ELSE '00000000-0000-0000-0000-000000000005'::uuid END,
         CASE WHEN g % 7 = 0 THEN 'open'::status_kind ELSE 'solved'::status_kind END,
         (ARRAY['urgent', 'high', 'normal', 'low'])[1 + g % 4]::ticket_priority,
         (ARRAY['api', 'web', 'chat', 'email', 'messenger', 'zalo', 'call'])[1 + g % 7]::channel,
         ('00000000-0000-0000-0002-' || lpad((1 + g % 10)::text, 12, '0'))::uuid,
         ('00000000-0000-0000-0001-' || lpad((1 + g % 50)::text, 12, '0'))::uuid,
         t, t + interval '1 hour',
         CASE WHEN g % 7 = 0 THEN NULL ELSE t + (g % 97) * interval '37 minutes' END,
         t + (g % 31) * interval '3 minutes', (g % 31) * 180,
         CASE WHEN g % 7 = 0 THEN NULL ELSE (g % 97) * 37 * 60 END, 1
       FROM generate_series(1, $2::int) g,
            LATERAL (SELECT $3::timestamptz - g * make_interval(secs => $4::float8) AS t) spaced""",
]


async def fill(url: str, tickets: int) -> None:
    connection = await asyncpg.connect(plain(url))
    try:
        await connection.execute(SETUP.replace("$1", f"'{WORKSPACE}'"))
        for statement in ROWS[:-1]:
            await connection.execute(statement, WORKSPACE)
        await connection.execute(ROWS[-1], WORKSPACE, tickets, NOW, 366 * 86400 / tickets)
        await connection.execute("VACUUM ANALYZE tickets")
    finally:
        await connection.close()


async def measure(url: str) -> dict[str, float]:
    database = create_database(url, Settings())
    principal = Principal(WORKSPACE, Role.admin, ActorType.api_key, UUID(int=1))
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    month = (NOW - timedelta(days=30), NOW)
    year = (NOW - timedelta(days=366), NOW)
    runs = {
        "volume by day, 30 days": lambda s: s.volume(*month, "day", zone),
        "volume by channel, 366 days": lambda s: s.volume(*year, "channel", zone),
        "times, 30 days": lambda s: s.times(*month, "none"),
        "times by group, 30 days": lambda s: s.times(*month, "group"),
        "sla, 30 days": lambda s: s.sla(*month, "priority"),
        "backlog": lambda s: s.backlog(datetime(2000, 1, 1, tzinfo=UTC), NOW, NOW),
        "backlog trend, 30 days": lambda s: s.backlog_trend(*month, zone, NOW),
        "agents, 30 days": lambda s: s.agents(*month),
        "export, a page of 100": None,
    }
    results: dict[str, float] = {}
    try:
        for label, run in runs.items():
            timings = []
            for _ in range(3):
                async with database.sessionmaker() as session:
                    tickets = TicketRepository(session, WORKSPACE)
                    started = time.perf_counter()
                    if run is None:
                        await export_page(tickets, (NOW - timedelta(days=200), UUID(int=0)), 100, 5)
                    else:
                        await run(ReportService(tickets, principal, TicketFilters()))
                    timings.append((time.perf_counter() - started) * 1000)
            results[label] = round(min(timings), 1)
    finally:
        await database.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    args = parser.parse_args()
    with bench_database() as url:
        started = time.perf_counter()
        asyncio.run(fill(url, args.tickets))
        filled = time.perf_counter() - started
        results = asyncio.run(measure(url))
    print(
        json.dumps(
            {"server": server_kind(), "tickets": args.tickets, "fill_s": round(filled, 1), "ms": results},
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
