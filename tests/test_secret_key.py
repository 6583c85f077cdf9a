"""The keys that encrypt secrets at rest: the one made once per data directory when HELPDESK_SECRET_KEY is
not set, several listed newest first, and `helpdesk secrets rotate` moving every secret to the newest."""

import asyncio
import json
import os
import secrets
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from cryptography.fernet import InvalidToken
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from standardwebhooks.webhooks import Webhook as Verifier

from app.channels.tasks import send_due_replies, thread_due
from app.config import Settings
from app.db import migrate
from app.encryption.repository import ENCRYPTED_COLUMNS, column_name
from app.kit.crypto import SecretBox, load_secret_box
from app.kit.outbound import outbound_policy
from app.kit.time import utcnow
from app.models import Base, MessagingChannel
from tests.conftest import Tenant, admin_statement, create_tenant, make_client, running_app
from tests.factories import create_agent, create_webhook, mint_agent_token, rotate_token_secret
from tests.processes import HELPDESK
from tests.receiver import Behaviour, Receiver, header
from tests.test_channels import SIGNING, TOKEN, chat_channel, receive, threaded
from tests.test_cli import helpdesk
from tests.test_comments import comment
from tests.test_webhooks import run_jobs, verify

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def _load_together(settings: Settings, starters: int) -> list[SecretBox]:
    """`load_secret_box` in `starters` threads released at the same moment."""
    released = threading.Barrier(starters)

    def start(_: int) -> SecretBox:
        released.wait()
        return load_secret_box(settings)

    with ThreadPoolExecutor(starters) as pool:
        return list(pool.map(start, range(starters)))


def test_processes_starting_together_on_a_fresh_data_dir_share_one_key(tmp_path: Path) -> None:
    """API processes started at once each load the key: the first makes it, and none fails or reads a
    key half written. Threads stand in for the processes, on one fresh directory after another."""
    for attempt in range(20):
        settings = Settings(secret_key=None, data_dir=tmp_path / f"data-{attempt}")
        boxes = _load_together(settings, 16)
        sealed = boxes[0].encrypt("bí mật")
        assert all(box.decrypt(sealed) == "bí mật" for box in boxes), "every process has the same key"
        assert [path.name for path in settings.data_dir.iterdir()] == ["secret.key"], "no file left behind"


# Several keys, and rotating to the newest

KEY_A = "khoá-cũ-của-năm-2025-A"
KEY_B = "khoá-mới-của-năm-2026-B"
KEY_C = "khoá-không-ai-biết-C"


def test_a_key_list_is_refused_unless_every_key_is_exactly_as_written(tmp_path: Path) -> None:
    for listed in (f"{KEY_B}, {KEY_A}", f"{KEY_B},,{KEY_A}", f"{KEY_B},", f"{KEY_B},{KEY_A},{KEY_B}", ""):
        with pytest.raises(ValidationError) as refused:
            Settings(secret_key=listed, data_dir=tmp_path)
        assert "secret_key" in str(refused.value)
        assert KEY_A not in str(refused.value) and KEY_B not in str(refused.value), "keys are never shown"


def test_the_newest_key_encrypts_and_every_listed_key_decrypts(tmp_path: Path) -> None:
    old = SecretBox([KEY_A]).encrypt("bí mật cũ")
    both = load_secret_box(Settings(secret_key=f"{KEY_B},{KEY_A}", data_dir=tmp_path))
    assert both.decrypt(old) == "bí mật cũ"
    new = both.encrypt("bí mật mới")
    assert SecretBox([KEY_B]).decrypt(new) == "bí mật mới" and SecretBox([KEY_A]).decrypt(new) is None
    assert SecretBox([KEY_B]).decrypt(both.rotated(old)) == "bí mật cũ"
    assert both.rotated(new) is None, "a value under the newest key stays as it is"
    with pytest.raises(InvalidToken):
        both.rotated(SecretBox([KEY_C]).encrypt("của ai?"))


