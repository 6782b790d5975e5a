"""What the benchmarks share: a free port, a database loaded with the large office, an app
server in a subprocess, signing in, and a small asyncio load generator with latency figures."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "mentorcircle-demo"  # noqa: S105 - the demo's
STAFF_EMAIL = "office.lead@large.example.org"
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(var: Path, database_url: str) -> dict[str, str]:
    """The settings every process of a benchmark shares (secret key, database, no dispatcher:
    the data stays as loaded)."""
    return {
        **os.environ,
        "MENTORCIRCLE_VAR_DIR": str(var),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key",
        "MAIL_FROM": "office@example.org",
        "DISPATCH_IN_APP": "false",
        "PYTHONPATH": str(ROOT),
    }


def loopback_only(url: str) -> None:
    """Benchmarks load data into and create databases on this machine's server only."""
    host = urlsplit(url).hostname or ""
    if host not in {"localhost", "::1"} and not host.startswith("127."):
        raise SystemExit(f"--postgres must name a server on this machine (got {host!r})")


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database `url` names if the server has none of that name (through
    the server's `postgres` database), so that `--postgres .../bench` works on a new machine."""
    import asyncpg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")

    async def create() -> None:
        try:
            await (await asyncpg.connect(url)).close()
            return
        except asyncpg.InvalidCatalogNameError:
            pass
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise SystemExit(f"--postgres: no database {name!r}, and not a name this creates")
        admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        print(f"created the PostgreSQL database {name!r}", flush=True)

    asyncio.run(create())


def run_cli(env: dict[str, str], *args: str) -> str:
    """`mentorcircle ARGS` in a subprocess with `env`; its output."""
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"mentorcircle {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@asynccontextmanager
async def server(
    env: dict[str, str], app: str, port: int, *, factory: bool = True
) -> AsyncIterator[str]:
    """uvicorn serving `app` on 127.0.0.1:`port` (one process, no access log, the same settings
    for every app measured); yields its base URL once it answers."""
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    if factory:
        command.append("--factory")
    process = await asyncio.create_subprocess_exec(*command, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(600):
                if process.returncode is not None:
                    raise RuntimeError(f"{app} exited with {process.returncode}")
                try:
                    await client.get("/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"{app} did not start")
        yield base
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def sign_in(client: httpx.AsyncClient, email: str = STAFF_EMAIL) -> None:
    """Sign `client` in with the demo password (its cookies then carry the session)."""
    page = await client.get("/sign-in")
    match = _CSRF.search(page.text)
    assert match, "no CSRF field on /sign-in"
    response = await client.post(
        "/sign-in", data={"email": email, "password": PASSWORD, "_csrf_token": match.group(1)}
    )
    assert response.status_code in (302, 303), f"sign-in failed: {response.status_code}"


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """One HTTP/1.1 request on a kept-alive connection; the status (the body is read, whole)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        await reader.readexactly(length)
    elif chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def load(
    base: str,
    path: str,
    *,
    clients: int = 20,
    seconds: float = 5.0,
    warmup: float = 1.0,
    cookie: str = "",
) -> Load:
    """`clients` concurrent clients, each on one kept-alive connection, requesting `path` as
    fast as the answers come, for `seconds` after a warm-up: requests per second, latencies,
    and how many answers were not 200. A raw asyncio HTTP/1.1 client: httpx would use more of
    the machine than the server it measures."""
    host, port = base.removeprefix("http://").split(":")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if cookie:
        request += f"Cookie: {cookie}\r\n"
    raw = (request + "\r\n").encode()
    latencies: list[float] = []
    errors = 0
    began = time.perf_counter() + warmup  # requests started before this are the warm-up's
    stop_at = began + seconds

    async def client() -> None:
        # One connection for the warm-up and the measurement: cancelling warm-up clients would
        # leave the server finishing their requests while the measured ones wait.
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while True:
                started = time.perf_counter()
                if started >= stop_at:
                    return
                status = await _exchange(reader, writer, raw)
                if started >= began:
                    latencies.append(time.perf_counter() - started)
                    errors += status != 200
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    latencies.sort()
    return Load(
        requests=len(latencies),  # started in the measured seconds: the rate is theirs
        seconds=seconds,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        errors=errors,
    )


def cookie_header(client: httpx.AsyncClient) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


async def run_lifespan(app: Any, body: Callable[[], Awaitable[None]]) -> None:
    """Run `body` with an ASGI app's lifespan entered (startup and shutdown in this task)."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set_result(None)
        elif message["type"] == "lifespan.startup.failed":
            started.set_exception(RuntimeError(message.get("message", "startup failed")))
        elif message["type"].startswith("lifespan.shutdown"):
            stopped.set_result(None)

    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, send)
    )
    await inbox.put({"type": "lifespan.startup"})
    await started
    try:
        await body()
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await stopped
        await task
