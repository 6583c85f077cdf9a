"""PgBouncer in transaction pooling mode in front of the test database, as production may run one.

Debian's `pgbouncer` (`make test` installs it when it is missing), started by the tests as a process of
their own on a free port of 127.0.0.1 with a generated configuration, and stopped after them: never the
system's service.
"""

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy.engine import make_url

from tests.processes import free_port

STARTUP_SECONDS = 10
# Server connections PgBouncer opens to the database: fewer than the client connections of one app (its
# pool and overflow), so that the tests' traffic has to share them transaction by transaction.
SERVER_POOL_SIZE = 3
# What the service leaves to the pooled connections' own settings behind PgBouncer (README: PgBouncer).
SERVER_SETTINGS_QUERY = "SET statement_timeout = 30000; SET client_connection_check_interval = 1000"


def pgbouncer_executable() -> str:
    """The pgbouncer program, or a failure that says how to get it (the tests never skip for want of it)."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise AssertionError(
            "PgBouncer is not installed: `apt-get install -y pgbouncer` (make test installs it when it can)"
        )
    return found


@dataclass
class PgBouncer:
    port: int
    database: str
    user: str
    # The test database through PgBouncer, as DATABASE_URL names it.
    url: str
    log: Path

    def show(self, what: str) -> list[dict[str, Any]]:
        """`SHOW <what>` of the admin console, the rows of this database only (POOLS, STATS, …)."""
        # The console speaks the simple query protocol only: a client-side binding cursor sends that.
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname="pgbouncer",
            user=self.user,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
            row_factory=dict_row,
        ) as console:
            rows = console.execute(f"SHOW {what}").fetchall()
        return [row for row in rows if row.get("database") == self.database]

    def logged(self) -> str:
        return self.log.read_text(errors="replace")


def _server_host(database_url: str) -> str:
    """The server's address, or the directory of its Unix socket (the embedded server's, named in the
    query: `?host=/…`)."""
    server = make_url(database_url)
    return server.host or str(server.query.get("host") or "") or "127.0.0.1"


def _unprivileged_user(host: str) -> str:
    """Who PgBouncer runs as when the tests run as root, which it refuses to run as: the owner of the
    server's socket directory when it is reached that way (no one else may enter it), else nobody."""
    if host.startswith("/"):
        return pwd.getpwuid(os.stat(host).st_uid).pw_name
    return "nobody"


def _configuration(database_url: str, port: int, directory: Path, connect_query: str) -> tuple[str, str]:
    """PgBouncer's ini for the database of `database_url`, and the user it logs in as."""
    server = make_url(database_url)
    user = server.username or "postgres"
    host = _server_host(database_url)
    target = [
        f"host={host}",
        f"port={server.port or 5432}",
        f"dbname={server.database}",
        f"user={user}",
        f"pool_size={SERVER_POOL_SIZE}",
        f"connect_query='{connect_query}'",
    ]
    if server.password:
        target.append(f"password={server.password}")
    auth_file = directory / "users.txt"
    auth_file.write_text(f'"{user}" ""\n')
    ini = f"""\
[databases]
{server.database} = {" ".join(target)}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
; The tests' clients are on this machine; PgBouncer logs in to the server as the test URL says.
auth_type = trust
auth_file = {auth_file}
admin_users = {user}
pool_mode = transaction
default_pool_size = {SERVER_POOL_SIZE}
max_client_conn = 500
; A client that waits this long for a server connection fails, rather than the test hanging.
query_wait_timeout = 30
log_connections = 1
log_disconnections = 0
"""
    return ini, user


def _accepting(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@contextlib.contextmanager
def running_pgbouncer(
    database_url: str, directory: Path, connect_query: str = SERVER_SETTINGS_QUERY
) -> Iterator[PgBouncer]:
    """PgBouncer pooling transactions to the database of `database_url` until the block ends; its server
    connections run `connect_query` as they open."""
    executable = pgbouncer_executable()
    port = free_port()
    ini, user = _configuration(database_url, port, directory, connect_query)
    config = directory / "pgbouncer.ini"
    config.write_text(ini)
    log = directory / "pgbouncer.log"
    command = [executable, str(config)]
    if os.geteuid() == 0:
        # It reads its configuration before it gives up root.
        command[1:1] = ["-u", _unprivileged_user(_server_host(database_url))]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603 - our own command
    database = make_url(database_url).database or ""
    pooled = (
        make_url(database_url)
        .difference_update_query(["host"])
        .set(host="127.0.0.1", port=port, password=None)
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _accepting(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"PgBouncer did not start: {log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield PgBouncer(port, database, user, pooled.render_as_string(hide_password=False), log)
    finally:
        process.terminate()  # SIGTERM: PgBouncer shuts down at once, closing its connections
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
