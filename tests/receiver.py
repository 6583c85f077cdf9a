"""A webhook receiver (and file server) on 127.0.0.1 for the tests: it records what arrives and answers as
told."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class Behaviour:
    """How one path answers: `fail_first` 500s, then `status`; optionally slowly or with headers.
    With `answers` (status, JSON body) it answers them in turn instead, the last one ever after, as a
    provider's API does (e.g. an expired token, then success)."""

    status: int = 200
    fail_first: int = 0
    delay_seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    answers: list[tuple[int, Any]] = field(default_factory=list)
    # Served as the body instead of a word about the status: a file to download, say.
    content: bytes | None = None


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.behaviours: dict[str, Behaviour] = {}
        self.arrived = asyncio.Condition()
        self.base_url = ""

    def on(self, path: str, behaviour: Behaviour) -> str:
        self.behaviours[path] = behaviour
        return self.base_url + path

    def at(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    async def wait_for(self, path: str, count: int, within_seconds: float = 10.0) -> list[Received]:
        async with asyncio.timeout(within_seconds), self.arrived:
            await self.arrived.wait_for(lambda: len(self.at(path)) >= count)
        return self.at(path)

    async def _handle(self, request: web.Request) -> web.Response:
        behaviour = self.behaviours.get(request.path, Behaviour())
        body = await request.read()
        seen = len(self.at(request.path))
        async with self.arrived:
            self.received.append(Received(request.path, dict(request.headers), body, dict(request.query)))
            self.arrived.notify_all()
        if behaviour.delay_seconds:
            await asyncio.sleep(behaviour.delay_seconds)
        if behaviour.answers:
            status, answer = behaviour.answers[min(seen, len(behaviour.answers) - 1)]
            return web.json_response(answer, status=status, headers=behaviour.headers)
        status = 500 if seen < behaviour.fail_first else behaviour.status
        if behaviour.content is not None:
            return web.Response(status=status, body=behaviour.content, headers=behaviour.headers)
        return web.Response(status=status, text=f"answer {status}", headers=behaviour.headers)


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver._handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.base_url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()


def header(request: Received, name: str) -> str:
    return {key.lower(): value for key, value in request.headers.items()}[name]


def payload(request: Received) -> Any:
    return json.loads(request.body)
