"""The migrated schema can be distributed by workspace (Citus): every tenant table carries the workspace,
and every key and unique index includes it, as docs/distribution.md relies on."""

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.locks import plain_url

DOCUMENT = Path(__file__).parent.parent / "docs" / "distribution.md"

# Tables that hold no workspace's rows, and why; docs/distribution.md says what becomes of each.
GLOBAL_TABLES = {
    # Written by migrations, which run on the coordinator: it stays a local table there.
    "alembic_version": "the version of the schema, one for the whole database",
    # One row, locked by one worker at a time (FOR UPDATE SKIP LOCKED): a reference table.
    "dispatch_cursor": "how far the fan-out of events to webhooks has gone, across all workspaces",
}
# Tables whose rows name workspaces but are looked up before the workspace is known, across all of
# them: one table for the whole service (a reference table), keyed by what is looked up.
LOOKUP_TABLES = {
    "channel_claims": "what a channel receives for (an email address, a Page, an OA, a Zalo app), unique "
    "across workspaces, and the workspace and channel that hold it",
}
REFERENCE_TABLES = {"dispatch_cursor", *LOOKUP_TABLES}
# The workspaces themselves are distributed by their id, which every other table calls workspace_id.
DISTRIBUTION_COLUMNS = {"workspaces": "id"}


@dataclass(frozen=True)
class UniqueIndex:
    table: str
    name: str
    columns: tuple[str, ...]
    definition: str


@dataclass(frozen=True)
class ForeignKey:
    table: str
    name: str
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]


@dataclass(frozen=True)
class Catalog:
    # Table -> its columns, and which of them are NOT NULL.
    columns: dict[str, set[str]]
    not_null: dict[str, set[str]]
    unique_indexes: list[UniqueIndex]
    foreign_keys: list[ForeignKey]


TABLES = """
SELECT c.relname AS table, a.attname AS column, a.attnotnull AS not_null
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""
# Primary keys, unique constraints and unique indexes (partial ones too) all have a unique index behind
# them; exclusion constraints have one as well, and Citus holds them to the same rule.
UNIQUE_INDEXES = """
SELECT t.relname AS table, i.relname AS name, pg_get_indexdef(i.oid) AS definition,
       ARRAY(
           SELECT a.attname FROM unnest(x.indkey) AS k(attnum)
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
       ) AS columns
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND (x.indisunique OR x.indisexclusion)
"""
FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text AS table, c.conname AS name, c.confrelid::regclass::text AS referred_table,
       ARRAY(
           SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, position)
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.position
       ) AS columns,
       ARRAY(
           SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, position)
           JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.position
       ) AS referred_columns
FROM pg_constraint c
WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
"""


@pytest.fixture(scope="module")
async def catalog(database_url: str) -> Catalog:
    """What the migrated database's catalog says of its tables, keys and indexes."""
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        columns: dict[str, set[str]] = {}
        not_null: dict[str, set[str]] = {}
        for row in await connection.fetch(TABLES):
            columns.setdefault(row["table"], set()).add(row["column"])
            if row["not_null"]:
                not_null.setdefault(row["table"], set()).add(row["column"])
        unique = [
            UniqueIndex(row["table"], row["name"], tuple(row["columns"]), row["definition"])
            for row in await connection.fetch(UNIQUE_INDEXES)
        ]
        foreign = [
            ForeignKey(
                row["table"],
                row["name"],
                tuple(row["columns"]),
                row["referred_table"],
                tuple(row["referred_columns"]),
            )
            for row in await connection.fetch(FOREIGN_KEYS)
        ]
    finally:
        await connection.close()
    return Catalog(columns, not_null, unique, foreign)


def distribution_column(table: str) -> str | None:
    """The column `table` is distributed by; None for a table that holds no workspace's rows."""
    if table in GLOBAL_TABLES or table in LOOKUP_TABLES:
        return None
    return DISTRIBUTION_COLUMNS.get(table, "workspace_id")


def test_every_tenant_table_carries_its_workspace(catalog: Catalog) -> None:
    missing = [
        f"{table}: no NOT NULL {column}"
        for table in sorted(catalog.columns)
        if (column := distribution_column(table)) and column not in catalog.not_null.get(table, set())
    ]
    assert missing == []


def test_every_primary_key_and_unique_index_includes_the_workspace(catalog: Catalog) -> None:
    without = [
        index.definition
        for index in catalog.unique_indexes
        if (column := distribution_column(index.table)) and column not in index.columns
    ]
    assert without == [], "a unique index of a tenant table must include workspace_id"


def test_global_tables_exist_and_hold_no_workspace(catalog: Catalog) -> None:
    for table in GLOBAL_TABLES:
        assert table in catalog.columns and "workspace_id" not in catalog.columns[table], table


def test_lookup_tables_exist_and_no_foreign_key_ties_them_to_tenant_tables(catalog: Catalog) -> None:
    """A reference table may refer only to reference tables, and Citus refuses a key from a
    distributed table to a reference table's rows of every workspace alike: they stand alone."""
    assert LOOKUP_TABLES.keys() <= catalog.columns.keys()
    tied = [key.name for key in catalog.foreign_keys if {key.table, key.referred_table} & set(LOOKUP_TABLES)]
    assert tied == []


def test_every_foreign_key_between_tenant_tables_joins_on_the_workspace(catalog: Catalog) -> None:
    """Citus keeps a foreign key between distributed tables only when it pairs their distribution
    columns (a key to a reference table may be anything)."""
    unpaired = []
    for key in catalog.foreign_keys:
        column, referred = distribution_column(key.table), distribution_column(key.referred_table)
        if column is None or referred is None:
            continue
        if (column, referred) not in zip(key.columns, key.referred_columns, strict=True):
            unpaired.append(f"{key.table}.{key.name}")
    assert unpaired == []


def _commands(text: str) -> list[tuple[str, str | None]]:
    """(table, distribution column or None for a reference table), in the document's order."""
    pattern = re.compile(
        r"create_distributed_table\('(\w+)', '(\w+)'(?:, colocate_with => '(\w+)')?\)"
        r"|create_reference_table\('(\w+)'\)"
    )
    commands = []
    for match in pattern.finditer(text):
        distributed, column, colocated, reference = match.groups()
        if distributed:
            assert distributed == "workspaces" or colocated == "workspaces", f"{distributed} is colocated"
            commands.append((distributed, column))
        else:
            commands.append((reference, None))
    return commands


def test_the_document_distributes_every_table_in_an_order_its_foreign_keys_allow(catalog: Catalog) -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    commands = _commands(text)
    expected = {
        table: distribution_column(table)
        for table in catalog.columns
        if distribution_column(table) is not None or table in REFERENCE_TABLES
    }
    assert dict(commands) == expected and len(commands) == len(expected)
    assert all(table in text for table in GLOBAL_TABLES)
    position = {table: place for place, (table, _) in enumerate(commands)}
    late = [
        f"{key.table} before {key.referred_table}"
        for key in catalog.foreign_keys
        if key.table != key.referred_table and position[key.table] < position[key.referred_table]
    ]
    assert late == [], "a table is distributed before a table its foreign keys refer to"
