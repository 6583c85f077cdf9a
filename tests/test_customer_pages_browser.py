"""The customer pages in a real browser (Debian's Chromium, headless, through Playwright), at a phone's
width and a desktop's: open the link, read the conversation and download its file, reply with a file,
rate; and open one's tickets from the link sent by email. Screenshots of each step are kept
(tests/browser.py says where).

The page is also held to what the browser itself can tell: no request refused by the Content Security
Policy, nothing wider than the screen, every control labelled, every text at 4.5:1 or more on what is
behind it, and the keyboard reaching the skip link first.
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, ConsoleMessage, Page

from app.config import Settings
from app.customer_pages.security import contrast_ratio
from tests.browser import headless_chromium, screenshot_path
from tests.conftest import Tenant
from tests.factories import create_ticket
from tests.test_email_channel import Outbox, email_channel, smtp_server
from tests.test_portal import access_token_in, ask_access, send_links

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)

# Every element that shows text: its colour and the first opaque background behind it, as rgb() strings.
TEXT_COLOURS = """() => {
  const opaque = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const background = getComputedStyle(node).backgroundColor;
      if (background !== 'rgba(0, 0, 0, 0)' && background !== 'transparent') return background;
    }
    return 'rgb(255, 255, 255)';
  };
  const shown = [];
  for (const element of document.querySelectorAll('body *')) {
    const own = [...element.childNodes].some((node) => node.nodeType === 3 && node.textContent.trim());
    const box = element.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0 || box.bottom < 0) continue;
    shown.push({text: element.textContent.trim().slice(0, 40), color: getComputedStyle(element).color,
                background: opaque(element)});
  }
  return shown;
}"""
# Form controls a person fills in that no label names.
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
  .filter((control) => control.labels.length === 0).map((control) => control.outerHTML)"""

WIDTHS = [pytest.param(360, 780, "vi-VN", id="phone"), pytest.param(1280, 900, "en-US", id="desktop")]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with headless_chromium() as running:
        yield running


def _hex(rgb: str) -> str:
    red, green, blue = (int(part) for part in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return f"#{red:02x}{green:02x}{blue:02x}"


async def check_accessible(page: Page, width: int) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= width, (
        "nothing wider than the screen"
    )
    assert await page.evaluate(UNLABELLED) == []
    for shown in await page.evaluate(TEXT_COLOURS):
        ratio = contrast_ratio(_hex(shown["color"]), _hex(shown["background"]))
        assert ratio >= 4.5, f"{shown['text']!r}: {shown['color']} on {shown['background']} is {ratio:.2f}:1"


async def issue_link(client: httpx.AsyncClient, ticket_id: str) -> str:
    issued = await client.post(f"/v1/tickets/{ticket_id}/customer-link")
    assert issued.status_code == 201, issued.text
    return issued.json()["token"]


async def agent_reply_with_file(tenant: Tenant, ticket_id: str, body: str) -> None:
    uploaded = await tenant.agent.post(
        "/v1/uploads", files={"files": ("hoa-don-thang-11.pdf", PDF, "application/pdf")}
    )
    assert uploaded.status_code == 201, uploaded.text
    [upload] = uploaded.json()["items"]
    reply = await tenant.agent.post(
        f"/v1/tickets/{ticket_id}/comments",
        json={"body": body, "public": True, "attachments": [upload["token"]]},
    )
    assert reply.status_code == 201, reply.text


async def comments_of(tenant: Tenant, ticket_id: str) -> list[dict[str, Any]]:
    answer = await tenant.agent.get(f"/v1/tickets/{ticket_id}/comments", params={"limit": 100})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


@pytest.mark.parametrize(("width", "height", "accept_language"), WIDTHS)
async def test_a_customer_reads_downloads_replies_with_a_file_and_rates(
    app: FastAPI,
    live_url: str,
    browser: Browser,
    tenant: Tenant,
    width: int,
    height: int,
    accept_language: str,
) -> None:
    name = f"customer-pages-{width}px"
    current = await tenant.admin.get("/v1/workspace")
    branded = await tenant.admin.patch(
        "/v1/workspace", json={"brand_color": "#ffcc00"}, headers={"If-Match": current.headers["ETag"]}
    )
    assert branded.status_code == 200, branded.text
    ticket = await create_ticket(
        tenant.agent,
        subject="Máy lọc nước giao thiếu bộ lõi",
        requester={"email": "tran.van.binh@example.vn", "name": "Trần Văn Bình"},
    )
    asked = await tenant.admin.post(
        f"/v1/tickets/{ticket['id']}/comments",
        json={
            "body": "Tôi nhận máy hôm qua nhưng thiếu bộ lõi lọc số 3.",
            "public": True,
            "author": {"type": "contact", "id": ticket["requester_id"]},
        },
    )
    assert asked.status_code == 201, asked.text
    await agent_reply_with_file(
        tenant, ticket["id"], "Dạ, em gửi anh phiếu xuất kho; lõi số 3 sẽ giao bù ngày mai ạ."
    )
    note = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments", json={"body": "Kho Bình Dương hết lõi số 3", "public": False}
    )
    assert note.status_code == 201, note.text
    token = await issue_link(tenant.agent, ticket["id"])

    context = await browser.new_context(
        viewport={"width": width, "height": height}, extra_http_headers={"Accept-Language": accept_language}
    )
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page = await context.new_page()
    page.on("console", on_console)
    english = accept_language.startswith("en")

    # Open the link and read.
    opened = await page.goto(f"{live_url}/t/{token}")
    assert opened is not None and opened.status == 200
    assert opened.headers["cache-control"] == "private, no-store"
    assert await page.locator("html").get_attribute("lang") == ("en" if english else "vi")
    assert "Máy lọc nước giao thiếu bộ lõi" in await page.get_by_role("heading", level=1).inner_text()
    thread = page.locator("ol.thread")
    assert "thiếu bộ lõi lọc số 3" in await thread.inner_text()
    assert "lõi số 3 sẽ giao bù ngày mai" in await thread.inner_text()
    assert "Kho Bình Dương" not in await page.content()
    header = page.locator("header.brand")
    assert _hex(await header.evaluate("(element) => getComputedStyle(element).backgroundColor")) == "#ffcc00"
    assert _hex(await header.evaluate("(element) => getComputedStyle(element).color")) == "#000000"
    await check_accessible(page, width)
    await page.screenshot(path=screenshot_path(f"{name}-1-opened"), full_page=True)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"

    # The agent's file downloads through the link.
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="hoa-don-thang-11.pdf").click()
    download = await waiting.value
    assert download.suggested_filename == "hoa-don-thang-11.pdf"
    assert (await download.path()).read_bytes() == PDF

    # Reply with a file.
    await page.get_by_label("Your message" if english else "Nội dung").fill("Cảm ơn em, anh gửi ảnh hộp máy.")
    await page.get_by_label(
        "Attach files (optional)" if english else "Đính kèm tệp (không bắt buộc)"
    ).set_input_files({"name": "hop-may.png", "mimeType": "image/png", "buffer": PNG})
    await page.get_by_role("button", name="Send reply" if english else "Gửi trả lời").click()
    await page.wait_for_url(f"{live_url}/t/{token}?done=replied")
    assert await page.get_by_role("status").inner_text() == (
        "Your reply was sent." if english else "Đã gửi trả lời của bạn."
    )
    assert "Cảm ơn em, anh gửi ảnh hộp máy." in await thread.inner_text()
    assert await page.get_by_role("link", name="hop-may.png").count() == 1
    await page.screenshot(path=screenshot_path(f"{name}-2-replied"), full_page=True)
    mine = (await comments_of(tenant, ticket["id"]))[-1]
    assert mine["body"] == "Cảm ơn em, anh gửi ảnh hộp máy." and mine["public"] is True
    assert mine["author"] == {"type": "contact", "id": ticket["requester_id"]}
    assert [file["filename"] for file in mine["attachments"]] == ["hop-may.png"]

    # Once the agent solved it, rate.
    solved = await tenant.agent.patch(f"/v1/tickets/{ticket['id']}", json={"status_kind": "solved"})
    assert solved.status_code == 200, solved.text
    await page.reload()
    await page.get_by_label("Very satisfied" if english else "Rất hài lòng", exact=False).check()
    await page.get_by_label("Comment (optional)" if english else "Góp ý (không bắt buộc)").fill(
        "Nhân viên hỗ trợ nhiệt tình."
    )
    await check_accessible(page, width)
    await page.get_by_role("button", name="Send rating" if english else "Gửi đánh giá").click()
    await page.wait_for_url(f"{live_url}/t/{token}?done=rated")
    assert await page.get_by_role("status").inner_text() == (
        "Thank you for your rating." if english else "Cảm ơn bạn đã đánh giá."
    )
    assert ("You rated 5/5." if english else "Bạn đã đánh giá 5/5.") in await page.inner_text("main")
    await page.screenshot(path=screenshot_path(f"{name}-3-rated"), full_page=True)
    rated = (await tenant.agent.get(f"/v1/tickets/{ticket['id']}")).json()
    assert rated["rating_score"] == 5

    assert refused == [], "the Content Security Policy refused nothing"
    await context.close()


