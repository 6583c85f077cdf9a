"""CORS: which browser pages may call the API, and what of its answers they may read.

Installed around everything but the request log, so that a preflight is answered before routing (a
path's 405, or the 401 of a request without credentials, never reaches it) and every answer to an
allowed origin carries the headers, errors and 500s included: a page can read why it was refused.
"""

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from app.api.idempotency import HEADER as IDEMPOTENCY_KEY_HEADER
from app.api.idempotency import REPLAYED_HEADER
from app.api.problems import problem
from app.api.request_log import HEADER as REQUEST_ID_HEADER
from app.config import CorsSettings

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    IDEMPOTENCY_KEY_HEADER,
    "If-Match",
    "If-None-Match",
    REQUEST_ID_HEADER,
    # Sent by EventSource when it reconnects to the live stream.
    "Last-Event-ID",
)
EXPOSED_HEADERS = (
    "ETag",
    "Location",
    REQUEST_ID_HEADER,
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    REPLAYED_HEADER,
)


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, whose refused preflight is a problem like every other refusal."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        reason = bytes(response.body).decode()
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-length", "content-type")
        }
        return problem(400, "cors_refused", "CORS refused", reason, headers=headers)


def with_cors(app: ASGIApp, settings: CorsSettings) -> ASGIApp:
    """`app` answering browsers of the allowed origins; as it is, without CORS headers, when none is."""
    if not settings.allowed_origins:
        return app
    return ProblemCORSMiddleware(
        app,
        allow_origins=settings.allowed_origins,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=settings.allow_credentials,
        expose_headers=EXPOSED_HEADERS,
        max_age=settings.max_age_seconds,
    )
