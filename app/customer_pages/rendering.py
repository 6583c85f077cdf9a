"""The pages' templates (Jinja2, shipped in the package) and what every page is rendered with."""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from app.customer_pages.security import PAGE_HEADERS, negotiate_locale, text_color_on
from app.customer_pages.texts import moment, page_text
from app.models.workspace import DEFAULT_BRAND_COLOR

STYLESHEET = "pages.css"
# The theme's path names its colours, so that it is the same file for every page of every workspace of
# that colour, and browsers may keep it.
THEME_PATH = "/pages/theme/{color}.css"


@dataclass(frozen=True)
class Brand:
    """Who the page speaks for: the workspace's name and colour, and the text colour readable on it."""

    name: str
    color: str

    @property
    def on_color(self) -> str:
        return text_color_on(self.color)

    @property
    def theme_url(self) -> str:
        return THEME_PATH.format(color=self.color.removeprefix("#"))


# A page that names no workspace (an unknown link): the service's own colour, no name.
NEUTRAL = Brand(name="", color=DEFAULT_BRAND_COLOR)


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("app.customer_pages", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def stylesheet() -> tuple[bytes, str]:
    """The pages' stylesheet and its URL, which changes with its content (so browsers may keep it)."""
    content = resources.files("app.customer_pages").joinpath("static", STYLESHEET).read_bytes()
    version = hashlib.sha256(content).hexdigest()[:12]
    return content, f"/pages/{STYLESHEET}?v={version}"


def theme(color: str) -> str:
    """The stylesheet of a colour: the colour of the header and buttons, and the text on them."""
    return f":root {{ --brand: {color}; --on-brand: {text_color_on(color)}; }}\n"


def page_locale(request: Request, default: str) -> str:
    return negotiate_locale(request.headers.get("accept-language"), default)


def render(
    request: Request,
    template: str,
    *,
    locale: str,
    brand: Brand,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The page, in the locale, for the brand, with the pages' headers (CSP, no caching, no Referer)."""
    zone = ZoneInfo(request.app.state.settings.pages.time_zone)

    def when(value: datetime) -> str:
        return moment(locale, value.astimezone(zone))

    html = (
        _environment()
        .get_template(template)
        .render(
            locale=locale,
            brand=brand,
            stylesheet_url=stylesheet()[1],
            t=lambda key, **values: page_text(locale, key, **values),
            when=when,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
