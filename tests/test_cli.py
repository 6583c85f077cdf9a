"""The `helpdesk` command, run as a user runs it: a separate process."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from fastapi import FastAPI

from app.db import EMBEDDED_URL_ENV
from tests.conftest import make_client
from tests.processes import HELPDESK, free_port


def helpdesk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [HELPDESK, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
    )


def test_help_lists_the_commands() -> None:
    result = helpdesk("--help", env={})
    assert result.returncode == 0
    for command in ("serve", "migrate", "workspace", "api-key", "openapi", "secrets"):
        assert command in result.stdout


async def test_workspace_and_api_key_commands(app: FastAPI, database_url: str) -> None:
    env = {"DATABASE_URL": database_url}
    created = helpdesk("workspace", "create", "--name", "Công ty Hoa Sen", env=env)
    assert created.returncode == 0, created.stderr
    workspace = json.loads(created.stdout)
    admin = make_client(app, workspace["api_key"])
    assert (await admin.get("/v1/workspace")).json()["name"] == "Công ty Hoa Sen"

    workspace_id = workspace["workspace_id"]
    issued = helpdesk("api-key", "create", "--workspace", workspace_id, "--role", "viewer", env=env)
    assert issued.returncode == 0, issued.stderr
    key = json.loads(issued.stdout)
    viewer = make_client(app, key["api_key"])
    assert (await viewer.get("/v1/tickets")).status_code == 200
    assert (await viewer.post("/v1/tickets", json={"subject": "x"})).status_code == 403

    revoked = helpdesk("api-key", "revoke", "--workspace", workspace_id, key["id"], env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert (await viewer.get("/v1/tickets")).status_code == 401

    wrong_role = helpdesk("api-key", "create", "--workspace", workspace_id, "--role", "owner", env=env)
    assert wrong_role.returncode != 0


def _postgres_serving(data_dir: Path) -> bool:
    return any(
        str(data_dir) in " ".join(process.info["cmdline"] or [])
        for process in psutil.process_iter(attrs=["cmdline"])
        if process.info["cmdline"] and "postgres" in process.info["cmdline"][0]
    )


def test_embedded_postgres_starts_under_the_data_dir_and_stops_with_the_last_process(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "", "HELPDESK_DATA_DIR": str(tmp_path / "data")}
    migrated = helpdesk("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
    assert not _postgres_serving(tmp_path / "data")
    created = helpdesk("workspace", "create", "--name", "Nhúng", env=env)
    assert created.returncode == 0, created.stderr
    assert not _postgres_serving(tmp_path / "data")


async def test_a_lost_database_is_a_503_with_retry_after(settings) -> None:
    from app.main import create_app

    unreachable = create_app(settings, database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    async with unreachable.router.lifespan_context(unreachable):
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=unreachable, raise_app_exceptions=False), base_url="http://test"
        )
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"


@dataclass
class Served:
    """`helpdesk serve` running as a separate process, its output going to `log`."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it is still running 30 s later; its exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start_serving(args: tuple[str, ...], env: dict[str, str], log: Path) -> Served:
    port = free_port()
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name not in ("HELPDESK_SECRET_KEY", EMBEDDED_URL_ENV)
    }
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [HELPDESK, "serve", "--port", str(port), *args],
            env={**inherited, "HELPDESK_LOG_LEVEL": "info", **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Served(process, f"http://127.0.0.1:{port}", log)


@contextlib.asynccontextmanager
async def serving(*args: str, env: dict[str, str], log: Path) -> AsyncIterator[Served]:
    """`helpdesk serve` with `args` and `env`, once it answers /healthz; stopped at the end of the
    block if it still runs."""
    served = start_serving(args, env, log)
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=5) as client, asyncio.timeout(60):
            while True:
                assert served.process.poll() is None, served.output()
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        yield served
    finally:
        if served.process.poll() is None:
            served.stop()


DEMO_KEY_LINE = "Its admin API key is shown only this once"


async def output_once(served: Served, text: str, times: int = 1) -> str:
    """The server's output once `text` is in it `times` times."""
    async with asyncio.timeout(60):
        while served.output().count(text) < times:
            assert served.process.poll() is None, served.output()
            await asyncio.sleep(0.1)
    return served.output()


async def test_serve_with_two_workers_starts_on_a_fresh_data_dir(tmp_path: Path) -> None:
    """No secret key is set: the serving command makes the data directory's key once, before its
    worker processes start, and both load that one. The demo key is printed once both have started."""
    data_dir = tmp_path / "data"
    env = {"DATABASE_URL": "", "HELPDESK_DATA_DIR": str(data_dir)}
    args = ("--workers", "2", "--migrate", "--demo")
    async with serving(*args, env=env, log=tmp_path / "serve.log") as served:
        await output_once(served, DEMO_KEY_LINE)
        output = await output_once(served, "Application startup complete", times=2)
        served.stop()
    assert output.rindex("Application startup complete") < output.index(DEMO_KEY_LINE), output
    assert "Traceback" not in served.output(), served.output()
    assert [path.name for path in data_dir.iterdir() if path.is_file()] == ["secret.key"]


async def test_serve_prints_the_demo_key_last_and_only_for_a_new_database(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": empty_database_url, "HELPDESK_DATA_DIR": str(tmp_path / "data")}
    async with serving("--migrate", "--demo", env=env, log=tmp_path / "first.log") as served:
        output = await output_once(served, DEMO_KEY_LINE)
        key = output[output.index(DEMO_KEY_LINE) :].splitlines()[2].strip()
        async with httpx.AsyncClient(base_url=served.url) as client:
            answer = await client.get("/v1/tickets", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
        served.stop()
    assert output.index("Application startup complete") < output.index(DEMO_KEY_LINE), output
    assert f"http://127.0.0.1:{served.url.rsplit(':', 1)[1]}/v1/tickets" in output

    async with serving("--demo", env=env, log=tmp_path / "second.log") as again:
        await output_once(again, "Application startup complete")
        again.stop()
    assert DEMO_KEY_LINE not in again.output()
