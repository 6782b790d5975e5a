"""Load and concurrency: concurrent clients mixing reads and writes against the real app.

On SQLite, one app process under uvicorn; with --postgres, two app processes on two ports
sharing that database, the clients spread across both. For a bounded time, every client does,
one request after another, a random mix of:

  reads   the dashboard, a cohort page, the case library (pages, signed in), a cohort (API);
  writes  attendance marks (PUT /api/sessions/{id}/attendance), discussion notes
          (POST /api/sessions/{id}/notes, PATCH /api/notes/{id} with base_revision), roster
          additions (POST /api/cohorts/{id}/participants).

Then every write is read back through the API (from the other process on PostgreSQL): each
enrollment on its roster, each attendance mark on its sheet, each note save as its revision.
Everything runs on loopback, and the run stops by itself. The outbox dispatcher runs inside the
app(s), as it does by default, and sends the invitations the roster additions queue to a local
folder.

    .venv/bin/python bench/load.py                          # SQLite: 60 s, 50 clients
    .venv/bin/python bench/load.py --seconds 10 --clients 20
    .venv/bin/python bench/load.py --postgres postgresql://postgres@127.0.0.1:5432/loadtest

The PostgreSQL database must exist; it is migrated and gets the demo organization (idempotent)
and new cohorts named for the run. Use a database for tests. Exit status 0 when there was no
error and every write was read back; 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ensure_postgres_database, loopback_only  # noqa: E402

FACILITATOR = "amara.okafor@example.org"  # the demo's: writes go through her API token
READERS = ("amara.okafor@example.org", "priya.natarajan@example.org", "hannah.brooks@example.edu")
DEMO_PASSWORD = "mentorcircle-demo"  # noqa: S105 - the demo's, printed by `mentorcircle demo`
CLIENTS_PER_COHORT = 5
SESSIONS_PER_COHORT = 8
CASES_PER_SESSION = 3
SEARCH_WORDS = ("mentor", "authorship", "expectations", "feedback", "")
# Operation weights: 45% reads, 55% writes.
WEIGHTS = {
    "dashboard": 12,
    "cohort_page": 12,
    "library": 11,
    "cohort_api": 10,
    "attendance": 20,
    "note_create": 10,
    "note_patch": 15,
    "roster_add": 10,
}
STATUSES = ("present", "late", "left_early", "absent", "excused")
LOG_PROBLEMS = re.compile(r"Traceback|database is locked|\bERROR\b|Exception in ASGI", re.I)
_CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


# -- results ----------------------------------------------------------------------------------


@dataclass
class Stats:
    """What the clients saw: every request's latency, and the errors (with a few samples)."""

    latencies: list[float] = field(default_factory=list)
    by_label: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def took(self, label: str, seconds: float) -> None:
        self.latencies.append(seconds)
        self.by_label.setdefault(label, []).append(seconds)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.samples) < 10:
            self.samples.append(text)


