"""The customer pages over plain HTTP: their headers (CSP, caching, framing, Referer), their form tokens
(CSRF), the language they choose, the workspace's colours, and what a wrong link shows."""

import re

import httpx
import pytest
from fastapi import FastAPI

from app.customer_pages.security import (
    FORM_TOKEN_TTL_SECONDS,
    contrast_ratio,
    form_token,
    form_token_valid,
    negotiate_locale,
    text_color_on,
)
from tests.conftest import Tenant


async def set_brand_color(tenant: Tenant, color: object) -> httpx.Response:
    current = await tenant.admin.get("/v1/workspace")
    return await tenant.admin.patch(
        "/v1/workspace", json={"brand_color": color}, headers={"If-Match": current.headers["ETag"]}
    )


# The workspace's colour


async def test_the_brand_color_has_a_default_and_admins_change_it_to_a_valid_one(tenant: Tenant) -> None:
    assert (await tenant.viewer.get("/v1/workspace")).json()["brand_color"] == "#1d4ed8"
    changed = await set_brand_color(tenant, "#E11D48")
    assert changed.status_code == 200, changed.text
    assert changed.json()["brand_color"] == "#e11d48"
    for wrong in ("red", "#e11d4", "#e11d48ff", "e11d48", "#ggggggg", "", None, 1):
        refused = await tenant.admin.patch("/v1/workspace", json={"brand_color": wrong})
        assert refused.status_code == 422, wrong
        assert refused.json()["field"] == "brand_color", wrong
    assert (await tenant.agent.patch("/v1/workspace", json={"brand_color": "#000000"})).status_code == 403
    assert (await tenant.viewer.get("/v1/workspace")).json()["brand_color"] == "#e11d48"


@pytest.mark.parametrize(
    "background", ["#1d4ed8", "#ffffff", "#000000", "#777777", "#767676", "#ffcc00", "#00a000", "#e11d48"]
)
def test_the_text_on_the_brand_color_contrasts_at_least_4_5_to_1(background: str) -> None:
    assert contrast_ratio(text_color_on(background), background) >= 4.5


def test_no_brand_color_leaves_its_text_below_4_5_to_1() -> None:
    # Every grey, and every colour a step of 17 apart on each channel: the hardest cases are mid-greys.
    for red in range(0, 256, 17):
        for green in range(0, 256, 17):
            for blue in range(0, 256, 17):
                background = f"#{red:02x}{green:02x}{blue:02x}"
                assert contrast_ratio(text_color_on(background), background) >= 4.5, background
    for level in range(256):
        grey = f"#{level:02x}{level:02x}{level:02x}"
        assert contrast_ratio(text_color_on(grey), grey) >= 4.5, grey


async def test_the_theme_stylesheet_sets_the_color_and_readable_text(app: FastAPI, tenant: Tenant) -> None:
    answer = await tenant.anonymous.get("/pages/theme/ffcc00.css")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
    assert "--brand: #ffcc00;" in answer.text and "--on-brand: #000000;" in answer.text
    assert "immutable" in answer.headers["cache-control"]
    dark = await tenant.anonymous.get("/pages/theme/1d4ed8.css")
    assert "--on-brand: #ffffff;" in dark.text
    for wrong in ("FFCC00", "ffcc0", "url(x)"):
        assert (await tenant.anonymous.get(f"/pages/theme/{wrong}.css")).status_code in (404, 422), wrong


async def test_the_stylesheet_is_served_from_the_package(tenant: Tenant) -> None:
    answer = await tenant.anonymous.get("/pages/pages.css")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/css")
    assert "--brand" in answer.text and answer.headers["x-content-type-options"] == "nosniff"


# The language


@pytest.mark.parametrize(
    ("accept_language", "default", "chosen"),
    [
        ("vi-VN,vi;q=0.9,en;q=0.8", "en", "vi"),
        ("en-US,en;q=0.9", "vi", "en"),
        ("fr-FR, en;q=0.5, vi;q=0.7", "en", "vi"),
        ("fr, de;q=0.5", "en", "en"),
        ("fr, de;q=0.5", "vi", "vi"),
        ("", "vi", "vi"),
        (None, "en", "en"),
        ("*", "vi", "vi"),
        ("en;q=0, vi;q=0.1", "en", "vi"),
        ("EN-gb", "vi", "en"),
        ("en;q=abc, vi", "en", "vi"),
    ],
)
def test_the_language_is_the_browsers_first_known_one_else_the_workspaces(
    accept_language: str | None, default: str, chosen: str
) -> None:
    assert negotiate_locale(accept_language, default) == chosen


# Form tokens


def test_a_form_token_holds_for_its_link_and_a_while_only(app: FastAPI) -> None:
    box = app.state.secret_box
    issued = form_token(box, "link-a", now=1_000_000)
    assert form_token_valid(box, "link-a", issued, now=1_000_000 + 60)
    assert form_token_valid(box, "link-a", issued, now=1_000_000 + FORM_TOKEN_TTL_SECONDS)
    assert not form_token_valid(box, "link-a", issued, now=1_000_000 + FORM_TOKEN_TTL_SECONDS + 1)
    assert not form_token_valid(box, "link-a", issued, now=1_000_000 - 60)
    assert not form_token_valid(box, "link-b", issued, now=1_000_000 + 60)
    forged = re.sub(r"^\d+", "1000100", issued)
    assert not form_token_valid(box, "link-a", forged, now=1_000_000 + 200)
    for wrong in ("", ".", "abc.def", "1000000.", issued + "x"):
        assert not form_token_valid(box, "link-a", wrong, now=1_000_000 + 60), wrong
