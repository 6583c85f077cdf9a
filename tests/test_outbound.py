"""Webhook destinations: only public addresses, checked again on the address actually connected to."""

import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.kit.outbound import (
    MAX_RESPONSE_BYTES,
    MAX_URL_LENGTH,
    OutboundPolicy,
    Resolver,
    UnsafeDestination,
    check_destination,
    safe_post,
    system_resolve,
)

PUBLIC_IPV4 = "93.184.216.34"
PUBLIC_IPV6 = "2606:4700::1111"
HTTP_ALLOWED = OutboundPolicy(allow_http=True)
LOOPBACK_ALLOWED = OutboundPolicy(allow_http=True, allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))

DNS = {
    "example.com": [PUBLIC_IPV4],
    "example.com.": [PUBLIC_IPV4],
    "dual.example.com": [PUBLIC_IPV4, PUBLIC_IPV6],
    "xn--bcher-kva.example": [PUBLIC_IPV4],
    "mapped.example.com": [f"::ffff:{PUBLIC_IPV4}", PUBLIC_IPV4],
    "localhost": ["127.0.0.1"],
    "internal.example.com": ["10.0.0.7"],
    "metadata.example.com": ["169.254.169.254"],
    "mixed.example.com": [PUBLIC_IPV4, "192.168.1.10"],
    "mapped-loopback.example.com": ["::ffff:127.0.0.1"],
    "nat64-loopback.example.com": ["64:ff9b::7f00:1"],
    "garbage.example.com": ["not-an-address"],
    "empty.example.com": [],
}


