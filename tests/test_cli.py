"""The `helpdesk` command, run as a user runs it: a separate process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
from fastapi import FastAPI

from tests.conftest import make_client

HELPDESK = str(Path(sys.executable).with_name("helpdesk"))


def helpdesk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [HELPDESK, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
    )


def test_help_lists_the_commands() -> None:
    result = helpdesk("--help", env={})
    assert result.returncode == 0
    for command in ("serve", "migrate", "workspace", "api-key", "openapi"):
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
