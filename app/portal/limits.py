"""How often the link to a contact's tickets may be asked for: per email address (whoever asks, so that
nobody can flood an inbox) and per client address. Kept by each API process, as the API's own rate limits
are (app/api/rate_limits.py): with N processes, up to N times as many."""

import time
from collections.abc import Callable
from uuid import UUID

from app.api.rate_limits import Buckets, Budget, RateLimited, client_network
from app.config import PortalSettings


class AccessLimiter:
    def __init__(self, settings: PortalSettings, clock: Callable[[], float] = time.monotonic) -> None:
        per_hour = settings.access_per_address_per_hour
        self._per_address = Budget(per_hour / 60, per_hour)
        per_minute = settings.access_per_client_per_minute
        self._per_client = Budget(per_minute, per_minute)
        self._addresses = Buckets(clock)
        self._clients = Buckets(clock)

    def admit_client(self, client_host: str) -> None:
        """One request from this client; RateLimited (429) once it has had its share."""
        bucket = self._clients.of(client_network(client_host), self._per_client)
        if bucket.tokens < 1:
            retry_after = max(1, bucket.seconds_until(1))
            raise RateLimited(
                f"Too many requests for access links from this address; retry after {retry_after} s",
                headers={"Retry-After": str(retry_after)},
                extra={"retry_after": retry_after},
            )
        bucket.tokens -= 1

    def admit_address(self, workspace_id: UUID, email: str) -> bool:
        """Whether a link may be sent to this address now. Told to nobody: the answer is the same."""
        bucket = self._addresses.of((workspace_id, email), self._per_address)
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True
