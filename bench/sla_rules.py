"""What SLA clocks and triggers cost: the workers' announcement scan, and ticket creation with rules.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one) in a fresh database and
serves the API on it. First it drives `POST /v1/tickets` for a fixed time in a plain workspace and in
one with an SLA policy in business hours, a round-robin group of online agents the tickets go to, and
three triggers on `ticket.created`, and prints both rates. Then it fills a workspace whose SLA policy
counts in calendar time with tickets whose clocks run: some through the API, the rest copied from
them (ticket and clock rows, new ids and numbers, times moved back). A chosen number of them are past
due. It times `announce_due` announcing them, then with nothing due, at a tenth of the tickets and
at all of them, and shows the plan of the due-clock query. Everything stays on 127.0.0.1.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.assembly import assemble  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import create_database  # noqa: E402
from app.kit.ids import new_id  # noqa: E402
from app.models.workspace import ticket_number_sequence  # noqa: E402
from app.sla.repository import due_tickets  # noqa: E402
from app.sla.tasks import BATCH, announce_due  # noqa: E402
from bench.common import (  # noqa: E402
    BODY,
    Tenant,
    bench_database,
    call,
    drive_http,
    plain,
    prepare,
    serve_api,
    server_kind,
    server_version,
    table,
)

# Working hours in Hồ Chí Minh City: two shifts a day, Monday to Saturday.
WORKING_HOURS = [
    {"day": day, "start": start, "end": end}
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    for start, end in (("08:00", "12:00"), ("13:30", "17:30"))
]
PRIORITIES = ("urgent", "high", "normal", "low")
# Tickets the scan workspace gets through the API; the rest are copies of them.
THROUGH_API = 1000
SUBJECTS = [
    "Giao hàng chậm, khách hỏi tình trạng đơn",
    "Không đăng nhập được ứng dụng",
    "Yêu cầu xuất hóa đơn VAT",
    "Đổi trả sản phẩm bị lỗi",
    "Thanh toán qua thẻ bị trừ tiền hai lần",
    "Hỏi về chương trình khuyến mãi",
]
CHANNELS = ["call", "web", "email", "zalo", "messenger", "chat"]


async def calendar(session: aiohttp.ClientSession, base: str, tenant: Tenant) -> str:
    body = {"name": "Giờ hành chính", "time_zone": "Asia/Ho_Chi_Minh", "hours": WORKING_HOURS}
    return (await call(session, base, tenant.admin_key, "POST", "/v1/calendars", body))["id"]


async def set_up_rules(base: str, tenant: Tenant) -> dict[str, Any]:
    """An SLA policy in business hours, a round-robin group of 5 online agents, 3 ticket.created triggers.

    Returns the body the load posts: the group's tickets, which the triggers tag, make urgent and answer.
    """
    async with aiohttp.ClientSession() as session:
        key = tenant.admin_key
        calendar_id = await calendar(session, base, tenant)
        targets = [
            {"priority": priority, "metric": metric, "minutes": minutes * (index + 1)}
            for index, priority in enumerate(PRIORITIES)
            for metric, minutes in (("first_response", 30), ("resolution", 240))
        ]
        policy = {"name": "SLA giờ hành chính", "calendar_id": calendar_id, "targets": targets}
        await call(session, base, key, "POST", "/v1/sla-policies", policy)
        group = await call(
            session,
            base,
            key,
            "POST",
            "/v1/groups",
            {"name": "Chăm sóc khách hàng", "assignment_strategy": "round_robin"},
        )
        for number in range(1, 6):
            agent = {
                "external_id": f"cskh-{number}",
                "name": f"Nhân viên CSKH {number}",
                "role": "agent",
                "availability": "online",
                "capacity": 1000,
            }
            created = await call(session, base, key, "POST", "/v1/agents", agent)
            await call(session, base, key, "PUT", f"/v1/groups/{group['id']}/members/{created['id']}")
        macro = await call(
            session,
            base,
            key,
            "POST",
            "/v1/macros",
            {
                "name": "Xác nhận tiếp nhận",
                "body": "Chào {{ requester.name }}, phiếu #{{ ticket.number }} đã được tiếp nhận. "
                "Chúng tôi sẽ phản hồi trong giờ làm việc.",
            },
        )
        triggers = [
            {
                "name": "Gắn nhãn vận chuyển",
                "position": 1,
                "conditions": {"all": [{"field": "subject", "operator": "contains", "value": "giao hàng"}]},
                "actions": [{"type": "add_tags", "tags": ["van-chuyen"]}],
            },
            {
                "name": "Vận chuyển là việc gấp",
                "position": 2,
                "conditions": {"all": [{"field": "tags", "operator": "contains", "value": "van-chuyen"}]},
                "actions": [{"type": "set_priority", "priority": "urgent"}],
            },
            {
                "name": "Trả lời tự động",
                "position": 3,
                "conditions": {"all": [{"field": "internal", "operator": "equals", "value": False}]},
                "actions": [{"type": "add_comment", "macro_id": macro["id"], "public": True}],
            },
        ]
        for trigger in triggers:
            await call(session, base, key, "POST", "/v1/triggers", {**trigger, "events": ["ticket.created"]})
    return {**BODY, "group_id": group["id"]}


async def what_the_rules_did(url: str, workspace_id: UUID) -> dict[str, int]:
    connection = await asyncpg.connect(plain(url))
    try:
        row = await connection.fetchrow(
            """
            SELECT count(*) AS tickets,
                   count(assignee_id) AS assigned,
                   count(*) FILTER (WHERE priority = 'urgent' AND 'van-chuyen' = ANY (tags)) AS tagged_urgent,
                   count(*) FILTER (WHERE sla_due_at IS NOT NULL) AS with_sla,
                   (SELECT count(*) FROM comments c WHERE c.workspace_id = $1) AS comments
            FROM tickets WHERE workspace_id = $1
            """,
            workspace_id,
        )
    finally:
        await connection.close()
    return dict(row)


async def set_up_scan(base: str, tenant: Tenant, count: int, concurrency: int = 16) -> None:
    """A policy in calendar time (first response 60 min, resolution 8 h), and tickets through the API."""
    async with aiohttp.ClientSession() as session:
        calendar_id = await calendar(session, base, tenant)
        targets = [
            {"priority": priority, "metric": metric, "minutes": minutes, "business_hours": False}
            for priority in ("high", "normal")
            for metric, minutes in (("first_response", 60), ("resolution", 480))
        ]
        policy = {"name": "SLA 24/7", "calendar_id": calendar_id, "targets": targets, "warn_at_percent": 80}
        await call(session, base, tenant.admin_key, "POST", "/v1/sla-policies", policy)
        pending = iter(range(count))

        async def creator() -> None:
            for index in pending:
                body = {
                    "subject": f"{SUBJECTS[index % len(SUBJECTS)]} (đơn DH-{100000 + index})",
                    "description": "Khách hàng liên hệ qua tổng đài, cần phản hồi sớm.",
                    "priority": ("normal", "high")[index % 2],
                    "tags": ["can-xu-ly"],
                    "channel": CHANNELS[index % len(CHANNELS)],
                    "requester_id": str(tenant.requester_id),
                }
                await call(session, base, tenant.key, "POST", "/v1/tickets", body)

        await asyncio.gather(*(creator() for _ in range(concurrency)))


async def columns(connection: asyncpg.Connection, table: str) -> list[tuple[str, str]]:
    rows = await connection.fetch(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' "
        "ORDER BY attnum",
        table,
    )
    return [(row[0], row[1]) for row in rows]


def copy_list(table_columns: list[tuple[str, str]], source: str, replaced: dict[str, str]) -> tuple[str, str]:
    """The column list and the select list of a copy: some columns replaced, every time moved back."""
    names, values = [], []
    for name, kind in table_columns:
        names.append(f'"{name}"')
        if name in replaced:
            values.append(replaced[name])
        elif kind.startswith("timestamp"):
            values.append(f'{source}."{name}" - make_interval(secs => copy.shift)')
        else:
            values.append(f'{source}."{name}"')
    return ", ".join(names), ", ".join(values)


async def add_copies(url: str, workspace_id: UUID, count: int, due: int, batch: int = 5000) -> None:
    """`count` copies of the workspace's API-made tickets with their clocks, `due` of them past due.

    A copy's times are moved back by 0 to 40 minutes (its warning stays at least 8 minutes ahead) or,
    for the due ones, by 70 to 90 minutes (its first response is overdue, its resolution is not).
    """
    connection = await asyncpg.connect(plain(url))
    try:
        templates = [
            row[0]
            for row in await connection.fetch(
                "SELECT id FROM tickets WHERE workspace_id = $1 ORDER BY number LIMIT $2",
                workspace_id,
                THROUGH_API,
            )
        ]
        ticket_names, ticket_values = copy_list(
            await columns(connection, "tickets"), "t", {"id": "copy.id", "number": "copy.number"}
        )
        clock_names, clock_values = copy_list(
            await columns(connection, "ticket_slas"), "s", {"ticket_id": "copy.id"}
        )
        copy_tickets = f"""
            INSERT INTO tickets ({ticket_names})
            SELECT {ticket_values}
            FROM unnest($2::uuid[], $3::uuid[], $4::bigint[], $5::float8[])
                AS copy(id, template, number, shift)
            JOIN tickets t ON t.workspace_id = $1 AND t.id = copy.template
        """  # noqa: S608 (the columns are the catalog's)
        copy_clocks = f"""
            INSERT INTO ticket_slas ({clock_names})
            SELECT {clock_values}
            FROM unnest($2::uuid[], $3::uuid[], $4::float8[]) AS copy(id, template, shift)
            JOIN ticket_slas s ON s.workspace_id = $1 AND s.ticket_id = copy.template
        """  # noqa: S608
        # The copies take the sequence's next numbers; the API's creations then go on after them.
        sequence = ticket_number_sequence(workspace_id)
        last = await connection.fetchval(
            "SELECT coalesce(pg_sequence_last_value($1::text::regclass), 0)", sequence
        )
        shifts = [random.uniform(70 * 60, 90 * 60) for _ in range(due)]
        shifts += [random.uniform(0, 40 * 60) for _ in range(count - due)]
        random.shuffle(shifts)
        for start in range(0, count, batch):
            part = shifts[start : start + batch]
            ids = [new_id() for _ in part]
            sources = [templates[(start + index) % len(templates)] for index in range(len(part))]
            numbers = list(range(last + start + 1, last + start + len(part) + 1))
            async with connection.transaction():
                await connection.execute(copy_tickets, workspace_id, ids, sources, numbers, part)
                await connection.execute(copy_clocks, workspace_id, ids, sources, part)
        await connection.execute("SELECT setval($1::text::regclass, $2)", sequence, last + count)
        await connection.execute("VACUUM (ANALYZE) tickets")
        await connection.execute("VACUUM (ANALYZE) ticket_slas")
    finally:
        await connection.close()


async def explain_due(url: str, now: datetime) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the query the scan starts with."""
    from sqlalchemy.dialects.postgresql import asyncpg as dialect

    compiled = due_tickets(now, BATCH).compile(dialect=dialect.dialect())
    values = [compiled.params[name] for name in compiled.positiontup or []]
    connection = await asyncpg.connect(plain(url))
    try:
        plan = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {compiled.string}", *values)
        lines = [row[0] for row in plan]
    finally:
        await connection.close()
    nodes = [line.strip().removeprefix("->").strip().split("  (")[0] for line in lines if "(cost=" in line]
    buffers = [line.strip() for line in lines if line.strip().startswith("Buffers:")]
    timing = [line.strip() for line in lines if line.startswith("Execution Time")]
    return {
        "first_line": lines[0],
        "plan": " → ".join(nodes),
        "buffers": buffers[0] if buffers else "",
        "execution": timing[0] if timing else "",
    }


