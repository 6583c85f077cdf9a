"""The route class of the customer pages: the API's unit of work, answered as HTML.

A page's credential is the link's token in its path, read by the page itself. Whatever goes wrong
that a customer can cause (an unknown or revoked link, a form too large, a stale form, a rating no
longer changeable) is a page in their language, never a problem+json document.
"""

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.types import Receive, Scope, Send

from app.api.rate_limits import RateLimiter
from app.api.routing import QUOTA_SCOPE_KEY, Handler, UnitOfWorkRoute
from app.customer_pages.rendering import NEUTRAL, Brand, page_locale, render
from app.customer_pages.texts import has_text, page_text
from app.errors import AppError, Unprocessable

# Kept on the request by a page once it knows whose page it is, for an error answered after that.
BRAND_STATE = "page_brand"
LOCALE_STATE = "page_locale"
BACK_STATE = "page_back_url"


class PageRoute(UnitOfWorkRoute):
    honours_idempotency_keys = False
    # Links pasted from mail and chat carry what those add (utm_source…): the page shows all the same.
    refuses_unknown_query_parameters = False

    def limit_intake(self, request: Request, limiter: RateLimiter) -> None:
        """Pages count against their visitor's address, in the same budget as the portal's API."""
        client = request.client.host if request.client else ""
        request.scope[QUOTA_SCOPE_KEY] = limiter.admit_portal_client(client)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().handle(scope, receive, send)
        except AppError as error:
            # Refused before the page ran: a body over the limit, or too slow to arrive.
            await error_page(Request(scope, receive), error)(scope, receive, send)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except AppError as error:
                return error_page(request, error)
            except RequestValidationError:
                return error_page(request, Unprocessable("The form is incomplete", code="form_incomplete"))

        return page


def error_page(request: Request, error: AppError) -> Response:
    """The page telling what went wrong, in the page's language and colours when the page got that far."""
    brand: Brand = getattr(request.state, BRAND_STATE, NEUTRAL)
    locale: str = getattr(request.state, LOCALE_STATE, None) or page_locale(request, "vi")
    status = error.status
    if status in (404, 410):
        title, detail = page_text(locale, "error.not_found"), page_text(locale, "error.not_found_detail")
    else:
        title = page_text(locale, "error.form")
        key = f"error.{error.code}"
        values = {"seconds": error.headers.get("Retry-After", "60")}
        detail = page_text(locale, key if has_text(key) else "error.form_detail", **values)
    response = render(
        request,
        "error.html",
        locale=locale,
        brand=brand,
        status_code=status,
        title=title,
        detail=detail,
        back_url=getattr(request.state, BACK_STATE, None),
    )
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
