"""Chat channel messages: how fast they are acknowledged, and how soon a worker threads them onto tickets.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one) in a fresh database, one
API process and one `helpdesk worker` process on it, and a chat channel. Each message has a new
`message_id`, from one of `--contacts` customers, each in a conversation of their own, so that some
messages open tickets and the others go on the conversation's ticket.

1. Before the worker starts, the cost of one message's threading transaction, timed in this process,
   one message at a time: statements, the time spent waiting for PostgreSQL, the CPU, for messages that
   open a ticket and for messages that go on an open one.
2. With the worker running, at a steady offered rate (open loop: messages go out on schedule whatever
   the answers, with a bound on those in flight), the latency of the 202 answer and the
   message-to-ticket time: from just before the POST to the first poll of the change feed
   (`ticket.comment_added`, whose comment carries the message's id) that shows the message threaded,
   within the run and a grace period.
3. At saturation (a fixed concurrency, after a warm-up), messages acknowledged per second and their
   latency, and how many the worker threaded per second meanwhile (their `processed_at`); then the
   worker's rate with the API idle, while the backlog lasts.
4. With the worker stopped, the acknowledgements at the steady rate again; then, for a Messenger and a
   Zalo channel, events signed as each provider signs them (`X-Hub-Signature-256`,
   `X-ZEvent-Signature`), at the steady rate and at saturation: what one API process accepts with
   valid signatures.

Meanwhile it samples what the database sessions are doing (`pg_stat_activity`) and the CPU each process
uses. Everything stays on 127.0.0.1; the database, and an embedded server's files, are removed after.
"""

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import random
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.assembly import assemble  # noqa: E402
from app.config import Settings  # noqa: E402
from app.kit.plain import PlainStatement  # noqa: E402
from bench.common import (  # noqa: E402
    Tenant,
    bench_database,
    call,
    percentile,
    plain,
    prepare,
    run_worker,
    saturate,
    serve_api,
    server_kind,
    server_version,
    table,
)

TOKEN = f"bench-chat-{secrets.token_hex(16)}"
APP_SECRET = secrets.token_hex(16)
OA_SECRET = secrets.token_hex(16)
PAGE_ID = "1646843870823903717"
ZALO_APP_ID = "50554360515256678"
CHANNELS = {
    "chat": {"kind": "chat", "name": "Chat website", "secrets": {"token": TOKEN}},
    "messenger": {
        "kind": "messenger",
        "name": "Trang Facebook",
        "settings": {"page_id": PAGE_ID},
        "secrets": {
            "app_secret": APP_SECRET,
            "verify_token": secrets.token_hex(8),
            "page_access_token": secrets.token_hex(16),
        },
    },
    "zalo": {
        "kind": "zalo",
        "name": "Zalo OA",
        "settings": {"app_id": ZALO_APP_ID},
        "secrets": {
            "oa_secret_key": OA_SECRET,
            "app_secret": secrets.token_hex(16),
            "access_token": secrets.token_hex(16),
            "refresh_token": secrets.token_hex(16),
        },
    },
}
TEXTS = [
    "Shop ơi, áo size M còn không ạ?",
    "Đơn hàng DH-10234 của em đặt từ thứ hai mà chưa thấy giao.",
    "Cho mình hỏi phí ship ra Đà Nẵng bao nhiêu?",
    "Em muốn đổi sang màu xanh được không shop?",
    "Mình chuyển khoản rồi nhé, shop kiểm tra giúp.",
    "Cảm ơn shop ạ!",
]


class Messages:
    """New messages from `contacts` customers, one conversation each (`phase` names the conversations),
    as the channel's kind sends them: a chat message, a Messenger Page event, a Zalo OA event."""

    def __init__(self, phase: str, contacts: int, seed: int, kind: str = "chat") -> None:
        self.phase = phase
        self.contacts = contacts
        self.random = random.Random(seed)
        self.count = 0
        self.kind = kind

    def next(self, contact: int | None = None) -> tuple[str, bytes]:
        self.count += 1
        who = self.random.randrange(self.contacts) if contact is None else contact
        message_id = f"{self.phase}-{self.count}"
        text = TEXTS[self.count % len(TEXTS)]
        sender = f"{9_000_000 + who}{self.phase.encode().hex()}"  # a numeric id per phase and customer
        now = int(time.time() * 1000)
        if self.kind == "messenger":
            event = {"sender": {"id": sender}, "recipient": {"id": PAGE_ID}, "timestamp": now}
            event["message"] = {"mid": message_id, "text": text}
            body: dict[str, Any] = {
                "object": "page",
                "entry": [{"id": PAGE_ID, "time": now, "messaging": [event]}],
            }
        elif self.kind == "zalo":
            body = {
                "app_id": ZALO_APP_ID,
                "event_name": "user_send_text",
                "timestamp": str(now),
                "sender": {"id": sender},
                "recipient": {"id": "579745863508352884"},
                "message": {"msg_id": message_id, "text": text},
            }
        else:
            body = {
                "message_id": message_id,
                "contact": {"id": f"khach-{who}", "name": f"Khách hàng {who}"},
                "conversation_id": f"{self.phase}-{who}",
                "text": text,
            }
        return message_id, json.dumps(body).encode()


