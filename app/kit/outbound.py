"""Outbound requests that cannot be aimed at internal addresses (SSRF): webhooks, channels' replies and
callbacks, files linked from messages.

A destination is checked when it is saved (a webhook's URL, a channel's) and again for every request.
The host is resolved here, every address it resolves to must be public (or inside a network the policy
allows), and the request is sent to a checked address itself, so a DNS answer that changes in between
(rebinding) cannot redirect it anywhere else.
"""

import asyncio
import contextlib
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from app.config import Settings
from app.errors import Unprocessable
from app.kit.tracing import client_span, set_status_code

if TYPE_CHECKING:
    from opentelemetry.trace import Span

MAX_URL_LENGTH = 2048
MAX_RESPONSE_BYTES = 64 * 1024
MAX_REDIRECTS = 3
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_HOST_NAME_LENGTH = 253
_HOST_NAME = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}\.?")
# Resolvers read a name whose last label is a number as an IPv4 address in some shorthand
# (2130706433, 0x7f000001, 127.1, 0x7f.0.0.1); no real top-level domain looks like that.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
# RFC 6052: a NAT64 gateway forwards these to the IPv4 address in their last 32 bits.
_NAT64_WELL_KNOWN_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


class UnsafeDestination(Exception):
    """The URL may not be called; str(error) says why in a sentence fit for an API error message."""


@dataclass(frozen=True)
class OutboundPolicy:
    allow_http: bool = False
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_settings(cls, allow_http: bool, allowed_networks: Iterable[str]) -> "OutboundPolicy":
        """Blank entries are skipped; a malformed network (or one with host bits set) raises ValueError."""
        networks = tuple(
            ipaddress.ip_network(network.strip()) for network in allowed_networks if network.strip()
        )
        return cls(allow_http=allow_http, allowed_networks=networks)


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses `host` has for TCP, each once, in the system resolver's order; OSError if none."""
    answers = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in answers))


async def check_destination(
    url: str, policy: OutboundPolicy, resolve: Resolver = system_resolve
) -> list[str]:
    """Validate the URL and every address its host resolves to; return them. Raises UnsafeDestination."""
    destination = _parse_destination(url, policy)
    try:
        addresses = await _checked_addresses(destination, policy, resolve)
    except OSError as error:
        raise UnsafeDestination(f"The host {destination.host} could not be resolved.") from error
    return [str(address) for address in addresses]


async def safe_post(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout: float,  # noqa: ASYNC109 - passed on to httpx, which applies it to each phase
    policy: OutboundPolicy,
    resolve: Resolver = system_resolve,
) -> httpx.Response:
    """Resolve and check again, then POST to the checked address itself (Host header and SNI kept),
    without following redirects. The response holds at most the first MAX_RESPONSE_BYTES of its body.
    Raises UnsafeDestination, or httpx errors for network failures."""
    return await _checked_request(
        client, "POST", url, content, headers, timeout, policy, resolve, MAX_RESPONSE_BYTES, truncate=True
    )


async def safe_api_get(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,  # noqa: ASYNC109 - passed on to httpx, which applies it to each phase
    policy: OutboundPolicy,
    resolve: Resolver = system_resolve,
) -> httpx.Response:
    """GET from an API (a provider's), as safe_post sends: to the address checked just now, no redirects
    followed, at most MAX_RESPONSE_BYTES of the body. Raises UnsafeDestination, or httpx errors for
    network failures."""
    return await _checked_request(
        client, "GET", url, None, headers, timeout, policy, resolve, MAX_RESPONSE_BYTES, truncate=True
    )


