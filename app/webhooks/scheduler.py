"""Webhook delivery in a worker: claims due deliveries and sends them, a few at a time per endpoint.

Deliveries are claimed ahead (a lease on each), wait here for a free slot of their endpoint, and are
sent on one of several HTTP clients; successes are written in batches. A worker that stops lets what
is in flight finish within the grace period and gives the rest back; one that dies loses its claims
when their leases end, so each delivery is sent at least once.
"""

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import httpx

from app.config import Settings
from app.db import Database
from app.kit.crypto import SecretBox
from app.kit.jobs import log_failure, wait_at_most
from app.kit.outbound import outbound_client, outbound_policy
from app.kit.time import utcnow
from app.webhooks.tasks import Claim, Outcome, claim_due, record_outcome, record_successes, release, send

logger = logging.getLogger(__name__)

# Deliveries in flight per HTTP client, about.
CLIENT_SHARE = 8
# Deliveries claimed ahead per slot, so that a fast endpoint is not held up by claiming.
PREFETCH = 8
CLAIM_INTERVAL_SECONDS = 0.02
SUCCESS_BATCH_SECONDS = 0.02
SUCCESS_BATCH_SIZE = 200


class DeliveryScheduler:
    def __init__(self, db: Database, settings: Settings, secret_box: SecretBox) -> None:
        self.db = db
        self.settings = settings
        self.secret_box = secret_box
        self.policy = outbound_policy(settings)
        self.deliveries_due = asyncio.Event()
        self.in_flight: dict[UUID, tuple[Claim, asyncio.Task[None]]] = {}
        self.per_endpoint: Counter[UUID] = Counter()
        self.sending: set[UUID] = set()
        # Claimed deliveries waiting for a free slot of their endpoint.
        self.waiting: defaultdict[UUID, deque[Claim]] = defaultdict(deque)
        # A waiting delivery is sent only while its lease has this much left to run.
        self.lease_margin = timedelta(
            seconds=min(settings.webhook.timeout_seconds + 5, settings.worker.lease_seconds / 2)
        )
        self.clients: list[httpx.AsyncClient] = []
        # Successful deliveries are written in batches: the batch being filled, and the writes.
        self.successes: _Batch | None = None
        self.writes: set[asyncio.Future[None]] = set()
        # Endpoints disabled while deliveries for them were already claimed here.
        self.disabled: set[UUID] = set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Deliver until `stopping` is set; then stop claiming, finish or release what is in flight."""
        async with contextlib.AsyncExitStack() as stack:
            self.clients = [
                await stack.enter_async_context(outbound_client(CLIENT_SHARE * 2))
                for _ in range(self._client_count())
            ]
            claiming = asyncio.create_task(self._claim(stopping))
            try:
                await stopping.wait()
                await self._drain()
            finally:
                claiming.cancel()
                await asyncio.gather(claiming, return_exceptions=True)

    def _client_count(self) -> int:
        # An httpx pool slows down sharply with the requests in flight in it, so deliveries are spread
        # over several small clients, each endpoint always on the same one.
        return max(1, self.settings.worker.concurrency // CLIENT_SHARE)

    async def _claim(self, stopping: asyncio.Event) -> None:
        """Claim due deliveries while there is room, until `stopping` is set."""
        settings = self.settings
        cap = settings.webhook.max_in_flight_per_endpoint
        held_per_endpoint = cap * PREFETCH
        # Claims held (waiting or in flight) by this worker in all.
        most_held = settings.worker.concurrency * PREFETCH
        while not stopping.is_set():
            self.deliveries_due.clear()
            room = most_held - len(self.in_flight) - self._waiting_count()
            claims: list[Claim] = []
            if room > 0:
                holding = Counter(self.per_endpoint)
                for endpoint, waiting in self.waiting.items():
                    holding[endpoint] += len(waiting)
                try:
                    claims = await claim_due(
                        self.db,
                        self.secret_box,
                        utcnow(),
                        limit=room,
                        lease=timedelta(seconds=settings.worker.lease_seconds),
                        room={endpoint: held_per_endpoint - count for endpoint, count in holding.items()},
                        per_endpoint=held_per_endpoint,
                    )
                except Exception:
                    log_failure(logger, "claiming deliveries failed")
                if stopping.is_set():
                    await release(self.db, claims)
                    return
                for claim in claims:
                    self.waiting[claim.webhook_id].append(claim)
                self._pump()
            if claims:
                # Let a few deliveries finish, so that the next claim is a batch, not one by one.
                await wait_at_most(CLAIM_INTERVAL_SECONDS, stopping)
            else:
                await wait_at_most(settings.worker.poll_seconds, self.deliveries_due)

    def _waiting_count(self) -> int:
        return sum(len(waiting) for waiting in self.waiting.values())

    def _pump(self) -> None:
        """Start waiting deliveries while this worker and their endpoints have room."""
        cap = self.settings.webhook.max_in_flight_per_endpoint
        for endpoint, waiting in list(self.waiting.items()):
            while waiting and self.per_endpoint[endpoint] < cap:
                if len(self.in_flight) >= self.settings.worker.concurrency:
                    return
                claim = waiting.popleft()
                if claim.leased_until - utcnow() < self.lease_margin:
                    # Held too long behind a slow endpoint: left to the lease's end and a new claim.
                    continue
                self._start(claim, self.clients[endpoint.int % len(self.clients)])
            if not waiting:
                del self.waiting[endpoint]

    def _start(self, claim: Claim, client: httpx.AsyncClient) -> None:
        self.per_endpoint[claim.webhook_id] += 1
        self.sending.add(claim.delivery_id)
        task = asyncio.create_task(self._attempt(claim, client))
        self.in_flight[claim.delivery_id] = (claim, task)

        def finished(_: asyncio.Task[None]) -> None:
            self.in_flight.pop(claim.delivery_id, None)
            self._endpoint_free(claim)
            self._pump()
            self.deliveries_due.set()  # room for more

        task.add_done_callback(finished)

    def _endpoint_free(self, claim: Claim) -> None:
        """The endpoint has one request less in flight (once per claim)."""
        if claim.delivery_id in self.sending:
            self.sending.discard(claim.delivery_id)
            self.per_endpoint[claim.webhook_id] -= 1
            if self.per_endpoint[claim.webhook_id] <= 0:
                del self.per_endpoint[claim.webhook_id]

    async def _attempt(self, claim: Claim, client: httpx.AsyncClient) -> None:
        if claim.webhook_id in self.disabled:
            return  # disabling failed its pending deliveries; nothing more goes out
        try:
            outcome = await send(
                client,
                claim,
                now=utcnow(),
                timeout_seconds=self.settings.webhook.timeout_seconds,
                policy=self.policy,
            )
            # The endpoint's slot is for its requests; the bookkeeping need not hold it.
            self._endpoint_free(claim)
            self._pump()
            if outcome.succeeded:
                await self._record_success(claim, outcome)
            elif await record_outcome(self.db, claim, outcome, self.settings, utcnow()):
                self.disabled.add(claim.webhook_id)
        except Exception:
            # The lease runs out and another attempt is made: at least once, never lost.
            log_failure(logger, "delivering %s failed", claim.delivery_id)

    async def _record_success(self, claim: Claim, outcome: Outcome) -> None:
        """Join the batch of successes being filled; return once it is committed."""
        batch = self.successes
        if batch is None:
            batch = self.successes = _Batch(asyncio.get_running_loop().create_future())
            asyncio.get_running_loop().call_later(SUCCESS_BATCH_SECONDS, self._flush, batch)
        batch.items.append((claim, outcome))
        if len(batch.items) >= SUCCESS_BATCH_SIZE:
            self._flush(batch)
        await asyncio.shield(batch.written)

    def _flush(self, batch: "_Batch") -> None:
        if self.successes is batch:
            self.successes = None
        if not batch.writing:
            batch.writing = True
            # Held until done, so that the write is not collected while it runs.
            write = asyncio.ensure_future(self._write(batch))
            self.writes.add(write)
            write.add_done_callback(self.writes.discard)

    async def _write(self, batch: "_Batch") -> None:
        try:
            await record_successes(self.db, batch.items, utcnow())
            batch.written.set_result(None)
        except Exception as error:
            batch.written.set_exception(error)

    async def _drain(self) -> None:
        """Let in-flight deliveries finish for the grace period; give the rest back."""
        waiting = [claim for queue in self.waiting.values() for claim in queue]
        self.waiting.clear()
        pending = [task for _, task in self.in_flight.values()]
        if pending:
            await asyncio.wait(pending, timeout=self.settings.worker.shutdown_grace_seconds)
        unfinished = [claim for claim, task in self.in_flight.values() if not task.done()]
        for _, task in self.in_flight.values():
            task.cancel()
        await release(self.db, [*waiting, *unfinished])


@dataclass
class _Batch:
    written: asyncio.Future[None]
    items: list[tuple[Claim, Outcome]] = field(default_factory=list)
    writing: bool = False
