"""Request ids and the service's logs: every answer names its request, every log line its request or
job, and no secret, token or message body ever reaches the log."""

import asyncio
import io
import json
import logging
import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from app.config import Settings
from app.kit.jobs import PeriodicJob
from app.kit.logs import ContextFilter, JsonFormatter
from app.worker.runner import run_jobs
from tests.conftest import Tenant, create_tenant
from tests.factories import create_webhook, mint_agent_token, rotate_token_secret
from tests.processes import start_api
from tests.receiver import Behaviour, Receiver
from tests.world import message_example

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


async def test_a_well_formed_request_id_is_echoed_and_named_in_problems(tenant: Tenant) -> None:
    missing = "/v1/tickets/00000000-0000-4000-8000-000000000000"
    answer = await tenant.admin.get(missing, headers={"X-Request-Id": "crm-2026-12-07:phieu/42"})
    assert answer.status_code == 404
    assert answer.headers["x-request-id"] == "crm-2026-12-07:phieu/42"
    assert answer.json()["request_id"] == "crm-2026-12-07:phieu/42"


async def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one(tenant: Tenant) -> None:
    seen = set()
    for given in (None, "có dấu", "x" * 129, "a b", ""):
        headers = {"X-Request-Id": given.encode()} if given is not None else {}
        answer = await tenant.admin.get("/v1/tickets", headers=headers)
        assert answer.status_code == 200
        assert GENERATED_ID.fullmatch(answer.headers["x-request-id"]), given
        seen.add(answer.headers["x-request-id"])
    assert len(seen) == 5
    refused = await tenant.anonymous.get("/v1/tickets")
    assert refused.json()["request_id"] == refused.headers["x-request-id"]


async def test_the_log_is_json_lines_naming_requests_and_never_a_secret_or_a_message(
    app: FastAPI, database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    tenant = await create_tenant(app, "Nhà sách Phương Nam")
    log = tmp_path / "serve.log"
    api = start_api(
        database_url,
        log=log,
        HELPDESK_WORKER_IN_API="true",
        HELPDESK_LOG_FORMAT="json",
        HELPDESK_LOG_LEVEL="info",
    )
    secrets: list[str] = [tenant.admin_key]
    body_text = "Mật khẩu wifi của shop là hoa-sen-2026, đừng ghi vào nhật ký nhé"
    try:
        await api.ready()
        auth = {"Authorization": f"Bearer {tenant.admin_key}"}
        async with httpx.AsyncClient(base_url=api.url, headers=auth, timeout=10) as admin:
            hooks = receiver.on("/hooks", Behaviour())
            webhook = await create_webhook(admin, hooks, event_types=["ticket.created"])
            secrets.append(webhook["secret"])
            kid, token_secret = await rotate_token_secret(admin)
            secrets.append(token_secret)
            agent = (await admin.post("/v1/agents", json={"external_id": "lan", "name": "Lan"})).json()
            assert "id" in agent
            agent_token = mint_agent_token(kid, token_secret, "lan")
            secrets.append(agent_token)
            channel_token = "kenh-chat-" + "b" * 30
            callback_secret = "whsec_" + "C" * 32
            secrets.extend([channel_token, callback_secret])
            created = await admin.post(
                "/v1/channels",
                json={
                    "kind": "chat",
                    "name": "Chat website",
                    "secrets": {"token": channel_token, "callback_secret": callback_secret},
                },
            )
            assert created.status_code == 201, created.text
            channel_id = created.json()["id"]
            message = {**message_example("log-1"), "text": body_text}
            posted = await admin.post(
                f"/v1/channels/{channel_id}/messages",
                json=message,
                headers={"Authorization": f"Bearer {channel_token}"},
            )
            assert posted.status_code == 202, posted.text
            wrong = await admin.post(
                f"/v1/channels/{channel_id}/messages",
                json=message,
                headers={"Authorization": "Bearer sai-token-" + "d" * 30},
            )
            assert wrong.status_code == 401
            secrets.append("sai-token-" + "d" * 30)
            as_agent = await admin.get("/v1/tickets", headers={"Authorization": f"Bearer {agent_token}"})
            assert as_agent.status_code == 200
            ticket = await admin.post(
                "/v1/tickets",
                json={"subject": "Hỏi về đơn hàng", "description": body_text},
                headers={"X-Request-Id": "crm-log-test-1"},
            )
            assert ticket.status_code == 201, ticket.text
            await receiver.wait_for("/hooks", 1, within_seconds=30)
    finally:
        api.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    requests = [line for line in lines if line["logger"] == "app.requests"]
    created_line = next(line for line in requests if line.get("request_id") == "crm-log-test-1")
    assert created_line["route"] == "/v1/tickets"
    assert created_line["method"] == "POST"
    assert created_line["status"] == 201
    assert created_line["workspace_id"] == str(tenant.workspace_id)
    assert created_line["credential"].startswith("api_key:")
    assert isinstance(created_line["duration_ms"], float)
    intake = [line for line in requests if line["route"] == "/v1/channels/{channel_id}/messages"]
    assert sorted(line["status"] for line in intake) == [202, 401]
    accepted = next(line for line in intake if line["status"] == 202)
    assert accepted["credential"] == f"channel:{channel_id}"
    assert accepted["workspace_id"] == str(tenant.workspace_id)
    agent_line = next(line for line in requests if line.get("credential", "").startswith("agent:"))
    assert agent_line["route"] == "/v1/tickets"
    text = log.read_text()
    for secret in [*secrets, body_text, "hoa-sen-2026"]:
        assert secret not in text, f"the log holds a secret or a message: {secret[:12]}…"


async def test_every_line_a_worker_job_logs_names_the_job(database_url: str, settings: Settings) -> None:
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    job_logger = logging.getLogger("tests.jobs")
    job_logger.addHandler(handler)
    stopping = asyncio.Event()

    async def remind() -> int:
        job_logger.warning("nhắc khách hàng chưa trả lời")
        stopping.set()
        return 0

    try:
        await run_jobs([PeriodicJob("nhắc khách hàng", remind, 60)], database_url, settings, stopping)
    finally:
        job_logger.removeHandler(handler)
    [line] = [json.loads(text) for text in written.getvalue().splitlines()]
    assert line["job"] == "nhắc khách hàng"
    assert line["message"] == "nhắc khách hàng chưa trả lời"
    assert line["level"] == "warning"
