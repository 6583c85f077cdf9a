"""The customer pages over plain HTTP: their headers (CSP, caching, framing, Referer), their form tokens
(CSRF), the language they choose, the workspace's colours, and what a wrong link shows."""

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.config import AttachmentSettings, Settings
from app.customer_pages.security import (
    FORM_TOKEN_TTL_SECONDS,
    contrast_ratio,
    form_token,
    form_token_valid,
    negotiate_locale,
    text_color_on,
)
from tests.conftest import Tenant, create_tenant, make_client, running_app
from tests.factories import create_ticket
from tests.test_email_channel import Outbox, email_channel, smtp_server
from tests.test_portal import access_token_in, ask_access, send_links

FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
PAGE_HEADERS = {
    "cache-control": "private, no-store",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}


async def linked_ticket(tenant: Tenant, **fields: object) -> tuple[dict, str]:
    """A ticket with a requester, and the token of its customer link."""
    ticket = await create_ticket(
        tenant.agent, requester={"email": "le.thi.mai@example.vn", "name": "Lê Thị Mai"}, **fields
    )
    issued = await tenant.agent.post(f"/v1/tickets/{ticket['id']}/customer-link")
    assert issued.status_code == 201, issued.text
    return ticket, issued.json()["token"]


def assert_page_headers(answer: httpx.Response) -> None:
    for name, value in PAGE_HEADERS.items():
        assert answer.headers[name] == value, name
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy and "script-src" not in policy
    assert answer.headers["content-type"].startswith("text/html")


async def form_token_of(tenant: Tenant, token: str) -> str:
    page = await tenant.anonymous.get(f"/t/{token}")
    assert page.status_code == 200, page.text
    return FORM_TOKEN.findall(page.text)[0]


async def public_comments(tenant: Tenant, ticket_id: str) -> list[dict]:
    answer = await tenant.agent.get(f"/v1/tickets/{ticket_id}/comments", params={"limit": 100})
    return [comment for comment in answer.json()["items"] if comment["public"]]


async def set_brand_color(tenant: Tenant, color: object) -> httpx.Response:
    current = await tenant.admin.get("/v1/workspace")
    return await tenant.admin.patch(
        "/v1/workspace", json={"brand_color": color}, headers={"If-Match": current.headers["ETag"]}
    )


# The workspace's colour


async def test_the_brand_color_has_a_default_and_admins_change_it_to_a_valid_one(tenant: Tenant) -> None:
    assert (await tenant.viewer.get("/v1/workspace")).json()["brand_color"] == "#1d4ed8"
    changed = await set_brand_color(tenant, "#E11D48")
    assert changed.status_code == 200, changed.text
    assert changed.json()["brand_color"] == "#e11d48"
    for wrong in ("red", "#e11d4", "#e11d48ff", "e11d48", "#ggggggg", "", None, 1):
        refused = await tenant.admin.patch("/v1/workspace", json={"brand_color": wrong})
        assert refused.status_code == 422, wrong
        assert refused.json()["field"] == "brand_color", wrong
    assert (await tenant.agent.patch("/v1/workspace", json={"brand_color": "#000000"})).status_code == 403
    assert (await tenant.viewer.get("/v1/workspace")).json()["brand_color"] == "#e11d48"


@pytest.mark.parametrize(
    "background", ["#1d4ed8", "#ffffff", "#000000", "#777777", "#767676", "#ffcc00", "#00a000", "#e11d48"]
)
def test_the_text_on_the_brand_color_contrasts_at_least_4_5_to_1(background: str) -> None:
    assert contrast_ratio(text_color_on(background), background) >= 4.5


def test_no_brand_color_leaves_its_text_below_4_5_to_1() -> None:
    # Every grey, and every colour a step of 17 apart on each channel: the hardest cases are mid-greys.
    for red in range(0, 256, 17):
        for green in range(0, 256, 17):
            for blue in range(0, 256, 17):
                background = f"#{red:02x}{green:02x}{blue:02x}"
                assert contrast_ratio(text_color_on(background), background) >= 4.5, background
    for level in range(256):
        grey = f"#{level:02x}{level:02x}{level:02x}"
        assert contrast_ratio(text_color_on(grey), grey) >= 4.5, grey


