"""A million tickets: what the API's reads take on a database `helpdesk demo load` filled, beside the same
query in plain SQL in the same run.

Serves the API on the loaded database (`--url`, the one DATABASE_URL named for the load), takes the
loaded workspace with the most tickets, and times each case one request at a time: `--repeat` requests
after a few to warm up, then the same number of runs of its plain SQL on one asyncpg connection. Prints
p50 and p95 of both, their ratio, and how many rows each returned (the same, or the case is wrong).

A case is one entry of CASES: the request, and the SQL that answers it (as the service's query does, not
through it: the gap is what the service adds on top of PostgreSQL).
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db import create_database  # noqa: E402
from app.demo.loader import STATE_SCHEMA  # noqa: E402
from bench.common import percentile, plain, serve_api, server_version, table  # noqa: E402


@dataclass(frozen=True)
class Context:
    """What the cases' parameters are made of, found in the loaded workspace."""

    workspace_id: UUID
    tickets: int
    groups: dict[str, UUID]
    # The workspace's built-in views by key.
    views: dict[str, UUID]
    now: datetime


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    params: Callable[[Context], dict[str, str]]
    sql: str  # $1 is the workspace
    args: Callable[[Context], tuple[Any, ...]]
    # The rows of the answer: the page's items, the count's buckets, the report's rows.
    rows: Callable[[Any], int] = lambda answer: len(answer["items"])


def search_sql(terms: int) -> str:
    """The list's `q`: every word of the query, folded, in the ticket's key (subject and description), in
    one comment's key, or in the requester's; newest first."""
    tickets = " AND ".join(f"t.search_text LIKE ${index + 2}" for index in range(terms))
    comments = " AND ".join(f"m.search_text LIKE ${index + 2}" for index in range(terms))
    contacts = " AND ".join(f"c.search_text LIKE ${index + 2}" for index in range(terms))
    return f"""SELECT * FROM tickets t WHERE t.workspace_id = $1 AND t.deleted_at IS NULL AND (({tickets})
        OR EXISTS (SELECT FROM comments m WHERE m.workspace_id = $1 AND m.ticket_id = t.id AND {comments})
        OR t.requester_id IN (SELECT c.id FROM contacts c WHERE c.workspace_id = $1 AND {contacts}))
        ORDER BY t.created_at DESC, t.id DESC LIMIT 51"""  # noqa: S608 - placeholders only


def period(context: Context, days: int) -> dict[str, str]:
    return {"from": (context.now - timedelta(days=days)).isoformat(), "to": context.now.isoformat()}


UNRESOLVED_SQL = "('new', 'open', 'pending', 'on_hold')"


