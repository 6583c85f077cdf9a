"""One error model: domain errors carry their status and a stable code; every error is problem+json."""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if code:
            self.code = code
        self.extra = extra or {}
        self.headers = headers or {}


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str = "A valid API key or agent token is required") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"

    def __init__(self, resource: str, *, field: str | None = None) -> None:
        super().__init__(f"{resource} not found", field=field)


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class PreconditionFailed(AppError):
    status = 412
    code = "precondition_failed"
    title = "Precondition failed"


class PreconditionRequired(AppError):
    status = 428
    code = "precondition_required"
    title = "Precondition required"


class Unprocessable(AppError):
    status = 422
    code = "invalid"
    title = "Unprocessable content"


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


async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
        415: "unsupported_media_type",
    }
    code = codes.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
    title = code.replace("_", " ").capitalize()
    return problem(exc.status_code, code, title, detail, headers=getattr(exc, "headers", None))


async def _integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
    from app.kit.constraints import describe_violation

    status, code, detail, field = describe_violation(exc)
    return problem(
        status, code, "Conflict" if status == 409 else "Unprocessable content", detail, field=field
    )


class DatabaseUnavailable(Exception):
    """No connection to the database could be made (refused, starting up, shutting down, timed out)."""


# SQLSTATEs after which the same request may succeed if retried, with what to tell the client:
# connection exceptions (class 08), insufficient resources (53), the server shutting down, crashed
# or starting (57P01-57P03), a statement or lock timeout, and a transaction ended to break a conflict.
_UNAVAILABLE = ("database_unavailable", "The database is unavailable; retry shortly")
_RETRYABLE_CLASSES = {"08": _UNAVAILABLE, "53": _UNAVAILABLE}
_RETRYABLE_STATES = {
    "57P01": _UNAVAILABLE,
    "57P02": _UNAVAILABLE,
    "57P03": _UNAVAILABLE,
    "57014": ("database_timeout", "The database took too long to answer; retry shortly"),
    "55P03": ("database_timeout", "The database took too long to answer; retry shortly"),
    "40001": ("transaction_conflict", "The change conflicted with another one; retry it"),
    "40P01": ("transaction_conflict", "The change conflicted with another one; retry it"),
}
RETRY_AFTER_SECONDS = 5


def sqlstate_of(exc: DBAPIError) -> str | None:
    original = getattr(exc.orig, "__cause__", None) or exc.orig
    return getattr(original, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


def _retryable(exc: DBAPIError) -> tuple[str, str] | None:
    """(code, detail) when the database, not the request, made the request fail."""
    sqlstate = sqlstate_of(exc) or ""
    if sqlstate in _RETRYABLE_STATES:
        return _RETRYABLE_STATES[sqlstate]
    if sqlstate[:2] in _RETRYABLE_CLASSES:
        return _RETRYABLE_CLASSES[sqlstate[:2]]
    if exc.connection_invalidated or isinstance(exc, InterfaceError | OperationalError):
        return _UNAVAILABLE
    return None


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says that the database could not serve, so that the same work may succeed later."""
    if isinstance(exc, DatabaseUnavailable | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and _retryable(exc) is not None


def _service_unavailable(code: str, detail: str) -> JSONResponse:
    return problem(
        503, code, "Service unavailable", detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    logger.warning("database unavailable: %s", type(exc).__name__)
    return _service_unavailable(*_UNAVAILABLE)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return problem(500, "internal_error", "Internal server error", "An unexpected error occurred")


async def _dbapi_error(request: Request, exc: DBAPIError) -> JSONResponse:
    retryable = _retryable(exc)
    if retryable is not None:
        logger.warning("database failure %s: %s", sqlstate_of(exc) or "", type(exc.orig).__name__)
        return _service_unavailable(*retryable)
    from app.kit.constraints import describe_data_error

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
