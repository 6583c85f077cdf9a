# ruff: noqa: S608 (the SQL is put together from this file's own constants and numbers)
"""Which index serves conversation search: a folded text column with a trigram GIN, or a tsvector.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one) in a fresh database and
fills two tables with the same generated comments (Vietnamese and English words, a common phrase in
about a fifth of the rows, a rare one in a few): one keeps the folded text (as `fold` makes it) under a
`gin_trgm_ops` index, the other a `tsvector` generated with an `unaccent` text search configuration
under a GIN index. It prints, for each, the top-50 latency (newest first) of the common and the rare
phrase from EXPLAIN ANALYZE, the plan chosen, the index's size, and the cost of inserting comments one
at a time (also into a table without a search index). Then it fills the service's own tables (a
workspace of `--tickets` tickets with two comments each) and times the search the service runs: the
first two pages of GET /v1/search, the first page of `q` on the ticket list, and GET /v1/tags.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
import timeit
from pathlib import Path
from uuid import UUID

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.auth.principal import Principal  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import create_database  # noqa: E402
from app.kit.pagination import PageParams  # noqa: E402
from app.kit.search import fold, parse_query  # noqa: E402
from app.models.enums import ActorType, Role  # noqa: E402
from app.search.tasks import fold_tag_count_changes_on  # noqa: E402
from app.workspaces.service import create_workspace  # noqa: E402
from bench.common import bench_database, plain, server_kind, server_version, table  # noqa: E402

WORDS = [
    "khách",
    "hàng",
    "đơn",
    "hàng",
    "sản",
    "phẩm",
    "được",
    "giao",
    "đến",
    "nhưng",
    "không",
    "đúng",
    "màu",
    "vui",
    "lòng",
    "kiểm",
    "tra",
    "giúp",
    "em",
    "cảm",
    "ơn",
    "anh",
    "chị",
    "đã",
    "liên",
    "hệ",
    "chúng",
    "tôi",
    "sẽ",
    "xử",
    "lý",
    "trong",
    "ngày",
    "hôm",
    "nay",
    "tài",
    "khoản",
    "mật",
    "khẩu",
    "đăng",
    "nhập",
    "lỗi",
    "ứng",
    "dụng",
    "thanh",
    "toán",
    "thẻ",
    "ngân",
    "hàng",
    "hóa",
    "đơn",
    "bảo",
    "hành",
    "đổi",
    "trả",
    "the",
    "order",
    "arrived",
    "late",
    "please",
    "refund",
    "my",
    "payment",
    "account",
    "login",
    "password",
    "error",
    "app",
    "delivery",
    "shipping",
    "invoice",
    "warranty",
    "support",
    "thanks",
    "hello",
]
COMMON = "Giao hàng chậm"
RARE = "hoàn tiền hai lần"
CONFIGURATION = """
CREATE EXTENSION IF NOT EXISTS unaccent;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'bench_unaccent') THEN
    CREATE TEXT SEARCH CONFIGURATION bench_unaccent (COPY = simple);
    ALTER TEXT SEARCH CONFIGURATION bench_unaccent
      ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;
  END IF;
END $$;
"""


def words(seed: str) -> str:
    """SQL for 10 to 40 random words of WORDS, a line break between some."""
    return f"""(SELECT string_agg(w, CASE WHEN random() < 0.05 THEN E'\\n' ELSE ' ' END)
   FROM (SELECT (ARRAY{list(WORDS)!r})[1 + floor(random() * {len(WORDS)})::int] AS w
           FROM generate_series(1, 10 + ({seed}) % 31)) words)"""


def body(seed: str, common: str = COMMON) -> str:
    """SQL for a comment: words, the common phrase in a fifth of them, the rare one in a few."""
    return (
        f"{words(seed)} || CASE WHEN ({seed}) % 5 = 0 THEN ' {common} ' ELSE '' END"
        f" || CASE WHEN ({seed}) % 20000 = 7 THEN ' {RARE}' ELSE '' END"
    )


# What `fold` makes of a body, in SQL (equal on this vocabulary), for the bulk fill only.
FOLDED = "trim(regexp_replace(lower(unaccent(body)), '\\s+', ' ', 'g'))"


async def explain(connection: asyncpg.Connection, query: str, *args: object) -> tuple[float, str]:
    """Median execution time of five runs, and the plan's top nodes."""
    times = []
    plan = ""
    for _ in range(5):
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", *args)
        document = json.loads(rows[0][0])[0]
        times.append(document["Execution Time"])
        plan = _shape(document["Plan"])
    return statistics.median(times), plan


