"""The customer pages' routes: HTML for people, outside the API's contract (not in the OpenAPI
document), and the stylesheets they link."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from app.customer_pages.rendering import stylesheet, theme
from app.customer_pages.routing import PageRoute
from app.kit.schemas import refuse_unstorable_parameters

# Stylesheets name their content in their URL: a browser or a shared cache may keep them for good.
ASSET_CACHE = "public, max-age=31536000, immutable"

assets = APIRouter(include_in_schema=False)
router = APIRouter(
    include_in_schema=False, route_class=PageRoute, dependencies=[Depends(refuse_unstorable_parameters)]
)


@assets.get("/pages/pages.css")
async def pages_stylesheet() -> Response:
    return Response(
        stylesheet()[0],
        media_type="text/css",
        headers={"Cache-Control": ASSET_CACHE, "X-Content-Type-Options": "nosniff"},
    )


@assets.get("/pages/theme/{color}.css")
async def theme_stylesheet(color: Annotated[str, Path(pattern="^[0-9a-f]{6}$")]) -> Response:
    return Response(
        theme(f"#{color}"),
        media_type="text/css",
        headers={"Cache-Control": ASSET_CACHE, "X-Content-Type-Options": "nosniff"},
    )
