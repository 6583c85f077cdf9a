"""Rate limits kept by each API process: token buckets per credential, per workspace, per client
address whose credentials are refused, and per channel.

No request writes anything for them: a process counts what it serves, so with N API processes a
caller may get up to N times a limit. A bucket holds `burst` requests and refills at `per_minute`.
Each kind keeps at most MAX_BUCKETS buckets, the least recently used forgotten first: a caller not seen
for that long gets a full bucket back, as it would have by waiting.
"""

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import RateLimitSettings
from app.errors import AppError
from app.workspaces.repository import get_rate_limit

# Per kind of bucket; some 250 bytes each.
MAX_BUCKETS = 10_000
# IPv6 clients are counted by their /64: one host commonly has a whole /64 to pick addresses from.
IPV6_CLIENT_PREFIX = 64

V = TypeVar("V")


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


@dataclass(frozen=True, slots=True)
class Budget:
    # May be a fraction: a budget counted by the hour.
    per_minute: float
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60


@dataclass(slots=True)
class Bucket:
    budget: Budget
    tokens: float
    updated: float

    def refill(self, now: float, budget: Budget) -> None:
        """Refilled at its budget until `now`, then given `budget` (a workspace's own limit may have
        changed), as full as it was."""
        self.tokens = min(self.budget.burst, self.tokens + (now - self.updated) * self.budget.per_second)
        self.updated = now
        if budget != self.budget:
            self.tokens *= budget.burst / self.budget.burst
            self.budget = budget

    def seconds_until(self, tokens: float) -> int:
        """Whole seconds until the bucket holds `tokens`."""
        return max(0, math.ceil((tokens - self.tokens) / self.budget.per_second))


@dataclass(frozen=True, slots=True)
class Quota:
    """What the answer tells of the bucket closest to refusing the caller."""

    limit: int
    remaining: int
    reset_seconds: int

    @classmethod
    def of(cls, bucket: Bucket) -> "Quota":
        return cls(bucket.budget.burst, math.floor(bucket.tokens), bucket.seconds_until(bucket.budget.burst))

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


class Recent(Generic[V]):
    """Values by key, the least recently used dropped beyond MAX_BUCKETS."""

    def __init__(self) -> None:
        self._values: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        self._values[key] = value
        self._values.move_to_end(key)
        if len(self._values) > MAX_BUCKETS:
            self._values.popitem(last=False)


class Buckets:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._buckets: Recent[Bucket] = Recent()

    def of(self, key: Hashable, budget: Budget) -> Bucket:
        """The key's bucket, refilled until now, with this budget from now on."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = Bucket(budget, budget.burst, now)
            self._buckets.put(key, bucket)
        else:
            bucket.refill(now, budget)
        return bucket


def _take(buckets: list[Bucket], refusal: Callable[[Bucket], str], *, quota_headers: bool = True) -> Quota:
    """One request from every bucket, or none from any when one is empty: RateLimited, saying when all
    will have one again (with the RateLimit headers of the empty bucket when `quota_headers`)."""
    empty = [bucket for bucket in buckets if bucket.tokens < 1]
    if empty:
        longest = max(empty, key=lambda bucket: bucket.seconds_until(1))
        retry_after = max(1, longest.seconds_until(1))
        headers = {"Retry-After": str(retry_after), **(Quota.of(longest).headers() if quota_headers else {})}
        raise RateLimited(
            f"{refusal(longest)}; retry after {retry_after} s",
            headers=headers,
            extra={"retry_after": retry_after},
        )
    for bucket in buckets:
        bucket.tokens -= 1
    return Quota.of(min(buckets, key=_closeness_to_refusal))


def _closeness_to_refusal(bucket: Bucket) -> tuple[int, int]:
    """Fewer requests left first, then the longer wait for a full bucket."""
    return math.floor(bucket.tokens), -bucket.seconds_until(bucket.budget.burst)


def client_network(host: str) -> str:
    """What a client address is counted as: itself, or its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


class RateLimiter:
    """The buckets of one API process."""

    def __init__(self, settings: RateLimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.credential = Budget(settings.credential_per_minute, settings.credential_burst)
        self.workspace = Budget(settings.workspace_per_minute, settings.workspace_burst)
        self.failed_authentication = Budget(settings.failed_auth_per_minute, settings.failed_auth_burst)
        self.channel = Budget(settings.channel_per_minute, settings.channel_burst)
        self.portal = Budget(settings.portal_per_minute, settings.portal_burst)
        self._workspace_cache_seconds = settings.workspace_cache_seconds
        self._credentials = Buckets(clock)
        self._workspaces = Buckets(clock)
        self._addresses = Buckets(clock)
        self._channels = Buckets(clock)
        self._portal_clients = Buckets(clock)
        # A workspace's own requests a minute (or None), with when it was read.
        self._workspace_limits: Recent[tuple[int | None, float]] = Recent()

    def workspace_budget(self, per_minute: int | None) -> Budget:
        """The default, or the workspace's own rate with the default's proportion of burst to rate."""
        if per_minute is None:
            return self.workspace
        burst = round(self.workspace.burst * per_minute / self.workspace.per_minute)
        return Budget(per_minute, max(1, burst))

    async def workspace_per_minute(self, session: AsyncSession, workspace_id: UUID) -> int | None:
        """The workspace's own limit, read again once it has been kept `workspace_cache_seconds`."""
        now = self._clock()
        cached = self._workspace_limits.get(workspace_id)
        if cached is not None and now - cached[1] < self._workspace_cache_seconds:
            return cached[0]
        per_minute = await get_rate_limit(session, workspace_id)
        self._workspace_limits.put(workspace_id, (per_minute, now))
        return per_minute

    def admit(self, principal: Principal, workspace_per_minute: int | None) -> Quota:
        """A request of the principal's credential, taken from its bucket and its workspace's."""
        credential = self._credentials.of((principal.actor_type, principal.actor_id), self.credential)
        workspace = self._workspaces.of(principal.workspace_id, self.workspace_budget(workspace_per_minute))

        def refusal(bucket: Bucket) -> str:
            if bucket is credential:
                return f"This credential may make {bucket.budget.per_minute} requests a minute"
            return (
                f"This workspace's credentials may make {bucket.budget.per_minute} requests a minute together"
            )

        return _take([credential, workspace], refusal)

    def admit_channel(self, channel_id: UUID) -> Quota:
        """A request to a channel's inbound routes."""
        bucket = self._channels.of(channel_id, self.channel)
        per_minute = self.channel.per_minute
        return _take([bucket], lambda _: f"This channel may receive {per_minute} requests a minute")

    def admit_portal_client(self, client_host: str) -> Quota:
        """A customer's request to the portal, counted by their address: they hold no credential."""
        bucket = self._portal_clients.of(client_network(client_host), self.portal)
        per_minute = self.portal.per_minute
        return _take(
            [bucket], lambda _: f"This address may make {per_minute} requests a minute to the portal"
        )

    def count_failed_authentication(self, client_host: str) -> None:
        """A refused credential from this client; once the client has had its share, RateLimited."""
        bucket = self._addresses.of(client_network(client_host), self.failed_authentication)
        _take(
            [bucket],
            lambda _: (
                f"Too many requests with invalid credentials from this address "
                f"(at most {self.failed_authentication.per_minute} a minute)"
            ),
            # The RateLimit headers tell a credential's quota; this address has none.
            quota_headers=False,
        )
