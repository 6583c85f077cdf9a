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


def etag_for(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_for(version)


def check_if_match(if_match: str | None, version: int) -> None:
    if if_match is None:
        return
    candidates = {candidate.strip().removeprefix("W/") for candidate in if_match.split(",")}
    if "*" not in candidates and etag_for(version) not in candidates:
        raise PreconditionFailed(
            "The resource was changed since the version given in If-Match; fetch it again",
            field="If-Match",
            extra={"current_etag": etag_for(version)},
        )
