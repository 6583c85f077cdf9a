"""`helpdesk demo load`: workspaces full of realistic tickets, written with COPY in batches.

Workspaces are provisioned by the services a real one goes through (statuses, agents, groups, categories,
custom fields, organizations); contacts, their identities, tickets and comments are generated as rows
and copied in. Every row is a function of the seed, the workspace's position and its batch, so a rerun
with the same arguments writes what an interrupted run would have, starting where it stopped: what is
loaded is counted in `demo_load.workspaces`, a table of the loader's own (outside the service's schema),
in the transaction of each batch.

Columns the service derives are derived as it does: `search_text` (app/kit/search.py `search_key`, of
the subject and the description for tickets, as app/tickets/service.py; of the body for comments, as
app/comments/service.py; of name, email, phone and its national digits for contacts, as
app/contacts/service.py), `status_kind`, `first_response_at`, `last_public_comment_at`
and `_by`, `solved_at` and `closed_at` from the comments and the status, `assigned_at` as the creation of
an assigned ticket. The workspace's sequence of ticket numbers is moved past the loaded ones. Neither
ticket history nor events are written, no SLA clocks run on loaded tickets, and loaded tickets have no
next automation time until a change (or a change of automations) works it out.
"""

import asyncio
import functools
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.schemas import AgentCreate
from app.agents.service import create_agent
from app.categories.schemas import CategoryCreate
from app.categories.service import create_category
from app.custom_fields.schemas import CustomFieldCreate, CustomFieldOption
from app.custom_fields.service import create_custom_field
from app.demo import texts
from app.groups.schemas import GroupCreate
from app.groups.service import add_member, create_group
from app.kit.search import fold, search_key
from app.models.enums import (
    Availability,
    CustomFieldEntity,
    CustomFieldType,
    Role,
    StatusKind,
    TicketAccess,
)
from app.models.workspace import ticket_number_sequence
from app.organizations.schemas import OrganizationCreate
from app.organizations.service import create_organization
from app.search.tasks import fold_tag_count_changes_on
from app.workspaces.service import CreatedWorkspace, create_workspace

# Tickets a transaction writes. Fixed, so that a rerun cuts the batches where the first run did and
# draws the same random numbers for them.
TICKET_BATCH = 5_000
CONTACT_BATCH = 10_000
# Rows sent to PostgreSQL at a time within a batch's COPY.
COPY_CHUNK = 500
SPAN_DAYS = 365
# A contact opens four tickets on average (some many, most one).
TICKETS_PER_CONTACT = 4
MIN_CONTACTS = 50
AGENTS = len(texts.AGENT_NAMES)
STATE_SCHEMA = "demo_load"

_STATE_DDL = [
    f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.workspaces (
        seed bigint NOT NULL,
        position integer NOT NULL,
        workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        anchor timestamptz NOT NULL,
        contacts_loaded integer NOT NULL DEFAULT 0,
        tickets_loaded bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (seed, position)
    )""",
    # The indexes and foreign keys dropped for a large load, as statements that drop and re-create them
    # exactly; what an interrupted load left here, the next one re-creates when it is done.
    f"""CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.deferred (
        name text PRIMARY KEY,
        drop_statement text NOT NULL,
        create_statement text NOT NULL,
        position integer NOT NULL
    )""",
]
# The tables written in bulk: their non-unique indexes and their foreign keys are what a large load
# defers. Primary keys and unique indexes stay, so that nothing can be written twice.
LOADED_TABLES = ("contacts", "contact_identities", "tickets", "comments")
# From this many tickets to write (and when they are at least as many as the table holds), rows are
# written without those indexes and foreign keys, which are then built and checked once: building an
# index over many rows costs a fraction of maintaining it row by row, and re-adding a foreign key checks
# every row in one join instead of one lookup per row.
DEFER_FROM_TICKETS = 100_000
_DEFERRABLE = """
    SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid),
           i.indexrelid::regclass::text,
           CASE WHEN pg_get_indexdef(i.indexrelid) LIKE '%gin_trgm_ops%' THEN 0 ELSE 1 END
    FROM pg_index i
    WHERE i.indrelid = ANY ($1::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary
    UNION ALL
    SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                  pg_get_constraintdef(c.oid)),
           c.conname, 2
    FROM pg_constraint c
    WHERE c.conrelid = ANY ($1::regclass[]) AND c.contype = 'f'