@dataclass(frozen=True)
class Channel:
    base: str
    id: str
    kind: str = "chat"

    @property
    def url(self) -> str:
        path = {"chat": "messages", "messenger": "messenger", "zalo": "zalo"}[self.kind]
        return f"{self.base}/v1/channels/{self.id}/{path}"

    def headers(self, body: bytes) -> dict[str, str]:
        """What the provider sends with the body: the channel's token, or its signature of the body."""
        headers = {"Content-Type": "application/json"}
        if self.kind == "messenger":
            signature = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={signature}"
        elif self.kind == "zalo":
            timestamp = json.loads(body)["timestamp"]
            mac = hashlib.sha256(ZALO_APP_ID.encode() + body + timestamp.encode() + OA_SECRET.encode())
            headers["X-ZEvent-Signature"] = f"mac={mac.hexdigest()}"
        else:
            headers["Authorization"] = f"Bearer {TOKEN}"
        return headers


async def create_channel(base: str, tenant: Tenant, kind: str = "chat") -> Channel:
    async with aiohttp.ClientSession() as session:
        created = await call(session, base, tenant.admin_key, "POST", "/v1/channels", CHANNELS[kind])
    return Channel(base, created["id"], kind)


async def post(session: aiohttp.ClientSession, channel: Channel, body: bytes) -> bool:
    """POST one message; True when it was accepted as new."""
    async with session.post(channel.url, data=body, headers=channel.headers(body)) as response:
        answer = json.loads(await response.read())
        if channel.kind == "chat":
            return response.status == 202 and not answer["duplicate"]
        return response.status == 200 and answer == {"stored": 1}


# What the processes and the database sessions do


class CpuMeter:
    """CPU seconds of the API, the worker, this process and the PostgreSQL backends of the database."""

    def __init__(self, database: str, worker_pid: int | None) -> None:
        self.database = database
        me = psutil.Process()
        self.processes = {
            "api": next(child for child in me.children() if "serve" in child.cmdline()),
            "load generator": me,
        }
        if worker_pid is not None:
            self.processes["worker"] = psutil.Process(worker_pid)

    def _roles(self) -> Iterator[tuple[str, psutil.Process]]:
        yield from self.processes.items()
        for process in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if cmdline.startswith("postgres:") and f" {self.database} " in cmdline:
                yield "postgresql", process

    def snapshot(self) -> tuple[float, dict[int, tuple[str, float]], float]:
        taken: dict[int, tuple[str, float]] = {}
        for role, process in self._roles():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                taken[process.pid] = (role, times.user + times.system)
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return time.monotonic(), taken, busy

    @staticmethod
    def cores(before: tuple, after: tuple) -> dict[str, float]:
        """Cores used by each role between two snapshots, and by the whole machine."""
        started, first, busy_first = before
        ended, last, busy_last = after
        elapsed = ended - started
        used: Counter[str] = Counter()
        for pid, (role, seconds) in last.items():
            used[role] += seconds - (first[pid][1] if pid in first else 0.0)
        result = {role: round(seconds / elapsed, 2) for role, seconds in sorted(used.items())}
        result["machine"] = round((busy_last - busy_first) / elapsed, 2)
        result["other processes"] = round(max(0.0, result["machine"] - sum(used.values()) / elapsed), 2)
        return result


# A backend is the worker's once it ran one of these, the API's once it ran the other ones.
WORKER_SIGNS = ("pg_advisory_xact_lock", "SKIP LOCKED", "INSERT INTO comments")
API_SIGNS = ("INSERT INTO inbound_messages", "FROM api_keys")