async def measure_scan(url: str, workspace_id: UUID, now: datetime, idle_calls: int) -> dict[str, Any]:
    assemble()  # the scan runs here, as a worker runs it
    settings = Settings()
    db = create_database(url, settings)
    connection = await asyncpg.connect(plain(url))
    try:
        clocks, due = await connection.fetchrow(
            "SELECT count(*), count(*) FILTER (WHERE next_check_at <= $1) FROM ticket_slas "
            "WHERE next_check_at IS NOT NULL",
            now,
        )
        tickets = await connection.fetchval(
            "SELECT count(*) FROM tickets WHERE workspace_id = $1", workspace_id
        )
    finally:
        await connection.close()
    try:
        await announce_due(db, settings, now - timedelta(days=1))  # nothing then: connects, warms up
        started = time.perf_counter()
        written = await announce_due(db, settings, now)
        announcing = time.perf_counter() - started
        idle = []
        for _ in range(idle_calls):
            started = time.perf_counter()
            assert await announce_due(db, settings, now) == 0
            idle.append(time.perf_counter() - started)
    finally:
        await db.dispose()
    return {
        "tickets": tickets,
        "clocks": clocks,
        "due_clocks": due,
        "events_written": written,
        "announce_s": round(announcing, 2),
        "events_per_second": round(written / announcing, 1),
        "idle_first_ms": round(idle[0] * 1000, 2),
        "idle_p50_ms": round(statistics.median(idle) * 1000, 2),
        "idle_max_ms": round(max(idle) * 1000, 2),
        "explain": await explain_due(url, now),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets with running clocks (N)")
    parser.add_argument("--due", type=int, default=1_000, help="of them past due, at N/10 and at N")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of HTTP load per setup")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="API processes")
    parser.add_argument("--idle-calls", type=int, default=50, help="scans with nothing due, per size")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    small = args.tickets // 10
    through_api = min(THROUGH_API, small)
    if args.due > small - through_api:
        parser.error(f"--due must be at most {small - through_api} (a tenth of --tickets less {through_api})")

    with bench_database() as url:
        version = asyncio.run(server_version(url))
        plain_tenant, rules_tenant, scan_tenant = asyncio.run(prepare(url, 3))
        with serve_api(url, args.workers) as base:
            body = asyncio.run(set_up_rules(base, rules_tenant))
            plain_run = asyncio.run(
                drive_http(base, [plain_tenant], args.concurrency, args.warmup, args.duration)
            )
            rules_run = asyncio.run(
                drive_http(base, [rules_tenant], args.concurrency, args.warmup, args.duration, body)
            )
            asyncio.run(set_up_scan(base, scan_tenant, through_api))
        rules_check = asyncio.run(what_the_rules_did(url, rules_tenant.workspace_id))

        async def latest() -> datetime:
            connection = await asyncpg.connect(plain(url))
            try:
                return await connection.fetchval(
                    "SELECT max(created_at) FROM tickets WHERE workspace_id = $1", scan_tenant.workspace_id
                )
            finally:
                await connection.close()

        now = asyncio.run(latest()) + timedelta(seconds=1)
        scans = []
        for size, added in ((small, small - through_api), (args.tickets, args.tickets - small)):
            started = time.perf_counter()
            asyncio.run(add_copies(url, scan_tenant.workspace_id, added, args.due))
            copying = time.perf_counter() - started
            scans.append({"size": size, "copied": added, "copy_s": round(copying, 1)})
            scans[-1].update(asyncio.run(measure_scan(url, scan_tenant.workspace_id, now, args.idle_calls)))

    result = {
        "database": server_kind(),
        "postgresql": version,
        "api_processes": args.workers,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "creation": {
            "plain": plain_run,
            "rules": rules_run,
            "rules_to_plain_ratio": round(
                rules_run["requests_per_second"] / plain_run["requests_per_second"], 3
            ),
            "what_the_rules_did": rules_check,
        },
        "announcement_scan": scans,
    }
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
        return
    print(f"PostgreSQL {version} ({server_kind()}), {args.workers} API processes")
    print()
    print(
        table(
            ["workspace", "creations/s", "p50 ms", "p99 ms", "errors"],
            [
                [name, run["requests_per_second"], run["p50_ms"], run["p99_ms"], run["errors"]]
                for name, run in (("plain", plain_run), ("SLA + group + 3 triggers", rules_run))
            ],
        )
    )
    print(f"ratio {result['creation']['rules_to_plain_ratio']}; the rules' work: {rules_check}")
    print()
    print(
        table(
            ["tickets", "clocks", "due", "events", "announce s", "events/s", "idle p50 ms", "idle max ms"],
            [
                [
                    scan["tickets"],
                    scan["clocks"],
                    scan["due_clocks"],
                    scan["events_written"],
                    scan["announce_s"],
                    scan["events_per_second"],
                    scan["idle_p50_ms"],
                    scan["idle_max_ms"],
                ]
                for scan in scans
            ],
        )
    )
    for scan in scans:
        explain = scan["explain"]
        print(f"{scan['tickets']} tickets: {explain['first_line']}")
        print(f"    {explain['plan']}; {explain['buffers']}; {explain['execution']}")


if __name__ == "__main__":
    main()