def test_a_key_file_lists_keys_the_same_way(tmp_path: Path) -> None:
    old = load_secret_box(Settings(secret_key=None, data_dir=tmp_path)).encrypt("bí mật")
    key_file = tmp_path / "secret.key"
    key_file.write_text(f"{KEY_B},{key_file.read_text()}\n")
    both = load_secret_box(Settings(secret_key=None, data_dir=tmp_path))
    assert both.decrypt(old) == "bí mật" and SecretBox([KEY_B]).decrypt(both.encrypt("mới")) == "mới"


def test_every_encrypted_column_of_the_schema_is_rotated() -> None:
    encrypted = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if "encrypted" in column.name
    }
    assert encrypted == {column_name(column) for column in ENCRYPTED_COLUMNS}


def test_rotating_with_no_key_set_or_kept_refuses_and_makes_none(database_url: str, tmp_path: Path) -> None:
    inherited = {name: value for name, value in os.environ.items() if name != "HELPDESK_SECRET_KEY"}
    refused = subprocess.run(  # noqa: S603 - our own command
        [HELPDESK, "secrets", "rotate"],
        env={**inherited, "DATABASE_URL": database_url, "HELPDESK_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0 and "HELPDESK_SECRET_KEY" in refused.stderr
    assert list(tmp_path.iterdir()) == [], "no key is made to rotate to"


@pytest.fixture
def own_database(database_url: str) -> Iterator[str]:
    """A migrated database of its own: rotating touches every workspace's secrets, and the suite's other
    tests keep theirs under the suite's key."""
    name = f"helpdesk_rotation_{secrets.token_hex(4)}"
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin_statement(database_url, f'CREATE DATABASE "{name}"'))
    try:
        migrate(url)
        yield url
    finally:
        asyncio.run(admin_statement(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def keyed(settings: Settings, keys: str) -> Settings:
    return settings.model_copy(update={"secret_key": SecretStr(keys)})


def rotate(database_url: str, keys: str) -> subprocess.CompletedProcess[str]:
    return helpdesk("secrets", "rotate", env={"DATABASE_URL": database_url, "HELPDESK_SECRET_KEY": keys})


async def stored_values(app: FastAPI) -> dict[str, list[bytes]]:
    """Every encrypted value in the database, by column."""
    async with app.state.db.sessionmaker() as session:
        return {
            column_name(column): list(await session.scalars(select(column).where(column.is_not(None))))
            for column in ENCRYPTED_COLUMNS
        }


@dataclass
class Secrets:
    """A workspace with a secret in every encrypted column, written through the API."""

    tenant: Tenant
    kid: str
    token_secret: str
    channel: dict[str, Any]
    webhook_secrets: list[str]


async def written_through_the_api(app: FastAPI, receiver: Receiver) -> Secrets:
    tenant = await create_tenant(app, "Công ty Cổ phần Sao Mai")
    kid, token_secret = await rotate_token_secret(tenant.admin)
    await create_agent(tenant.admin, "cskh-01", name="Chị Lan")
    channel = await chat_channel(
        tenant,
        settings={"callback_url": receiver.on("/replies", Behaviour())},
        secrets={"token": TOKEN, "callback_secret": SIGNING},
    )
    webhook = await create_webhook(
        tenant.admin, receiver.on("/crm", Behaviour()), event_types=["ticket.created"]
    )
    rotated = await tenant.admin.post(f"/v1/webhooks/{webhook['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    return Secrets(tenant, kid, token_secret, channel, [rotated.json()["secret"], webhook["secret"]])


async def served_with_every_secret(
    app: FastAPI, written: Secrets, receiver: Receiver, message_id: str
) -> None:
    """The workspace works on `app`: its agent token is accepted, its channel receives a message and
    sends the agent's reply signed, and its webhook gets the new ticket signed with both its secrets."""
    tenant = replace(
        written.tenant, admin=make_client(app, written.tenant.admin_key), anonymous=make_client(app)
    )
    agent = make_client(app, mint_agent_token(written.kid, written.token_secret, "cskh-01"))
    accepted = await receive(tenant, written.channel, message_id=message_id, conversation_id=message_id)
    await thread_due(app.state.db, app.state.settings, app.state.secret_box)
    ticket_id = (await threaded(tenant, written.channel, accepted["id"]))["ticket_id"]
    await comment(agent, ticket_id, public=True, body="Dạ, bên em đã nhận được yêu cầu của chị ạ")

    replies, deliveries = len(receiver.at("/replies")), len(receiver.at("/crm"))
    async with httpx.AsyncClient() as client:
        policy = outbound_policy(app.state.settings)
        assert await send_due_replies(app.state.db, app.state.settings, app.state.secret_box, client, policy)
    assert await run_jobs(app, utcnow(), tenant) == 1
    [reply] = receiver.at("/replies")[replies:]
    Verifier(SIGNING).verify(reply.body, {name: header(reply, name) for name in SIGNATURE_HEADERS})
    [delivery] = receiver.at("/crm")[deliveries:]
    for webhook_secret in written.webhook_secrets:
        assert verify(delivery, webhook_secret)["data"]["data"]["ticket"]["id"] == ticket_id


async def test_secrets_written_under_the_old_key_are_served_then_rotated_to_the_new_one(
    settings: Settings, own_database: str, receiver: Receiver
) -> None:
    async with running_app(keyed(settings, KEY_A), own_database) as app:
        written = await written_through_the_api(app, receiver)

    async with running_app(keyed(settings, f"{KEY_B},{KEY_A}"), own_database) as app:
        await served_with_every_secret(app, written, receiver, "truoc-khi-xoay-khoa")
        before = await stored_values(app)
        rotated = rotate(own_database, f"{KEY_B},{KEY_A}")
        assert rotated.returncode == 0, rotated.stderr
        assert json.loads(rotated.stdout) == {
            "re_encrypted": {column: len(values) for column, values in before.items()},
            "unreadable": dict.fromkeys(before, 0),
        }
        assert all(before.values()), "every column held a value to rotate"
        again = rotate(own_database, f"{KEY_B},{KEY_A}")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["re_encrypted"] == dict.fromkeys(before, 0)

    async with running_app(keyed(settings, KEY_B), own_database) as app:
        after = await stored_values(app)
        assert all(
            SecretBox([KEY_B]).decrypt(value) is not None for values in after.values() for value in values
        )
        await served_with_every_secret(app, written, receiver, "sau-khi-xoay-khoa")


async def test_a_value_no_key_decrypts_is_reported_left_alone_and_fails_the_command(
    settings: Settings, own_database: str, receiver: Receiver
) -> None:
    async with running_app(keyed(settings, KEY_A), own_database) as app:
        written = await written_through_the_api(app, receiver)
        stranger = SecretBox([KEY_C]).encrypt(json.dumps({"callback_secret": SIGNING}))
        async with app.state.db.sessionmaker() as session, session.begin():
            await session.execute(
                update(MessagingChannel)
                .where(MessagingChannel.id == UUID(written.channel["id"]))
                .values(secrets_encrypted=stranger)
            )

        rotated = rotate(own_database, f"{KEY_B},{KEY_A}")
        assert rotated.returncode != 0
        report = json.loads(rotated.stdout)
        assert report["unreadable"] == {
            **dict.fromkeys(report["unreadable"], 0),
            "channels.secrets_encrypted": 1,
        }
        assert report["re_encrypted"]["channels.secrets_encrypted"] == 0
        assert report["re_encrypted"]["webhooks.secret_encrypted"] == 1, "the readable ones were rotated"
        assert SIGNING not in rotated.stdout + rotated.stderr
        assert (await stored_values(app))["channels.secrets_encrypted"] == [stranger]