@dataclass
class Sessions:
    """Samples of `pg_stat_activity`: what each backend of the database is doing, by whose it is."""

    url: str
    interval: float = 0.02
    owners: dict[int, str] = field(default_factory=dict)
    samples: Counter[tuple[str, str]] = field(default_factory=Counter)
    taken: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        connection = await asyncpg.connect(plain(self.url))
        try:
            while not stop.is_set():
                rows = await connection.fetch(
                    "SELECT pid, state, wait_event_type, wait_event, query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                )
                self.taken += 1
                for row in rows:
                    owner = self.owners.get(row["pid"])
                    query = row["query"] or ""
                    if owner is None:
                        if any(sign in query for sign in WORKER_SIGNS):
                            owner = self.owners[row["pid"]] = "worker"
                        elif any(sign in query for sign in API_SIGNS):
                            owner = self.owners[row["pid"]] = "api"
                    self.samples[(owner or "other", _doing(row))] += 1
                await asyncio.sleep(self.interval)
        finally:
            await connection.close()

    def summary(self) -> dict[str, dict[str, float]]:
        """For each owner, the average number of its backends in each state (over the samples)."""
        result: dict[str, dict[str, float]] = {}
        for (owner, doing), count in sorted(self.samples.items(), key=lambda item: -item[1]):
            average = count / max(1, self.taken)
            if average >= 0.01:
                result.setdefault(owner, {})[doing] = round(average, 2)
        return result


def _doing(row: asyncpg.Record) -> str:
    state = row["state"] or "?"
    if state == "active":
        kind, event = row["wait_event_type"], row["wait_event"]
        if kind == "Lock":
            # The lock's kind is known, not what it locks: the first words of the statement that waits.
            on = " ".join((row["query"] or "").split()[:4])
            return f"active, waiting {kind}:{event} ({on})"
        return f"active, waiting {kind}:{event}" if kind else "active, on CPU"
    if state == "idle" and row["wait_event"] == "ClientRead":
        return "idle"
    return state


@contextlib.asynccontextmanager
async def watching(url: str, meter: CpuMeter, into: dict[str, Any]):
    """Sample the sessions and the CPU while the block runs; the summaries go into `into`."""
    sessions = Sessions(url)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sessions.run(stop))
    before = meter.snapshot()
    try:
        yield
    finally:
        after = meter.snapshot()
        stop.set()
        await sampler
        into["cpu_cores"] = CpuMeter.cores(before, after)
        into["database_sessions"] = sessions.summary()


# 1. Steady rate


class Feed:
    """Polls the change feed for `ticket.comment_added`; the first time each message was seen threaded."""

    def __init__(self, base: str, key: str, interval: float) -> None:
        self.url = f"{base}/v1/events"
        self.headers = {"Authorization": f"Bearer {key}"}
        self.interval = interval
        self.seen: dict[str, float] = {}
        self.polls = 0
        self.awaited: set[str] | None = None
        self.all_seen = asyncio.Event()

    def expect(self, messages: set[str]) -> None:
        """`all_seen` is set once these messages have all been seen."""
        self.awaited = messages - self.seen.keys()
        self._check()

    def _check(self) -> None:
        if self.awaited is not None:
            self.awaited -= self.seen.keys()
            if not self.awaited:
                self.all_seen.set()

    async def run(self, stop: asyncio.Event) -> None:
        after: str | None = None
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                params = {"types": "ticket.comment_added", "limit": "200"}
                if after is not None:
                    params["after"] = after
                async with session.get(self.url, params=params, headers=self.headers) as response:
                    page = await response.json()
                    if response.status != 200:
                        raise RuntimeError(f"GET /v1/events: {response.status} {page}")
                now = time.perf_counter()
                self.polls += 1
                for event in page["items"]:
                    message_id = event["data"]["comment"].get("provider_message_id")
                    if message_id is not None:
                        self.seen.setdefault(message_id, now)
                after = page["next_cursor"] or after
                self._check()
                if len(page["items"]) < 200:
                    await asyncio.sleep(self.interval)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class Offered:
    """What an open-loop run sent: each measured message's moment just before its POST, the answers."""

    sent: dict[str, float] = field(default_factory=dict)
    acks: list[float] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)  # how long after its due time each POST began
    from_due: list[float] = field(default_factory=list)  # from the due time to the answer
    errors: int = 0
    end: float = 0.0  # when the last message was due

    def summary(self, rate: float, duration: float) -> dict[str, Any]:
        acks, lateness, from_due = sorted(self.acks), sorted(self.lateness), sorted(self.from_due)
        return {
            "offered_per_second": rate,
            "measured_s": duration,
            "messages": len(self.sent),
            "ack_errors": self.errors,
            "ack_p50_ms": _ms(statistics.median(acks)),
            "ack_p99_ms": _ms(percentile(acks, 0.99)),
            "ack_max_ms": _ms(acks[-1]),
            "send_lateness_p99_ms": _ms(percentile(lateness, 0.99)),
            "ack_from_due_p50_ms": _ms(statistics.median(from_due)),
            "ack_from_due_p99_ms": _ms(percentile(from_due, 0.99)),
        }


