"""`helpdesk demo load`: realistic rows the API serves as its own, resumed without duplicates."""

import json
import secrets
from uuid import UUID

import asyncpg
from fastapi import FastAPI
from sqlalchemy import select

from app.custom_fields.validation import validate_custom_fields
from app.demo.loader import (
    STATE_SCHEMA,
    Loader,
    LoadRequest,
    WorkspaceRows,
    read_reference,
)
from app.kit.normalization import national_digits, normalize_phone
from app.kit.search import fold, search_key
from app.models import CustomFieldDefinition
from tests.conftest import make_client
from tests.locks import plain_url
from tests.test_cli import helpdesk


def _load(database_url: str, tickets: int, seed: int) -> dict:
    result = helpdesk(
        "demo", "load", "--tickets", str(tickets), "--workspaces", "2", "--seed", str(seed),
        env={"DATABASE_URL": database_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# Every derived column as the service keeps it, for every loaded ticket: none of these may find a row.
INCONSISTENT_TICKETS = {
    "status of another kind or workspace": """
        SELECT t.id FROM tickets t LEFT JOIN ticket_statuses s ON s.workspace_id = t.workspace_id
        AND s.id = t.status_id WHERE t.workspace_id = ANY ($1) AND s.kind IS DISTINCT FROM t.status_kind""",
    "assignee outside the ticket's group": """
        SELECT t.id FROM tickets t WHERE t.workspace_id = ANY ($1) AND t.assignee_id IS NOT NULL
        AND NOT EXISTS (SELECT FROM group_members m WHERE m.workspace_id = t.workspace_id
                        AND m.group_id = t.group_id AND m.agent_id = t.assignee_id)""",
    "solved_at or closed_at not as the status says": """
        SELECT id FROM tickets WHERE workspace_id = ANY ($1) AND (
            (solved_at IS NOT NULL) <> (status_kind IN ('solved', 'closed'))
            OR (closed_at IS NOT NULL) <> (status_kind = 'closed')
            OR solved_at > closed_at OR updated_at < created_at OR updated_at > now())""",
    "first response not the first public agent reply": """
        SELECT t.id FROM tickets t WHERE t.workspace_id = ANY ($1) AND t.first_response_at IS DISTINCT FROM (
            SELECT min(c.created_at) FROM comments c WHERE c.workspace_id = t.workspace_id
            AND c.ticket_id = t.id AND c.public AND c.author_type = 'agent')""",
    "last public comment not the last one": """
        SELECT t.id FROM tickets t LEFT JOIN LATERAL (
            SELECT c.created_at, c.author_type FROM comments c WHERE c.workspace_id = t.workspace_id
            AND c.ticket_id = t.id AND c.public ORDER BY c.created_at DESC, c.id DESC LIMIT 1) last ON true
        WHERE t.workspace_id = ANY ($1) AND (t.last_public_comment_at IS DISTINCT FROM last.created_at
            OR t.last_public_comment_by IS DISTINCT FROM last.author_type)""",
    "last reply of either side not their last public comment": """
        SELECT t.id FROM tickets t WHERE t.workspace_id = ANY ($1) AND (
            t.last_customer_reply_at IS DISTINCT FROM (SELECT max(c.created_at) FROM comments c
                WHERE c.workspace_id = t.workspace_id AND c.ticket_id = t.id AND c.public
                AND c.author_type = 'contact')
            OR t.last_agent_reply_at IS DISTINCT FROM (SELECT max(c.created_at) FROM comments c
                WHERE c.workspace_id = t.workspace_id AND c.ticket_id = t.id AND c.public
                AND c.author_type = 'agent'))""",
    "metrics not as the service would count them": """
        SELECT t.id FROM tickets t WHERE t.workspace_id = ANY ($1) AND (
            t.first_reply_seconds IS DISTINCT FROM extract(epoch FROM t.first_response_at - t.created_at)::int
            OR t.resolution_seconds IS DISTINCT FROM extract(epoch FROM t.solved_at - t.created_at)::int
            OR t.agent_replies <> (SELECT count(*) FROM comments c WHERE c.workspace_id = t.workspace_id
                AND c.ticket_id = t.id AND c.public AND c.author_type = 'agent')
            OR (t.awaiting_reply_since IS NULL) <> (t.status_kind IN ('solved', 'closed')
                OR t.last_public_comment_by = 'agent'))""",
    "comment before its ticket, or by someone not of the workspace": """
        SELECT c.id FROM comments c JOIN tickets t ON t.workspace_id = c.workspace_id AND t.id = c.ticket_id
        WHERE c.workspace_id = ANY ($1) AND (c.created_at < t.created_at
            OR (c.author_type = 'contact' AND c.author_id IS DISTINCT FROM t.requester_id)
            OR (c.author_type = 'agent' AND NOT EXISTS (
                SELECT FROM agents a WHERE a.workspace_id = c.workspace_id AND a.id = c.author_id)))""",
    "a primary email or phone without its identity": """
        SELECT c.id FROM contacts c WHERE c.workspace_id = ANY ($1) AND (
            (c.email IS NOT NULL AND NOT EXISTS (SELECT FROM contact_identities i WHERE i.workspace_id =
             c.workspace_id AND i.contact_id = c.id AND i.kind = 'email' AND i.value = c.email))
            OR (c.phone IS NOT NULL AND NOT EXISTS (SELECT FROM contact_identities i WHERE i.workspace_id =
             c.workspace_id AND i.contact_id = c.id AND i.kind = 'phone' AND i.value = c.phone)))""",
}


async def test_loaded_tickets_are_consistent_served_and_resumed_without_duplicates(
    app: FastAPI, database_url: str
) -> None:
    seed = secrets.randbelow(10**9)
    first = _load(database_url, 200, seed)
    assert [loaded["tickets"] for loaded in first["workspaces"]] == [100, 100]
    assert all(loaded["api_key"] for loaded in first["workspaces"])
    # Interrupted at 200 of 300 (or asked for more): the rerun writes only the missing hundred.
    second = _load(database_url, 300, seed)
    assert [loaded["workspace_id"] for loaded in second["workspaces"]] == [
        loaded["workspace_id"] for loaded in first["workspaces"]
    ]
    assert second["written"]["tickets"] == 100
    assert not any("api_key" in loaded for loaded in second["workspaces"])
    assert _load(database_url, 300, seed)["written"] == {"tickets": 0, "comments": 0, "contacts": 0}

    workspace_ids = [UUID(loaded["workspace_id"]) for loaded in first["workspaces"]]
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        numbers = await connection.fetch(
            "SELECT workspace_id, count(*), count(DISTINCT number), min(number), max(number) FROM tickets "
            "WHERE workspace_id = ANY ($1) GROUP BY workspace_id",
            workspace_ids,
        )
        assert sorted(tuple(row)[1:] for row in numbers) == [(150, 150, 1, 150)] * 2
        assert await connection.fetchval(
            "SELECT count(*) FROM comments WHERE workspace_id = ANY ($1)", workspace_ids
        ) > 150  # fmt: skip
        for problem, query in INCONSISTENT_TICKETS.items():
            assert await connection.fetch(query, workspace_ids) == [], problem
        tickets = await connection.fetch(
            "SELECT id, number, subject, description, search_text, workspace_id, custom_fields FROM tickets "
            "WHERE workspace_id = ANY ($1)",
            workspace_ids,
        )
        assert all(
            ticket["search_text"] == search_key(ticket["subject"], ticket["description"])
            for ticket in tickets
        )
        comments = await connection.fetch(
            "SELECT body, search_text FROM comments WHERE workspace_id = ANY ($1)", workspace_ids
        )
        assert all(comment["search_text"] == search_key(comment["body"]) for comment in comments)
        # The tags' counts are folded in by the load itself, and match the tickets.
        assert await connection.fetchval(
            "SELECT count(*) FROM tag_count_changes WHERE workspace_id = ANY ($1)", workspace_ids
        ) == 0  # fmt: skip
        counted = await connection.fetch(
            "SELECT workspace_id, tag, tickets FROM tag_counts WHERE workspace_id = ANY ($1) AND tickets > 0",
            workspace_ids,
        )
        carried = await connection.fetch(
            "SELECT workspace_id, tag, count(*) AS tickets FROM tickets, unnest(tags) AS tag "
            "WHERE workspace_id = ANY ($1) AND deleted_at IS NULL GROUP BY workspace_id, tag",
            workspace_ids,
        )
        assert carried and sorted(map(tuple, counted)) == sorted(map(tuple, carried))
        async with app.state.db.sessionmaker() as session:
            definitions = list(
                await session.scalars(
                    select(CustomFieldDefinition).where(
                        CustomFieldDefinition.workspace_id == workspace_ids[0]
                    )
                )
            )
        assert {definition.key for definition in definitions} == {
            "order_id", "amount", "delivery_region", "promised_date",
        }  # fmt: skip
        for ticket in tickets:
            if ticket["workspace_id"] == workspace_ids[0]:
                values = json.loads(ticket["custom_fields"])
                assert validate_custom_fields(definitions, values, current=None) == values
        contacts = await connection.fetch(
            "SELECT name, email, phone, search_text FROM contacts WHERE workspace_id = ANY ($1)",
            workspace_ids,
        )
        assert any("Đ" in (contact["name"] or "") or "ư" in (contact["name"] or "") for contact in contacts)
        for contact in contacts:
            phone = contact["phone"]
            if phone is not None:
                assert normalize_phone(phone, "VN") == phone
            expected = search_key(
                contact["name"], contact["email"], phone, national_digits(phone) if phone else None
            )
            assert contact["search_text"] == expected
        # Each run wrote exactly what it draws for its arguments: the first the tickets 1 to 100 of 100
        # a workspace, the second the tickets 101 to 150 of 150.
        reference = await read_reference(connection, seed, 0)
        assert reference is not None
        drawn = {}
        for total, first_number in ((200, 1), (300, 101)):
            rows = WorkspaceRows(LoadRequest(total, 2, 3.0, seed), 0, reference)
            for line in rows.ticket_batch(0, first_number, total // 2 + 1, lambda _: None):
                columns = line.split("\t")
                drawn[int(columns[2])] = (columns[1], columns[3])
        assert drawn == {
            ticket["number"]: (ticket["id"].hex, ticket["subject"])
            for ticket in tickets
            if ticket["workspace_id"] == workspace_ids[0]
        }
    finally:
        await connection.close()

    admin = make_client(app, first["workspaces"][0]["api_key"])
    groups = {group["name"]: group["id"] for group in (await admin.get("/v1/groups")).json()["items"]}
    page = await admin.get(
        "/v1/tickets",
        params={"status_kind": "solved,closed", "group": groups["Vận chuyển"], "priority": "normal,high"},
    )
    assert page.status_code == 200, page.text
    assert page.json()["items"]
    for item in page.json()["items"]:
        assert item["status_kind"] in ("solved", "closed")
        assert item["group_id"] == groups["Vận chuyển"] and item["priority"] in ("normal", "high")
    # `q` looks in the whole conversation: the subjects holding the phrase are among what it finds.
    found = (await admin.get("/v1/tickets", params={"q": '"giao hang"', "limit": 100})).json()["items"]
    assert found and any("giao hang" in fold(item["subject"]) for item in found)
    running = next(item for item in found if item["status_kind"] != "closed")
    ticket = (await admin.get(f"/v1/tickets/{running['id']}")).json()
    assert ticket["number"] == running["number"] and ticket["requester_id"]

    created = await admin.post(
        "/v1/tickets",
        json={
            "subject": "Khách hỏi giao hàng tận nơi ở Đà Lạt",
            "requester": {"email": "huong.dang@gmail.com", "name": "Đặng Thị Hương"},
            "custom_fields": {"order_id": "DH-1042", "delivery_region": "mien-nam"},
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["number"] == 151
    reply = await admin.post(
        f"/v1/tickets/{running['id']}/comments",
        json={"body": "Dạ shop đã kiểm tra.\nCảm ơn anh/chị.", "public": True},
    )
    assert reply.status_code == 201, reply.text

    # Numbers past the loaded ones are the API's now: loading more there would take them.
    refused = helpdesk(
        "demo", "load", "--tickets", "400", "--workspaces", "2", "--seed", str(seed),
        env={"DATABASE_URL": database_url},
    )  # fmt: skip
    assert refused.returncode != 0 and "numbers up to 151" in refused.stderr


async def test_deferred_indexes_and_foreign_keys_are_restored_exactly(database_url: str) -> None:
    definitions = """
        SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = ANY ($1::regclass[])
        UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = ANY ($1::regclass[]) ORDER BY 1"""
    tables = ["contacts", "contact_identities", "tickets", "comments"]
    deferred_count = f"SELECT count(*) FROM {STATE_SCHEMA}.deferred"  # noqa: S608
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        before = await connection.fetch(definitions, tables)
        loader = Loader(connection, lambda _: None, LoadRequest(1, 1, 0, 0))
        await loader.prepare_state()
        await loader.defer_constraints()
        deferred = await connection.fetchval(deferred_count)
        assert deferred == loader.report.deferred and len(await connection.fetch(definitions, tables)) < len(
            before
        )
        # What an interrupted load left deferred, the next one re-creates, even with nothing to write.
        await Loader(connection, lambda _: None, LoadRequest(1, 1, 0, 0)).load([])
        assert await connection.fetch(definitions, tables) == before
        assert await connection.fetchval(deferred_count) == 0
    finally:
        await connection.close()