@pytest.fixture
async def outbox() -> AsyncIterator[Outbox]:
    async with smtp_server() as box:
        yield box


@pytest.mark.parametrize(("width", "height", "accept_language"), WIDTHS)
async def test_a_contact_opens_their_tickets_from_the_emailed_link(
    app: FastAPI,
    settings: Settings,
    live_url: str,
    browser: Browser,
    tenant: Tenant,
    outbox: Outbox,
    width: int,
    height: int,
    accept_language: str,
) -> None:
    email = f"hanh.{uuid.uuid4().hex[:8]}@example.vn"
    await create_ticket(tenant.agent, subject="Bảo hành nồi cơm điện", requester={"email": email})
    wanted = await create_ticket(tenant.agent, subject="Xuất hóa đơn VAT", requester={"email": email})
    await email_channel(tenant, outbox)
    assert (await ask_access(tenant.anonymous, tenant.workspace_id, email)).status_code == 202
    await send_links(app, settings)
    [mail] = [message for message in outbox.received if email in str(message["To"])]
    english = accept_language.startswith("en")

    context = await browser.new_context(
        viewport={"width": width, "height": height}, extra_http_headers={"Accept-Language": accept_language}
    )
    page = await context.new_page()
    await page.goto(f"{live_url}/my/{access_token_in(mail)}")
    await check_accessible(page, width)
    await page.get_by_role("button", name="Show my tickets" if english else "Xem phiếu của tôi").click()
    await page.wait_for_url(f"{live_url}/my")
    assert "Xuất hóa đơn VAT" in await page.inner_text("main")
    assert "Bảo hành nồi cơm điện" in await page.inner_text("main")
    await check_accessible(page, width)
    await page.screenshot(path=screenshot_path(f"customer-pages-{width}px-4-my-tickets"), full_page=True)

    number = wanted["number"]
    await page.get_by_role(
        "button", name=f"Open ticket #{number}" if english else f"Mở phiếu #{number}"
    ).click()
    await page.wait_for_url(f"{live_url}/t/**")
    assert "Xuất hóa đơn VAT" in await page.get_by_role("heading", level=1).inner_text()
    await context.close()
