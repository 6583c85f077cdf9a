"""The route class of the API: one unit of work per request, committed before the response is sent."""

import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from app.kit.idempotency import IdempotentReplay, claim_idempotency_key, release, store_response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class UnitOfWorkRoute(APIRoute):
    """Opens the request's session, commits it once the response is rendered, rolls back on any error.

    Committing here rather than in a dependency's teardown guarantees that a client never sees a
    success that was not durable. POST routes also honour `Idempotency-Key`; GET responses get an
    ETag (unless the endpoint set one) and answer `If-None-Match` with 304.
    """

    # Idempotency keys belong to the caller's workspace, so they need an API key or agent token.
    honours_idempotency_keys = True

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {method.upper() for method in kwargs.get("methods") or ()}
        if "POST" in methods and self.honours_idempotency_keys:
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or []), Depends(claim_idempotency_key)]
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def run_unit_of_work(request: Request) -> Response:
            async with request.app.state.db.sessionmaker() as session:
                request.state.session = session
                try:
                    response = await handler(request)
                    if response.status_code >= 400:
                        await session.rollback()
                        await _release_claim(request)
                        return response
                    claim = getattr(request.state, "idempotency_claim", None)
                    if claim is not None:
                        await store_response(session, claim, response)
                    await session.commit()
                except IdempotentReplay as replay:
                    await session.rollback()
                    return replay.response
                except BaseException:
                    await session.rollback()
                    await _release_claim(request)
                    raise
            if request.method == "GET":
                return _with_etag(request, response)
            return response

        return run_unit_of_work


async def _release_claim(request: Request) -> None:
    claim = getattr(request.state, "idempotency_claim", None)
    if claim is not None:
        await release(request, claim)


def _with_etag(request: Request, response: Response) -> Response:
    if response.status_code != 200 or not hasattr(response, "body"):
        return response
    etag = response.headers.get("etag")
    if etag is None:
        etag = 'W/"' + hashlib.sha256(bytes(response.body)).hexdigest()[:32] + '"'
        response.headers["ETag"] = etag
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return response


def _weak_equal(a: str, b: str) -> bool:
    return a.removeprefix("W/") == b.removeprefix("W/")


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [candidate.strip() for candidate in header.split(",")]
    return "*" in candidates or any(_weak_equal(candidate, etag) for candidate in candidates)


class ProviderRoute(UnitOfWorkRoute):
    """For channels' inbound endpoints: the caller proves itself with the channel's secret, and a
    re-sent message is recognised by its provider id rather than by an Idempotency-Key."""

    honours_idempotency_keys = False
