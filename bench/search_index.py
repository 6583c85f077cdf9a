"""Which index serves conversation search: a folded text column with a trigram GIN, or a tsvector.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one) in a fresh database and
fills two tables with the same generated comments (Vietnamese and English words, a common phrase in
about a fifth of the rows, a rare one in a few): one keeps the folded text (as `fold` makes it) under a
`gin_trgm_ops` index, the other a `tsvector` generated with an `unaccent` text search configuration
under a GIN index. It prints, for each, the top-50 latency (newest first) of the common and the rare
phrase from EXPLAIN ANALYZE, the plan chosen, the index's size, and the cost of inserting comments one
at a time. Then it times the search the service runs (`q` on the ticket list, first page, and
GET /v1/search's first page) on tickets and comments made the same way.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
import timeit
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.kit.search import fold  # noqa: E402
from bench.common import bench_database, plain, server_kind, server_version, table  # noqa: E402

WORDS = (
    "khách hàng đơn hàng sản phẩm được giao đến nhưng không đúng màu vui lòng kiểm tra giúp em cảm ơn "
    "anh chị đã liên hệ chúng tôi sẽ xử lý trong ngày hôm nay tài khoản mật khẩu đăng nhập lỗi ứng dụng "
    "thanh toán thẻ ngân hàng hóa đơn bảo hành đổi trả the order arrived late please refund my payment "
    "account login password error app delivery shipping invoice warranty support thanks hello"
).split()
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
# The generated body: 10 to 40 words, a line break in some, the common phrase in a fifth of the rows.
BODY = f"""
(SELECT string_agg(w, CASE WHEN random() < 0.05 THEN E'\\n' ELSE ' ' END)
   FROM (SELECT (ARRAY{list(WORDS)!r})[1 + floor(random() * {len(WORDS)})::int] AS w
           FROM generate_series(1, 10 + (g % 31))) words)
 || CASE WHEN g % 5 = 0 THEN ' {COMMON} ' ELSE '' END
 || CASE WHEN g % 20000 = 7 THEN ' {RARE}' ELSE '' END
"""
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
        CREATE TABLE bench_trgm (workspace_id int, id bigint, ticket_id bigint, body text, search_text text,
                                 PRIMARY KEY (workspace_id, id));
        CREATE TABLE bench_tsv (workspace_id int, id bigint, ticket_id bigint, body text,
                                search_vector tsvector
                                  GENERATED ALWAYS AS (to_tsvector('bench_unaccent', body)) STORED,
                                PRIMARY KEY (workspace_id, id));
    """)
    await connection.execute(f"""
        INSERT INTO bench_trgm (workspace_id, id, ticket_id, body)
        SELECT 1, g, g / 3, {BODY} FROM generate_series(1, {rows}) g
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
            "SELECT id FROM bench_trgm WHERE workspace_id = 1 AND search_text LIKE $1 ORDER BY id DESC LIMIT 50",
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
    trigram_rate = await insert_rate(connection, "bench_trgm", inserts, rows + 1)
    vector_rate = await insert_rate(connection, "bench_tsv", inserts, rows + 1)
    sample = [row["body"] for row in await connection.fetch("SELECT body FROM bench_trgm LIMIT 1000")]
    fold_us = timeit.timeit(lambda: [fold(body) for body in sample], number=3) / 3 / len(sample) * 1e6
    print(
        f"inserts one at a time: trigram {trigram_rate:,.0f}/s (fold in Python: {fold_us:.0f} µs a comment), "
        f"tsvector {vector_rate:,.0f}/s"
    )
    await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--inserts", type=int, default=5_000)
    arguments = parser.parse_args()
    with bench_database() as url:
        asyncio.run(compare(url, arguments.rows, arguments.inserts))


if __name__ == "__main__":
    main()
