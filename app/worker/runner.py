"""The worker: fans events out to webhooks, delivers them, threads messages channels received, sends
replies back on channels, hands out tickets waiting in groups, announces SLA warnings and breaches,
and purges what has expired.

Any number of workers share one database: they claim work with FOR UPDATE SKIP LOCKED, wake on
LISTEN/NOTIFY and poll besides (a notification sent while no one listens is lost), and a
delivery held by a worker that died is taken over when its lease ends.
"""

import asyncio
import contextlib
import logging
import sys
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.assembly import assemble
from app.assignment.tasks import assign_waiting
from app.attachments.storage import storage_for
from app.attachments.tasks import purge_unattached
from app.channels.adapters.mail.listener import serve_smtp
from app.channels.tasks import send_due_replies, thread_due
from app.config import Settings
from app.db import Database
from app.errors import database_unavailable
from app.events.tasks import purge_expired
from app.kit.crypto import SecretBox
from app.kit.outbound import outbound_policy
from app.kit.time import utcnow
from app.sla.tasks import announce_due
from app.webhooks.tasks import (
    Claim,
    Outcome,
    claim_due,
    dispatch_events,
    record_outcome,
    record_successes,
    release,
    send,
)

logger = logging.getLogger(__name__)

EVENTS_CHANNEL = "helpdesk_events"
DELIVERIES_CHANNEL = "helpdesk_deliveries"
ASSIGNMENT_CHANNEL = "helpdesk_assignment"
INBOUND_CHANNEL = "helpdesk_inbound"
OUTBOUND_CHANNEL = "helpdesk_outbound"
MAINTENANCE_INTERVAL = timedelta(hours=1)
# Deliveries in flight per HTTP client, about.
CLIENT_SHARE = 8
# Deliveries claimed ahead per slot, so that a fast endpoint is not held up by claiming.
PREFETCH = 8
CLAIM_INTERVAL_SECONDS = 0.02
SUCCESS_BATCH_SECONDS = 0.02
SUCCESS_BATCH_SIZE = 200