async def safe_get(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 - a deadline for the whole download, redirects included
    policy: OutboundPolicy,
    resolve: Resolver = system_resolve,
) -> httpx.Response:
    """GET a file from a URL someone else gave (a customer's attachment), checked like every outbound
    request; redirects are followed, each checked again, at most MAX_REDIRECTS. Raises UnsafeDestination,
    ResponseTooLarge past `max_bytes`, or httpx errors for network failures and the deadline."""
    try:
        async with asyncio.timeout(timeout):
            for _ in range(MAX_REDIRECTS + 1):
                response = await _checked_request(
                    client, "GET", url, None, {}, timeout, policy, resolve, max_bytes, truncate=False
                )
                location = response.headers.get("location")
                if not response.is_redirect or location is None:
                    return response
                # The request went to the address: the redirect is resolved against the URL as given.
                url = str(httpx.URL(url).join(location))
    except TimeoutError as error:
        raise httpx.ReadTimeout(f"The download took longer than {timeout:g} s.") from error
    raise httpx.TooManyRedirects(f"More than {MAX_REDIRECTS} redirects.")


class ResponseTooLarge(Exception):
    """The answer's body is larger than the caller accepts."""


async def _checked_request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    content: bytes | None,
    headers: Mapping[str, str],
    timeout: float,  # noqa: ASYNC109 - passed on to httpx, which applies it to each phase
    policy: OutboundPolicy,
    resolve: Resolver,
    max_bytes: int,
    *,
    truncate: bool,
) -> httpx.Response:
    """The request, sent to an address checked just now. The body read stops at `max_bytes`: cut there
    when `truncate`, else ResponseTooLarge."""
    destination = _parse_destination(url, policy)
    try:
        async with asyncio.timeout(timeout):
            addresses = await _checked_addresses(destination, policy, resolve)
    except TimeoutError as error:
        raise httpx.ConnectTimeout(f"Resolving {destination.host} took longer than {timeout:g} s.") from error
    except OSError as error:
        raise httpx.ConnectError(f"The host {destination.host} could not be resolved: {error}") from error

    request_headers = httpx.Headers(headers)
    request_headers["Host"] = destination.url.netloc.decode("ascii")
    extensions = {}
    if destination.url.scheme == "https":
        # httpx pools connections by scheme, address and port: without this, a connection whose
        # certificate was verified for one host name could carry a request for another on that address.
        request_headers["Connection"] = "close"
        if destination.address is None:
            # Certificates name hosts without the trailing dot of a fully qualified name.
            extensions["sni_hostname"] = destination.host.removesuffix(".")

    async def send_to(address: IPAddress) -> httpx.Response:
        request = client.build_request(
            method,
            destination.url.copy_with(host=str(address)),
            content=content,
            headers=request_headers,
            timeout=timeout,
            extensions=extensions,
        )
        if "Cookie" not in request_headers:
            # The shared client's cookie jar files cookies under the address, which unrelated hosts share.
            request.headers.pop("Cookie", None)
        with client_span(method, destination.url.scheme, destination.host, destination.port) as current:
            return await send_and_read(request, current)

    async def send_and_read(request: httpx.Request, current: "Span | None") -> httpx.Response:
        # No auth: credentials configured on the shared client are never for customers' URLs.
        response = await client.send(request, auth=None, follow_redirects=False, stream=True)
        set_status_code(current, response.status_code)
        try:
            declared = response.headers.get("content-length", "")
            if not truncate and declared.isdigit() and int(declared) > max_bytes:
                raise ResponseTooLarge(f"The file is larger than {max_bytes} bytes.")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                if not truncate and len(body) + len(chunk) > max_bytes:
                    raise ResponseTooLarge(f"The file is larger than {max_bytes} bytes.")
                body += chunk[: max_bytes - len(body)]
                if truncate and len(body) >= max_bytes:
                    break  # a receiver cannot make us read an endless answer
        finally:
            await response.aclose()
        # The body is decoded already: the new response must not claim an encoding or a length.
        headers = [
            (name, value) for name, value in response.headers.multi_items() if name not in _BODY_HEADERS
        ]
        return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=request)

    for address in addresses[:-1]:
        # As httpx does with the addresses it resolves, move on when one cannot be reached.
        with contextlib.suppress(httpx.ConnectError):
            return await send_to(address)
    return await send_to(addresses[-1])


