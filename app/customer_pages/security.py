"""What keeps the customer pages safe in a browser: their headers, their form tokens, and the language
and colours they are shown in.

The pages' URLs hold the customer's credential (the link's token), so nothing on the way may keep
them or pass them on: no shared cache, no Referer, no framing.
"""

import base64
import hashlib
import hmac
import time
from urllib.parse import urlsplit

from fastapi import Request

from app.kit.crypto import SecretBox
from app.kit.texts import LOCALES

# Scripts: none at all. Styles: only the app's own stylesheets (the workspace's colour is one of them),
# never an inline style. Forms post to the pages themselves; no page may be framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # The language is chosen by Accept-Language.
    "Vary": "Accept-Language",
}

# The key's purpose: nothing else the service signs is a form token.
FORM_TOKEN_PURPOSE = "helpdesk:customer-pages.form"  # noqa: S105 - a purpose, not a secret
# A page left open this long still posts; a token is worth nothing on another link's pages.
FORM_TOKEN_TTL_SECONDS = 12 * 60 * 60


def _form_signature(secret_box: SecretBox, link_token: str, issued_at: int) -> str:
    bound_to = hashlib.sha256(link_token.encode()).hexdigest()
    message = f"{bound_to}|{issued_at}".encode()
    digest = hmac.new(secret_box.derive_key(FORM_TOKEN_PURPOSE), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def form_token(secret_box: SecretBox, link_token: str, now: float | None = None) -> str:
    """The token a page's forms carry (CSRF): signed, bound to the link the page was opened with, and
    dated, so that it needs no storage."""
    issued_at = int(time.time() if now is None else now)
    return f"{issued_at}.{_form_signature(secret_box, link_token, issued_at)}"


def form_token_valid(secret_box: SecretBox, link_token: str, token: str, now: float | None = None) -> bool:
    issued, _, signature = token.partition(".")
    if not issued.isdigit():
        return False
    age = int(time.time() if now is None else now) - int(issued)
    if not 0 <= age <= FORM_TOKEN_TTL_SECONDS:
        return False
    return hmac.compare_digest(signature, _form_signature(secret_box, link_token, int(issued)))


def same_origin(request: Request) -> bool:
    """Whether a form was posted from the service's own pages, by what the browser says.

    `Sec-Fetch-Site` first: browsers send it on every request, and a page cannot forge it. `Origin`
    only without it (older browsers), and only when it names an origin: under `Referrer-Policy:
    no-referrer` browsers post the pages' own forms with `Origin: null`. The form token decides the rest.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return urlsplit(origin).netloc == request.headers.get("host")


def negotiate_locale(accept_language: str | None, default: str) -> str:
    """The first of the service's languages the browser asks for, by its preference (`q`); `default`
    (the workspace's language) when it asks for none of them."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        language = tag.strip().split("-")[0].lower()
        if language in LOCALES and quality > 0:
            wanted.append((-quality, position, language))
    return min(wanted)[2] if wanted else default


def _luminance(color: str) -> float:
    """WCAG 2's relative luminance of `#rrggbb`."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(color[index : index + 2], 16) for index in (1, 3, 5))
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_color_on(background: str) -> str:
    """Black or white, whichever contrasts more with `background`: at least 4.58:1 whatever it is."""
    return max(("#000000", "#ffffff"), key=lambda color: contrast_ratio(color, background))