def _shape(node: dict) -> str:
    name = node["Node Type"] + (f" {node['Index Name']}" if "Index Name" in node else "")
    children = node.get("Plans", [])
    return name if not children else f"{name} → {_shape(children[0])}"


async def fill(connection: asyncpg.Connection, rows: int) -> None:
    await connection.execute(CONFIGURATION)
    await connection.execute("""
        CREATE TABLE bench_plain (workspace_id int, id bigint, ticket_id bigint, body text,
                                  PRIMARY KEY (workspace_id, id));
        CREATE TABLE bench_trgm (workspace_id int, id bigint, ticket_id bigint, body text, search_text text,
                                 PRIMARY KEY (workspace_id, id));
        CREATE TABLE bench_tsv (workspace_id int, id bigint, ticket_id bigint, body text,
                                search_vector tsvector
                                  GENERATED ALWAYS AS (to_tsvector('bench_unaccent', body)) STORED,
                                PRIMARY KEY (workspace_id, id));
    """)
    await connection.execute(f"""
        INSERT INTO bench_trgm (workspace_id, id, ticket_id, body)
        SELECT 1, g, g / 3, {body("g")} FROM generate_series(1, {rows}) g
    """)
    await connection.execute(f"UPDATE bench_trgm SET search_text = {FOLDED}")
    await connection.execute(
        "INSERT INTO bench_tsv (workspace_id, id, ticket_id, body) SELECT workspace_id, id, ticket_id, body "
        "FROM bench_trgm"
    )
    await connection.execute("""
        CREATE INDEX bench_trgm_search ON bench_trgm USING gin (search_text gin_trgm_ops);
        CREATE INDEX bench_tsv_search ON bench_tsv USING gin (search_vector);
    """)
    await connection.execute("VACUUM ANALYZE bench_trgm")
    await connection.execute("VACUUM ANALYZE bench_tsv")


async def insert_rate(connection: asyncpg.Connection, table_name: str, count: int, start: int) -> float:
    """Comments inserted one statement at a time, each in its own transaction (with the index), per second."""
    bodies = await connection.fetch("SELECT body FROM bench_trgm ORDER BY id LIMIT $1", count)
    with_key = table_name == "bench_trgm"
    statement = f"INSERT INTO {table_name} (workspace_id, id, ticket_id, body" + (
        ", search_text) VALUES (1, $1, $1, $2, $3)" if with_key else ") VALUES (1, $1, $1, $2)"
    )
    prepared = await connection.prepare(statement)
    began = time.perf_counter()
    for offset, row in enumerate(bodies):
        arguments = [start + offset, row["body"]]
        if with_key:
            arguments.append(fold(row["body"]))
        await prepared.fetch(*arguments)
    return count / (time.perf_counter() - began)