@dataclass(frozen=True)
class _Destination:
    url: httpx.URL
    host: str  # ASCII (IDNA-encoded) host name, or the IP address as written
    port: int
    address: IPAddress | None  # set when the host is an IP address


def _parse_destination(url: str, policy: OutboundPolicy) -> _Destination:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeDestination(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise UnsafeDestination("The URL is not valid.") from error
    if parsed.scheme != "https" and not (policy.allow_http and parsed.scheme == "http"):
        allowed = "http:// or https://" if policy.allow_http else "https://"
        raise UnsafeDestination(f"The URL must start with {allowed}.")
    if parsed.userinfo:
        raise UnsafeDestination("The URL may not contain a user name or password.")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise UnsafeDestination("The URL has no host.")
    port = _DEFAULT_PORTS[parsed.scheme] if parsed.port is None else parsed.port
    if not 1 <= port <= 65535:
        raise UnsafeDestination("The URL's port must be between 1 and 65535.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
        last_label = host.removesuffix(".").rsplit(".", 1)[-1]
        if (
            len(host) > _MAX_HOST_NAME_LENGTH
            or not _HOST_NAME.fullmatch(host)
            or _NUMERIC_LABEL.fullmatch(last_label)
        ):
            raise UnsafeDestination(
                f"The host {host} is neither a host name nor an IP address in standard form."
            ) from None
    return _Destination(url=parsed, host=host, port=port, address=address)


async def _checked_addresses(
    destination: _Destination, policy: OutboundPolicy, resolve: Resolver
) -> list[IPAddress]:
    """The addresses to connect to, all allowed; OSError when the host cannot be resolved."""
    if destination.address is not None:
        address = _unmapped(destination.address)
        if not _may_connect(address, policy):
            raise UnsafeDestination(f"The address {destination.host} is not a public address.")
        return [address]
    answers = await resolve(destination.host, destination.port)
    if not answers:
        raise UnsafeDestination(f"The host {destination.host} does not resolve to any address.")
    addresses = []
    for answer in answers:
        try:
            address = _unmapped(ipaddress.ip_address(answer))
        except ValueError:
            address = None
        if address is None or not _may_connect(address, policy):
            # The address itself is not told: the message would map the internal network for the caller.
            raise UnsafeDestination(f"The host {destination.host} resolves to an address that is not public.")
        addresses.append(address)
    return list(dict.fromkeys(addresses))


def _unmapped(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address reaches its IPv4 address, so that is what is checked and connected to."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _may_connect(address: IPAddress, policy: OutboundPolicy) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return False  # a zone index cannot be carried in the URL the request is sent to
    return any(address in network for network in policy.allowed_networks) or _is_public(address)


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_WELL_KNOWN_PREFIX:
            return _is_public(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
        embedded = [address.sixtofour, *(address.teredo or ())]
        if any(ipv4 is not None and not _is_public(ipv4) for ipv4 in embedded):
            return False
        if address.is_site_local:
            return False
    # is_global leaves out private, loopback, link-local, unspecified, shared (CGNAT), documentation and
    # benchmarking addresses, but counts multicast and some reserved ranges as global.
    return address.is_global and not address.is_multicast and not address.is_reserved


def outbound_client(connections: int) -> httpx.AsyncClient:
    """A client for `safe_post` and `safe_get`, which follow (and check) redirects themselves."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    # No proxies from the environment: requests connect to the addresses they checked.
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, limits=limits)


def outbound_policy(settings: Settings) -> OutboundPolicy:
    networks = [
        network.strip() for network in settings.webhook.allowed_networks.split(",") if network.strip()
    ]
    return OutboundPolicy.from_settings(settings.webhook.allow_http, networks)


async def checked_url(url: str, settings: Settings, *, field: str = "url") -> str:
    """The URL, if the service may send requests to it (a public address, https unless allowed)."""
    try:
        await check_destination(url, outbound_policy(settings))
    except UnsafeDestination as refused:
        raise Unprocessable(f"{field}: {refused}", field=field, code="unsafe_url") from None
    return url
