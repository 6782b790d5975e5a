"""The `mentorcircle` command, run as a newcomer would: in a fresh directory, as subprocesses."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "MENTORCIRCLE_VAR_DIR": str(tmp_path / "var")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'var' / 'cli.sqlite3'}"
    env.pop("SECRET_KEY", None)  # generated and kept under var/, as on a laptop
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(fresh_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=fresh_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"serve exited: {process.stdout.read() if process.stdout else ''}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("serve did not answer /health within 60 s")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_serve_answers_health_and_schema_and_a_cli_token_creates_a_cohort(
    fresh_env: dict[str, str], server: str
) -> None:
    added = run(
        fresh_env,
        "users",
        "add",
        "--email",
        "office@example.org",
        "--name",
        "Office",
        "--role",
        "staff",
        "--role",
        "facilitator",
        "--password",
        "a good password",
    )
    assert added.returncode == 0, added.stderr
    created = run(fresh_env, "tokens", "create", "--email", "OFFICE@example.org")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("mc_")

    assert httpx.get(f"{server}/health").json()["status"] == "ok"
    schema = httpx.get(f"{server}/schema/openapi.json")
    assert schema.status_code == 200 and "/api/cohorts" in schema.json()["paths"]
    response = httpx.post(
        f"{server}/api/cohorts",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "From the CLI", "timezone": "America/New_York"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["facilitators"][0]["name"] == "Office"
    listed = httpx.get(f"{server}/api/cohorts", headers={"Authorization": f"Bearer {token}"}).json()
    assert [c["name"] for c in listed] == ["From the CLI"]


def test_demo_loads_once_and_its_sign_in_works(fresh_env: dict[str, str], server: str) -> None:
    first = run(fresh_env, "demo")
    assert first.returncode == 0, first.stderr
    assert "Loaded the demo organization" in first.stdout
    second = run(fresh_env, "demo")
    assert second.returncode == 0, second.stderr
    assert "already loaded" in second.stdout

    with httpx.Client(base_url=server) as browser:
        form = browser.get("/sign-in")
        token = form.text.split('name="_csrf_token" value="')[1].split('"')[0]
        signed = browser.post(
            "/sign-in",
            data={
                "email": "amara.okafor@example.org",
                "password": "mentorcircle-demo",
                "_csrf_token": token,
            },
        )
        assert signed.status_code == 302
        dashboard = browser.get("/")
        assert "Entering Mentoring: Life Sciences" in dashboard.text
        cohort_id = re.search(r'href="/cohorts/(\d+)">Entering Mentoring', dashboard.text)
        assert cohort_id is not None
        cohort = browser.get(f"/cohorts/{cohort_id.group(1)}/roster")
        assert (
            cohort.text.count("@example.edu") == 10
        )  # ten participants, emails shown to facilitators


def test_cli_errors_name_the_problem(fresh_env: dict[str, str]) -> None:
    assert run(fresh_env, "migrate").returncode == 0
    bad = run(
        fresh_env, "users", "add", "--email", "not-an-email", "--name", "X", "--role", "staff"
    )
    assert bad.returncode == 2
    assert "email: 'not-an-email' is not an email address" in bad.stderr
    missing = run(fresh_env, "tokens", "create", "--email", "nobody@example.org")
    assert missing.returncode == 2
    assert "no person with the email nobody@example.org" in missing.stderr
    short = run(
        fresh_env,
        "users",
        "add",
        "--email",
        "a@example.org",
        "--name",
        "A",
        "--role",
        "admin",
        "--password",
        "short",
    )
    assert short.returncode == 2
    assert "password: must be at least 10 characters long" in short.stderr


def test_mail_test_refuses_a_bad_address(fresh_env: dict[str, str]) -> None:
    assert run(fresh_env, "migrate").returncode == 0
    bad = run(fresh_env, "mail", "test", "--to", "not-an-email")
    assert bad.returncode == 2 and "--to: 'not-an-email' is not an email address" in bad.stderr
    good = run(fresh_env, "mail", "test", "--to", "someone@example.org")
    assert good.returncode == 0 and "sent (250 written to" in good.stdout