async def compare(url: str, rows: int, inserts: int) -> None:
    connection = await asyncpg.connect(plain(url))
    print(f"PostgreSQL {await server_version(url)} ({server_kind()}), {rows:,} comments")
    began = time.perf_counter()
    await fill(connection, rows)
    print(f"filled in {time.perf_counter() - began:.0f} s")
    share = await connection.fetchval(
        "SELECT avg((search_text LIKE '%giao hang cham%')::int) FROM bench_trgm"
    )
    print(f"the common phrase is in {share:.1%} of the comments")
    results = []
    for label, phrase in (("common", COMMON), ("rare", RARE)):
        trigram = await explain(
            connection,
            "SELECT id FROM bench_trgm WHERE workspace_id = 1 AND search_text LIKE $1 "
            "ORDER BY id DESC LIMIT 50",
            f"%{fold(phrase)}%",
        )
        vector = await explain(
            connection,
            "SELECT id FROM bench_tsv WHERE workspace_id = 1 "
            "AND search_vector @@ phraseto_tsquery('bench_unaccent', $1) ORDER BY id DESC LIMIT 50",
            phrase,
        )
        ranked = await explain(
            connection,
            "SELECT id FROM bench_tsv WHERE workspace_id = 1 AND search_vector @@ phraseto_tsquery("
            "'bench_unaccent', $1) ORDER BY ts_rank(search_vector, phraseto_tsquery('bench_unaccent', $1)) "
            "DESC, id DESC LIMIT 50",
            phrase,
        )
        results.append([f"trigram, {label}", f"{trigram[0]:.1f} ms", trigram[1]])
        results.append([f"tsvector, {label}", f"{vector[0]:.1f} ms", vector[1]])
        results.append([f"tsvector ranked, {label}", f"{ranked[0]:.1f} ms", ranked[1]])
    print(table(["index, phrase", "top 50, median of 5", "plan"], results))
    sizes = await connection.fetch(
        "SELECT relname, pg_relation_size(oid) AS bytes FROM pg_class "
        "WHERE relname IN ('bench_trgm_search', 'bench_tsv_search', 'bench_trgm', 'bench_tsv')"
    )
    print(", ".join(f"{row['relname']} {row['bytes'] / 2**20:.0f} MiB" for row in sizes))
    plain_rate = await insert_rate(connection, "bench_plain", inserts, rows + 1)
    trigram_rate = await insert_rate(connection, "bench_trgm", inserts, rows + 1)
    vector_rate = await insert_rate(connection, "bench_tsv", inserts, rows + 1)
    sample = [row["body"] for row in await connection.fetch("SELECT body FROM bench_trgm LIMIT 1000")]
    fold_us = timeit.timeit(lambda: [fold(body) for body in sample], number=3) / 3 / len(sample) * 1e6
    print(
        f"inserts one at a time: no search index {plain_rate:,.0f}/s, trigram {trigram_rate:,.0f}/s "
        f"(fold in Python: {fold_us:.0f} µs a comment), tsvector {vector_rate:,.0f}/s"
    )
    await connection.close()


async def fill_tickets(url: str, tickets: int) -> UUID:
    """A workspace with `tickets` tickets and two comments each: the common phrase in one comment of a
    fifth of the tickets (with its accents, but in one of fifty written without), the rare phrase in a
    few, a tag each from a small set."""
    database = create_database(url, Settings())
    async with database.sessionmaker() as session, session.begin():
        workspace = (await create_workspace(session, "Tìm kiếm")).workspace.id
    await database.dispose()
    connection = await asyncpg.connect(plain(url))
    status = await connection.fetchval(
        "SELECT id FROM ticket_statuses WHERE workspace_id = $1 AND kind = 'open' LIMIT 1", workspace
    )
    await connection.execute(
        f"""
        INSERT INTO tickets (workspace_id, id, number, subject, description, status_id, status_kind, priority,
                             channel, search_text, tags, created_at, updated_at)
        SELECT $1, gen_random_uuid(), g, 'Phiếu ' || g, {words("g")}, $2, 'open', 'normal', 'api', '',
               ARRAY[(ARRAY['giao-hàng', 'hoàn-tiền', 'bảo-hành', 'vip'])[1 + g % 4]],
               now() - make_interval(secs => {tickets} - g), now() - make_interval(secs => {tickets} - g)
          FROM generate_series(1, {tickets}) g
        """,
        workspace,
        status,
    )
    await fold_tag_count_changes_on(connection)
    await connection.execute(
        f"UPDATE tickets SET search_text = {FOLDED.replace('body', 'subject')} || ' | ' || "
        f"{FOLDED.replace('body', 'description')} WHERE workspace_id = $1",
        workspace,
    )
    await connection.execute(
        f"""
        INSERT INTO comments (workspace_id, id, ticket_id, author_type, public, body, channel, created_at)
        SELECT t.workspace_id, gen_random_uuid(), t.id, 'agent', c = 1,
               CASE WHEN c = 1 THEN {words("t.number")}
                    ELSE replace({body("t.number")}, '{COMMON}',
                                 CASE WHEN t.number % 50 = 0 THEN '{fold(COMMON)}' ELSE '{COMMON}' END) END,
               'api', t.created_at
          FROM tickets t, generate_series(1, 2) c
         WHERE t.workspace_id = $1
        """,
        workspace,
    )
    await connection.execute(f"UPDATE comments SET search_text = {FOLDED} WHERE workspace_id = $1", workspace)
    await connection.execute("VACUUM ANALYZE tickets")
    await connection.execute("VACUUM ANALYZE comments")
    await connection.execute("VACUUM ANALYZE tag_counts, tag_count_changes")
    await connection.close()
    return workspace


