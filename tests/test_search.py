"""Search through the whole conversation: `q` on the ticket list, GET /v1/search and GET /v1/tags."""

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from app.auth.principal import Principal
from app.db import Database
from app.kit.pagination import PageParams
from app.models import tag_count_changes
from app.models.enums import ActorType, Role
from app.search import repository as search_repository
from app.search.service import SearchService
from app.search.tasks import fold_tag_count_changes
from app.tickets import repository as tickets_repository
from tests.conftest import Tenant, make_client
from tests.factories import (
    create,
    create_agent,
    create_contact,
    create_group,
    create_ticket,
    mint_agent_token,
    rotate_token_secret,
)


async def comment(client: httpx.AsyncClient, ticket: dict[str, Any], body: str, public: bool = True) -> str:
    created = await create(client, f"/v1/tickets/{ticket['id']}/comments", {"body": body, "public": public})
    return created["id"]


async def listed(client: httpx.AsyncClient, query: str) -> list[str]:
    response = await client.get("/v1/tickets", params={"q": query})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def searched(client: httpx.AsyncClient, query: str, **params: Any) -> list[dict[str, Any]]:
    """Every hit, page after page."""
    hits: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await client.get(
            "/v1/search", params={"q": query, **params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        hits.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return hits


async def test_q_finds_words_of_the_description_and_of_every_comment(tenant: Tenant) -> None:
    shipping = await create_ticket(
        tenant.agent, subject="Đơn DH-1042", description="Khách chưa nhận được hàng sau 5 ngày"
    )
    other = await create_ticket(tenant.agent, subject="Đổi mật khẩu")
    await comment(tenant.agent, other, "Dạ, chị Đặng đã được\ngiao hàng   chậm ạ")
    assert set(await listed(tenant.viewer, "duoc hang")) == {shipping["id"], other["id"]}
    assert await listed(tenant.viewer, "nhan duoc") == [shipping["id"]]
    assert await listed(tenant.viewer, "dang") == [other["id"]]
    # A quoted phrase: its words side by side, in order, across the comment's line break.
    assert await listed(tenant.viewer, '"duoc giao hang cham"') == [other["id"]]
    assert await listed(tenant.viewer, '"cham hang giao"') == []
    # Words may be apart, and in the subject and a comment.
    assert await listed(tenant.viewer, "mat khau cham") == [other["id"]]
    counted = await tenant.viewer.get("/v1/tickets/counts", params={"q": "được", "group_by": "priority"})
    assert counted.status_code == 200, counted.text
    assert counted.json()["total"] == 2


async def test_accents_fold_both_ways(tenant: Tenant) -> None:
    plain = await create_ticket(tenant.agent, subject="Anh dang cho phan hoi")
    accented = await create_ticket(tenant.agent, subject="Chị Đặng Thu Thảo gọi lại")
    assert set(await listed(tenant.viewer, "Đặng")) == {plain["id"], accented["id"]}
    assert set(await listed(tenant.viewer, "dang")) == {plain["id"], accented["id"]}
    assert await listed(tenant.viewer, "thảo") == [accented["id"]]


async def test_internal_notes_are_found_only_by_callers_who_may_read_them(
    app: FastAPI, tenant: Tenant
) -> None:
    ticket = await create_ticket(tenant.agent, subject="Khiếu nại")
    note = await comment(tenant.agent, ticket, "Khách này hay đòi hoàn tiền hai lần", public=False)
    assert await listed(tenant.viewer, "hoan tien hai lan") == [ticket["id"]]
    [hit] = await searched(tenant.viewer, "hoàn tiền hai lần")
    assert hit["matched_in"] == "comment" and hit["comment_id"] == note
    created = await create(
        tenant.admin,
        "/v1/api-keys",
        {"name": "Cổng khách hàng", "role": "viewer", "scopes": ["tickets:read"]},
    )
    portal = make_client(app, created["key"])
    assert await listed(portal, "hoan tien hai lan") == []
    assert await searched(portal, "hoan tien") == []
    assert await searched(portal, "hoan tien", type="comments") == []
    # Nor does the conversation show it to them.
    conversation = await portal.get(f"/v1/tickets/{ticket['id']}/comments")
    assert conversation.json()["items"] == []
    assert (await portal.get(f"/v1/comments/{note}")).status_code == 404
    # A key given the scope reads them.
    staff = await create(
        tenant.admin,
        "/v1/api-keys",
        {"name": "CRM", "role": "viewer", "scopes": ["tickets:read", "notes:read"]},
    )
    assert await listed(make_client(app, staff["key"]), "hoan tien hai lan") == [ticket["id"]]


async def test_the_change_feed_shows_internal_notes_only_to_callers_who_may_read_them(
    app: FastAPI, tenant: Tenant
) -> None:
    ticket = await create_ticket(tenant.agent, subject="Đổi trả")
    await comment(tenant.agent, ticket, "Dạ em đã nhận yêu cầu đổi trả ạ", public=True)
    await comment(tenant.agent, ticket, "Khách này đổi trả lần thứ ba", public=False)

    async def comments_in_feed(scopes: list[str]) -> list[bool]:
        body = {"name": "Feed", "role": "viewer", "scopes": scopes}
        created = await create(tenant.admin, "/v1/api-keys", body)
        feed = await make_client(app, created["key"]).get(
            "/v1/events", params={"types": "ticket.comment_added"}
        )
        assert feed.status_code == 200, feed.text
        return [
            event["data"]["comment"]["public"]
            for event in feed.json()["items"]
            if event["data"]["ticket"]["id"] == ticket["id"]
        ]

    assert await comments_in_feed(["tickets:read", "events:read"]) == [True]
    assert await comments_in_feed(["tickets:read", "events:read", "notes:read"]) == [True, False]


async def test_a_restricted_agent_finds_only_tickets_they_may_see(app: FastAPI, tenant: Tenant) -> None:
    restricted = await create_agent(tenant.admin, "crm-tim", ticket_access="restricted")
    group = await create_group(tenant.admin, "Nhóm Giao vận", [restricted["id"]])
    mine = await create_ticket(tenant.agent, subject="Giao hàng chậm", group_id=group["id"])
    hidden = await create_ticket(tenant.agent, subject="Hoàn tiền")
    await comment(tenant.agent, hidden, "Giao hàng chậm nên khách đòi hoàn tiền")
    kid, secret = await rotate_token_secret(tenant.admin)
    client = make_client(app, mint_agent_token(kid, secret, "crm-tim"))
    assert await listed(client, "giao hang cham") == [mine["id"]]
    assert [hit["id"] for hit in await searched(client, "giao hang cham")] == [mine["id"]]
    assert await searched(client, "giao hang cham", type="comments") == []
    assert len(await searched(tenant.viewer, "giao hang cham")) == 2


async def test_the_number_and_the_requesters_identities_find_tickets(tenant: Tenant) -> None:
    requester = await create_contact(
        tenant.agent, name="Nguyễn Thị Hoa", email="hoa.nguyen@example.vn", phone="0912 345 678",
        external_id="KH-77",
    )  # fmt: skip
    ticket = await create_ticket(tenant.agent, subject="Bảo hành", requester_id=requester["id"])
    other = await create_ticket(tenant.agent, subject="Khác")
    for query in (
        f"#{ticket['number']}", str(ticket["number"]), "0912 345 678", "+84 912 345 678", "0912.345.678",
        "Hoa.Nguyen@example.vn", "KH-77",
    ):  # fmt: skip
        assert ticket["id"] in await listed(tenant.viewer, query), query
        assert other["id"] not in await listed(tenant.viewer, query), query
    [hit] = await searched(tenant.viewer, "+84912345678")
    assert hit["id"] == ticket["id"] and hit["exact"] is True and hit["matched_in"] == "requester"
    [hit] = await searched(tenant.viewer, f"#{ticket['number']}")
    assert hit["matched_in"] == "number"


async def test_search_ranks_exact_accents_first_then_adjacent_words_then_the_rest(tenant: Tenant) -> None:
    # Created oldest first: recency alone would put them the other way round.
    exact = await create_ticket(tenant.agent, subject="Giao hàng chậm ở Hà Nội")
    folded = await create_ticket(tenant.agent, subject="Đơn 7")
    await comment(tenant.agent, folded, "giao hang cham roi")
    apart = await create_ticket(tenant.agent, subject="Chậm trễ khi giao một kiện hàng")
    hits = await searched(tenant.viewer, "giao hàng chậm")
    assert [hit["id"] for hit in hits] == [exact["id"], folded["id"], apart["id"]]
    assert [hit["exact"] for hit in hits] == [True, False, False]
    assert hits[0]["matched_in"] == "subject"
    assert hits[0]["highlight"] == "<mark>Giao hàng chậm</mark> ở Hà Nội"
    assert hits[1]["matched_in"] == "comment" and hits[1]["highlight"] == "<mark>giao hang cham</mark> roi"
    [found] = await searched(tenant.viewer, "giao hàng chậm", type="comments")
    assert found["ticket_id"] == folded["id"] and found["number"] == folded["number"]


async def test_a_query_typed_without_accents_ranks_by_recency_not_by_missing_accents(tenant: Tenant) -> None:
    typed_so = await create_ticket(tenant.agent, subject="giao hang cham qua")
    accented = await create_ticket(tenant.agent, subject="Giao hàng chậm quá")
    hits = await searched(tenant.viewer, "giao hang cham")
    assert [hit["id"] for hit in hits] == [accented["id"], typed_so["id"]]
    assert [hit["exact"] for hit in hits] == [False, False]
    # Typed with accents, the text with those very accents comes first, whatever its age.
    hits = await searched(tenant.viewer, "giao hàng chậm")
    assert [hit["id"] for hit in hits] == [accented["id"], typed_so["id"]]
    assert [hit["exact"] for hit in hits] == [True, False]
    hits = await searched(tenant.viewer, f"#{typed_so['number']}")
    assert [hit["exact"] for hit in hits if hit["id"] == typed_so["id"]] == [True]


async def test_the_cursor_walks_every_match_once_across_tiers(tenant: Tenant) -> None:
    created = []
    for index in range(7):
        subject = f"Phiếu {index}: được giao" if index % 2 else f"Phiếu {index}: duoc giao"
        created.append((await create_ticket(tenant.agent, subject=subject))["id"])
    ids = [hit["id"] for hit in await searched(tenant.viewer, "được giao", limit=2)]
    assert sorted(ids) == sorted(created) and len(ids) == len(set(ids))
    # The three typed with accents come first, newest first; then the rest, newest first.
    assert ids == [created[5], created[3], created[1], created[6], created[4], created[2], created[0]]


async def test_walked_tiers_read_a_bounded_number_of_tickets_a_page(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing counts as rare, so every tier is walked newest first, three tickets a page at most.
    monkeypatch.setattr(search_repository, "WALK_TICKETS", 3)
    monkeypatch.setattr(search_repository, "RARE_ROWS", 0)
    monkeypatch.setattr(tickets_repository, "RARE_ROWS", 0)
    subjects = [
        "Giao hàng chậm",
        "Đổi mật khẩu",
        "Hoá đơn VAT",
        "Hàng về chậm, chưa giao",
        "Bảo hành máy lọc nước",
        "Hoàn tiền đơn DH-1042",
        "Đơn giao hang cham",
        "Khuyến mãi tháng 12",
        "Tài khoản bị khoá",
        "Giao hàng chậm quá",
    ]
    created = [(await create_ticket(tenant.agent, subject=subject))["id"] for subject in subjects]
    pages: list[list[str]] = []
    cursor = None
    while True:
        params = {"q": "giao hàng chậm", "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await tenant.viewer.get("/v1/search", params=params)
        assert response.status_code == 200, response.text
        pages.append([hit["id"] for hit in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    # Exact first, then side by side, then apart; each once, newest first in its tier.
    assert [hit for page in pages for hit in page] == [created[9], created[0], created[6], created[3]]
    assert all(len(page) <= 2 for page in pages)
    # A page ends where its walk did: the first read the three newest tickets, one of which matched.
    assert pages[0] == [created[9]]
    # Each tier takes at most four walks of three tickets over the ten.
    assert len(pages) <= 3 * 4


async def test_tiers_with_too_many_candidates_are_walked(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every candidate list is too long to read first: the tiers are walked instead, and find the same.
    monkeypatch.setattr(search_repository, "LOOKED_UP_IDS", 0)
    first = await create_ticket(tenant.agent, subject="Giao hàng chậm")
    await create_ticket(tenant.agent, subject="Đổi mật khẩu")
    second = await create_ticket(tenant.agent, subject="Đơn giao hang cham")
    third = await create_ticket(tenant.agent, subject="Hàng về chậm, chưa giao")
    hits = await searched(tenant.viewer, "giao hàng chậm", limit=2)
    assert [hit["id"] for hit in hits] == [first["id"], second["id"], third["id"]]
    assert [hit["exact"] for hit in hits] == [True, False, False]


async def test_a_search_plans_without_parallel_workers_for_its_transaction_only(
    db: Database, tenant: Tenant
) -> None:
    await create_ticket(tenant.agent, subject="Hoàn tiền hai lần")
    principal = Principal(tenant.workspace_id, Role.admin, ActorType.api_key, tenant.workspace_id)
    show = text("SHOW max_parallel_workers_per_gather")
    async with db.sessionmaker() as session, session.begin():
        default = await session.scalar(show)
        hits, _ = await SearchService(session, principal, "VN").search(
            "hoàn tiền", "tickets", PageParams(None, 50)
        )
        assert len(hits) == 1
        assert await session.scalar(show) == "0"
    async with db.sessionmaker() as session, session.begin():
        assert await session.scalar(show) == default != "0"


async def test_contacts_and_organizations_are_searched_as_their_lists_allow(
    app: FastAPI, tenant: Tenant
) -> None:
    contact = await create_contact(tenant.agent, name="Đặng Văn Lâm", email="lam@example.vn")
    await create(tenant.admin, "/v1/organizations", {"name": "Công ty Đặng Gia"})
    [hit] = await searched(tenant.viewer, "dang van", type="contacts")
    assert hit["id"] == contact["id"] and hit["highlight"] == "<mark>Đặng Văn</mark> Lâm"
    [organization] = await searched(tenant.viewer, "đặng gia", type="organizations")
    assert organization["exact"] is True
    created = await create(
        tenant.admin, "/v1/api-keys", {"name": "Chỉ phiếu", "role": "viewer", "scopes": ["tickets:read"]}
    )
    refused = await make_client(app, created["key"]).get(
        "/v1/search", params={"q": "dang", "type": "contacts"}
    )
    assert refused.status_code == 403 and refused.json()["scope"] == "contacts:read"


async def test_bad_search_input_is_a_problem(tenant: Tenant) -> None:
    for params, field in (
        ({"q": ""}, "q"),
        ({"q": '""'}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "giao", "type": "tickets_and_more"}, "type"),
        ({"q": "gi\x00ao"}, "q"),
        ({"q": "giao", "cursor": "not-a-cursor"}, "cursor"),
    ):
        response = await tenant.viewer.get("/v1/search", params=params)
        assert 400 <= response.status_code < 500, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in response.text, (params, response.text)
    assert (await tenant.viewer.get("/v1/search")).status_code == 422


async def test_tags_fold_accents_and_are_counted(app: FastAPI, tenant: Tenant) -> None:
    first = await create_ticket(tenant.agent, subject="A", tags=["giao-hàng", "vip"])
    second = await create_ticket(tenant.agent, subject="B", tags=["giao-hang"])
    gone = await create_ticket(tenant.agent, subject="C", tags=["giao-hàng"])
    assert (await tenant.agent.delete(f"/v1/tickets/{gone['id']}")).status_code == 204
    response = await tenant.viewer.get("/v1/tickets", params={"tag": "Giao-Hang"})
    assert {item["id"] for item in response.json()["items"]} == {first["id"], second["id"]}
    response = await tenant.viewer.get("/v1/tickets", params={"tag": "giao-hàng,vip"})
    assert [item["id"] for item in response.json()["items"]] == [first["id"]]

    async def tags(**params: Any) -> list[tuple[str, int]]:
        answer = await tenant.viewer.get("/v1/tags", params=params)
        assert answer.status_code == 200, answer.text
        return [(item["tag"], item["tickets"]) for item in answer.json()["items"]]

    assert await tags(prefix="GIAO") == [("giao-hang", 1), ("giao-hàng", 1)]
    assert await tags() == [("giao-hang", 1), ("giao-hàng", 1), ("vip", 1)]
    assert await tags(limit=1) == [("giao-hang", 1)]
    # Tags added, removed, and a ticket restored: the counts follow.
    patched = await tenant.agent.patch(
        f"/v1/tickets/{second['id']}", json={"add_tags": ["vip"], "remove_tags": ["giao-hang"]}
    )
    assert patched.status_code == 200, patched.text
    assert (await tenant.agent.post(f"/v1/tickets/{gone['id']}/restore")).status_code == 200
    assert await tags() == [("giao-hàng", 2), ("vip", 2)]
    assert await tags(prefix="đặc") == []
    # Workers folding the changes into the counts side by side count each once.
    db = app.state.db
    await asyncio.gather(fold_tag_count_changes(db), fold_tag_count_changes(db))
    async with db.sessionmaker() as session:
        pending = select(func.count()).where(tag_count_changes.c.workspace_id == tenant.workspace_id)
        assert (await session.execute(pending)).scalar_one() == 0
    assert await tags() == [("giao-hàng", 2), ("vip", 2)]
    assert (await tenant.agent.delete(f"/v1/tickets/{first['id']}")).status_code == 204
    assert await tags() == [("giao-hàng", 1), ("vip", 1)]
    # A restricted agent counts only the tickets they may see.
    restricted = await create_agent(tenant.admin, "crm-the", ticket_access="restricted")
    group = await create_group(tenant.admin, "Nhóm VIP", [restricted["id"]])
    await create_ticket(tenant.agent, subject="D", tags=["vip"], group_id=group["id"])
    kid, secret = await rotate_token_secret(tenant.admin)
    client = make_client(app, mint_agent_token(kid, secret, "crm-the"))
    answer = await client.get("/v1/tags")
    assert [(item["tag"], item["tickets"]) for item in answer.json()["items"]] == [("vip", 1)]
