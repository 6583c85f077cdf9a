"""The OpenAPI document as the API behaves: every error answered as problem+json with the statuses an
operation can give, the headers the answers carry, and the conditional headers the routes honour.

FastAPI documents what an endpoint declares; what the route class does around it (authentication,
rate limits, idempotency, ETags, body limits and the request timeout, the refusal of unknown query
parameters) and the error handlers are described here, from the same facts the route class acts on.
"""

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import stream_token
from app.api.idempotency import REPLAYED_HEADER
from app.api.problems import PROBLEM_JSON
from app.api.routing import CredentialIssuingRoute, PortalRoute, ProviderRoute, UnitOfWorkRoute


class FieldError(BaseModel):
    field: str = Field(description="Where: a body field as a dotted path, or a query, path or header name")
    message: str
    code: str = Field(description="What is wrong, as a stable code (e.g. missing, string_too_long)")


class Problem(BaseModel):
    """An error, per RFC 9457 (problem details), with a stable `code` to branch on."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": "urn:helpdesk:problem:validation_failed",
                "title": "Validation failed",
                "status": 422,
                "detail": "subject: String should have at least 1 character",
                "code": "validation_failed",
                "field": "subject",
                "errors": [
                    {
                        "field": "subject",
                        "message": "String should have at least 1 character",
                        "code": "string_too_short",
                    }
                ],
            }
        },
    )

    type: str = Field(description="A URN naming the kind of problem: `urn:helpdesk:problem:<code>`")
    title: str
    status: int
    detail: str = Field(description="What went wrong, for a person to read")
    code: str = Field(description="The kind of problem, stable across versions")
    field: str | None = Field(None, description="The request field the problem is about, if one")
    errors: list[FieldError] | None = Field(None, description="Each invalid field (422)")
    request_id: str | None = Field(None, description="The request's id (its `X-Request-Id` header)")


_RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 0},
}
_ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "Malformed: an unknown query parameter, a body that is not JSON, a cursor the service did not give",
        {},
    ),
    401: (
        "No valid credential",
        {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    ),
    403: ("The credential may not do this", {}),
    404: ("Not found, or another workspace's", {}),
    408: ("The body did not all arrive within the request timeout; the connection is closed", {}),
    409: (
        "In conflict with what is stored, or the same Idempotency-Key is still being answered (then with "
        "Retry-After)",
        {"Retry-After": _RETRY_AFTER},
    ),
    412: ("If-Match names a version that is no longer the current one", {}),
    413: ("The body is larger than the operation takes", {}),
    422: ("Invalid: `errors` lists each invalid field", {}),
    429: (
        "Too many: over a rate limit (the credential's, the workspace's, the channel's, or the client "
        "address's for invalid credentials), or too many at once; try again after Retry-After",
        {"Retry-After": _RETRY_AFTER},
    ),
    503: ("The database cannot answer right now; try again after Retry-After", {"Retry-After": _RETRY_AFTER}),
}
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def download(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route that answers with a file's bytes."""
    return {
        200: {
            "description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "Content-Disposition": {
                    "description": "`attachment`, with the file's name",
                    "schema": {"type": "string"},
                }
            },
        }
    }


_ETAG = {"description": "The version of what was read", "schema": {"type": "string"}}
_RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {
        "description": "The requests the caller's bucket holds when full: of the credential's and the "
        "workspace's buckets (or the channel's), the one with fewer requests left",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Remaining": {
        "description": "The requests left in that bucket; it refills at its rate a minute",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until that bucket is full again",
        "schema": {"type": "integer", "minimum": 0},
    },
}


_REQUEST_ID_HEADER = {
    "X-Request-Id": {
        "description": "The request's id: the request's own `X-Request-Id` when it sent one of up to 128 "
        "letters, digits and `._:+/=-`, else a new one; quote it when reporting a problem",
        "schema": {"type": "string"},
    }
}
# Declared once, under components, and referred to by every answer that carries them.
_RATE_LIMIT_REFS = {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_LIMIT_HEADERS}
_REQUEST_ID_REF = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}


def _rate_limited(route: UnitOfWorkRoute) -> bool:
    """Whether the route counts its requests: against the caller's credential and workspace, the
    channel's budget, or a customer's address."""
    return route.authenticated or isinstance(route, ProviderRoute | PortalRoute)


def _statuses(route: UnitOfWorkRoute) -> list[int]:
    """The error statuses the route can answer."""
    writes = bool(route.methods & _WRITES)
    # Providers' events are read from the raw body, checked against their signature first.
    body = route.body_field is not None or (isinstance(route, ProviderRoute) and writes)
    statuses = {503}
    if route.refuses_unknown_query_parameters or body or route.query_names:
        statuses.add(400)
    if route.authenticated or isinstance(route, ProviderRoute):
        statuses.update((401, 403))
    if route.takes_path_parameters or body:
        statuses.add(404)
    if route.query_names or route.header_names or route.takes_path_parameters or body:
        statuses.add(422)
    # A route that issues a credential changes nothing: nothing is in conflict with it.
    if writes and not isinstance(route, CredentialIssuingRoute):
        statuses.add(409)
    if _rate_limited(route):
        statuses.add(429)
    if body:
        statuses.update((408, 413))
    if "if-match" in route.header_names:
        statuses.add(412)
    return sorted(statuses)