def fake_resolver(answers: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return resolve


# Shorthands that getaddrinfo reads as 127.0.0.1
NUMERIC_SHORTHANDS = [
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://127.1/",
    "http://127.0.0.1./",
    "http://127.0.0.0x1/",
]


@pytest.mark.parametrize("url", NUMERIC_SHORTHANDS)
async def test_numeric_shorthands_are_refused_before_any_resolver_reads_them(url: str) -> None:
    async def anything_is_public(host: str, port: int) -> list[str]:
        return [PUBLIC_IPV4]

    with pytest.raises(UnsafeDestination, match="neither a host name nor an IP address in standard form"):
        await check_destination(url, HTTP_ALLOWED, anything_is_public)


async def test_the_system_resolver_reads_shorthands_which_is_why_they_are_refused() -> None:
    assert await system_resolve("2130706433", 80) == ["127.0.0.1"]
    assert await system_resolve("127.0.0.1", 80) == ["127.0.0.1"]


REFUSED = [
    # Forms of 127.0.0.1 that are not valid host names
    "http://0177.0.0.1/",
    "http://%31%32%37.0.0.1/",
    # Loopback and the other special-purpose IPv4 ranges
    "http://127.0.0.1/",
    "http://0.0.0.0/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://239.255.255.250:1900/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://192.0.2.1/",
    "http://198.51.100.1/",
    "http://203.0.113.1/",
    "http://198.18.0.1/",
    "http://192.0.0.1/",
    # IPv6: loopback, unspecified, private, link-local, site-local, multicast, documentation
    "http://[::1]/",
    "http://[::]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[2001:db8::1]/",
    # IPv4 embedded in IPv6: mapped, compatible, 6to4, NAT64, Teredo
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b:1::a00:1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    # Names that resolve to internal addresses
    "http://localhost/",
    "http://internal.example.com/",
    "http://metadata.example.com/",
    "http://mixed.example.com/",
    "http://mapped-loopback.example.com/",
    "http://nat64-loopback.example.com/",
    "http://garbage.example.com/",
    "http://empty.example.com/",
    "http://unknown.example.com/",
    # Userinfo, whether it hides the real host or carries credentials
    "https://example.com@127.0.0.1/",
    "https://127.0.0.1\\@example.com/",
    "https://user:password@example.com/",
    # No host, other schemes, bad ports, bad host names, too long
    "http:///path",
    "https://:443/",
    "//example.com/",
    "example.com",
    "ftp://example.com/",
    "file:///etc/passwd",
    "gopher://example.com:70/",
    "ws://example.com/",
    "https://example.com:0/",
    "https://example.com:99999/",
    "https://exa mple.com/",
    "https://exa$mple.com/",
    "https://" + "a" * 64 + ".com/",
    "https://example.com/" + "a" * (MAX_URL_LENGTH - len("https://example.com/") + 1),
]


@pytest.mark.parametrize("url", REFUSED)
async def test_unsafe_destinations_are_refused(url: str) -> None:
    with pytest.raises(UnsafeDestination) as refused:
        await check_destination(url, HTTP_ALLOWED, fake_resolver(DNS))
    message = str(refused.value)
    assert message.startswith("The ") and message.endswith(".")


ACCEPTED = [
    (f"https://{PUBLIC_IPV4}/", [PUBLIC_IPV4]),
    (f"https://[{PUBLIC_IPV6}]:8443/hook", [PUBLIC_IPV6]),
    ("https://example.com/hook?event=ticket.created#ignored", [PUBLIC_IPV4]),
    ("https://EXAMPLE.com./", [PUBLIC_IPV4]),
    ("https://dual.example.com/", [PUBLIC_IPV4, PUBLIC_IPV6]),
    ("https://mapped.example.com/", [PUBLIC_IPV4]),
    ("https://bücher.example/", [PUBLIC_IPV4]),
    (f"https://[::ffff:{PUBLIC_IPV4}]/", [PUBLIC_IPV4]),
    ("https://[64:ff9b::5db8:d822]/", ["64:ff9b::5db8:d822"]),
    ("https://[2002:5db8:d822::1]/", ["2002:5db8:d822::1"]),
    ("https://example.com/" + "a" * (MAX_URL_LENGTH - len("https://example.com/")), [PUBLIC_IPV4]),
]


@pytest.mark.parametrize(("url", "addresses"), ACCEPTED)
async def test_public_destinations_are_accepted_with_their_addresses(url: str, addresses: list[str]) -> None:
    assert await check_destination(url, OutboundPolicy(), fake_resolver(DNS)) == addresses


async def test_the_resolver_gets_the_ascii_host_name_and_the_port() -> None:
    asked: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return [PUBLIC_IPV4]

    policy = OutboundPolicy(allow_http=True)
    await check_destination("https://Bücher.example/", policy, resolve)
    await check_destination("https://example.com:8443/", policy, resolve)
    await check_destination("http://example.com/", policy, resolve)
    assert asked == [("xn--bcher-kva.example", 443), ("example.com", 8443), ("example.com", 80)]


async def test_the_message_does_not_tell_which_internal_address_a_name_has() -> None:
    with pytest.raises(UnsafeDestination) as refused:
        await check_destination("https://internal.example.com/", OutboundPolicy(), fake_resolver(DNS))
    assert str(refused.value) == "The host internal.example.com resolves to an address that is not public."


async def test_a_name_that_does_not_resolve_is_refused_when_saved() -> None:
    with pytest.raises(UnsafeDestination, match="could not be resolved"):
        await check_destination("https://unknown.example.com/", OutboundPolicy(), fake_resolver(DNS))


async def test_http_is_refused_unless_the_policy_allows_it() -> None:
    with pytest.raises(UnsafeDestination, match=r"must start with https://\."):
        await check_destination("http://example.com/", OutboundPolicy(), fake_resolver(DNS))
    assert await check_destination("http://example.com/", HTTP_ALLOWED, fake_resolver(DNS)) == [PUBLIC_IPV4]


async def test_an_address_inside_an_allowed_network_passes() -> None:
    policy = OutboundPolicy.from_settings(False, ["127.0.0.1/32", " 10.1.0.0/16 ", "", "fd00::/8"])
    assert await check_destination("https://127.0.0.1:8443/", policy, fake_resolver(DNS)) == ["127.0.0.1"]
    assert await check_destination("https://localhost/", policy, fake_resolver(DNS)) == ["127.0.0.1"]
    assert await check_destination("https://[::ffff:127.0.0.1]/", policy, fake_resolver(DNS)) == ["127.0.0.1"]
    assert await check_destination("https://10.1.200.3/", policy, fake_resolver(DNS)) == ["10.1.200.3"]
    assert await check_destination("https://[fd00::5]/", policy, fake_resolver(DNS)) == ["fd00::5"]
    for outside in ("https://127.0.0.2/", "https://10.2.0.1/", "https://[::1]/", "https://169.254.169.254/"):
        with pytest.raises(UnsafeDestination):
            await check_destination(outside, policy, fake_resolver(DNS))


def test_malformed_allowed_networks_are_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        OutboundPolicy.from_settings(False, ["10.0.0.1/8"])
    with pytest.raises(ValueError):
        OutboundPolicy.from_settings(False, ["internal"])


# Sending, against an in-memory transport


@dataclass
class Recorder:
    """An httpx transport that records requests and answers them with `answer`."""

    answer: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(204)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self, **options: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self), follow_redirects=False, **options)