async def offer(
    channel: Channel, messages: Messages, rate: float, warmup: float, duration: float, max_in_flight: int
) -> Offered:
    """Messages at `rate` for warmup + duration, on schedule whatever the answers (at most
    `max_in_flight` at a time); those due after the warm-up are measured."""
    offered = Offered()
    slots = asyncio.Semaphore(max_in_flight)

    async def send(session: aiohttp.ClientSession, message_id: str, body: bytes, due: float, measured: bool):
        async with slots:
            started = time.perf_counter()
            if measured:
                offered.sent[message_id] = started
                offered.lateness.append(started - due)
            ok = await post(session, channel, body)
            answered = time.perf_counter()
        if measured:
            if ok:
                offered.acks.append(answered - started)
                offered.from_due.append(answered - due)
            else:
                offered.errors += 1

    connector = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = []
        due = time.perf_counter()
        measure_from = due + warmup
        offered.end = measure_from + duration
        while due < offered.end:
            message_id, body = messages.next()
            tasks.append(asyncio.create_task(send(session, message_id, body, due, due >= measure_from)))
            due += 1 / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        await asyncio.gather(*tasks)
    return offered


async def steady(
    channel: Channel,
    tenant: Tenant,
    messages: Messages,
    rate: float,
    warmup: float,
    duration: float,
    grace: float,
    max_in_flight: int,
    poll_interval: float,
) -> dict[str, Any]:
    """The acknowledgements of an open-loop run, and when the change feed showed each message threaded."""
    feed = Feed(channel.base, tenant.admin_key, poll_interval)
    stop = asyncio.Event()
    polling = asyncio.create_task(feed.run(stop))
    offered = await offer(channel, messages, rate, warmup, duration, max_in_flight)
    feed.expect(set(offered.sent))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(feed.all_seen.wait(), max(0.0, offered.end + grace - time.perf_counter()))
    stop.set()
    await polling

    threaded = sorted(
        feed.seen[message] - moment for message, moment in offered.sent.items() if message in feed.seen
    )
    # Messages not seen threaded count as slower than any seen one.
    everything = threaded + [float("inf")] * (len(offered.sent) - len(threaded))

    def at(fraction: float) -> float | None:
        value = percentile(everything, fraction)
        return None if value == float("inf") else value

    return {
        **offered.summary(rate, duration),
        "grace_s": grace,
        "threaded_within_grace": len(threaded),
        "threaded_within_1s": sum(1 for value in threaded if value <= 1.0),
        "to_ticket_p50_ms": _ms(at(0.5)),
        "to_ticket_p99_ms": _ms(at(0.99)),
        "to_ticket_max_ms": _ms(threaded[-1]) if threaded else None,
        "feed_polls": feed.polls,
    }


# 2. Saturation


async def processed_between(url: str, started: float, ended: float) -> int:
    connection = await asyncpg.connect(plain(url))
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM inbound_messages WHERE state = 'processed' "
            "AND processed_at >= to_timestamp($1) AND processed_at < to_timestamp($2)",
            started,
            ended,
        )
    finally:
        await connection.close()


async def waiting(url: str) -> int:
    connection = await asyncpg.connect(plain(url))
    try:
        return await connection.fetchval("SELECT count(*) FROM inbound_messages WHERE state = 'received'")
    finally:
        await connection.close()