def _describe(operation: dict[str, Any], route: UnitOfWorkRoute) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in [status for status in responses if status[0] in "45"]:
        # A status of the route's own: answered as problem+json like the others.
        responses[status]["content"] = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for status in _statuses(route):
        description, headers = _ERRORS[status]
        responses[str(status)] = {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "headers": dict(headers),
        }
    for status, response in responses.items():
        response.setdefault("headers", {}).update(_REQUEST_ID_REF)
        if not status.startswith("2"):
            continue
        headers = response["headers"]
        if _rate_limited(route):
            headers.update(_RATE_LIMIT_REFS)
        if "GET" in route.methods and "application/json" in response.get("content", {}):
            headers["ETag"] = _ETAG
        if route.idempotent:
            headers[REPLAYED_HEADER] = {
                "description": "`true` when this is the stored answer to an earlier request with the "
                "same Idempotency-Key",
                "schema": {"type": "string", "enum": ["true"]},
            }
    if "GET" in route.methods and any("application/json" in r.get("content", {}) for r in responses.values()):
        responses["304"] = {
            "description": "Not modified: If-None-Match names the current ETag",
            "headers": {
                "ETag": _ETAG,
                **(_RATE_LIMIT_REFS if _rate_limited(route) else {}),
                **_REQUEST_ID_REF,
            },
        }
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name", "").lower() == "if-none-match" for p in parameters):
            parameters.append(
                {
                    "name": "If-None-Match",
                    "in": "header",
                    "required": False,
                    "description": "ETags already held: a 304 without a body answers when one is current",
                    "schema": {"type": "string"},
                }
            )


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"].rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _rename_refs(node: Any, renames: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in renames:
            node["$ref"] = "#/components/schemas/" + renames[ref.rsplit("/", 1)[-1]]
        for value in node.values():
            _rename_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            _rename_refs(value, renames)


def _one_schema_for_what_is_sent(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Webhook bodies are what the service sends: a model with computed fields that only they take as
    a "request" is documented once, as sent, under its own name (not as `-Input` and `-Output`)."""
    taken_by_requests = set(_refs(schema["paths"]))
    renames: dict[str, str] = {}
    for name in [name for name in components if name.endswith("-Output")]:
        model = name.removesuffix("-Output")
        if f"{model}-Input" not in taken_by_requests:
            renames.update({name: model, f"{model}-Input": model})
    for old, new in renames.items():
        if old.endswith("-Output"):
            components[new] = components.pop(old)
        else:
            components.pop(old, None)
    _rename_refs(schema, renames)


def _name_enum_members(node: Any) -> None:
    """Members of enums whose values are not names (`-created_at`, a descending sort) get names
    (`CREATED_AT_DESC`), so that generated clients do not number them."""
    if isinstance(node, dict):
        values = node.get("enum")
        if isinstance(values, list) and any(isinstance(v, str) and not v[:1].isalpha() for v in values):
            node["x-enum-varnames"] = [
                value.lstrip("-").upper() + ("_DESC" if value.startswith("-") else "") for value in values
            ]
        for value in node.values():
            _name_enum_members(value)
    elif isinstance(node, list):
        for value in node:
            _name_enum_members(value)


def _sorted(responses: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(responses.items()))


def document(app: FastAPI) -> dict[str, Any]:
    """The document the app serves at /openapi.json (built once)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
        separate_input_output_schemas=False,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _one_schema_for_what_is_sent(schema, components)
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    schema["components"]["headers"] = {**_RATE_LIMIT_HEADERS, **_REQUEST_ID_HEADER}
    for operations in schema.get("webhooks", {}).values():
        for operation in operations.values():
            operation["responses"].pop("422", None)  # the receiver's to answer, not a request of ours
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for route in app.state.api_routes:
        if not isinstance(route, UnitOfWorkRoute) or not route.include_in_schema:
            continue
        for method in route.methods:
            operation = schema["paths"][route.path_format][method.lower()]
            if route.scope is not None:
                # OpenAPI 3.1 lets a bearer scheme's requirement list what it needs: the key's scope.
                operation["security"] = [{"HTTPBearer": [route.scope.value]}]
                if route.takes_stream_token:
                    # Either credential: a bearer one, or a stream token in the query.
                    operation["security"].append({stream_token.scheme_name: []})
            if route.permission is not None:
                operation["x-permission"] = route.permission.value
            _describe(operation, route)
            operation["responses"] = _sorted(operation["responses"])
    _name_enum_members(schema)
    app.openapi_schema = schema
    return schema


def install(app: FastAPI) -> None:
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