async def post(client: httpx.AsyncClient, url: str, resolve: Resolver, **options: object) -> httpx.Response:
    arguments = {"content": b"{}", "headers": {}, "timeout": 5.0, "policy": OutboundPolicy(), **options}
    return await safe_post(client, url, resolve=resolve, **arguments)


async def test_the_request_goes_to_the_checked_address_with_the_host_header_and_sni_kept() -> None:
    recorder = Recorder()
    async with recorder.client() as client:
        response = await post(
            client,
            "https://hooks.example.com:8443/in/hook?q=1&r=two",
            fake_resolver({"hooks.example.com": [PUBLIC_IPV6]}),
            content=b'{"event": 1}',
            headers={"Content-Type": "application/json", "host": "evil.example"},
        )
    assert response.status_code == 204
    [request] = recorder.requests
    assert str(request.url) == f"https://[{PUBLIC_IPV6}]:8443/in/hook?q=1&r=two"
    assert request.headers.get_list("Host") == ["hooks.example.com:8443"]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Connection"] == "close"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.content == b'{"event": 1}'


async def test_an_ip_address_host_is_sent_as_it_is_without_sni_name() -> None:
    recorder = Recorder()
    async with recorder.client() as client:
        await post(client, f"https://{PUBLIC_IPV4}/hook", fake_resolver({}))
    [request] = recorder.requests
    assert str(request.url) == f"https://{PUBLIC_IPV4}/hook"
    assert request.headers["Host"] == PUBLIC_IPV4
    assert "sni_hostname" not in request.extensions


