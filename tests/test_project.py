"""Checks on the project's contracts: one migration head, no drift, reversible migrations, OpenAPI file."""

import asyncio
import json
import secrets

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import alembic_config
from app.kit.schemas import RequestModel
from app.models import Base
from app.openapi import COMMITTED_PATH, render_openapi
from tests.conftest import admin_statement

RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def test_alembic_has_a_single_head(database_url: str) -> None:
    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"


async def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )
    await engine.dispose()
    assert diff == [], f"models differ from the migrations: {diff}"


def test_migrations_upgrade_downgrade_upgrade(database_url: str) -> None:
    name = f"helpdesk_migrations_{secrets.token_hex(4)}"
    asyncio.run(admin_statement(database_url, f'CREATE DATABASE "{name}"'))
    try:
        config = alembic_config(
            make_url(database_url).set(database=name).render_as_string(hide_password=False)
        )
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        command.upgrade(config, "head")
    finally:
        asyncio.run(admin_statement(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_committed_openapi_document_matches_the_app() -> None:
    assert COMMITTED_PATH.read_text(encoding="utf-8") == render_openapi(), (
        "openapi/openapi.json is stale: run `make openapi`"
    )


# Probes answer anyone, uncounted.
HEALTH_PATHS = {"/healthz", "/livez", "/readyz"}


def test_every_error_of_every_operation_is_documented_as_the_problem_it_is() -> None:
    document = json.loads(COMMITTED_PATH.read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert not [name for name in schemas if name.endswith(("-Input", "-Output")) or "__" in name]
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            errors = {status: response for status, response in responses.items() if status[0] in "45"}
            assert {"400", "503"} <= errors.keys() or path in HEALTH_PATHS, where
            for status, response in errors.items():
                assert response["content"] == problem, f"{where} {status}"
            if "{" in path:
                assert "404" in errors, where
            if "requestBody" in operation:
                assert {"413", "422"} <= errors.keys(), where
            if any(parameter["name"] == "If-Match" for parameter in operation.get("parameters", [])):
                assert "412" in errors, where
            for status in ("429", "503"):
                if status in errors:
                    assert "Retry-After" in errors[status]["headers"], f"{where} {status}"
            if path in HEALTH_PATHS:
                continue
            # Every other operation counts its requests: against a credential and its workspace, or a
            # channel; each success tells how many are left, and any may be refused with 429.
            assert "429" in errors, where
            for status, response in responses.items():
                if status[0] == "2":
                    assert set(RATE_LIMIT_HEADERS) <= response.get("headers", {}).keys(), f"{where} {status}"
    assert set(RATE_LIMIT_HEADERS) <= document["components"]["headers"].keys()
    for name, operations in document["webhooks"].items():
        headers = {parameter["name"] for parameter in operations["post"]["parameters"]}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}, name


def test_the_documented_request_examples_are_valid_requests() -> None:
    document = json.loads(COMMITTED_PATH.read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    models = {model.__name__: model for model in _subclasses(RequestModel)}
    documented = {name: schema["examples"] for name, schema in schemas.items() if "examples" in schema}
    assert {"TicketCreate", "CommentCreate", "WebhookCreate", "MessageIn"} <= documented.keys()
    for name, examples in documented.items():
        for example in examples:
            models[name].model_validate(example)


def _subclasses(model: type) -> list[type]:
    return [sub for child in model.__subclasses__() for sub in (child, *_subclasses(child))]