"""

TICKET_COLUMNS = [
    "workspace_id", "id", "number", "subject", "description", "status_id", "status_kind", "priority",
    "type", "category_id", "group_id", "assignee_id", "requester_id", "followers", "tags",
    "custom_fields", "channel", "due_at", "first_response_at", "last_public_comment_at",
    "last_public_comment_by", "last_customer_reply_at", "last_agent_reply_at", "solved_at", "closed_at",
    "assigned_at", "search_text", "created_at", "updated_at", "version",
    # The metrics (app/ticket_metrics) in calendar time; the waits stay at their default 0, and business
    # time is unknown (null), as for tickets older than the metrics.
    "status_kind_changed_at", "awaiting_reply_since", "first_reply_seconds", "next_reply_count",
    "next_reply_seconds", "agent_replies", "resolution_seconds",
]  # fmt: skip
COMMENT_COLUMNS = [
    "workspace_id", "id", "ticket_id", "author_type", "author_id", "public", "body", "search_text", "channel",
    "created_at",
]  # fmt: skip
CONTACT_COLUMNS = [
    "workspace_id", "id", "name", "email", "phone", "vip", "organization_id", "external_id",
    "search_text", "created_at", "updated_at",
]  # fmt: skip
IDENTITY_COLUMNS = ["workspace_id", "id", "contact_id", "kind", "value"]
NULL = "\\N"
_MASK_62 = (1 << 62) - 1


class LoadRefused(Exception):
    """The load cannot go on as asked; the message says why."""


@dataclass(frozen=True)
class LoadRequest:
    tickets: int
    workspaces: int
    comments_per_ticket: float
    seed: int

    def tickets_of(self, position: int) -> int:
        """The workspace's share of the tickets (the first ones take the remainder)."""
        share, remainder = divmod(self.tickets, self.workspaces)
        return share + (1 if position < remainder else 0)


@dataclass
class LoadedWorkspace:
    position: int
    workspace_id: UUID
    name: str
    tickets: int
    contacts: int
    admin_key: str | None  # shown once: only for a workspace this run created


@dataclass
class LoadReport:
    workspaces: list[LoadedWorkspace] = field(default_factory=list)
    tickets_written: int = 0
    comments_written: int = 0
    contacts_written: int = 0
    seconds: float = 0.0  # writing the rows, and re-creating the indexes and foreign keys deferred
    deferred: int = 0  # indexes and foreign keys dropped while writing
    restore_seconds: float = 0.0  # … re-creating them
    vacuum_seconds: float = 0.0


# -- Text as COPY's text format takes it --------------------------------------------------------------


def copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _bag(weighted: Iterable[tuple[Any, float]], size: int = 1000) -> list[Any]:
    """A list in which each item appears in proportion to its weight: a uniform pick is a weighted one."""
    pairs = list(weighted)
    total = sum(weight for _, weight in pairs)
    bag: list[Any] = []
    for item, weight in pairs:
        bag.extend([item] * max(1, round(size * weight / total)))
    return bag


def _uuid7_hex(milliseconds: int, random_bits: int) -> str:
    """A UUIDv7 (as the service's ids: time first) from a time and 74 random bits, in 32 hex digits."""
    value = (
        (milliseconds << 80)
        | (0x7000 | (random_bits >> 62) & 0xFFF) << 64
        | (0x8000000000000000 | (random_bits & _MASK_62))
    )
    return f"{value:032x}"


