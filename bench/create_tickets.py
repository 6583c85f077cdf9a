"""Ticket creation over HTTP against the same rows written by raw asyncpg transactions.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one), migrates a fresh
database, writes tickets for the warm-up's length and takes the planner's statistics (`analyze`),
serves the API with one process per core, drives `POST /v1/tickets` at a fixed
concurrency after a warm-up, then inserts the same rows (ticket, history, event) with plain asyncpg and
prints both rates and their ratio. Everything stays on 127.0.0.1 and is bounded in time.

`--without-read-side` first drops what serves search, tags, filters, views and reports (READ_SIDE), and
`--drop NAME` an index or a trigger (`tag_counts`: the tag counting ones), to measure what they cost writes.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.kit.ids import new_id  # noqa: E402
from app.kit.search import search_key  # noqa: E402
from app.models.workspace import ticket_number_sequence  # noqa: E402
from bench.common import (  # noqa: E402
    BODY,
    Tenant,
    analyze,
    api_memory_mb,
    bench_database,
    drive_http,
    plain,
    prepare,
    relayed,
    serve_api,
    server_kind,
)

RAW_INSERT = """
WITH history AS (
    INSERT INTO ticket_history
        (workspace_id, id, ticket_id, change_id, occurred_at, actor_type, field, new_value)
    SELECT $1, h.id, $2, $3, now(), 'api_key', h.field, h.new_value
    FROM jsonb_to_recordset($4::jsonb) AS h(id uuid, field text, new_value jsonb)
), number AS (
    SELECT nextval($12::text::regclass) AS value
), event AS (
    INSERT INTO events (workspace_id, id, subject_id, type, occurred_at, actor_type, data)
    SELECT $1, $3, $2, 'ticket.created', now(), 'api_key',
           jsonb_set($11::jsonb, '{ticket,number}', to_jsonb(number.value))
    FROM number
)
INSERT INTO tickets (workspace_id, id, number, subject, description, status_id, status_kind, priority, type,
                     requester_id, tags, channel, search_text)
SELECT $1, $2, number.value, $5, $6, $7, 'new', 'high', 'question', $8, $9, 'call', $10 FROM number
RETURNING *
"""


# The objects kept up to date by every ticket write only to serve search, tags, filters, views and
# reports: the indexes, and the triggers counting tags.
READ_SIDE = (
    "ix_comments_search_text",
    "ix_tickets_tag_keys",
    "ix_tickets_custom_fields",
    "ix_tickets_unresolved",
    "ix_tickets_unresolved_group_id",
    "ix_tickets_unassigned",
    "ix_tickets_sla_breached",
    "ix_tickets_workspace_id_solved_at",
    "ix_tickets_reports",
    "ix_tickets_unresolved_reports",
    "tag_counts",
)


async def drop(url: str, names: list[str]) -> None:
    """Drop the named indexes or triggers (`tag_counts`: the tag counting ones)."""
    connection = await asyncpg.connect(plain(url))
    try:
        for name in names:
            if name == "ix_tickets_tag_keys":  # what the tag filter read before the folded tags
                await connection.execute("CREATE INDEX ix_tickets_tags ON tickets USING gin (tags)")
            triggers = (
                ["tickets_count_tags_inserted", "tickets_count_tags_updated"]
                if name == "tag_counts"
                else [name]
            )
            found = await connection.fetch(
                "SELECT tgname, tgrelid::regclass::text AS tablename FROM pg_trigger WHERE tgname = ANY($1)",
                triggers,
            )
            for trigger in found:
                await connection.execute(f'DROP TRIGGER "{trigger["tgname"]}" ON "{trigger["tablename"]}"')
            if not found:
                await connection.execute(f'DROP INDEX "{name}"')
    finally:
        await connection.close()


async def drive_asyncpg(url: str, tenants: list[Tenant], concurrency: int, duration: float) -> dict:
    """The rows the API writes for one ticket (history, event, number, ticket) as one plain statement."""
    pool = await asyncpg.create_pool(plain(url), min_size=concurrency, max_size=concurrency)
    count = 0
    deadline = time.monotonic() + duration

    async def worker(tenant: Tenant) -> None:
        nonlocal count
        async with pool.acquire() as connection:
            status_id = await connection.fetchval(
                "SELECT id FROM ticket_statuses WHERE workspace_id = $1 AND kind = 'new' AND is_default",
                tenant.workspace_id,
            )
            fields = {**BODY, "status_id": str(status_id), "requester_id": str(tenant.requester_id)}
            while time.monotonic() < deadline:
                ticket_id = new_id()
                history = [
                    {"id": str(new_id()), "field": name, "new_value": value} for name, value in fields.items()
                ]
                async with connection.transaction():
                    await connection.fetchrow(
                        RAW_INSERT,
                        tenant.workspace_id,
                        ticket_id,
                        new_id(),
                        json.dumps(history),
                        BODY["subject"],
                        BODY["description"],
                        status_id,
                        tenant.requester_id,
                        BODY["tags"],
                        search_key(BODY["subject"]),
                        json.dumps({"ticket": {**fields, "id": str(ticket_id)}}),
                        ticket_number_sequence(tenant.workspace_id),
                    )
                count += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(tenants[index % len(tenants)]) for index in range(concurrency)))
    elapsed = time.monotonic() - started
    await pool.close()
    return {"transactions_per_second": round(count / elapsed, 1), "transactions": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="API processes")
    parser.add_argument(
        "--workspaces",
        type=int,
        default=1,
        help="Spread the load over this many workspaces (1: every ticket takes the same sequence's numbers)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="PostgreSQL this far away, each way (a relay holds every packet): 2.5 is a 5 ms round trip",
    )
    parser.add_argument("--without-read-side", action="store_true", help="drop READ_SIDE first")
    parser.add_argument(
        "--drop",
        action="append",
        default=[],
        help="an index or trigger (tag_counts: those counting tags) to drop first",
    )
    parser.add_argument("--raw-only", action="store_true", help="only the plain statements")
    args = parser.parse_args()
    dropped = [*(READ_SIDE if args.without_read_side else ()), *args.drop]

    http = memory = None
    with bench_database() as direct_url, relayed(direct_url, args.latency_ms) as url:
        asyncio.run(drop(direct_url, dropped))
        tenants = asyncio.run(prepare(direct_url, args.workspaces))
        asyncio.run(drive_asyncpg(url, tenants, args.concurrency, args.warmup))
        asyncio.run(analyze(direct_url))
        if not args.raw_only:
            with serve_api(url, args.workers) as base:
                http = asyncio.run(drive_http(base, tenants, args.concurrency, args.warmup, args.duration))
                memory = api_memory_mb(base)
        raw = asyncio.run(drive_asyncpg(url, tenants, args.concurrency, args.duration))
    result = {
        "dropped": dropped,
        "database": server_kind(),
        "one_way_latency_ms": args.latency_ms,
        "api_process_rss_mb": memory,
        "api_processes": args.workers,
        "workspaces": args.workspaces,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "http": http,
        "raw_asyncpg": raw,
        "api_to_raw_ratio": http and round(http["requests_per_second"] / raw["transactions_per_second"], 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