@dataclass
class Report:
    engine: str
    processes: int
    clients: int
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    writes: int
    verified: int
    error_samples: list[str]
    log_problems: list[str]
    # per kind of request: count, p50 and p99 in ms
    breakdown: dict[str, tuple[int, float, float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.errors == 0
            and not self.log_problems
            and self.writes > 0
            and self.verified == self.writes
        )

    def text(self) -> str:
        lines = [
            f"{self.engine}, {self.processes} app process(es), {self.clients} clients, "
            f"{self.seconds:.0f} s",
            f"  requests      {self.requests} ({self.requests / self.seconds:.0f}/s)",
            f"  errors        {self.errors}",
            f"  latency       p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms",
            f"  writes        {self.writes}, read back afterwards: {self.verified}",
        ]
        lines += [
            f"    {label:<36} {n:>6}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
            for label, (n, p50, p99) in sorted(self.breakdown.items())
        ]
        lines += [f"  error: {sample}" for sample in self.error_samples]
        lines += [f"  server log: {line}" for line in self.log_problems]
        lines.append("OK" if self.ok else "FAILED")
        return "\n".join(lines)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


# -- the app processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_environment(var: Path, database_url: str, base_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SMTP_URL", "DEBUG", "TEST_DATABASE_URL"}
    }
    env.update(
        MENTORCIRCLE_VAR_DIR=str(var),
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_urlsafe(32),  # shared by the processes: one cookie, both
        BASE_URL=base_url,
        DISPATCH_IN_APP="true",
        DISPATCH_IDLE_SECONDS="1",
        # The demo's password hashes: cheap, so that setting up does not dominate a short run.
        PASSWORD_ITERATIONS="1000",  # noqa: S106 - a setting, not a password
    )
    return env


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"mentorcircle {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@contextmanager
def app_processes(env: dict[str, str], ports: list[int], logs: Path) -> Iterator[list[Path]]:
    """uvicorn on each port (127.0.0.1); yields each process's log file once all answer."""
    processes: list[subprocess.Popen[bytes]] = []
    files = [logs / f"app-{port}.log" for port in ports]
    try:
        for port, path in zip(ports, files, strict=True):
            with path.open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "uvicorn",
                            "app:create_app",
                            "--factory",
                            "--host",
                            "127.0.0.1",
                            "--port",
                            str(port),
                            "--log-level",
                            "warning",
                            "--no-access-log",
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + 60
        for port, process in zip(ports, processes, strict=True):
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the app on port {port} did not start: see {logs}")
                time.sleep(0.2)
        yield files
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- setting up -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortPlan:
    id: int
    sessions: list[tuple[int, dt.datetime]]  # (id, starts_at)
    topics: list[tuple[int, int | None, bool]]  # (session, case or None, private)


async def _ok(response: httpx.Response, doing: str) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(f"{doing}: {response.status_code} {response.text[:300]}")
    return response.json() if "json" in response.headers.get("content-type", "") else None


async def sign_in(base: str, email: str) -> str:
    """A signed-in browser's cookie header (sessions are signed cookies: any process takes it)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        page = await browser.get("/sign-in")
        match = _CSRF_FIELD.search(page.text)
        token = match.group(1) if match else browser.cookies.get("mc_csrf", "")
        response = await browser.post(
            "/sign-in",
            data={"email": email, "password": DEMO_PASSWORD, "_csrf_token": token},
        )
        if response.status_code != 302:
            raise RuntimeError(f"signing in as {email}: {response.status_code}")
        return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())


async def set_up_cohorts(base: str, token: str, count: int, run: str) -> list[CohortPlan]:
    """`count` published cohorts facilitated by the demo facilitator, eight weekly sessions
    from five weeks ago, three library cases on each session's agenda."""
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=60) as api:
        me = await _ok(await api.get("/api/me"), "GET /api/me")
        library = await _ok(
            await api.get("/api/case-studies", params={"status": "published", "limit": 50}),
            "GET /api/case-studies",
        )
        case_ids = [case["id"] for case in library["cases"] if case["scope"] == "library"]
        if len(case_ids) < CASES_PER_SESSION:
            raise RuntimeError("the demo case library is missing: run `mentorcircle demo`")
        first = dt.date.today() - dt.timedelta(weeks=5)

        async def one(k: int) -> CohortPlan:
            cohort = await _ok(
                await api.post(
                    "/api/cohorts",
                    json={
                        "name": f"Load {run} cohort {k}",
                        "timezone": "UTC",
                        "facilitator_ids": [me["person_id"]],
                        "schedule": {
                            "first_date": first.isoformat(),
                            "start_time": "09:00",
                            "count": SESSIONS_PER_COHORT,
                            "minutes": 60,
                        },
                    },
                ),
                "POST /api/cohorts",
            )
            await _ok(await api.post(f"/api/cohorts/{cohort['id']}/publish"), "publish")
            sessions = [
                (s["id"], dt.datetime.fromisoformat(s["starts_at"])) for s in cohort["sessions"]
            ]
            topics: list[tuple[int, int | None, bool]] = []
            for index, (session_id, _) in enumerate(sessions):
                agenda = [
                    case_ids[(k + index + n) % len(case_ids)] for n in range(CASES_PER_SESSION)
                ]
                await _ok(
                    await api.put(
                        f"/api/sessions/{session_id}/case-studies", json={"case_ids": agenda}
                    ),
                    "PUT agenda",
                )
                for case_id in [None, *agenda]:
                    topics += [(session_id, case_id, False), (session_id, case_id, True)]
            return CohortPlan(cohort["id"], sessions, topics)

        return list(await asyncio.gather(*(one(k) for k in range(count))))