CASES = [
    Case(
        "list: 3 filters, first page of 50",
        "/v1/tickets",
        lambda c: {
            "status_kind": "open,pending",
            "priority": "high,urgent",
            "group": str(c.groups["Vận chuyển"]),
            "limit": "50",
        },
        """SELECT * FROM tickets WHERE workspace_id = $1 AND deleted_at IS NULL
           AND status_kind IN ($2, $3) AND priority IN ($4, $5) AND group_id = $6
           ORDER BY created_at DESC, id DESC LIMIT 51""",
        lambda c: ("open", "pending", "high", "urgent", c.groups["Vận chuyển"]),
    ),
    Case(
        "search: q=giao hang, top 50",
        "/v1/tickets",
        lambda c: {"q": "giao hang", "limit": "50"},
        search_sql(2),
        lambda c: ("%giao%", "%hang%"),
    ),
    Case(
        "search: a rare phrase (q=bo cong thuong)",
        "/v1/tickets",
        lambda c: {"q": "bo cong thuong", "limit": "50"},
        search_sql(3),
        lambda c: ("%bo%", "%cong%", "%thuong%"),
    ),
    Case(
        "count by status",
        "/v1/tickets/counts",
        lambda c: {"group_by": "status"},
        """SELECT status_kind, count(*) FROM tickets WHERE workspace_id = $1 AND deleted_at IS NULL
           GROUP BY status_kind ORDER BY count(*) DESC, status_kind""",
        lambda c: (),
        lambda answer: len(answer["buckets"]),
    ),
    Case(
        "/v1/search: giao hàng (a fifth of the tickets), top 50",
        "/v1/search",
        lambda c: {"q": "giao hàng", "type": "tickets", "limit": "50"},
        """SELECT * FROM tickets WHERE workspace_id = $1 AND deleted_at IS NULL
           AND (subject ILIKE $2 OR description ILIKE $2) ORDER BY updated_at DESC, id DESC LIMIT 51""",
        lambda c: ("%giao hàng%",),
    ),
    Case(
        "/v1/search: a rare phrase (bộ công thương), top 50",
        "/v1/search",
        lambda c: {"q": "bộ công thương", "type": "tickets", "limit": "50"},
        """SELECT * FROM tickets WHERE workspace_id = $1 AND deleted_at IS NULL AND id IN (
             SELECT id FROM tickets WHERE workspace_id = $1 AND search_text LIKE $2
             UNION ALL SELECT ticket_id FROM comments WHERE workspace_id = $1 AND search_text LIKE $2)
           ORDER BY updated_at DESC, id DESC LIMIT 51""",
        lambda c: ("%bo cong thuong%",),
    ),
    Case(
        "view count: all open",
        "/v1/views/{all_open}/count",
        lambda c: {},
        f"""SELECT count(*) FROM tickets WHERE workspace_id = $1 AND deleted_at IS NULL
            AND status_kind IN {UNRESOLVED_SQL}""",  # noqa: S608 - a constant
        lambda c: (),
        lambda answer: 1,
    ),
    Case(
        "view counts: every built-in view at once",
        "/v1/views/counts",
        lambda c: {},
        f"""SELECT count(*) FILTER (WHERE assignee_id IS NULL), count(*) FILTER (WHERE sla_breached),
                   count(*) FROM tickets WHERE workspace_id = $1 AND deleted_at IS NULL
            AND status_kind IN {UNRESOLVED_SQL}""",  # noqa: S608 - a constant
        lambda c: (),
        lambda answer: 1,
    ),
    Case(
        "report: volume by day, last 30 days",
        "/v1/reports/volume",
        lambda c: period(c, 30),
        """SELECT date_trunc('day', created_at AT TIME ZONE 'Asia/Ho_Chi_Minh'), count(*) FROM tickets
           WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3 AND deleted_at IS NULL
           GROUP BY 1 ORDER BY 1""",
        lambda c: (c.now - timedelta(days=30), c.now),
        lambda answer: len(answer["rows"]),
    ),
    Case(
        "report: volume by channel, last 366 days",
        "/v1/reports/volume",
        lambda c: {**period(c, 366), "group_by": "channel"},
        """SELECT channel, count(*) FROM tickets WHERE workspace_id = $1 AND created_at >= $2
           AND created_at < $3 AND deleted_at IS NULL GROUP BY 1""",
        lambda c: (c.now - timedelta(days=366), c.now),
        lambda answer: len(answer["rows"]),
    ),
    Case(
        "report: first reply and resolution times, last 30 days",
        "/v1/reports/times",
        lambda c: period(c, 30),
        """SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY first_reply_seconds),
                  percentile_cont(0.9) WITHIN GROUP (ORDER BY first_reply_seconds),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_seconds),
                  percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution_seconds)
           FROM tickets WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3
           AND deleted_at IS NULL""",
        lambda c: (c.now - timedelta(days=30), c.now),
        lambda answer: len(answer["rows"]),
    ),
    Case(
        "report: backlog by age",
        "/v1/reports/backlog",
        lambda c: {},
        f"""SELECT width_bucket(extract(epoch FROM now() - created_at), ARRAY[86400, 259200, 604800,
                   2592000]), count(*) FROM tickets WHERE workspace_id = $1 AND deleted_at IS NULL
            AND status_kind IN {UNRESOLVED_SQL} GROUP BY 1""",  # noqa: S608 - a constant
        lambda c: (),
        lambda answer: len(answer["buckets"]),
    ),
    Case(
        "report: agents' workload and throughput, last 30 days",
        "/v1/reports/agents",
        lambda c: period(c, 30),
        f"""SELECT assignee_id, count(*) FILTER (WHERE status_kind IN {UNRESOLVED_SQL}),
                   count(*) FILTER (WHERE solved_at >= $2 AND solved_at < $3)
            FROM tickets WHERE workspace_id = $1 AND deleted_at IS NULL AND assignee_id IS NOT NULL
            GROUP BY 1""",  # noqa: S608 - a constant
        lambda c: (c.now - timedelta(days=30), c.now),
        lambda answer: len(answer["rows"]),
    ),
    Case(
        "export: first page of 100",
        "/v1/export/tickets",
        lambda c: {"limit": "100"},
        """SELECT * FROM tickets WHERE workspace_id = $1 ORDER BY updated_at, id LIMIT 101""",
        lambda c: (),
        lambda answer: len(answer["items"]),
    ),
    Case(
        "SLA report, last 30 days by priority",
        "/v1/reports/sla",
        lambda c: {"from": (c.now - timedelta(days=30)).isoformat(), "to": c.now.isoformat()},
        """SELECT t.priority, s.metric, grouping(s.metric), count(DISTINCT s.ticket_id),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY s.elapsed_seconds)
                      FILTER (WHERE s.state = 'fulfilled')
           FROM tickets t JOIN ticket_slas s ON s.workspace_id = t.workspace_id AND s.ticket_id = t.id
           WHERE t.workspace_id = $1 AND t.created_at >= $2 AND t.created_at < $3 AND t.deleted_at IS NULL
           GROUP BY GROUPING SETS ((t.priority, s.metric), (t.priority)) ORDER BY 1, 2""",
        lambda c: (c.now - timedelta(days=30), c.now),
        lambda answer: len(answer["rows"]),
    ),
]


