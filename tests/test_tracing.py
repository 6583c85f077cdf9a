"""Tracing: spans sent by OTLP/HTTP to a receiver of our own, holding nothing secret; nothing of the SDK
loaded when no endpoint is set."""

import asyncio
import gzip
import json
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from app.kit.tracing import ROUND_ITEMS
from tests.conftest import create_tenant
from tests.factories import create_ticket, create_webhook
from tests.processes import service_env, start_api, start_worker
from tests.receiver import Behaviour, Receiver


@dataclass
class ReceivedSpan:
    name: str
    kind: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    trace_id: str


@dataclass
class TraceReceiver:
    url: str
    spans: list[ReceivedSpan] = field(default_factory=list)


def _values(attributes: Any) -> dict[str, Any]:
    return {item.key: getattr(item.value, item.value.WhichOneof("value")) for item in attributes}


@pytest.fixture
def trace_receiver() -> Iterator[TraceReceiver]:
    """An OTLP/HTTP receiver on 127.0.0.1 that keeps the spans POSTed to /v1/traces."""
    received: list[ReceivedSpan] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == "/v1/traces":
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    resource = _values(resource_spans.resource.attributes)
                    for scope_spans in resource_spans.scope_spans:
                        received.extend(
                            ReceivedSpan(
                                span.name, span.kind, _values(span.attributes), resource, span.trace_id.hex()
                            )
                            for span in scope_spans.spans
                        )
                self.send_response(200)
            else:
                self.send_response(404)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TraceReceiver(f"http://127.0.0.1:{server.server_address[1]}", received)
    finally:
        server.shutdown()
        server.server_close()


async def test_requests_statements_jobs_and_webhooks_are_traced_without_secrets(
    app: FastAPI, database_url: str, trace_receiver: TraceReceiver, receiver: Receiver, tmp_path: Path
) -> None:
    tenant = await create_tenant(app, "Tiệm bánh Hồng Hạnh")
    query_secret = "bi-mat-trong-query-" + "q" * 20
    hook_token = "ma-webhook-" + "w" * 24
    log = tmp_path / "serve.log"
    api = start_api(
        database_url,
        log=log,
        OTEL_EXPORTER_OTLP_ENDPOINT=trace_receiver.url,
        HELPDESK_TRACING_SAMPLE_RATIO="1.0",
        HELPDESK_WORKER_IN_API="true",
        HELPDESK_LOG_FORMAT="json",
        HELPDESK_LOG_LEVEL="info",
    )
    try:
        await api.ready()
        auth = {"Authorization": f"Bearer {tenant.admin_key}"}
        async with httpx.AsyncClient(base_url=api.url, headers=auth, timeout=10) as admin:
            hooks = receiver.on("/hooks", Behaviour())
            webhook = await create_webhook(
                admin, f"{hooks}?access_token={hook_token}", event_types=["ticket.created"]
            )
            created = await admin.post("/v1/tickets", json={"subject": "Bánh kem giao trễ"})
            assert created.status_code == 201, created.text
            ticket_id = created.json()["id"]
            read = await admin.get(f"/v1/tickets/{ticket_id}")
            assert read.status_code == 200, read.text
            refused = await admin.get(f"/v1/tickets/{ticket_id}", params={"access_token": query_secret})
            assert refused.status_code == 400, refused.text
            await receiver.wait_for("/hooks", 1, within_seconds=30)
    finally:
        api.stop()  # the API sends the spans it still holds as it ends
    spans = trace_receiver.spans
    server = {span.name: span for span in spans if span.kind == 2}  # SPAN_KIND_SERVER
    assert {"POST /v1/tickets", "GET /v1/tickets/{ticket_id}"} <= server.keys(), sorted(server)
    posted = server["POST /v1/tickets"]
    assert posted.attributes["http.route"] == "/v1/tickets"
    assert posted.attributes["http.response.status_code"] == 201
    assert posted.resource["service.name"] == "helpdesk-api"
    statements = [span for span in spans if "db.query.text" in span.attributes]
    assert any(span.trace_id == posted.trace_id for span in statements)
    updates = [span for span in statements if span.attributes["db.operation.name"] in ("INSERT", "UPDATE")]
    assert updates, sorted({s.attributes["db.operation.name"] for s in statements})
    assert all("Bánh kem" not in span.attributes["db.query.text"] for span in updates)
    jobs = {span.name for span in spans if span.kind == 1}  # SPAN_KIND_INTERNAL
    assert {"dispatching events", "delivering webhooks"} <= jobs, sorted(jobs)
    # The delivery the receiver answered. The worker inside serves every workspace of the test database,
    # so other outbound requests (another test's downloads or profile fetches) may be traced too.
    delivered = [
        span
        for span in spans
        if span.kind == 3  # SPAN_KIND_CLIENT
        and span.name == "POST"
        and span.attributes.get("http.response.status_code") == 200
        and span.attributes.get("server.address") == "127.0.0.1"
    ]
    assert delivered, "no span for the webhook's delivery"
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    logged = next(line for line in lines if line.get("route") == "/v1/tickets" and line["method"] == "POST")
    assert logged["trace_id"] == posted.trace_id
    everything = json.dumps([(span.name, span.attributes) for span in spans], ensure_ascii=False)
    secrets = (tenant.admin_key, query_secret, hook_token, webhook["secret"], ticket_id, "Bánh kem giao trễ")
    for secret in secrets:
        assert secret not in everything, f"a span holds {secret[:12]}…"


NO_ENDPOINT_SCRIPT = """
import asyncio, sys
import httpx
from app.main import create_app

async def main():
    app = create_app(database_url=sys.argv[1])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://helpdesk") as client:
            answer = await client.get("/v1/tickets", headers={"Authorization": "Bearer " + sys.argv[2]})
            assert answer.status_code == 200, answer.text
    print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))

asyncio.run(main())
"""


async def test_without_an_endpoint_nothing_of_the_sdk_or_the_exporter_is_loaded(
    app: FastAPI, database_url: str
) -> None:
    tenant = await create_tenant(app, "Quán phở Thìn")
    env = {name: value for name, value in service_env(database_url).items() if not name.startswith("OTEL_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        NO_ENDPOINT_SCRIPT,
        database_url,
        tenant.admin_key,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    loaded = output.decode().strip().splitlines()[-1]
    # FastAPI itself imports opentelemetry's API package; the SDK, the exporter and protobuf stay out.
    for package in ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.proto"):
        assert f"'{package}" not in loaded, loaded


async def test_a_worker_traces_the_job_rounds_that_did_something_as_helpdesk_worker(
    app: FastAPI, database_url: str, trace_receiver: TraceReceiver
) -> None:
    tenant = await create_tenant(app, "Nhà sách Phương Nam")
    await create_ticket(tenant.agent, subject="Sách giao thiếu một cuốn")  # an event to fan out
    worker = start_worker(database_url, OTEL_EXPORTER_OTLP_ENDPOINT=trace_receiver.url)
    try:
        # The worker's first rounds start at once; its batch of spans goes out within seconds.
        for _ in range(300):
            if trace_receiver.spans or worker.poll() is not None:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(3)  # rounds that find nothing to do, several per job, and none of them sent
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 30)
    assert worker.returncode == 0
    rounds = [span for span in trace_receiver.spans if ROUND_ITEMS in span.attributes]
    assert "dispatching events" in {span.name for span in rounds}, sorted(span.name for span in rounds)
    assert all(span.attributes[ROUND_ITEMS] != 0 for span in rounds)
    assert {span.resource["service.name"] for span in trace_receiver.spans} == {"helpdesk-worker"}