class Stamps:
    """Timestamps as COPY text, fast: a day's date and a second's time from tables built once."""

    TIMES = [f"{hour:02d}:{minute:02d}:{second:02d}+00" for hour in range(24) for minute in range(60)
             for second in range(60)]  # fmt: skip

    def __init__(self, first_day: int, last_day: int) -> None:
        self.first_day = first_day
        self.days = [
            (date(1970, 1, 1) + timedelta(days=day)).isoformat() + " "
            for day in range(first_day, last_day + 2)
        ]

    def __call__(self, seconds: int) -> str:
        return self.days[seconds // 86400 - self.first_day] + self.TIMES[seconds % 86400]


def _hour_warp() -> list[int]:
    """Minute of the day (UTC) for each of 1,440 evenly spread ones, so that tickets come mostly in the
    working hours of Vietnam (UTC+7): a monotone map, so later numbers still come later."""
    local_weights = [1, 1, 1, 1, 1, 1, 2, 4, 7, 9, 9, 9, 6, 6, 9, 9, 8, 7, 5, 5, 4, 3, 2, 1]
    weights = [local_weights[(hour + 7) % 24] for hour in range(24) for _ in range(60)]
    total = sum(weights)
    warp, cumulative, minute = [], 0.0, 0
    for target in range(1440):
        wanted = target / 1440 * total
        while minute < 1439 and cumulative + weights[minute] <= wanted:
            cumulative += weights[minute]
            minute += 1
        warp.append(minute)
    return warp


_WARP = _hour_warp()


# -- The workspace and its reference data, through the services ---------------------------------------


def _ascii(name: str) -> str:
    return fold(name).replace(" ", "")


async def provision_workspace(session: AsyncSession, request: LoadRequest, position: int) -> CreatedWorkspace:
    """A workspace as a business sets one up: default statuses and a key (as every workspace), agents,
    groups with members, a tree of categories, custom fields of tickets, organizations."""
    business = texts.BUSINESSES[position % len(texts.BUSINESSES)]
    name = (
        business
        if position < len(texts.BUSINESSES)
        else f"{business} {position // len(texts.BUSINESSES) + 1}"
    )
    created = await create_workspace(session, name)
    workspace_id = created.workspace.id
    domain = f"{_ascii(business)}.vn"
    agents = []
    for index, agent_name in enumerate(texts.AGENT_NAMES):
        given = agent_name.rsplit(" ", 1)[1]
        data = AgentCreate(
            external_id=f"nv-{index + 1:02d}",
            name=agent_name,
            email=f"{_ascii(given)}.nv{index + 1:02d}@{domain}",
            role=Role.admin if index < 2 else Role.agent,
            availability=(Availability.online, Availability.away, Availability.offline)[index % 3],
            # Two agents see only the tickets of their groups.
            ticket_access=TicketAccess.restricted if index >= AGENTS - 2 else TicketAccess.all,
        )
        agents.append(await create_agent(session, workspace_id, data))
    for group_index, (group_name, description) in enumerate(texts.GROUPS):
        group = await create_group(
            session, workspace_id, GroupCreate(name=group_name, description=description)
        )
        # Four agents of their own each, and the two leads in every group.
        members = [agents[0], agents[1], *agents[2 + group_index * 4 : 6 + group_index * 4]]
        for agent in members:
            await add_member(session, workspace_id, group, agent.id)
    parents: dict[str, UUID] = {}
    for category_position, (category_name, parent) in enumerate(texts.CATEGORIES):
        data = CategoryCreate(
            name=category_name, parent_id=parents.get(parent or ""), position=category_position
        )
        parents[category_name] = (await create_category(session, workspace_id, data)).id
    for definition in _custom_fields():
        await create_custom_field(session, workspace_id, definition)
    for organization_name, organization_domain in texts.ORGANIZATIONS:
        data = OrganizationCreate(name=organization_name, domains=[organization_domain])
        await create_organization(session, workspace_id, data)
    await session.execute(
        text(
            f"INSERT INTO {STATE_SCHEMA}.workspaces (seed, position, workspace_id, anchor) "  # noqa: S608
            "VALUES (:seed, :position, :workspace_id, now())"
        ),
        {"seed": request.seed, "position": position, "workspace_id": workspace_id},
    )
    return created


def _custom_fields() -> list[CustomFieldCreate]:
    ticket = CustomFieldEntity.ticket
    regions = [CustomFieldOption(value=value, label=label) for value, label in texts.REGIONS]
    return [
        CustomFieldCreate(entity=ticket, key="order_id", label="Mã đơn hàng", type=CustomFieldType.text),
        CustomFieldCreate(entity=ticket, key="amount", label="Số tiền (VND)", type=CustomFieldType.decimal),
        CustomFieldCreate(
            entity=ticket,
            key="delivery_region",
            label="Khu vực giao",
            type=CustomFieldType.dropdown,
            options=regions,
        ),
        CustomFieldCreate(
            entity=ticket, key="promised_date", label="Ngày hẹn giao", type=CustomFieldType.date
        ),
    ]


@dataclass
class Reference:
    """What the generated rows point at in one workspace, as 32-digit hex ids."""

    workspace_id: UUID
    anchor: datetime
    contacts_loaded: int
    tickets_loaded: int
    statuses: dict[StatusKind, str]
    agents: list[str]
    groups: dict[str, tuple[str, list[str]]]  # name: (id, members)
    categories: dict[str, str]
    organizations: list[tuple[str, str]]  # (domain, id)


async def read_reference(connection: asyncpg.Connection, seed: int, position: int) -> Reference | None:
    state = await connection.fetchrow(
        f"SELECT workspace_id, anchor, contacts_loaded, tickets_loaded FROM {STATE_SCHEMA}.workspaces "  # noqa: S608
        "WHERE seed = $1 AND position = $2",
        seed,
        position,
    )
    if state is None:
        return None
    workspace_id = state["workspace_id"]
    statuses = {
        StatusKind(row["kind"]): row["id"].hex
        for row in await connection.fetch(
            "SELECT kind::text, id FROM ticket_statuses WHERE workspace_id = $1 AND is_default", workspace_id
        )
    }
    agents = [
        row["id"].hex
        for row in await connection.fetch(
            "SELECT id FROM agents WHERE workspace_id = $1 AND active ORDER BY external_id", workspace_id
        )
    ]
    groups = {
        row["name"]: (row["id"].hex, [member.hex for member in row["members"] if member is not None])
        for row in await connection.fetch(
            "SELECT g.name, g.id, array_agg(a.id ORDER BY a.external_id) AS members FROM groups g "
            "LEFT JOIN group_members m ON m.workspace_id = g.workspace_id AND m.group_id = g.id "
            "LEFT JOIN agents a ON a.workspace_id = m.workspace_id AND a.id = m.agent_id AND a.active "
            "WHERE g.workspace_id = $1 GROUP BY g.name, g.id",
            workspace_id,
        )
    }
    categories = {
        row["name"]: row["id"].hex
        for row in await connection.fetch(
            "SELECT name, id FROM categories WHERE workspace_id = $1", workspace_id
        )
    }
    organizations = [
        (row["domain"], row["id"].hex)
        for row in await connection.fetch(
            "SELECT domains[1] AS domain, id FROM organizations "
            "WHERE workspace_id = $1 AND cardinality(domains) > 0 ORDER BY name",
            workspace_id,
        )
    ]
    return Reference(
        workspace_id=workspace_id,
        anchor=state["anchor"],
        contacts_loaded=state["contacts_loaded"],
        tickets_loaded=state["tickets_loaded"],
        statuses=statuses,
        agents=agents,
        groups=groups,
        categories=categories,
        organizations=organizations,
    )


# -- Rows ---------------------------------------------------------------------------------------------


def contacts_for(tickets: int) -> int:
    return max(MIN_CONTACTS, tickets // TICKETS_PER_CONTACT)


class _Pools:
    """What every workspace draws from, prepared once: weighted bags, escaped texts, folded names."""

    def __init__(self) -> None:
        self.families = _bag((name, weight) for name, weight in texts.FAMILY_NAMES)
        self.free_domains = _bag(texts.FREE_MAIL_DOMAINS)
        self.folded: dict[str, str] = {}
        self.topics = _bag((topic, topic.weight) for topic in texts.TOPICS)
        self.priorities = _bag([("normal", 60), ("high", 22), ("low", 10), ("urgent", 8)])
        self.channels = _bag(
            [
                ("email", 30),
                ("chat", 20),
                ("zalo", 15),
                ("messenger", 10),
                ("web", 12),
                ("call", 8),
                ("api", 5),
            ]
        )
        self.types = _bag([("question", 45), ("incident", 25), ("problem", 10), ("task", 5), (NULL, 15)])
        # The status by the ticket's age: most old tickets are closed, recent ones still running.
        self.kinds_old = _bag([("closed", 72), ("solved", 24), ("open", 2), ("pending", 1), ("on_hold", 1)])
        self.kinds_month = _bag(
            [("solved", 50), ("closed", 18), ("open", 12), ("pending", 10), ("on_hold", 4), ("new", 6)]
        )
        self.kinds_week = _bag([("new", 20), ("open", 33), ("pending", 20), ("on_hold", 6), ("solved", 21)])
        self.suffixes = _bag((suffix, 1) for suffix in texts.SUBJECT_SUFFIXES)
        self.subjects = {
            topic.key: [(copy_text(subject), fold(subject)) for subject in topic.subjects]
            for topic in texts.TOPICS
        }
        self.descriptions = {
            topic.key: [(copy_text(description), fold(description)) for description in topic.descriptions]
            for topic in texts.TOPICS
        }
        self.rare = [(copy_text(subject), fold(subject), 1 / every) for subject, every in texts.RARE_PHRASES]
        self.suffix_folds = {suffix: fold(suffix) for suffix in texts.SUBJECT_SUFFIXES}
        # Each body with its search key (escaped alike), as app/comments/service.py writes it.
        self.customer_replies = [_with_key(body) for body in texts.CUSTOMER_REPLIES]
        self.agent_replies = [_with_key(body) for body in texts.AGENT_REPLIES]
        self.internal_notes = [_with_key(body) for body in texts.INTERNAL_NOTES]
        # Seconds to a first answer and between messages: minutes to days, most within hours.
        shape = random.Random(0)  # noqa: S311 - demo data, not secrets
        self.first_reply_gaps = sorted(
            int(shape.lognormvariate(math.log(2 * 3600), 1.2)) + 60 for _ in range(1000)
        )
        self.reply_gaps = sorted(
            int(shape.lognormvariate(math.log(6 * 3600), 1.3)) + 120 for _ in range(1000)
        )

    def fold(self, value: str) -> str:
        folded = self.folded.get(value)
        if folded is None:
            folded = self.folded[value] = fold(value)
        return folded


def _with_key(body: str) -> str:
    """A comment's body and its search key, as two fields of a COPY line."""
    return f"{copy_text(body)}\t{copy_text(search_key(body))}"


@functools.cache
def pools() -> _Pools:
    return _Pools()


def comment_counts(average: float, rng: random.Random) -> list[int]:
    """A bag of comment counts to draw from: Poisson-distributed, with the given average."""
    counts = []
    for _ in range(1000):
        # Knuth's method: fine for the small means comments have.
        limit, count, product = math.exp(-average), 0, rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
        counts.append(count)
    return counts


class WorkspaceRows:
    """The rows of one workspace: contacts by index, tickets by number, each batch from its own seed."""

    def __init__(self, request: LoadRequest, position: int, reference: Reference) -> None:
        self.request = request
        self.position = position
        self.reference = reference
        self.pools = pools()
        self.workspace = reference.workspace_id.hex
        self.anchor = int(reference.anchor.timestamp())
        self.start = self.anchor - SPAN_DAYS * 86400
        self.tickets = request.tickets_of(position)
        self.contacts = contacts_for(self.tickets)
        # Contacts exist before their tickets: made in the half year before the first one.
        self.contacts_start = self.start - 180 * 86400
        self.stamp = Stamps(self.contacts_start // 86400, self.anchor // 86400 + 10)
        self.salt = self._rng("ids").getrandbits(74)
        self.counts = comment_counts(request.comments_per_ticket, self._rng("counts"))

    def _rng(self, *what: object) -> random.Random:
        """A generator of its own for each part: the same seed and part, the same rows."""
        return random.Random("/".join(str(part) for part in (self.request.seed, self.position, *what)))  # noqa: S311

    # Contacts

    def contact_created(self, index: int) -> int:
        return self.contacts_start + index * (180 * 86400) // self.contacts

    def contact_id(self, index: int) -> str:
        """A contact's id from its index alone, so that tickets need not regenerate the contacts."""
        bits = (self.salt + index * 0x9E3779B97F4A7C15) & ((1 << 74) - 1)
        return _uuid7_hex(self.contact_created(index) * 1000 + index % 1000, bits)

    def contact_batch(self, batch: int, first: int, end: int) -> tuple[list[str], list[str]]:
        """Lines of the contacts with index in [first, end) of this batch, and of their identities."""
        rng = self._rng("contacts", batch)
        random_ = rng.random
        pools = self.pools
        workspace = self.workspace
        organizations = self.reference.organizations
        contacts, identities = [], []
        for index in range(batch * CONTACT_BATCH, min(end, (batch + 1) * CONTACT_BATCH)):
            if random_() < 0.9:
                female = random_() < 0.55
                family = pools.families[int(random_() * len(pools.families))]
                middles = texts.MIDDLE_NAMES_FEMALE if female else texts.MIDDLE_NAMES_MALE
                givens = texts.GIVEN_NAMES_FEMALE if female else texts.GIVEN_NAMES_MALE
                middle = middles[int(random_() * len(middles))]
                given = givens[int(random_() * len(givens))]
                name = f"{family} {middle} {given}"
                folded = f"{pools.fold(family)} {pools.fold(middle)} {pools.fold(given)}"
                local = f"{folded.rsplit(' ', 1)[1]}.{pools.fold(family)}{index + 1}"
            else:
                first_name = texts.ENGLISH_FIRST_NAMES[int(random_() * len(texts.ENGLISH_FIRST_NAMES))]
                last_name = texts.ENGLISH_LAST_NAMES[int(random_() * len(texts.ENGLISH_LAST_NAMES))]
                name = f"{first_name} {last_name}"
                folded = name.lower()
                local = f"{first_name.lower()}.{last_name.lower()}{index + 1}"
            organization = NULL
            has_email = random_() < 0.88
            if has_email and organizations and random_() < 0.12:
                domain, organization = organizations[int(random_() * len(organizations))]
            else:
                domain = pools.free_domains[int(random_() * len(pools.free_domains))]
            email = f"{local}@{domain}" if has_email else None
            phone = national = None
            if not has_email or random_() < 0.7:
                # Unique per index: a prefix, and seven digits that step through every value.
                prefix = texts.MOBILE_PREFIXES[index % len(texts.MOBILE_PREFIXES)]
                digits = f"{(index // len(texts.MOBILE_PREFIXES) * 7919 + 1234567) % 10_000_000:07d}"
                phone, national = f"+84{prefix}{digits}", f"0{prefix}{digits}"
            contact_id = self.contact_id(index)
            created = self.stamp(self.contact_created(index))
            search_text = " | ".join(part for part in (folded, email, phone, national) if part)
            external_id = f"KH-{index + 1:07d}" if random_() < 0.3 else NULL
            vip = "t" if random_() < 0.03 else "f"
            own = [(kind, value) for kind, value in (("email", email), ("phone", phone)) if value is not None]
            if random_() < 0.1:
                kind = "zalo" if random_() < 0.6 else "messenger"
                own.append((kind, f"{kind[0]}{7_000_000_000_000 + index * 7919 + self.position}"))
            identity_ids = [_uuid7_hex(self.contact_created(index) * 1000, rng.getrandbits(74)) for _ in own]
            if index < first:  # loaded before: drawn, so that the next ones are the same, and dropped
                continue
            contacts.append(
                f"{workspace}\t{contact_id}\t{copy_text(name)}\t{email or NULL}\t{phone or NULL}\t{vip}\t"
                f"{organization}\t{external_id}\t{copy_text(search_text)}\t{created}\t{created}\n"
            )
            for identity_id, (kind, value) in zip(identity_ids, own, strict=True):
                identities.append(f"{workspace}\t{identity_id}\t{contact_id}\t{kind}\t{value}\n")
        return contacts, identities

    # Tickets

    def ticket_batch(
        self, batch: int, first: int, end: int, emit_comment: Callable[[str], None]
    ) -> Iterable[str]:
        """Lines of the tickets numbered [first, end) (1-based) of this batch; their comments' lines go
        to `emit_comment`. Tickets before `first` in the batch are drawn and dropped, so that every
        ticket is the same whichever run writes it."""
        rng = self._rng("tickets", batch)
        random_ = rng.random
        bits = rng.getrandbits
        pools = self.pools
        reference = self.reference
        stamp = self.stamp
        workspace = self.workspace
        anchor = self.anchor
        step = SPAN_DAYS * 86400 / self.tickets
        contacts = self.contacts
        statuses = {kind.value: status for kind, status in reference.statuses.items()}
        counts = self.counts
        agents = reference.agents
        for number in range(batch * TICKET_BATCH + 1, min(end, (batch + 1) * TICKET_BATCH + 1)):
            # A ticket loaded before is drawn, so that the next ones are the same, and dropped.
            emit = emit_comment if number >= first else _drop
            uniform = self.start + (number - 1 + random_()) * step
            day, second = divmod(int(uniform), 86400)
            created = day * 86400 + _WARP[second // 60] * 60 + second % 60
            age = anchor - created
            topic = pools.topics[int(random_() * len(pools.topics))]
            english = topic.key.startswith("en_")
            rare = random_()
            subject, folded = pools.subjects[topic.key][int(random_() * len(topic.subjects))]
            for rare_subject, rare_folded, share in pools.rare:
                if rare < share:
                    subject, folded = rare_subject, rare_folded
                    break
                rare -= share
            order = 100_000 + int(random_() * 900_000)
            with_order = topic.order and random_() < 0.6
            if with_order and random_() < 0.5:
                if english:
                    subject, folded = f"{subject} (order DH-{order})", f"{folded} (order dh-{order})"
                else:
                    subject, folded = f"{subject} - đơn DH-{order}", f"{folded} - don dh-{order}"
            if not english:
                suffix = pools.suffixes[int(random_() * len(pools.suffixes))]
                if suffix:
                    subject, folded = subject + suffix, f"{folded} {pools.suffix_folds[suffix]}"
            descriptions = pools.descriptions[topic.key]
            description, description_folded = descriptions[int(random_() * len(descriptions))]
            # As app/kit/search.py `search_key` joins the subject and the description.
            key = f"{folded} | {description_folded}" if description_folded else folded
            if age > 30 * 86400:
                kind = pools.kinds_old[int(random_() * len(pools.kinds_old))]
            elif age > 7 * 86400:
                kind = pools.kinds_month[int(random_() * len(pools.kinds_month))]
            else:
                kind = pools.kinds_week[int(random_() * len(pools.kinds_week))]
            priority = pools.priorities[int(random_() * len(pools.priorities))]
            channel = pools.channels[int(random_() * len(pools.channels))]
            ticket_type = pools.types[int(random_() * len(pools.types))]
            group_name = topic.group if random_() < 0.9 else texts.GROUPS[0][0]
            group, members = reference.groups[group_name]
            category = reference.categories.get(topic.category, NULL) if random_() < 0.92 else NULL
            assigned = random_() < (0.25 if kind == "new" else 0.96)
            assignee = members[int(len(members) * random_() ** 1.5)] if assigned and members else NULL
            requester_index = int(contacts * random_() ** 2)
            requester = self.contact_id(requester_index)
            tags = list(topic.tags)
            for tag, per_thousand in texts.EXTRA_TAGS:
                if random_() * 1000 < per_thousand:
                    tags.append(tag)
            fields = []
            if with_order:
                fields.append(f'"order_id": "DH-{order}"')
            if topic.amount and random_() < 0.8:
                fields.append(f'"amount": "{int(random_() * 200) * 10_000 + 49_000}"')
            if topic.delivery and random_() < 0.85:
                region = texts.REGIONS[int(random_() * len(texts.REGIONS))][0]
                promised = stamp(created + 86400 * (1 + int(random_() * 5)))[:10]
                fields.append(f'"delivery_region": "{region}", "promised_date": "{promised}"')
            followers = f"{{{agents[int(random_() * len(agents))]}}}" if random_() < 0.04 else "{}"
            due_at = stamp(created + 86400 * (2 + int(random_() * 4))) if random_() < 0.08 else NULL
            ticket_id = _uuid7_hex(created * 1000 + int(random_() * 1000), bits(74))

            # The conversation: an agent answers first (not yet on a new ticket), then customer and agent
            # take turns, with internal notes between; a ticket waiting on the customer, or solved, had
            # the agent's reply last.
            count = counts[int(random_() * len(counts))]
            count = min(count, 1) if kind == "new" else max(count, 1)
            gaps = [pools.first_reply_gaps[int(random_() * 1000)]]
            gaps += [pools.reply_gaps[int(random_() * 1000)] for _ in range(count)]
            available = anchor - created - 60
            total = sum(gaps)
            if total > available:
                gaps = [gap * available // total for gap in gaps]
            moment = created
            first_response = last_public = last_customer = last_agent = NULL
            last_by = NULL
            # The customer waits from the creation until an agent answers in public.
            awaiting: int | None = created
            first_reply, next_count, next_seconds, agent_replies = NULL, 0, 0, 0
            public_by_agent = kind != "new"
            for position_in_ticket in range(count):
                moment += gaps[position_in_ticket]
                internal = position_in_ticket > 0 and random_() < 0.15
                if internal:
                    author_type, author, public = "agent", assignee, "f"
                    body = pools.internal_notes[int(random_() * len(pools.internal_notes))]
                elif public_by_agent:
                    author_type, author, public = "agent", assignee, "t"
                    body = pools.agent_replies[int(random_() * len(pools.agent_replies))]
                    public_by_agent = False
                else:
                    author_type, author, public = "contact", requester, "t"
                    body = pools.customer_replies[int(random_() * len(pools.customer_replies))]
                    public_by_agent = True
                if author_type == "agent" and author == NULL:
                    author = members[0] if members else agents[0]
                comment_stamp = stamp(moment)
                if public == "t":
                    last_public, last_by = comment_stamp, author_type
                    if author_type == "agent":
                        last_agent = comment_stamp
                        if first_response == NULL:
                            first_response = comment_stamp
                        if awaiting is not None and agent_replies == 0:
                            first_reply = str(moment - awaiting)
                        elif awaiting is not None:
                            next_count, next_seconds = next_count + 1, next_seconds + moment - awaiting
                        agent_replies, awaiting = agent_replies + 1, None
                    else:
                        last_customer = comment_stamp
                        if awaiting is None:
                            awaiting = moment
                comment_channel = "api" if author_type == "agent" else channel
                comment_id = _uuid7_hex(moment * 1000 + int(random_() * 1000), bits(74))
                emit(
                    f"{workspace}\t{comment_id}\t{ticket_id}\t{author_type}\t{author}\t{public}\t{body}\t"
                    f"{comment_channel}\t{comment_stamp}\n"
                )
            solved = closed = resolution = NULL
            updated = moment
            # Since when the status kind holds: the last comment's time stands in for an unresolved one's.
            kind_since = stamp(created) if kind == "new" else stamp(moment)
            if kind in ("solved", "closed"):
                updated = min(anchor, moment + gaps[-1] // 4 + 60)
                solved = kind_since = stamp(updated)
                resolution, awaiting = str(updated - created), None
                if kind == "closed":
                    updated = min(anchor, updated + 4 * 86400)
                    closed = kind_since = stamp(updated)
            waiting_since = NULL if awaiting is None else stamp(awaiting)
            if number < first:
                continue
            yield (
                f"{workspace}\t{ticket_id}\t{number}\t{subject}\t{description}\t{statuses[kind]}\t{kind}\t"
                f"{priority}\t{ticket_type}\t{category}\t{group}\t{assignee}\t{requester}\t{followers}\t"
                f"{{{','.join(tags)}}}\t{{{', '.join(fields)}}}\t{channel}\t{due_at}\t{first_response}\t"
                f"{last_public}\t{last_by}\t{last_customer}\t{last_agent}\t{solved}\t{closed}\t"
                f"{NULL if assignee == NULL else stamp(created)}\t"
                f"{copy_text(key)}\t{stamp(created)}\t{stamp(updated)}\t"
                f"{1 + count + (kind in ('solved', 'closed')) + (kind == 'closed')}\t{kind_since}\t"
                f"{waiting_since}\t{first_reply}\t{next_count}\t{next_seconds}\t{agent_replies}\t{resolution}\n"
            )


def _drop(_: str) -> None:
    pass


async def _chunks(lines: Iterable[str]) -> AsyncIterator[bytes]:
    """COPY's input in chunks: PostgreSQL writes one while the next is made."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == COPY_CHUNK:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


# -- The load -----------------------------------------------------------------------------------------


class Loader:
    """Loads one request on a connection (asyncpg), and on more for writing several workspaces at once;
    `provision` makes a new workspace's reference data, in a transaction of its own."""

    def __init__(
        self,
        connection: asyncpg.Connection,
        provision: Callable[[int], Any],
        request: LoadRequest,
        progress: Callable[[int], None] = lambda _: None,
        writers: Sequence[asyncpg.Connection] = (),
    ) -> None:
        self.connection = connection
        self.writers = writers
        self.provision = provision
        self.request = request
        self.progress = progress
        self.report = LoadReport()

    async def prepare(self) -> list[Reference]:
        """The state table, and every workspace of the request (provisioned when new); the tickets still
        to load in all."""
        await self.prepare_state()
        references = []
        for position in range(self.request.workspaces):
            reference = await read_reference(self.connection, self.request.seed, position)
            admin_key = None
            if reference is None:
                created: CreatedWorkspace = await self.provision(position)
                admin_key = created.admin_key.plaintext
                reference = await read_reference(self.connection, self.request.seed, position)
                assert reference is not None
            name = await self.connection.fetchval(
                "SELECT name FROM workspaces WHERE id = $1", reference.workspace_id
            )
            self.report.workspaces.append(
                LoadedWorkspace(
                    position, reference.workspace_id, name, reference.tickets_loaded, 0, admin_key
                )
            )
            references.append(reference)
        return references

    async def prepare_state(self) -> None:
        """The loader's own tables."""
        if await self.connection.fetchval("SELECT to_regclass('tickets')") is None:
            raise LoadRefused("the database has no tables of the service yet: run `helpdesk migrate` first")
        for statement in _STATE_DDL:
            await self.connection.execute(statement)

    async def defer_constraints(self) -> None:
        """Drop the loaded tables' non-unique indexes and foreign keys, keeping how to re-create them."""
        async with self.connection.transaction():
            rows = await self.connection.fetch(_DEFERRABLE, list(LOADED_TABLES))
            await self.connection.executemany(
                f"INSERT INTO {STATE_SCHEMA}.deferred (drop_statement, create_statement, name, position) "  # noqa: S608
                "VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                [tuple(row) for row in rows],
            )
            for row in rows:
                await self.connection.execute(row[0])
        self.report.deferred = len(rows)

    async def restore_constraints(self) -> None:
        """Re-create what a load deferred, one statement at a time on each connection, each with its
        record's removal. The trigram indexes, the longest to build (and on one core each), go first,
        then the other indexes, then the foreign keys (each checking every row)."""
        connections = [self.connection, *self.writers]
        for connection in connections:
            await connection.execute("SET maintenance_work_mem = '256MB'")
        pending = [
            (row["name"], row["create_statement"])
            for row in await self.connection.fetch(
                f"SELECT name, create_statement FROM {STATE_SCHEMA}.deferred ORDER BY position, name"  # noqa: S608
            )
        ]

        async def restore_on(connection: asyncpg.Connection) -> None:
            while pending:
                name, statement = pending.pop(0)
                async with connection.transaction():
                    await connection.execute(statement)
                    await connection.execute(f"DELETE FROM {STATE_SCHEMA}.deferred WHERE name = $1", name)  # noqa: S608

        await asyncio.gather(*(restore_on(connection) for connection in connections))
        for connection in connections:
            await connection.execute("RESET maintenance_work_mem")

    def remaining(self, references: list[Reference]) -> int:
        return sum(
            max(0, self.request.tickets_of(position) - reference.tickets_loaded)
            for position, reference in enumerate(references)
        )

    async def load(self, references: list[Reference]) -> LoadReport:
        """Write what the workspaces lack, then re-create whatever is deferred: what this load deferred,
        and what an interrupted one left so (which a large load keeps deferred until it is done)."""
        started = time.perf_counter()
        remaining = self.remaining(references)
        existing = await self.connection.fetchval("SELECT count(*) FROM tickets")
        if remaining >= DEFER_FROM_TICKETS and remaining >= existing:
            await self.defer_constraints()
        pending = list(enumerate(references))

        async def write_on(connection: asyncpg.Connection) -> None:
            while pending:
                position, reference = pending.pop(0)
                await self._load_workspace(connection, position, reference)

        # Workspaces side by side, one per connection: PostgreSQL writes each COPY in one process.
        await asyncio.gather(*(write_on(connection) for connection in [self.connection, *self.writers]))
        restoring = time.perf_counter()
        await self.restore_constraints()
        self.report.restore_seconds = time.perf_counter() - restoring
        # The tags' counts of what was written, added up now rather than by a worker.
        await fold_tag_count_changes_on(self.connection)
        self.report.seconds = time.perf_counter() - started
        if self.report.tickets_written or self.report.contacts_written:
            # Fresh statistics, so that the planner knows the tables' new sizes at once; and the new rows'
            # hint bits and visibility map set now, rather than by the first queries that read them.
            started = time.perf_counter()
            for table in LOADED_TABLES:
                await self.connection.execute(f"VACUUM (ANALYZE) {table}")
            self.report.vacuum_seconds = time.perf_counter() - started
        return self.report

    async def _load_workspace(
        self, connection: asyncpg.Connection, position: int, reference: Reference
    ) -> None:
        rows = WorkspaceRows(self.request, position, reference)
        loaded = self.report.workspaces[position]
        await self._check_numbers(connection, reference, rows.tickets)
        contacts_loaded = reference.contacts_loaded
        while contacts_loaded < rows.contacts:
            batch = contacts_loaded // CONTACT_BATCH
            end = min(rows.contacts, (batch + 1) * CONTACT_BATCH)
            contacts, identities = rows.contact_batch(batch, contacts_loaded, end)
            async with connection.transaction():
                await self._copy(connection, "contacts", CONTACT_COLUMNS, contacts)
                await self._copy(connection, "contact_identities", IDENTITY_COLUMNS, identities)
                await self._set_loaded(connection, position, "contacts_loaded", end)
            self.report.contacts_written += len(contacts)
            contacts_loaded = end
        reference.contacts_loaded = max(contacts_loaded, reference.contacts_loaded)
        loaded.contacts = reference.contacts_loaded
        tickets_loaded = reference.tickets_loaded
        while tickets_loaded < rows.tickets:
            batch = tickets_loaded // TICKET_BATCH
            end = min(rows.tickets, (batch + 1) * TICKET_BATCH)
            comments: list[str] = []
            lines = rows.ticket_batch(batch, tickets_loaded + 1, end + 1, comments.append)
            async with connection.transaction():
                await self._copy(connection, "tickets", TICKET_COLUMNS, lines)
                await self._copy(connection, "comments", COMMENT_COLUMNS, comments)
                await self._set_loaded(connection, position, "tickets_loaded", end)
                await connection.execute(
                    "SELECT setval($1::text::regclass, $2)",
                    ticket_number_sequence(reference.workspace_id),
                    end,
                )
            self.report.tickets_written += end - tickets_loaded
            self.report.comments_written += len(comments)
            self.progress(end - tickets_loaded)
            tickets_loaded = end
        loaded.tickets = max(tickets_loaded, reference.tickets_loaded)

    async def _check_numbers(self, connection: asyncpg.Connection, reference: Reference, wanted: int) -> None:
        """Refuse to add tickets to a workspace whose sequence went past the loaded ones (tickets were
        created through the API since): their numbers would be taken."""
        if wanted <= reference.tickets_loaded:
            return
        sequence = ticket_number_sequence(reference.workspace_id)
        last, called = await connection.fetchrow(f'SELECT last_value, is_called FROM "{sequence}"')  # noqa: S608
        used = last if called else last - 1
        if used > reference.tickets_loaded:
            raise LoadRefused(
                f"workspace {reference.workspace_id} has tickets made since it was loaded (numbers up to "
                f"{used}); it cannot take more loaded tickets"
            )

    async def _set_loaded(
        self, connection: asyncpg.Connection, position: int, column: str, count: int
    ) -> None:
        await connection.execute(
            f"UPDATE {STATE_SCHEMA}.workspaces SET {column} = $3 WHERE seed = $1 AND position = $2",  # noqa: S608
            self.request.seed,
            position,
            count,
        )

    async def _copy(
        self, connection: asyncpg.Connection, table: str, columns: list[str], lines: Iterable[str]
    ) -> None:
        await connection.copy_to_table(table, source=_chunks(lines), columns=columns, format="text")
