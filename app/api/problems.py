"""Every error is answered as problem+json, with the status and code of its kind."""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.api.constraints import describe_data_error, describe_violation
from app.errors import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE,
    AppError,
    DatabaseUnavailable,
    retry_reason,
    sqlstate_of,
)
from app.kit.logs import current_context

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    field: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:helpdesk:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field:
        body["field"] = field
    if errors:
        body["errors"] = list(errors)
    if extra:
        body.update(extra)
    request_id = current_context().get("request_id")
    if request_id is not None:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: Sequence[Any]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts)


async def _app_error(_: Request, exc: AppError) -> JSONResponse:
    return problem(
        exc.status, exc.code, exc.title, exc.detail, field=exc.field, extra=exc.extra, headers=exc.headers
    )


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    raw_errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in raw_errors):
        return problem(400, "malformed_json", "Malformed JSON", "The request body is not valid JSON")
    errors = [
        {"field": _field_path(error["loc"]), "message": error["msg"], "code": error["type"]}
        for error in raw_errors
    ]
    first = errors[0] if errors else {"field": None, "message": "Invalid request"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return problem(422, "validation_failed", "Validation failed", detail, field=first["field"], errors=errors)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {
        404: "not_found",
        405: "method_not_allowed",
        408: "request_timeout",
        413: "payload_too_large",
        415: "unsupported_media_type",
    }
    code = codes.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
    title = code.replace("_", " ").capitalize()
    headers = getattr(exc, "headers", None)
    if exc.status_code == 404 and exc.detail == "Not Found":  # no route: the router's own words
        detail = "No operation has this path (the ids in a path are UUIDs)"
    if exc.status_code == 405:
        # The router's own Allow stands for a path of none of the API's routes (/openapi.json, /docs).
        allowed = _methods_of_path(request) or (headers or {}).get("Allow", "")
        detail = f"{request.method} is not one of this path's methods: {allowed}"
        headers = {**(headers or {}), "Allow": allowed}
    return problem(exc.status_code, code, title, detail, headers=headers)


def _methods_of_path(request: Request) -> str | None:
    """Every method of the API path the request matched (the router names its first route's only), or
    None for a path of no API route. The path is the first that matches, as routing goes:
    `/v1/tickets/bulk` is not `/v1/tickets/{ticket_id}`."""
    routes = request.app.state.api_routes
    matched = next(
        (route.path for route in routes if route.matches(request.scope)[0] is not Match.NONE), None
    )
    if matched is None:
        return None
    return ", ".join(
        sorted({method for route in routes if route.path == matched for method in route.methods})
    )


async def _integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
    status, code, detail, field = describe_violation(exc)
    return problem(
        status, code, "Conflict" if status == 409 else "Unprocessable content", detail, field=field
    )


def _service_unavailable(code: str, detail: str) -> JSONResponse:
    return problem(
        503, code, "Service unavailable", detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    logger.warning("database unavailable: %s", type(exc).__name__)
    return _service_unavailable(*UNAVAILABLE)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return problem(500, "internal_error", "Internal server error", "An unexpected error occurred")


async def _dbapi_error(request: Request, exc: DBAPIError) -> JSONResponse:
    retryable = retry_reason(exc)
    if retryable is not None:
        logger.warning("database failure %s: %s", sqlstate_of(exc) or "", type(exc.orig).__name__)
        return _service_unavailable(*retryable)
    described = describe_data_error(exc)
    if described is not None:
        status, code, detail = described
        return problem(status, code, "Unprocessable content", detail)
    return await _unexpected(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _dbapi_error)
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