async def saturation(
    url: str, channel: Channel, messages: Messages, concurrency: int, warmup: float, duration: float
) -> dict[str, Any]:
    async def one(session: aiohttp.ClientSession, _: int) -> bool:
        return await post(session, channel, messages.next()[1])

    run = await saturate(one, concurrency, warmup, duration)
    threaded = await processed_between(url, run.started, run.ended)
    return {
        "concurrency": concurrency,
        "measured_s": duration,
        "acks_per_second": run.result["requests_per_second"],
        "ack_p50_ms": run.result["p50_ms"],
        "ack_p99_ms": run.result["p99_ms"],
        "acks": run.result["requests"],
        "ack_errors": run.result["errors"],
        "threaded_per_second": round(threaded / (run.ended - run.started), 1),
        "waiting_at_end": await waiting(url),
        "ended": run.ended,
    }


async def afterwards(url: str, since: float, seconds: float) -> dict[str, Any]:
    """The worker's rate with the API idle, while the backlog the saturation left lasts."""
    await asyncio.sleep(seconds)
    ended = time.time()
    return {
        "measured_s": seconds,
        "threaded_per_second": round(await processed_between(url, since, ended) / (ended - since), 1),
        "waiting_at_end": await waiting(url),
    }


async def measure(url: str, channel: Channel, tenant: Tenant, worker_pid: int, args) -> dict[str, Any]:
    meter = CpuMeter(make_url(url).database, worker_pid)
    result: dict[str, Any] = {}
    result["steady"] = {}
    async with watching(url, meter, result["steady"]):
        result["steady"].update(
            await steady(
                channel,
                tenant,
                Messages("r", args.contacts, seed=1),
                args.rate,
                args.warmup,
                args.duration,
                args.grace,
                args.max_in_flight,
                args.poll_interval,
            )
        )

    result["saturation"] = {}
    async with watching(url, meter, result["saturation"]):
        result["saturation"].update(
            await saturation(
                url,
                channel,
                Messages("s", args.contacts, seed=2),
                args.concurrency,
                args.warmup,
                args.saturation_duration,
            )
        )
    since = result["saturation"].pop("ended")
    result["worker_alone"] = {}
    async with watching(url, meter, result["worker_alone"]):
        result["worker_alone"].update(await afterwards(url, since, args.alone))
    return result


async def acks_alone(url: str, channel: Channel, args) -> dict[str, Any]:
    """The steady rate's acknowledgements with the worker stopped and no feed polled."""
    result: dict[str, Any] = {}
    async with watching(url, CpuMeter(make_url(url).database, None), result):
        offered = await offer(
            channel,
            Messages("a", args.contacts, seed=5, kind=channel.kind),
            args.rate,
            args.warmup,
            args.acks_alone,
            args.max_in_flight,
        )
        result.update(offered.summary(args.rate, args.acks_alone))
    return result


async def signed(url: str, base: str, tenant: Tenant, args) -> dict[str, Any]:
    """Messenger's and Zalo's signed events, with the worker stopped: at the steady rate, then at
    saturation."""
    result: dict[str, Any] = {}
    for kind in ("messenger", "zalo"):
        channel = await create_channel(base, tenant, kind)
        steady_run = await acks_alone(url, channel, args)
        full = await saturation(
            url,
            channel,
            Messages("f", args.contacts, seed=6, kind=kind),
            args.concurrency,
            args.warmup,
            args.saturation_duration,
        )
        result[kind] = {"steady": steady_run, "saturation": full}
    return result


# 3. One message's transaction