async def time_service(url: str, workspace: UUID, tickets: int) -> None:
    """The first page of GET /v1/search and of `q` on the ticket list, as the service queries them."""
    from app.search.service import SearchService
    from app.tickets.filters import TicketFilters
    from app.tickets.repository import TicketRepository

    database = create_database(url, Settings())
    principal = Principal(workspace, Role.admin, ActorType.api_key, workspace)
    connection = await asyncpg.connect(plain(url))
    share = await connection.fetchval(
        "SELECT avg((EXISTS (SELECT 1 FROM comments c WHERE c.workspace_id = t.workspace_id "
        "AND c.ticket_id = t.id AND c.search_text LIKE '%giao hang cham%'))::int) FROM tickets t "
        "WHERE t.workspace_id = $1",
        workspace,
    )
    await connection.close()
    print(
        f"{tickets:,} tickets, {2 * tickets:,} comments; the common phrase is in {share:.1%} of the tickets"
    )
    rows = []
    for label, phrase in (
        ("common", COMMON),
        ("common, typed without accents", fold(COMMON)),
        ("rare", RARE),
        ("words apart", "khách chậm"),
    ):
        requests = ("GET /v1/search", "GET /v1/search, page 2", "GET /v1/tickets?q=")
        for what in (*requests, "GET /v1/tags") if label == "rare" else requests:
            timings = []
            for _ in range(5):
                async with database.sessionmaker() as session, session.begin():
                    service = SearchService(session, principal, "VN")
                    began = time.perf_counter()
                    if what.startswith("GET /v1/search"):
                        hits, cursor = await service.search(phrase, "tickets", PageParams(None, 50))
                        if what.endswith("page 2") and cursor is not None:
                            began = time.perf_counter()
                            hits, cursor = await service.search(phrase, "tickets", PageParams(cursor, 50))
                    elif what == "GET /v1/tags":
                        hits = await service.tags("", 20)
                    else:
                        query = parse_query(phrase, "VN")
                        repository = TicketRepository(session, workspace)
                        hits, cursor = await repository.list_page(
                            principal, TicketFilters(text=query), "-created_at", PageParams(None, 50)
                        )
                    timings.append((time.perf_counter() - began) * 1000)
            rows.append(
                [
                    "—" if what == "GET /v1/tags" else label,
                    what,
                    len(hits),
                    f"{statistics.median(timings):.1f} ms",
                ]
            )
    print(table(["phrase", "request", "hits on the page", "median of 5"], rows))
    await database.dispose()


async def tag_count_cost(url: str, workspace: UUID, count: int = 2_000) -> None:
    """Tickets with two tags inserted one at a time, each in its own transaction, with the triggers that
    record what they change in the tags' counts and without them."""
    connection = await asyncpg.connect(plain(url))
    status = await connection.fetchval(
        "SELECT id FROM ticket_statuses WHERE workspace_id = $1 AND kind = 'open' LIMIT 1", workspace
    )
    insert = await connection.prepare(
        "INSERT INTO tickets (workspace_id, id, number, subject, status_id, status_kind, priority, channel, "
        "tags) VALUES ($1, gen_random_uuid(), $2, 'Phiếu', $3, 'open', 'normal', 'api', "
        "ARRAY['giao-hàng', 'khách-vip'])"
    )
    start = await connection.fetchval("SELECT max(number) FROM tickets WHERE workspace_id = $1", workspace)
    rates = {}
    for label in ("with the counting triggers", "without"):
        if label == "without":
            await connection.execute("ALTER TABLE tickets DISABLE TRIGGER tickets_count_tags_inserted")
        began = time.perf_counter()
        for number in range(start + 1, start + count + 1):
            await insert.fetch(workspace, number, status)
        start += count
        rates[label] = count / (time.perf_counter() - began)
    await connection.execute("ALTER TABLE tickets ENABLE TRIGGER tickets_count_tags_inserted")
    await connection.close()
    print(
        ", ".join(f"tickets with two tags inserted {label}: {rate:,.0f}/s" for label, rate in rates.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--inserts", type=int, default=5_000)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--skip-index-comparison", action="store_true")
    arguments = parser.parse_args()
    with bench_database() as url:
        if not arguments.skip_index_comparison:
            asyncio.run(compare(url, arguments.rows, arguments.inserts))
        if arguments.tickets:

            async def run() -> None:
                workspace = await fill_tickets(url, arguments.tickets)
                await time_service(url, workspace, arguments.tickets)
                await tag_count_cost(url, workspace)

            asyncio.run(run())


if __name__ == "__main__":
    main()