async def loaded_workspace(url: str) -> Context:
    connection = await asyncpg.connect(plain(url))
    try:
        workspace_id, tickets = await connection.fetchrow(
            f"SELECT workspace_id, tickets_loaded FROM {STATE_SCHEMA}.workspaces "  # noqa: S608
            "ORDER BY tickets_loaded DESC LIMIT 1"
        )
        groups = {
            name: group_id
            for name, group_id in await connection.fetch(
                "SELECT name, id FROM groups WHERE workspace_id = $1", workspace_id
            )
        }
        views = {
            key: view_id
            for key, view_id in await connection.fetch(
                "SELECT built_in, id FROM ticket_views WHERE workspace_id = $1 AND built_in IS NOT NULL",
                workspace_id,
            )
        }
    finally:
        await connection.close()
    return Context(workspace_id, tickets, groups, views, datetime.now(UTC))


async def issue_key(url: str, workspace_id: UUID) -> tuple[str, UUID]:
    from app.auth.service import issue_api_key
    from app.models.enums import Role

    database = create_database(url, Settings())
    try:
        async with database.sessionmaker() as session, session.begin():
            issued = await issue_api_key(session, workspace_id, "bench million", Role.admin)
    finally:
        await database.dispose()
    return issued.plaintext, issued.api_key.id


async def revoke_key(url: str, workspace_id: UUID, key_id: UUID) -> None:
    from app.auth.service import revoke_api_key

    database = create_database(url, Settings())
    try:
        async with database.sessionmaker() as session, session.begin():
            await revoke_api_key(session, workspace_id, key_id)
    finally:
        await database.dispose()


def summary(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return round(statistics.median(ordered) * 1000, 2), round(percentile(ordered, 0.95) * 1000, 2)


async def measure(
    base: str, key: str, url: str, context: Context, repeat: int, warmup: int
) -> list[list[Any]]:
    rows = []
    connection = await asyncpg.connect(plain(url))
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            for case in CASES:
                params = case.params(context)
                http, answer = [], None
                for attempt in range(warmup + repeat):
                    started = time.perf_counter()
                    path = case.path.format(**{key: str(view) for key, view in context.views.items()})
                    async with session.get(f"{base}{path}", params=params) as response:
                        text = await response.text()
                        if response.status != 200:
                            raise RuntimeError(f"{case.name}: {response.status} {text}")
                    if attempt >= warmup:
                        http.append(time.perf_counter() - started)
                    answer = json.loads(text)
                statement = await connection.prepare(case.sql)
                arguments = (context.workspace_id, *case.args(context))
                sql, found = [], []
                for attempt in range(warmup + repeat):
                    started = time.perf_counter()
                    found = await statement.fetch(*arguments)
                    if attempt >= warmup:
                        sql.append(time.perf_counter() - started)
                http_p50, http_p95 = summary(http)
                sql_p50, sql_p95 = summary(sql)
                rows.append(
                    [
                        case.name,
                        http_p50,
                        http_p95,
                        sql_p50,
                        sql_p95,
                        round(http_p50 / sql_p50, 1) if sql_p50 else "-",
                        case.rows(answer),
                        min(len(found), int(params["limit"])) if "limit" in params else len(found),
                    ]
                )
                print(f"  {case.name}: HTTP p50 {http_p50} ms, SQL p50 {sql_p50} ms", file=sys.stderr)
    finally:
        await connection.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="The loaded database (postgresql+asyncpg://…)")
    parser.add_argument("--workers", type=int, default=1, help="API processes")
    parser.add_argument("--repeat", type=int, default=30, help="Timed requests per case")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    context = asyncio.run(loaded_workspace(args.url))
    key, key_id = asyncio.run(issue_key(args.url, context.workspace_id))
    try:
        with serve_api(args.url, args.workers) as base:
            rows = asyncio.run(measure(base, key, args.url, context, args.repeat, args.warmup))
    finally:
        asyncio.run(revoke_key(args.url, context.workspace_id, key_id))
    version = asyncio.run(server_version(args.url))
    print(
        f"\nPostgreSQL {version}; the workspace of {context.tickets:,} tickets; {args.repeat} requests per "
        f"case after {args.warmup}, one at a time; {args.workers} API process(es)\n"
    )
    headers = [
        "case",
        "HTTP p50 ms",
        "HTTP p95 ms",
        "SQL p50 ms",
        "SQL p95 ms",
        "HTTP ÷ SQL",
        "rows",
        "SQL rows",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