class Worker:
    def __init__(self, db: Database, database_url: str, settings: Settings, secret_box: SecretBox) -> None:
        assemble()
        self.db = db
        self.database_url = database_url
        self.settings = settings
        self.secret_box = secret_box
        self.policy = outbound_policy(settings)
        self.events_arrived = asyncio.Event()
        self.deliveries_due = asyncio.Event()
        self.agents_available = asyncio.Event()
        self.messages_arrived = asyncio.Event()
        self.replies_queued = asyncio.Event()
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
        """Work until `stopping` is set; then stop claiming, finish or release what is in flight."""
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(self._client()) for _ in range(self._client_count())]
            loops = [
                asyncio.create_task(self._listen(stopping)),
                asyncio.create_task(self._dispatch(stopping)),
                asyncio.create_task(self._deliver(stopping, clients)),
                asyncio.create_task(self._maintain(stopping)),
                asyncio.create_task(self._assign(stopping)),
                asyncio.create_task(self._watch_sla(stopping)),
                asyncio.create_task(self._reply(stopping, clients[0])),
            ]
            threading = [
                asyncio.create_task(self._thread(stopping, clients[0]))
                for _ in range(self.settings.worker.inbound_concurrency)
            ]
            loops.extend(threading)
            if self.settings.email.listen:
                loops.append(asyncio.create_task(serve_smtp(self.db, self.settings, stopping)))
            await stopping.wait()
            # Messages being threaded finish within the grace period; cancelled, they would be rolled back.
            self.messages_arrived.set()
            grace = self.settings.worker.shutdown_grace_seconds
            await asyncio.gather(self._drain(), asyncio.wait(threading, timeout=grace))
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    def _client_count(self) -> int:
        # An httpx pool slows down sharply with the requests in flight in it, so deliveries are spread
        # over several small clients, each endpoint always on the same one.
        return max(1, self.settings.worker.concurrency // CLIENT_SHARE)

    def _client(self) -> httpx.AsyncClient:
        connections = CLIENT_SHARE * 2
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        # No proxies from the environment: deliveries connect to the addresses they checked.
        return httpx.AsyncClient(follow_redirects=False, trust_env=False, limits=limits)

    async def _listen(self, stopping: asyncio.Event) -> None:
        url = make_url(self.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        while not stopping.is_set():
            try:
                connection = await asyncpg.connect(url)
                await connection.add_listener(EVENTS_CHANNEL, lambda *_: self.events_arrived.set())
                await connection.add_listener(DELIVERIES_CHANNEL, lambda *_: self.deliveries_due.set())
                await connection.add_listener(ASSIGNMENT_CHANNEL, lambda *_: self.agents_available.set())
                await connection.add_listener(INBOUND_CHANNEL, lambda *_: self.messages_arrived.set())
                await connection.add_listener(OUTBOUND_CHANNEL, lambda *_: self.replies_queued.set())
                try:
                    while not stopping.is_set() and not connection.is_closed():
                        await _wait(stopping, self.settings.worker.poll_seconds)
                finally:
                    await connection.close()
            except Exception as error:
                # The connection failed or was lost (a database restart): poll, and listen again.
                logger.warning("listening for notifications failed, polling meanwhile: %r", error)
                await _wait(stopping, self.settings.worker.poll_seconds)

    async def _dispatch(self, stopping: asyncio.Event) -> None:
        # Events wait for older transactions to end before they are fanned out: look again soon.
        interval = min(self.settings.worker.poll_seconds, 0.2)
        while not stopping.is_set():
            self.events_arrived.clear()
            try:
                if await dispatch_events(self.db, utcnow()):
                    self.deliveries_due.set()
                    continue
            except Exception:
                _log_failure("dispatching events failed")
            await _wait(self.events_arrived, interval)

    async def _deliver(self, stopping: asyncio.Event, clients: list[httpx.AsyncClient]) -> None:
        settings = self.settings
        self.clients = clients
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
                    _log_failure("claiming deliveries failed")
                if stopping.is_set():
                    await release(self.db, claims)
                    return
                for claim in claims:
                    self.waiting[claim.webhook_id].append(claim)
                self._pump()
            if claims:
                # Let a few deliveries finish, so that the next claim is a batch, not one by one.
                await _wait(stopping, CLAIM_INTERVAL_SECONDS)
            else:
                await _wait(self.deliveries_due, settings.worker.poll_seconds)

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
            _log_failure("delivering %s failed", claim.delivery_id)

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

    async def _assign(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self.agents_available.clear()
            try:
                await assign_waiting(self.db, self.settings)
            except Exception:
                _log_failure("assigning waiting tickets failed")
            await _wait(self.agents_available, self.settings.worker.assignment_seconds)

    async def _watch_sla(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await announce_due(self.db, self.settings, utcnow())
            except Exception:
                _log_failure("announcing SLA warnings and breaches failed")
            await _wait(stopping, self.settings.worker.sla_seconds)

    async def _thread(self, stopping: asyncio.Event, client: httpx.AsyncClient) -> None:
        while not stopping.is_set():
            self.messages_arrived.clear()
            try:
                await thread_due(self.db, self.settings, self.secret_box, client, stopping)
            except Exception:
                _log_failure("threading inbound messages failed")
            await _wait(self.messages_arrived, self.settings.worker.poll_seconds)

    async def _reply(self, stopping: asyncio.Event, client: httpx.AsyncClient) -> None:
        while not stopping.is_set():
            self.replies_queued.clear()
            try:
                if await send_due_replies(self.db, self.settings, self.secret_box, client, self.policy):
                    continue
            except Exception:
                _log_failure("sending replies failed")
            await _wait(self.replies_queued, self.settings.worker.poll_seconds)

    async def _maintain(self, stopping: asyncio.Event) -> None:
        settings = self.settings
        retention = timedelta(days=settings.event_retention_days)
        upload_ttl = timedelta(hours=settings.attachment.unattached_ttl_hours)
        storage = storage_for(settings)
        while not stopping.is_set():
            try:
                now = utcnow()
                purged = await purge_expired(self.db, now, retention)
                purged += await purge_unattached(self.db, storage, now, upload_ttl)
                if purged:
                    logger.info("purged %d expired rows", purged)
            except Exception:
                _log_failure("purging expired rows failed")
            await _wait(stopping, MAINTENANCE_INTERVAL.total_seconds())


@dataclass
class _Batch:
    written: asyncio.Future[None]
    items: list[tuple[Claim, Outcome]] = field(default_factory=list)
    writing: bool = False


def _log_failure(message: str, *arguments: object) -> None:
    """A round of a loop failed: one line while the database is away (the next round tries again), the
    traceback otherwise."""
    error = sys.exc_info()[1]
    if error is not None and database_unavailable(error):
        logger.warning(f"{message}: the database is unavailable (%s)", *arguments, type(error).__name__)
    else:
        logger.exception(message, *arguments)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