async def test_the_theme_stylesheet_sets_the_color_and_readable_text(app: FastAPI, tenant: Tenant) -> None:
    answer = await tenant.anonymous.get("/pages/theme/ffcc00.css")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
    assert "--brand: #ffcc00;" in answer.text and "--on-brand: #000000;" in answer.text
    assert "immutable" in answer.headers["cache-control"]
    dark = await tenant.anonymous.get("/pages/theme/1d4ed8.css")
    assert "--on-brand: #ffffff;" in dark.text
    for wrong in ("FFCC00", "ffcc0", "url(x)"):
        assert (await tenant.anonymous.get(f"/pages/theme/{wrong}.css")).status_code in (404, 422), wrong


async def test_the_stylesheet_is_served_from_the_package(tenant: Tenant) -> None:
    answer = await tenant.anonymous.get("/pages/pages.css")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/css")
    assert "--brand" in answer.text and answer.headers["x-content-type-options"] == "nosniff"


# The language


@pytest.mark.parametrize(
    ("accept_language", "default", "chosen"),
    [
        ("vi-VN,vi;q=0.9,en;q=0.8", "en", "vi"),
        ("en-US,en;q=0.9", "vi", "en"),
        ("fr-FR, en;q=0.5, vi;q=0.7", "en", "vi"),
        ("fr, de;q=0.5", "en", "en"),
        ("fr, de;q=0.5", "vi", "vi"),
        ("", "vi", "vi"),
        (None, "en", "en"),
        ("*", "vi", "vi"),
        ("en;q=0, vi;q=0.1", "en", "vi"),
        ("EN-gb", "vi", "en"),
        ("en;q=abc, vi", "en", "vi"),
    ],
)
def test_the_language_is_the_browsers_first_known_one_else_the_workspaces(
    accept_language: str | None, default: str, chosen: str
) -> None:
    assert negotiate_locale(accept_language, default) == chosen


# Form tokens


def test_a_form_token_holds_for_its_link_and_a_while_only(app: FastAPI) -> None:
    box = app.state.secret_box
    issued = form_token(box, "link-a", now=1_000_000)
    assert form_token_valid(box, "link-a", issued, now=1_000_000 + 60)
    assert form_token_valid(box, "link-a", issued, now=1_000_000 + FORM_TOKEN_TTL_SECONDS)
    assert not form_token_valid(box, "link-a", issued, now=1_000_000 + FORM_TOKEN_TTL_SECONDS + 1)
    assert not form_token_valid(box, "link-a", issued, now=1_000_000 - 60)
    assert not form_token_valid(box, "link-b", issued, now=1_000_000 + 60)
    forged = re.sub(r"^\d+", "1000100", issued)
    assert not form_token_valid(box, "link-a", forged, now=1_000_000 + 200)
    for wrong in ("", ".", "abc.def", "1000000.", issued + "x"):
        assert not form_token_valid(box, "link-a", wrong, now=1_000_000 + 60), wrong


# The ticket's page


async def test_the_page_shows_the_public_thread_escaped_and_never_a_note(tenant: Tenant) -> None:
    ticket, token = await linked_ticket(tenant, subject="Hóa đơn <script>alert(1)</script> sai")
    await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments",
        json={"body": "Chị vui lòng chờ <b>5 phút</b>", "public": True},
    )
    await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments", json={"body": "Khách này hay khiếu nại", "public": False}
    )
    page = await tenant.anonymous.get(f"/t/{token}")
    assert page.status_code == 200, page.text
    assert_page_headers(page)
    assert "Hóa đơn &lt;script&gt;alert(1)&lt;/script&gt; sai" in page.text and "<script" not in page.text
    assert "Chị vui lòng chờ &lt;b&gt;5 phút&lt;/b&gt;" in page.text
    assert "Khách này hay khiếu nại" not in page.text
    assert "Công ty TNHH Ánh Dương" in page.text
    assert 'href="/pages/theme/1d4ed8.css"' in page.text and "style=" not in page.text


@pytest.mark.parametrize("path", ["/t/{token}", "/t/not-a-token", "/t/{other}"])
async def test_an_unknown_or_revoked_link_is_the_not_found_page(tenant: Tenant, path: str) -> None:
    ticket, token = await linked_ticket(tenant)
    _, other = await linked_ticket(tenant)
    revoked = await tenant.agent.delete(f"/v1/tickets/{ticket['id']}/customer-link")
    assert revoked.status_code == 204, revoked.text
    # `{other}`: a token of the same workspace that no link ever had.
    url = path.format(token=token, other=other[:-8] + "AAAAAAAA")
    for language, title in (("vi", "Không tìm thấy trang"), ("en-GB,en;q=0.8", "Page not found")):
        page = await tenant.anonymous.get(url, headers={"Accept-Language": language})
        assert page.status_code == 404
        assert_page_headers(page)
        assert f"<h1>{title}</h1>" in page.text
    assert (await tenant.anonymous.get(f"/t/{other}")).status_code == 200


