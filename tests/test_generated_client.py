"""A client generated from the served OpenAPI document (`openapi-python-client`, into a temporary folder)
works against the service as an integrator would use it: typed answers, errors included."""

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from uuid import uuid4

import httpx

from tests.conftest import Tenant
from tests.factories import create_contact
from tests.processes import Server

GENERATOR = str(Path(sys.executable).with_name("openapi-python-client"))
# Files are served as their own type (`*/*`), raw mail as `message/rfc822` and data exports as
# `application/zip`: the generator is told to hand them over as bytes. No formatter runs over the
# generated code.
CONFIG = """\
content_type_overrides:
  "*/*": application/octet-stream
  message/rfc822: application/octet-stream
  application/zip: application/octet-stream
post_hooks: []
"""


def generate(server: Server, folder: Path) -> ModuleType:
    document = folder / "openapi.json"
    document.write_bytes(httpx.get(f"{server.url}/openapi.json").content)
    config = folder / "config.yml"
    config.write_text(CONFIG)
    package = folder / "helpdesk_client"
    command = [GENERATOR, "generate", "--path", str(document), "--meta", "none"]
    command += ["--output-path", str(package), "--config", str(config)]
    generated = subprocess.run(  # noqa: S603 - our own command line
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    assert "warning" not in output.lower() and "unable" not in output.lower(), output
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("helpdesk_client")
    finally:
        sys.path.remove(str(folder))


async def test_a_generated_client_creates_pages_comments_and_reads_typed_errors(
    server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    client_package = generate(server, tmp_path)
    create_ticket, get_ticket, list_tickets, create_comment = (
        importlib.import_module(f"helpdesk_client.api.{module}")
        for module in (
            "tickets.create_ticket",
            "tickets.get_ticket",
            "tickets.list_tickets",
            "comments.create_comment",
        )
    )
    models = importlib.import_module("helpdesk_client.models")
    requester = await create_contact(tenant.agent, name="Chị Lan", email="lan@example.vn")
    client = client_package.AuthenticatedClient(base_url=server.url, token=tenant.admin_key)

    with client:
        created = []
        for number in range(5):
            body = models.TicketCreate(
                subject=f"Đơn hàng DH-{1040 + number} giao chậm",
                requester_id=requester["id"],
                priority=models.Priority.HIGH if number % 2 else models.Priority.NORMAL,
                tags=["giao-hang"],
            )
            answer = create_ticket.sync_detailed(client=client, body=body)
            assert answer.status_code == 201, answer.content
            assert isinstance(answer.parsed, models.TicketOut)
            assert answer.headers["location"] == f"/v1/tickets/{answer.parsed.id}"
            created.append(answer.parsed)

        # A filtered list, page by page through its cursor.
        seen: list[object] = []
        cursor, pages = None, 0
        while True:
            page = list_tickets.sync(client=client, priority=["high"], limit=1, cursor=cursor)
            assert isinstance(page, models.TicketPage)
            seen.extend(ticket.id for ticket in page.items)
            pages += 1
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        high = {ticket.id for ticket in created if ticket.priority == models.Priority.HIGH}
        assert set(seen) == high and pages >= len(high)

        reply = models.CommentCreate(body="Dạ, shop đã kiểm tra và sẽ giao trong hôm nay ạ.", public=True)
        added = create_comment.sync_detailed(created[0].id, client=client, body=reply)
        assert added.status_code == 201, added.content
        assert isinstance(added.parsed, models.CommentOut) and added.parsed.public is True

        missing = get_ticket.sync_detailed(uuid4(), client=client)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.Problem) and missing.parsed.code == "not_found"

        invalid = create_ticket.sync_detailed(client=client, body=models.TicketCreate(subject=""))
        assert invalid.status_code == 422
        problem = invalid.parsed
        assert isinstance(problem, models.Problem) and problem.code == "validation_failed"
        assert [error.field for error in problem.errors] == ["subject"]