@dataclass
class Timings:
    transactions: list[tuple[float, int, float]] = field(default_factory=list)  # wall, statements, in PG
    _started: float = 0.0
    _statements: int = 0
    _waiting: float = 0.0
    _statement_started: float = 0.0
    statements: Counter[str] = field(default_factory=Counter)  # time in each kind of statement
    counts: Counter[str] = field(default_factory=Counter)

    def listen(self, engine: Any) -> None:
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)
        event.listen(Session, "after_begin", self._begin)
        event.listen(Session, "after_commit", self._commit)
        # The statements run on the driver's connection directly count as much.
        run_plain = PlainStatement.fetchrow

        async def counted(statement: PlainStatement, session: Any, parameters: Any) -> Any:
            self._before()
            try:
                return await run_plain(statement, session, parameters)
            finally:
                self._after(None, None, statement.sql)

        PlainStatement.fetchrow = counted  # type: ignore[method-assign]

    def _begin(self, *_: Any) -> None:
        self._started = time.perf_counter()
        self._statements = 0
        self._waiting = 0.0

    def _before(self, *_: Any) -> None:
        self._statement_started = time.perf_counter()

    def _after(self, _connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        spent = time.perf_counter() - self._statement_started
        self._statements += 1
        self._waiting += spent
        kind = " ".join(statement.split())[:90]
        self.statements[kind] += spent
        self.counts[kind] += 1

    def _commit(self, *_: Any) -> None:
        if self._statements > 1:  # not the last claim, which found nothing
            self.transactions.append((time.perf_counter() - self._started, self._statements, self._waiting))


async def profile(url: str, channel: Channel, count: int, contacts: int, secret_key: str) -> dict[str, Any]:
    """Thread messages one at a time in this process, before the worker starts: first `count` // 2 that
    open tickets (new customers), then as many again on those tickets."""
    from app.channels.tasks import thread_due
    from app.db import create_database
    from app.kit.crypto import SecretBox

    assemble()  # threading runs here, as a worker runs it
    settings = Settings()
    secret_box = SecretBox([secret_key])
    db = create_database(url, settings)
    timings = Timings()
    timings.listen(db.engine)
    messages = Messages("p", contacts, seed=3)
    result: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as session:
            for name in ("opens a ticket", "goes on an open ticket"):
                for contact in range(count // 2):
                    assert await post(session, channel, messages.next(contact)[1])
                timings.transactions.clear()
                timings.statements.clear()
                timings.counts.clear()
                cpu = time.process_time()
                started = time.perf_counter()
                threaded = await thread_due(db, settings, secret_box)
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu
                walls = sorted(wall for wall, _, _ in timings.transactions)
                slowest = timings.statements.most_common(3)
                result[name] = {
                    "messages": threaded,
                    "per_second_one_at_a_time": round(threaded / elapsed, 1),
                    "transaction_p50_ms": _ms(statistics.median(walls)),
                    "transaction_p99_ms": _ms(percentile(walls, 0.99)),
                    "statements": round(statistics.mean(s for _, s, _ in timings.transactions), 1),
                    "waiting_for_postgresql_ms": _ms(statistics.mean(w for _, _, w in timings.transactions)),
                    "cpu_here_ms": _ms(cpu / threaded),
                    "slowest_statements": [
                        {
                            "statement": kind,
                            "per_message_ms": _ms(spent / threaded),
                            "runs": timings.counts[kind],
                        }
                        for kind, spent in slowest
                    ],
                }
    finally:
        await db.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second offered (steady run)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured at that rate")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait for the last threadings")
    parser.add_argument("--max-in-flight", type=int, default=64, help="messages in flight at most (steady)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (saturation)")
    parser.add_argument("--saturation-duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each measurement")
    parser.add_argument("--alone", type=float, default=10.0, help="seconds of the worker alone after")
    parser.add_argument(
        "--acks-alone", type=float, default=10.0, help="seconds at --rate with the worker stopped, at the end"
    )
    parser.add_argument("--contacts", type=int, default=2000, help="customers, one conversation each")
    parser.add_argument("--profile", type=int, default=400, help="messages threaded here, one at a time")
    parser.add_argument("--poll-interval", type=float, default=0.02, help="change feed poll, when idle (s)")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="the worker's niceness: above 0, the API goes first when they want the same CPU",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    secret_key = secrets.token_hex(16)
    with bench_database() as url:
        version = asyncio.run(server_version(url))
        tenant = asyncio.run(prepare(url, 1))[0]
        with serve_api(url, 1, HELPDESK_SECRET_KEY=secret_key) as base:
            channel = asyncio.run(create_channel(base, tenant))
            one_message = asyncio.run(profile(url, channel, args.profile, args.contacts, secret_key))
            with run_worker(url, HELPDESK_SECRET_KEY=secret_key) as worker:
                os.setpriority(os.PRIO_PROCESS, worker.pid, args.worker_nice)
                result = asyncio.run(measure(url, channel, tenant, worker.pid, args))
            result["acks_without_worker"] = asyncio.run(acks_alone(url, channel, args))
            result["signed"] = asyncio.run(signed(url, base, tenant, args))
    result = {
        "database": server_kind(),
        "postgresql": version,
        "api_processes": 1,
        "worker_processes": 1,
        "worker_nice": args.worker_nice,
        "contacts": args.contacts,
        **result,
        "one_message": one_message,
    }
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    report(result)


def report(result: dict[str, Any]) -> None:
    run, full, alone = result["steady"], result["saturation"], result["worker_alone"]
    bare = result["acks_without_worker"]
    niced = f" (nice {result['worker_nice']})" if result["worker_nice"] else ""
    print(f"PostgreSQL {result['postgresql']} ({result['database']}), 1 API process, 1 worker{niced}")
    print()
    print(
        table(
            ["load", "acks/s", "ack p50 ms", "ack p99 ms", "threaded/s", "to ticket p50 ms", "p99 ms"],
            [
                [
                    f"{run['offered_per_second']:g}/s offered, {run['measured_s']:g} s",
                    round(run["messages"] / run["measured_s"], 1),
                    run["ack_p50_ms"],
                    run["ack_p99_ms"],
                    "",
                    run["to_ticket_p50_ms"] or "not threaded",
                    run["to_ticket_p99_ms"] or "not threaded",
                ],
                [
                    f"saturation, {full['concurrency']} in flight, {full['measured_s']:g} s",
                    full["acks_per_second"],
                    full["ack_p50_ms"],
                    full["ack_p99_ms"],
                    full["threaded_per_second"],
                    "",
                    "",
                ],
                ["worker alone", "", "", "", alone["threaded_per_second"], "", ""],
                [
                    f"{bare['offered_per_second']:g}/s offered, no worker, {bare['measured_s']:g} s",
                    round(bare["messages"] / bare["measured_s"], 1),
                    bare["ack_p50_ms"],
                    bare["ack_p99_ms"],
                    "",
                    "",
                    "",
                ],
            ],
        )
    )
    print(
        f"steady: {run['threaded_within_grace']} of {run['messages']} threaded within the run and "
        f"{run['grace_s']:g} s, {run['threaded_within_1s']} within 1 s; ack errors {run['ack_errors']}"
    )
    for name, offered in (("with the worker", run), ("without it", bare)):
        print(
            f"{name}: POSTs began up to {offered['send_lateness_p99_ms']} ms late (p99), acks from the due "
            f"time p50 {offered['ack_from_due_p50_ms']} ms, p99 {offered['ack_from_due_p99_ms']} ms"
        )
    print(f"waiting: {full['waiting_at_end']} after the saturation, {alone['waiting_at_end']} after that")
    print()
    phases = ("steady", "saturation", "worker_alone", "acks_without_worker")
    roles = ("api", "worker", "postgresql", "load generator", "other processes", "machine")
    print(
        table(
            ["CPU cores used", *roles],
            [[phase, *(result[phase]["cpu_cores"].get(role, 0.0) for role in roles)] for phase in phases],
        )
    )
    print()
    for name in phases:
        print(f"database sessions, {name} (average backends in each state):")
        for owner, states in result[name]["database_sessions"].items():
            print(f"    {owner}: " + ", ".join(f"{state} {count}" for state, count in states.items()))
    print()
    print(
        table(
            ["one message at a time", "msg/s", "txn p50 ms", "p99 ms", "statements", "in PG ms", "CPU ms"],
            [
                [
                    name,
                    timing["per_second_one_at_a_time"],
                    timing["transaction_p50_ms"],
                    timing["transaction_p99_ms"],
                    timing["statements"],
                    timing["waiting_for_postgresql_ms"],
                    timing["cpu_here_ms"],
                ]
                for name, timing in result["one_message"].items()
            ],
        )
    )

    for name, timing in result["one_message"].items():
        print(f"{name}, the statements that take longest (per message):")
        for slow in timing["slowest_statements"]:
            print(f"    {slow['per_message_ms']} ms ({slow['runs']} runs): {slow['statement']}")
    print()
    print(
        table(
            ["signed events, no worker", "acks/s", "ack p50 ms", "ack p99 ms", "api CPU cores"],
            [
                row
                for kind, runs in result["signed"].items()
                for row in (
                    [
                        f"{kind}: {runs['steady']['offered_per_second']:g}/s offered",
                        round(runs["steady"]["messages"] / runs["steady"]["measured_s"], 1),
                        runs["steady"]["ack_p50_ms"],
                        runs["steady"]["ack_p99_ms"],
                        runs["steady"]["cpu_cores"]["api"],
                    ],
                    [
                        f"{kind}: saturation, {runs['saturation']['concurrency']} in flight",
                        runs["saturation"]["acks_per_second"],
                        runs["saturation"]["ack_p50_ms"],
                        runs["saturation"]["ack_p99_ms"],
                        "",
                    ],
                )
            ],
        )
    )


if __name__ == "__main__":
    main()