async def test_a_posted_form_for_an_unknown_link_is_the_not_found_page(tenant: Tenant) -> None:
    answer = await tenant.anonymous.post("/t/not-a-token/solve", data={"form_token": "1.x"})
    assert answer.status_code == 404 and "<h1>Không tìm thấy trang</h1>" in answer.text
    assert_page_headers(answer)


async def test_the_language_is_the_browsers_else_the_workspaces(tenant: Tenant) -> None:
    _, token = await linked_ticket(tenant, subject="Đổi size áo")
    english = await tenant.anonymous.get(f"/t/{token}", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Ticket #" in english.text
    assert "Accept-Language" in english.headers["vary"]
    default = await tenant.anonymous.get(f"/t/{token}", headers={"Accept-Language": "fr-FR"})
    assert '<html lang="vi">' in default.text and "Phiếu #" in default.text
    current = await tenant.admin.get("/v1/workspace")
    changed = await tenant.admin.patch(
        "/v1/workspace", json={"locale": "en"}, headers={"If-Match": current.headers["ETag"]}
    )
    assert changed.status_code == 200
    assert '<html lang="en">' in (await tenant.anonymous.get(f"/t/{token}")).text
    vietnamese = await tenant.anonymous.get(f"/t/{token}", headers={"Accept-Language": "vi"})
    assert '<html lang="vi">' in vietnamese.text


async def test_the_page_carries_the_workspaces_colour_and_readable_text(tenant: Tenant) -> None:
    _, token = await linked_ticket(tenant)
    assert (await set_brand_color(tenant, "#FACC15")).status_code == 200
    page = await tenant.anonymous.get(f"/t/{token}")
    theme_url = re.search(r'href="(/pages/theme/[0-9a-f]{6}\.css)"', page.text)[1]
    theme = await tenant.anonymous.get(theme_url)
    assert "--brand: #facc15;" in theme.text and "--on-brand: #000000;" in theme.text


# Forms: CSRF, and what each does


async def test_a_form_without_a_valid_token_or_from_another_site_is_refused_and_changes_nothing(
    app: FastAPI, tenant: Tenant
) -> None:
    ticket, token = await linked_ticket(tenant)
    _, other_token = await linked_ticket(tenant)
    valid = await form_token_of(tenant, token)
    of_other_link = await form_token_of(tenant, other_token)
    refused_forms = [
        ({"body": "Không có mã biểu mẫu"}, {}),
        ({"body": "Mã của liên kết khác", "form_token": of_other_link}, {}),
        ({"body": "Mã giả", "form_token": valid[:-2] + "xx"}, {}),
        ({"body": "Từ trang khác", "form_token": valid}, {"Origin": "https://lua-dao.example"}),
        ({"body": "Từ trang khác", "form_token": valid}, {"Sec-Fetch-Site": "cross-site"}),
        ({"body": "Từ miền con", "form_token": valid}, {"Sec-Fetch-Site": "same-site"}),
        ({"body": "Từ trang khác", "form_token": valid}, {"Origin": "null", "Sec-Fetch-Site": "cross-site"}),
    ]
    for form, headers in refused_forms:
        answer = await tenant.anonymous.post(f"/t/{token}/reply", data=form, headers=headers)
        expected = 422 if "form_token" not in form else 403
        assert answer.status_code == expected, (form, headers, answer.text)
        assert_page_headers(answer)
    stale = form_token(app.state.secret_box, token, now=1)
    answer = await tenant.anonymous.post(f"/t/{token}/solve", data={"form_token": stale})
    assert answer.status_code == 403 and "Biểu mẫu đã hết hạn" in answer.text
    assert await public_comments(tenant, ticket["id"]) == []
    assert (await tenant.agent.get(f"/v1/tickets/{ticket['id']}")).json()["status_kind"] == "new"

    sent = await tenant.anonymous.post(
        f"/t/{token}/reply",
        data={"body": "Gửi từ chính trang", "form_token": valid},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/t/{token}?done=replied"
    assert [comment["body"] for comment in await public_comments(tenant, ticket["id"])] == [
        "Gửi từ chính trang"
    ]


async def test_the_customer_solves_then_rates_and_an_early_rating_is_explained(tenant: Tenant) -> None:
    ticket, token = await linked_ticket(tenant)
    valid = await form_token_of(tenant, token)
    early = await tenant.anonymous.post(f"/t/{token}/rating", data={"form_token": valid, "score": "4"})
    assert early.status_code == 409 and "khi phiếu đã được giải quyết" in early.text
    assert f'href="/t/{token}"' in early.text
    solved = await tenant.anonymous.post(f"/t/{token}/solve", data={"form_token": valid})
    assert solved.status_code == 303 and solved.headers["location"] == f"/t/{token}?done=solved"
    assert (await tenant.agent.get(f"/v1/tickets/{ticket['id']}")).json()["status_kind"] == "solved"
    page = await tenant.anonymous.get(f"/t/{token}?done=solved")
    assert "Phiếu đã được đánh dấu là đã giải quyết." in page.text and 'action="/t/' in page.text
    for wrong in ({"score": "6"}, {"score": "tốt"}, {}):
        refused = await tenant.anonymous.post(f"/t/{token}/rating", data={"form_token": valid, **wrong})
        assert refused.status_code == 422, wrong
    rated = await tenant.anonymous.post(
        f"/t/{token}/rating", data={"form_token": valid, "score": "2", "comment": "  Chờ lâu quá  "}
    )
    assert rated.status_code == 303 and rated.headers["location"] == f"/t/{token}?done=rated"
    shown = (await tenant.agent.get(f"/v1/tickets/{ticket['id']}")).json()
    assert shown["rating_score"] == 2
    again = await tenant.anonymous.get(f"/t/{token}")
    assert "Bạn đã đánh giá 2/5." in again.text and "Chờ lâu quá</textarea>" in again.text


async def test_a_reply_too_large_is_refused_with_a_page(app: FastAPI, tenant: Tenant) -> None:
    ticket, token = await linked_ticket(tenant)
    valid = await form_token_of(tenant, token)
    original = app.state.settings
    # Not with monkeypatch: it restores through the instance `__dict__`, which the app's state does not use.
    small = AttachmentSettings(max_file_bytes=1000, max_files_per_comment=1)
    app.state.settings = original.model_copy(update={"attachment": small})
    try:
        answer = await tenant.anonymous.post(
            f"/t/{token}/reply",
            data={"body": "Tệp lớn", "form_token": valid},
            files={"files": ("lon.bin", b"x" * 200_000, "application/octet-stream")},
        )
    finally:
        app.state.settings = original
    assert answer.status_code == 413 and "Tệp đính kèm quá lớn" in answer.text
    assert_page_headers(answer)
    assert await public_comments(tenant, ticket["id"]) == []


async def test_a_ticket_of_another_workspace_shows_its_own_name(app: FastAPI, tenant: Tenant) -> None:
    other = await create_tenant(app, "Cửa hàng Bình Minh")
    _, token = await linked_ticket(other)
    page = await tenant.anonymous.get(f"/t/{token}")
    assert "Cửa hàng Bình Minh" in page.text and "Công ty TNHH Ánh Dương" not in page.text


# A contact's tickets, through the link sent by email


@pytest.fixture
async def outbox() -> AsyncIterator[Outbox]:
    async with smtp_server() as box:
        yield box


async def emailed_access_token(
    app: FastAPI, settings: Settings, tenant: Tenant, outbox: Outbox, email: str
) -> str:
    """The token of the link a contact asked for, as the worker mailed it through the SMTP server."""
    await email_channel(tenant, outbox)
    assert (await ask_access(tenant.anonymous, tenant.workspace_id, email)).status_code == 202
    await send_links(app, settings)
    [mail] = [message for message in outbox.received if email in str(message["To"])]
    return access_token_in(mail)


async def test_the_emailed_link_opens_the_contacts_tickets_once_and_each_ticket_by_a_button(
    app: FastAPI, settings: Settings, tenant: Tenant, outbox: Outbox
) -> None:
    email = f"ngoc.{uuid.uuid4().hex[:8]}@example.vn"
    older = await create_ticket(tenant.agent, subject="Đổi địa chỉ giao hàng", requester={"email": email})
    newer = await create_ticket(tenant.agent, subject="Hoàn tiền đơn DH-2207", requester={"email": email})
    someone_elses, _ = await linked_ticket(tenant)
    token = await emailed_access_token(app, settings, tenant, outbox, email)
    customer = tenant.anonymous

    # Opening the link spends nothing, and tells nothing of the workspace: a mail scanner may follow it.
    for _ in range(2):
        landing = await customer.get(f"/my/{token}")
        assert landing.status_code == 200
        assert_page_headers(landing)
        assert "Công ty TNHH Ánh Dương" not in landing.text
    refused = await customer.post(f"/my/{token}", data={"form_token": "1.x"})
    assert refused.status_code == 403
    opened = await customer.post(f"/my/{token}", data={"form_token": FORM_TOKEN.findall(landing.text)[0]})
    assert opened.status_code == 303 and opened.headers["location"] == "/my"
    cookie = opened.headers["set-cookie"]
    for attribute in ("HttpOnly", "Path=/my", "SameSite=strict"):
        assert attribute.lower() in cookie.lower(), attribute
    again = await make_client(app).post(
        f"/my/{token}", data={"form_token": FORM_TOKEN.findall(landing.text)[0]}
    )
    assert again.status_code == 404, "the link works once"

    listed = await customer.get("/my")
    assert listed.status_code == 200, listed.text
    assert_page_headers(listed)
    assert "Công ty TNHH Ánh Dương" in listed.text
    assert listed.text.index("Hoàn tiền đơn DH-2207") < listed.text.index("Đổi địa chỉ giao hàng")
    assert someone_elses["subject"] not in listed.text
    valid = FORM_TOKEN.findall(listed.text)[0]
    opening = await customer.post(f"/my/tickets/{newer['number']}", data={"form_token": valid})
    assert opening.status_code == 303 and opening.headers["location"].startswith("/t/")
    page = await customer.get(opening.headers["location"])
    assert page.status_code == 200 and "Hoàn tiền đơn DH-2207" in page.text
    not_mine = await customer.post(f"/my/tickets/{someone_elses['number']}", data={"form_token": valid})
    assert not_mine.status_code == 404
    forged = await customer.post(f"/my/tickets/{older['number']}", data={"form_token": valid[:-2] + "xx"})
    assert forged.status_code == 403

    # Without the session's cookie (another browser), nothing is listed.
    stranger = make_client(app)
    assert (await stranger.get("/my")).status_code == 404
    assert (
        await stranger.post(f"/my/tickets/{older['number']}", data={"form_token": valid})
    ).status_code == 404


async def test_a_reply_on_a_closed_ticket_goes_on_at_the_follow_ups_page(tenant: Tenant) -> None:
    ticket, token = await linked_ticket(tenant, subject="Lắp đặt máy giặt")
    closed = await tenant.agent.patch(f"/v1/tickets/{ticket['id']}", json={"status_kind": "closed"})
    assert closed.status_code == 200, closed.text
    page = await tenant.anonymous.get(f"/t/{token}")
    assert "trả lời của bạn sẽ mở một phiếu mới tiếp nối" in page.text
    sent = await tenant.anonymous.post(
        f"/t/{token}/reply", data={"body": "Máy lại rò nước", "form_token": FORM_TOKEN.findall(page.text)[0]}
    )
    assert sent.status_code == 303, sent.text
    follow_up_url = sent.headers["location"]
    assert follow_up_url.endswith("?done=follow_up") and not follow_up_url.startswith(f"/t/{token}")
    follow_up = await tenant.anonymous.get(follow_up_url)
    assert "nên trả lời của bạn đã mở phiếu mới này" in follow_up.text
    assert "Máy lại rò nước" in follow_up.text
    assert await public_comments(tenant, ticket["id"]) == []


async def test_solving_a_solved_ticket_again_is_explained_in_the_pages_language(tenant: Tenant) -> None:
    _, token = await linked_ticket(tenant)
    valid = await form_token_of(tenant, token)
    assert (await tenant.anonymous.post(f"/t/{token}/solve", data={"form_token": valid})).status_code == 303
    again = await tenant.anonymous.post(
        f"/t/{token}/solve", data={"form_token": valid}, headers={"Accept-Language": "en"}
    )
    assert again.status_code == 409
    assert_page_headers(again)
    assert "This ticket is already solved or closed." in again.text and '<html lang="en">' in again.text


async def test_too_many_pages_from_one_address_is_a_page_that_says_when_to_come_back(
    database_url: str, settings: Settings, tenant: Tenant
) -> None:
    _, token = await linked_ticket(tenant)
    limits = settings.rate_limit.model_copy(update={"portal_per_minute": 1, "portal_burst": 2})
    async with running_app(settings.model_copy(update={"rate_limit": limits}), database_url) as limited:
        visitor = make_client(limited)
        answers = [await visitor.get(f"/t/{token}") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    refused = answers[-1]
    assert_page_headers(refused)
    seconds = refused.headers["retry-after"]
    assert f"Hãy thử lại sau {seconds} giây." in refused.text
