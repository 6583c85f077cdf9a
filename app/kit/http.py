"""ETag and If-Match for versioned resources."""

from typing import Annotated

from fastapi import Header, Response

from app.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(
        max_length=200,
        description="The ETag of the version being changed; a 412 answers a change made since.",
    ),
]


def etag_for(version: int, minute: int | None = None) -> str:
    """The version; with `minute`, also the minute a body with live figures (SLA clocks) was computed
    for, so that caches see it change while If-Match still compares the version alone."""
    return f'"{version}"' if minute is None else f'"{version}.{minute}"'


def set_etag(response: Response, version: int, minute: int | None = None) -> None:
    response.headers["ETag"] = etag_for(version, minute)


def check_if_match(if_match: str | None, version: int) -> None:
    if if_match is None:
        return
    candidates = {candidate.strip().removeprefix("W/") for candidate in if_match.split(",")}
    versions = {candidate.strip('"').split(".")[0] for candidate in candidates}
    if "*" not in candidates and str(version) not in versions:
        raise PreconditionFailed(
            "The resource was changed since the version given in If-Match; fetch it again",
            field="If-Match",
            extra={"current_etag": etag_for(version)},
        )