# -- the clients ------------------------------------------------------------------------------


@dataclass
class Client:
    """One simulated user: its own connection, its own share of a cohort, and a record of
    everything it wrote, to read back at the end."""

    number: int
    http: httpx.AsyncClient
    auth: dict[str, str]
    cookies: list[str]
    cohort: CohortPlan
    topics: list[tuple[int, int | None, bool]]
    stats: Stats
    rng: random.Random
    run: str
    enrollments: dict[int, str] = field(default_factory=dict)  # enrollment -> email
    marks: dict[tuple[int, int], str] = field(default_factory=dict)  # (session, enr.) -> status
    notes: dict[int, list[str]] = field(default_factory=dict)  # note -> key_issues per revision
    writes: int = 0
    counter: int = 0

    async def request(
        self, method: str, url: str, label: str, expect: int = 200, **kwargs: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            self.stats.took(f"{method} {label}", time.perf_counter() - started)
            self.stats.error(f"{method} {label}: {type(error).__name__} {error}")
            return None
        self.stats.took(f"{method} {label}", time.perf_counter() - started)
        self.http.cookies.clear()  # pages set cookies; each request says who it is
        if response.status_code != expect:
            self.stats.error(f"{method} {label}: {response.status_code} {response.text[:200]!r}")
            return None
        return response.json() if "json" in response.headers.get("content-type", "") else True

    def page_headers(self) -> dict[str, str]:
        return {"Cookie": self.rng.choice(self.cookies)}

    def text(self) -> str:
        self.counter += 1
        return f"Load {self.run}, client {self.number}, write {self.counter}: " + self.rng.choice(
            ("Expectations went unspoken.", "Authorship came up late.", "Feedback was vague.")
        )

    # reads

    async def dashboard(self) -> None:
        await self.request("GET", "/", "/", headers=self.page_headers())

    async def cohort_page(self) -> None:
        # The facilitator's and the office's view (the participant's cookie sees the demo's).
        await self.request(
            "GET",
            f"/cohorts/{self.cohort.id}",
            "/cohorts/{id}",
            headers={"Cookie": self.cookies[self.number % 2]},
        )

    async def library(self) -> None:
        await self.request(
            "GET",
            "/cases",
            "/cases",
            params={"q": self.rng.choice(SEARCH_WORDS)},
            headers=self.page_headers(),
        )

    async def cohort_api(self) -> None:
        await self.request(
            "GET", f"/api/cohorts/{self.cohort.id}", "/api/cohorts/{id}", headers=self.auth
        )

    # writes

    async def roster_add(self) -> None:
        email = f"load.{self.run}.c{self.number}.n{len(self.enrollments) + 1}@example.edu"
        body = await self.request(
            "POST",
            f"/api/cohorts/{self.cohort.id}/participants",
            "/api/cohorts/{id}/participants",
            expect=201,
            headers=self.auth,
            json={"email": email, "name": f"Load Participant {self.number}"},
        )
        if body is not None:
            self.enrollments[body["participant"]["enrollment_id"]] = email
            self.writes += 1

    async def attendance(self) -> None:
        """Marks on (session, participant) pairs this client has not marked yet: 1 to 3 of
        one session; before a session starts, "excused" only."""
        now = dt.datetime.now(dt.UTC)
        open_pairs = [
            (session_id, starts_at, enrollment)
            for session_id, starts_at in self.cohort.sessions
            for enrollment in self.enrollments
            if (session_id, enrollment) not in self.marks
        ]
        if not open_pairs:
            await self.roster_add()
            return
        session_id, starts_at, _ = self.rng.choice(open_pairs)
        chosen = [p for p in open_pairs if p[0] == session_id][: self.rng.randint(1, 3)]
        marks = {
            enrollment: "excused" if starts_at > now else self.rng.choice(STATUSES)
            for _, _, enrollment in chosen
        }
        body = await self.request(
            "PUT",
            f"/api/sessions/{session_id}/attendance",
            "/api/sessions/{id}/attendance",
            headers=self.auth,
            json={"marks": [{"enrollment_id": e, "status": s} for e, s in marks.items()]},
        )
        if body is not None:
            for enrollment, status in marks.items():
                self.marks[(session_id, enrollment)] = status
                self.writes += 1

    async def note_create(self) -> None:
        if not self.topics:
            await self.note_patch()
            return
        session_id, case_id, private = self.topics.pop()
        text = self.text()
        body = await self.request(
            "POST",
            f"/api/sessions/{session_id}/notes",
            "/api/sessions/{id}/notes",
            expect=201,
            headers=self.auth,
            json={"case_id": case_id, "private": private, "key_issues": text},
        )
        if body is not None:
            self.notes[body["id"]] = [text]
            self.writes += 1

    async def note_patch(self) -> None:
        if not self.notes:
            if self.topics:
                await self.note_create()
            return
        note_id = self.rng.choice(list(self.notes))
        texts = self.notes[note_id]
        text = self.text()
        body = await self.request(
            "PATCH",
            f"/api/notes/{note_id}",
            "/api/notes/{id}",
            headers=self.auth,
            # Someone else's save in between (there should be none) would be a 409.
            json={"key_issues": text, "base_revision": len(texts)},
        )
        if body is not None:
            texts.append(text)
            self.writes += 1

    async def run_until(self, deadline: float) -> None:
        operations = {
            "dashboard": self.dashboard,
            "cohort_page": self.cohort_page,
            "library": self.library,
            "cohort_api": self.cohort_api,
            "attendance": self.attendance,
            "note_create": self.note_create,
            "note_patch": self.note_patch,
            "roster_add": self.roster_add,
        }
        names = list(WEIGHTS)
        weights = [WEIGHTS[name] for name in names]
        await self.roster_add()  # someone to mark present
        while time.monotonic() < deadline:
            await operations[self.rng.choices(names, weights)[0]]()


# -- reading every write back -----------------------------------------------------------------


async def verify(
    clients: list[Client], bases: list[str], auth: dict[str, str], samples: list[str]
) -> int:
    """Read back, through the API, what every client wrote; returns how many writes were found.
    Reads go to every app process in turn."""
    found = 0
    turn = 0

    async def get(path: str) -> Any:
        nonlocal turn
        turn += 1
        response = await http.get(bases[turn % len(bases)] + path, headers=auth)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
        return response.json()

    def missing(text: str) -> None:
        if len(samples) < 10:
            samples.append(f"not read back: {text}")

    async with httpx.AsyncClient(timeout=60) as http:
        cohorts = {c.cohort.id: c.cohort for c in clients}
        rosters = {
            cohort_id: {
                p["enrollment_id"]: p for p in await get(f"/api/cohorts/{cohort_id}/participants")
            }
            for cohort_id in cohorts
        }
        sheets: dict[int, dict[int, str | None]] = {}
        for cohort in cohorts.values():
            for session_id, _ in cohort.sessions:
                rows = await get(f"/api/sessions/{session_id}/attendance")
                sheets[session_id] = {row["enrollment_id"]: row["status"] for row in rows}
        for client in clients:
            roster = rosters[client.cohort.id]
            for enrollment, email in client.enrollments.items():
                row = roster.get(enrollment)
                if row is not None and row["email"] == email and row["status"] == "enrolled":
                    found += 1
                else:
                    missing(f"enrollment {enrollment} ({email})")
            for (session_id, enrollment), status in client.marks.items():
                if sheets[session_id].get(enrollment) == status:
                    found += 1
                else:
                    missing(f"attendance {status} of {enrollment} in session {session_id}")
            for note_id, texts in client.notes.items():
                revisions = await get(f"/api/notes/{note_id}/revisions")
                saved = {r["number"]: r["key_issues"] for r in revisions}
                for number, text in enumerate(texts, start=1):
                    if saved.get(number) == text:
                        found += 1
                    else:
                        missing(f"revision {number} of note {note_id}")
                if len(saved) != len(texts):
                    missing(f"note {note_id} has {len(saved)} revisions, written {len(texts)}")
                    found -= 1  # an extra revision is a write nobody made
    return found


# -- the run ----------------------------------------------------------------------------------


async def load(
    bases: list[str], token: str, cookies: list[str], seconds: float, clients: int, run: str
) -> tuple[Stats, list[Client]]:
    cohorts = await set_up_cohorts(bases[0], token, math.ceil(clients / CLIENTS_PER_COHORT), run)
    stats = Stats()
    auth = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    group: list[Client] = []
    for number in range(clients):
        cohort = cohorts[number // CLIENTS_PER_COHORT]
        share = number % CLIENTS_PER_COHORT
        group.append(
            Client(
                number=number,
                http=httpx.AsyncClient(
                    base_url=bases[number % len(bases)], timeout=60, limits=limits
                ),
                auth=auth,
                cookies=cookies,
                cohort=cohort,
                # Each topic (session, case, private or not) is one client's: a second note
                # about it would be a conflict by design, not an error of the app.
                topics=cohort.topics[share::CLIENTS_PER_COHORT],
                stats=stats,
                rng=random.Random(f"{run}-{number}"),  # noqa: S311 - a workload, not a secret
                run=run,
            )
        )
    deadline = time.monotonic() + seconds
    try:
        await asyncio.gather(*(client.run_until(deadline) for client in group))
    finally:
        for client in group:
            await client.http.aclose()
    return stats, group


def run(seconds: float, clients: int, postgres: str | None = None) -> Report:
    processes = 2 if postgres else 1
    run_tag = secrets.token_hex(3)
    with tempfile.TemporaryDirectory(prefix="mentorcircle-load-") as tmp:
        var = Path(tmp)
        ports = [free_port() for _ in range(processes)]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        database_url = postgres or f"sqlite:///{var / 'load.sqlite3'}"
        env = app_environment(var, database_url, bases[0])
        cli(env, "demo")
        token = cli(env, "tokens", "create", "--email", FACILITATOR, "--name", "load").strip()
        with app_processes(env, ports, var) as logs:

            async def main() -> tuple[Stats, list[Client], int, list[str]]:
                cookies = [await sign_in(bases[0], email) for email in READERS]
                stats, group = await load(bases, token, cookies, seconds, clients, run_tag)
                samples: list[str] = []
                found = await verify(group, bases, {"Authorization": f"Bearer {token}"}, samples)
                return stats, group, found, samples

            stats, group, found, samples = asyncio.run(main())
        log_problems = [
            line.strip()
            for path in logs
            for line in path.read_text(errors="replace").splitlines()
            if LOG_PROBLEMS.search(line)
        ][:20]
    return Report(
        engine="PostgreSQL" if postgres else "SQLite",
        processes=processes,
        clients=clients,
        seconds=seconds,
        requests=len(stats.latencies),
        errors=stats.errors,
        p50_ms=percentile(stats.latencies, 0.50) * 1000,
        p99_ms=percentile(stats.latencies, 0.99) * 1000,
        writes=sum(client.writes for client in group),
        verified=found,
        error_samples=stats.samples + samples,
        log_problems=log_problems,
        breakdown={
            label: (len(values), percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000)
            for label, values in stats.by_label.items()
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to load (60)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument(
        "--postgres", metavar="URL", help="run two app processes on this PostgreSQL database"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 600 or not 0 < args.clients <= 200:
        parser.error("--seconds must be in (0, 600] and --clients in (0, 200]")
    if args.postgres:
        loopback_only(args.postgres)
        ensure_postgres_database(args.postgres)
    report = run(args.seconds, args.clients, args.postgres)
    if args.json:
        print(json.dumps({**report.__dict__, "ok": report.ok}))
    else:
        print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
