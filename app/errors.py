"""The errors of the service: a domain error carries its status and a stable code, and a database error
is told apart as one that a retry may get past."""

from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


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


class Gone(AppError):
    status = 410
    code = "gone"
    title = "Gone"


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


class NotReady(AppError):
    status = 503
    code = "not_ready"
    title = "Service unavailable"


class DatabaseUnavailable(Exception):
    """No connection to the database could be made (refused, starting up, shutting down, timed out)."""


# SQLSTATEs after which the same request may succeed if retried, with what to tell the client:
# connection exceptions (class 08), insufficient resources (53), the server shutting down, crashed
# or starting (57P01-57P03), a statement or lock timeout, and a transaction ended to break a conflict.
UNAVAILABLE = ("database_unavailable", "The database is unavailable; retry shortly")
_RETRYABLE_CLASSES = {"08": UNAVAILABLE, "53": UNAVAILABLE}
_RETRYABLE_STATES = {
    "57P01": UNAVAILABLE,
    "57P02": UNAVAILABLE,
    "57P03": UNAVAILABLE,
    "57014": ("database_timeout", "The database took too long to answer; retry shortly"),
    "55P03": ("database_timeout", "The database took too long to answer; retry shortly"),
    "40001": ("transaction_conflict", "The change conflicted with another one; retry it"),
    "40P01": ("transaction_conflict", "The change conflicted with another one; retry it"),
}
RETRY_AFTER_SECONDS = 5


def sqlstate_of(exc: DBAPIError) -> str | None:
    original = getattr(exc.orig, "__cause__", None) or exc.orig
    return getattr(original, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


def retry_reason(exc: DBAPIError) -> tuple[str, str] | None:
    """(code, detail) when the database, not the request, made the request fail."""
    sqlstate = sqlstate_of(exc) or ""
    if sqlstate in _RETRYABLE_STATES:
        return _RETRYABLE_STATES[sqlstate]
    if sqlstate[:2] in _RETRYABLE_CLASSES:
        return _RETRYABLE_CLASSES[sqlstate[:2]]
    if exc.connection_invalidated or isinstance(exc, InterfaceError | OperationalError):
        return UNAVAILABLE
    return None


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says that the database could not serve, so that the same work may succeed later."""
    if isinstance(exc, DatabaseUnavailable | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and retry_reason(exc) is not None


# Server states after which a session cannot go on: it was terminated, the server crashed, or it is
# shutting down or starting.
_SESSION_ENDING_STATES = {"57P01", "57P02", "57P03"}


def connection_lost(error: BaseException) -> bool:
    """Whether `error` (from asyncpg, or SQLAlchemy's wrapper of it) left its connection unusable.

    asyncpg marks a connection closed only when the socket says so; one whose session the server ended
    or whose protocol broke mid-operation ("another operation is in progress") must be dropped too, or
    the pool would hand it out again and again after a database restart.
    """
    original = error.__cause__ if isinstance(error.__cause__, BaseException) else error
    if isinstance(original, asyncpg.InterfaceError | asyncpg.InternalClientError | OSError):
        return True
    sqlstate = getattr(original, "sqlstate", None) or ""
    return sqlstate.startswith("08") or sqlstate in _SESSION_ENDING_STATES
