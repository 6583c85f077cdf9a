"""A noisy neighbour: workspace A sends ten times its rate limit while workspace B creates tickets as usual.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one) in a fresh database and
serves the API with one process per core, with the service's rate limits (those of the environment, else
the defaults). B creates tickets at a steady rate with one key, well under its limits (open loop: on
schedule whatever the answers). A creates tickets with several keys at ten times its workspace's limit
(so that the workspace's bucket, not a key's, is the one that refuses). Each phase is measured for
`--duration` seconds after a warm-up:

1. B alone;
2. B while A floods;
3. B while A floods, with the limits turned off (the API served again): what the limits spare B.

It prints B's latency (p50, p95) and its 429s in each phase, and what A's requests got. Everything stays
on 127.0.0.1; the database, and an embedded server's files, are removed after.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import RateLimitSettings, Settings  # noqa: E402
from app.db import create_database  # noqa: E402
from bench.common import BODY, Tenant, bench_database, percentile, prepare, serve_api, server_kind  # noqa: E402

# Requests in flight per sender at most: past it the sender waits, so that a stalled server does not
# pile up connections on this machine.
MAX_IN_FLIGHT = 256


@dataclass
class Sender:
    """Open-loop ticket creations, round-robin over `keys`, at `rate` a second."""

    keys: list[str]
    requester_id: UUID
    rate: float
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    async def run(self, base: str, warmup: float, duration: float) -> None:
        payload = json.dumps({**BODY, "requester_id": str(self.requester_id)}).encode()
        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def create(key: str, measured: bool) -> None:
                headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
                started = time.perf_counter()
                try:
                    async with session.post(f"{base}/v1/tickets", data=payload, headers=headers) as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:
                    status = 0
                finally:
                    in_flight.release()
                if measured:
                    self.statuses[status] += 1
                    if status == 201:
                        self.latencies.append(time.perf_counter() - started)

            tasks = []
            begun = time.perf_counter()
            next_at = begun
            sent = 0
            while next_at < begun + warmup + duration:
                await in_flight.acquire()
                measured = next_at >= begun + warmup
                tasks.append(asyncio.create_task(create(self.keys[sent % len(self.keys)], measured)))
                sent += 1
                next_at += 1 / self.rate
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            await asyncio.gather(*tasks)

    def summary(self, duration: float) -> dict:
        ordered = sorted(self.latencies)
        return {
            "sent_per_second": round(sum(self.statuses.values()) / duration, 1),
            "created_per_second": round(self.statuses[201] / duration, 1),
            "rate_limited": self.statuses[429],
            "statuses": dict(sorted(self.statuses.items())),
            "p50_ms": round(percentile(ordered, 0.5) * 1000, 1) if ordered else None,
            "p95_ms": round(percentile(ordered, 0.95) * 1000, 1) if ordered else None,
        }


async def more_keys(url: str, workspace_id: UUID, count: int) -> list[str]:
    """`count` more agent keys of the workspace."""
    from app.auth.service import issue_api_key
    from app.models.enums import Role

    database = create_database(url, Settings())
    async with database.sessionmaker() as session, session.begin():
        keys = [
            (await issue_api_key(session, workspace_id, f"flood {n}", Role.agent)).plaintext
            for n in range(count)
        ]
    await database.dispose()
    return keys


async def phase(base: str, quiet: Sender, flood: Sender | None, warmup: float, duration: float) -> dict:
    senders = [quiet] if flood is None else [quiet, flood]
    await asyncio.gather(*(sender.run(base, warmup, duration) for sender in senders))
    result = {"b": quiet.summary(duration)}
    if flood is not None:
        result["a"] = flood.summary(duration)
    return result


def limits_env(limits: RateLimitSettings) -> dict[str, str]:
    return {
        f"HELPDESK_RATE_LIMIT_{name.upper()}": str(value).lower()
        for name, value in limits.model_dump().items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per phase")
    # Long enough for A to have spent the burst its buckets start with.
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="API processes")
    parser.add_argument("--quiet-rate", type=float, default=5.0, help="B's ticket creations a second")
    parser.add_argument("--flood-keys", type=int, default=4, help="A's keys")
    parser.add_argument("--flood-factor", type=float, default=10.0, help="A's rate, in times its limit")
    args = parser.parse_args()
    limits = RateLimitSettings()
    flood_rate = args.flood_factor * limits.workspace_per_minute / 60
    if args.quiet_rate * 60 >= min(limits.credential_per_minute, limits.workspace_per_minute):
        parser.error("--quiet-rate must stay under B's limits")

    def senders(a: Tenant, a_keys: list[str], b: Tenant) -> tuple[Sender, Sender]:
        return Sender([b.key], b.requester_id, args.quiet_rate), Sender(a_keys, a.requester_id, flood_rate)

    with bench_database() as url:
        a, b = asyncio.run(prepare(url, 2, name="Noisy neighbour"))
        a_keys = [a.key, *asyncio.run(more_keys(url, a.workspace_id, args.flood_keys - 1))]
        results = {}
        with serve_api(url, args.workers, **limits_env(limits)) as base:
            quiet, _ = senders(a, a_keys, b)
            results["b_alone"] = asyncio.run(phase(base, quiet, None, args.warmup, args.duration))
            quiet, flood = senders(a, a_keys, b)
            results["b_while_a_floods"] = asyncio.run(phase(base, quiet, flood, args.warmup, args.duration))
        unlimited = limits.model_copy(update={"enabled": False})
        with serve_api(url, args.workers, **limits_env(unlimited)) as base:
            quiet, flood = senders(a, a_keys, b)
            results["b_while_a_floods_limits_off"] = asyncio.run(
                phase(base, quiet, flood, args.warmup, args.duration)
            )
    print(
        json.dumps(
            {
                "database": server_kind(),
                "api_processes": args.workers,
                "limits": {
                    "credential": f"{limits.credential_per_minute}/min, burst {limits.credential_burst}",
                    "workspace": f"{limits.workspace_per_minute}/min, burst {limits.workspace_burst}",
                },
                "a_keys": args.flood_keys,
                "a_offered_per_second": round(flood_rate, 1),
                "b_offered_per_second": args.quiet_rate,
                "duration_s": args.duration,
                **results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
