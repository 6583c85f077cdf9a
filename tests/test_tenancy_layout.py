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
REFERENCE_TABLES = {"dispatch_cursor"}
# The workspaces themselves are distributed by their id, which every other table calls workspace_id.
DISTRIBUTION_COLUMNS = {"workspaces": "id"}

# Unique indexes that do not include workspace_id yet, and why each stays for now. Each is a rule across
# workspaces — what a channel receives for (an email address, a Page or OA id, a Zalo app id) belongs to
# one channel in the whole service, so that mail or a provider's event finds its workspace — which app
# code relies on (a claim taken twice is a 409 naming the field). Keeping the rule once channels are
# distributed needs the claims in a reference table of their own, written with the channel: a change of
# the channels domain, not of the schema alone. Until then `channels` is what keeps the database from
# being distributed (docs/distribution.md, "Before distributing").
NOT_YET_BY_WORKSPACE = {
    "uq_channels_claimed_address": "an email address is received by one channel of the whole service",
    "uq_channels_kind_claimed_account_id": "a Page or Zalo OA is connected to one channel of the service",
    "uq_channels_kind_claimed_app_id": "a Zalo app is connected to one channel of the whole service",
}


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
    return None if table in GLOBAL_TABLES else DISTRIBUTION_COLUMNS.get(table, "workspace_id")


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
        if (column := distribution_column(index.table))
        and column not in index.columns
        and index.name not in NOT_YET_BY_WORKSPACE
    ]
    assert without == [], "a unique index of a tenant table must include workspace_id"


def test_what_waits_to_include_the_workspace_is_still_there_and_still_without_it(catalog: Catalog) -> None:
    """An entry of NOT_YET_BY_WORKSPACE leaves the list with the change that fixes it."""
    waiting = {index.name: index for index in catalog.unique_indexes if index.name in NOT_YET_BY_WORKSPACE}
    assert waiting.keys() == NOT_YET_BY_WORKSPACE.keys()
    assert all("workspace_id" not in index.columns for index in waiting.values())


def test_global_tables_exist_and_hold_no_workspace(catalog: Catalog) -> None:
    for table in GLOBAL_TABLES:
        assert table in catalog.columns and "workspace_id" not in catalog.columns[table], table


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
        if table not in GLOBAL_TABLES or table in REFERENCE_TABLES
    }
    assert dict(commands) == expected and len(commands) == len(expected)
    assert all(table in text for table in GLOBAL_TABLES.keys() | NOT_YET_BY_WORKSPACE.keys())
    position = {table: place for place, (table, _) in enumerate(commands)}
    late = [
        f"{key.table} before {key.referred_table}"
        for key in catalog.foreign_keys
        if key.table != key.referred_table and position[key.table] < position[key.referred_table]
    ]
    assert late == [], "a table is distributed before a table its foreign keys refer to"