async def test_dns_rebinding_between_saving_and_sending_is_refused() -> None:
    answers = iter([[PUBLIC_IPV4], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    url = "https://rebind.example.com/hook"
    assert await check_destination(url, OutboundPolicy(), rebinding) == [PUBLIC_IPV4]
    recorder = Recorder()
    async with recorder.client() as client:
        with pytest.raises(UnsafeDestination, match="not public"):
            await post(client, url, rebinding)
    assert recorder.requests == []


async def test_a_name_that_does_not_resolve_when_sending_is_a_network_error() -> None:
    async with Recorder().client() as client:
        with pytest.raises(httpx.ConnectError, match="could not be resolved"):
            await post(client, "https://unknown.example.com/", fake_resolver({}))


async def test_an_address_that_cannot_be_reached_gives_way_to_the_next() -> None:
    def unreachable_ipv6(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC_IPV6:
            raise httpx.ConnectError("Network is unreachable", request=request)
        return httpx.Response(200)

    recorder = Recorder(unreachable_ipv6)
    async with recorder.client() as client:
        response = await post(
            client,
            "https://dual.example.com/",
            fake_resolver({"dual.example.com": [PUBLIC_IPV6, PUBLIC_IPV4]}),
        )
    assert response.status_code == 200
    assert [request.url.host for request in recorder.requests] == [PUBLIC_IPV6, PUBLIC_IPV4]


async def test_the_shared_clients_cookies_and_credentials_are_not_sent() -> None:
    recorder = Recorder(
        lambda request: httpx.Response(200, headers={"Set-Cookie": "session=tenant-a; Path=/"})
    )
    resolve = fake_resolver({"a.example.com": [PUBLIC_IPV4], "b.example.com": [PUBLIC_IPV4]})
    async with recorder.client(auth=("worker", "secret")) as client:
        await post(client, "https://a.example.com/", resolve)
        await post(client, "https://b.example.com/", resolve)
        await post(client, "https://b.example.com/", resolve, headers={"Cookie": "chosen=1"})
    assert [request.headers.get("Cookie") for request in recorder.requests] == [None, None, "chosen=1"]
    assert all("Authorization" not in request.headers for request in recorder.requests)


async def test_a_refused_url_is_refused_when_sending_too() -> None:
    recorder = Recorder()
    async with recorder.client() as client:
        for url in ("http://example.com/", "https://169.254.169.254/", "https://0x7f000001/"):
            with pytest.raises(UnsafeDestination):
                await post(client, url, fake_resolver(DNS))
    assert recorder.requests == []


# Sending, end to end against real servers on 127.0.0.1


@dataclass
class Server:
    port: int
    requests: list[tuple[str, str, dict[str, str], bytes]]  # method, path with query, headers, body
    server_names: list[str | None]  # TLS SNI names the server was asked for


@asynccontextmanager
async def serve(tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    server = Server(port=listening.getsockname()[1], requests=[], server_names=[])

    async def record(request: web.Request) -> web.Response:
        server.requests.append((request.method, request.path_qs, dict(request.headers), await request.read()))
        if request.path == "/moved":
            return web.Response(status=302, headers={"Location": f"http://127.0.0.1:{server.port}/elsewhere"})
        return web.Response(status=200, text="ok")

    if tls is not None:
        tls.sni_callback = lambda ssl_object, server_name, context: server.server_names.append(server_name)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, listening, ssl_context=tls).start()
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def http_server() -> AsyncIterator[Server]:
    async with serve() as server:
        yield server


@dataclass
class TlsServer:
    server: Server
    client_context: ssl.SSLContext


@pytest.fixture
async def https_server(tmp_path: Path) -> AsyncIterator[TlsServer]:
    """A server whose certificate names hooks.example.test only, and a client context that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.example.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(certificate_pem)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_context = ssl.create_default_context(cadata=certificate_pem.decode("ascii"))
    async with serve(server_context) as server:
        yield TlsServer(server, client_context)


def to_loopback(*names: str) -> Resolver:
    return fake_resolver({name: ["127.0.0.1"] for name in names})


async def test_the_post_reaches_the_checked_address_with_the_original_host(http_server: Server) -> None:
    url = f"http://hooks.example.test:{http_server.port}/path?q=1"
    async with httpx.AsyncClient(follow_redirects=False) as client:
        response = await post(
            client,
            url,
            to_loopback("hooks.example.test"),
            content=b'{"ticket": 42}',
            headers={"Content-Type": "application/json"},
            policy=LOOPBACK_ALLOWED,
        )
    assert response.status_code == 200
    assert response.text == "ok"
    [(method, path, headers, body)] = http_server.requests
    assert (method, path, body) == ("POST", "/path?q=1", b'{"ticket": 42}')
    assert headers["Host"] == f"hooks.example.test:{http_server.port}"
    assert headers["Content-Type"] == "application/json"


async def test_a_redirect_is_returned_as_it_is(http_server: Server) -> None:
    url = f"http://hooks.example.test:{http_server.port}/moved"
    async with httpx.AsyncClient(follow_redirects=False) as client:
        response = await post(client, url, to_loopback("hooks.example.test"), policy=LOOPBACK_ALLOWED)
    assert response.status_code == 302
    assert response.headers["Location"] == f"http://127.0.0.1:{http_server.port}/elsewhere"
    assert [path for _, path, _, _ in http_server.requests] == ["/moved"]


async def test_tls_is_verified_for_the_original_host_name_on_every_request(https_server: TlsServer) -> None:
    server = https_server.server
    resolve = to_loopback("hooks.example.test", "hooks.example.test.", "other.example.test")
    policy = OutboundPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    async with httpx.AsyncClient(verify=https_server.client_context, follow_redirects=False) as client:
        response = await post(client, f"https://hooks.example.test:{server.port}/tls", resolve, policy=policy)
        assert response.status_code == 200
        response = await post(
            client, f"https://hooks.example.test.:{server.port}/fqdn", resolve, policy=policy
        )
        assert response.status_code == 200
        # Same address and port, but the certificate does not name this host: no connection may be reused.
        with pytest.raises(httpx.ConnectError, match="certificate"):
            await post(client, f"https://other.example.test:{server.port}/tls", resolve, policy=policy)
    assert server.server_names == ["hooks.example.test", "hooks.example.test", "other.example.test"]
    assert [(path, headers["Host"]) for _, path, headers, _ in server.requests] == [
        ("/tls", f"hooks.example.test:{server.port}"),
        ("/fqdn", f"hooks.example.test.:{server.port}"),
    ]


async def test_an_endless_answer_is_cut_short() -> None:
    recorder = Recorder(answer=lambda request: httpx.Response(200, content=b"x" * (MAX_RESPONSE_BYTES * 4)))
    async with recorder.client() as client:
        response = await post(
            client, "https://hooks.example.com/", fake_resolver({"hooks.example.com": [PUBLIC_IPV4]})
        )
    assert response.status_code == 200
    assert len(response.content) == MAX_RESPONSE_BYTES
