"""The service's own processes, started as deployments start them: `helpdesk serve` and `helpdesk worker`."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

HELPDESK = str(Path(sys.executable).with_name("helpdesk"))
# Rate limits no test reaches by chance (tests/test_rate_limits.py sets its own): the suite's clients all
# come from one address, and the fuzzing and chaos runs send thousands of requests with one key.
GENEROUS_RATE_LIMIT = 1_000_000
RATE_LIMIT_FIELDS = [
    f"{kind}_{measure}"
    for kind in ("credential", "workspace", "failed_auth", "channel", "portal")
    for measure in ("per_minute", "burst")
]
GENEROUS_RATE_LIMITS = {
    f"HELPDESK_RATE_LIMIT_{field.upper()}": str(GENEROUS_RATE_LIMIT) for field in RATE_LIMIT_FIELDS
}


def service_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a process set up like the tests' app, plus `settings` by variable name."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "HELPDESK_SECRET_KEY": "test-secret-key",
        "HELPDESK_WEBHOOK_ALLOW_HTTP": "true",
        "HELPDESK_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        "HELPDESK_WORKER_POLL_SECONDS": "0.2",
        "HELPDESK_WORKER_LEASE_SECONDS": "5",
        "HELPDESK_LOG_LEVEL": "warning",
        **GENEROUS_RATE_LIMITS,
        **settings,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ApiProcess:
    process: subprocess.Popen[bytes]
    url: str

    async def ready(self, within_seconds: float = 30) -> None:
        """Once the process answers /healthz (it fails the test if it does not)."""
        async with httpx.AsyncClient(base_url=self.url) as client:
            for _ in range(int(within_seconds * 10)):
                if self.process.poll() is not None:
                    raise AssertionError(f"helpdesk serve exited with {self.process.returncode}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"helpdesk serve at {self.url} did not become ready")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def start_api(
    database_url: str, port: int | None = None, log: Path | None = None, **settings: str
) -> ApiProcess:
    """`helpdesk serve` on 127.0.0.1, with no worker inside unless `settings` say so; its output goes to
    `log` when given."""
    port = port or free_port()
    env = service_env(database_url, **{"HELPDESK_WORKER_IN_API": "false", **settings})
    command = [HELPDESK, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if log is None:
        return ApiProcess(subprocess.Popen(command, env=env), f"http://127.0.0.1:{port}")  # noqa: S603 - our own command
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603 - our own command
    return ApiProcess(process, f"http://127.0.0.1:{port}")


def start_worker(database_url: str, **settings: str) -> subprocess.Popen[bytes]:
    """`helpdesk worker` as deployments run it."""
    return subprocess.Popen([HELPDESK, "worker"], env=service_env(database_url, **settings))  # noqa: S603 - our own command


@dataclass
class Server:
    url: str
    log: Path

    def errors(self) -> str:
        """What the server logged of its unhandled errors."""
        text = self.log.read_text(errors="replace")
        return text[text.find("unhandled error") :][-5000:] if "unhandled error" in text else ""
