"""The load test (bench/load.py), shortened for CI: 50 clients for 8 seconds mixing reads and
writes against the real app under uvicorn, on SQLite (one app process) and on PostgreSQL (two
app processes sharing a fresh database). No error, no 5xx, nothing in the servers' logs, and
every write read back through the API afterwards.

Each variant runs in the suite run of its own engine (CI runs the suite once on each).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ON_POSTGRES

ROOT = Path(__file__).resolve().parents[1]
SECONDS = "8"
CLIENTS = "50"


def run_load(*extra: str) -> dict[str, Any]:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "load.py"),
            "--seconds",
            SECONDS,
            "--clients",
            CLIENTS,
            "--json",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"bench/load.py printed nothing (exit {result.returncode}):\n{result.stderr}"
    report: dict[str, Any] = json.loads(lines[-1])
    print(json.dumps(report, indent=1))  # the figures, shown with -s or on failure
    return report


def check(report: dict[str, Any]) -> None:
    assert report["errors"] == 0, report["error_samples"]
    assert report["log_problems"] == [], report["log_problems"]
    assert report["requests"] > 100, "the clients hardly got through"
    assert report["writes"] > 50
    assert report["verified"] == report["writes"], report["error_samples"]
    assert report["ok"]


@pytest.mark.timeout(300)
@pytest.mark.skipif(ON_POSTGRES, reason="runs in the SQLite pass of the suite")
def test_fifty_clients_on_sqlite_lose_nothing() -> None:
    report = run_load()
    assert report["processes"] == 1
    check(report)


@pytest.mark.timeout(300)
@pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass of the suite")
def test_fifty_clients_on_two_postgresql_app_processes_lose_nothing(
    empty_pg_database: str,
) -> None:
    report = run_load("--postgres", empty_pg_database)
    assert report["processes"] == 2
    check(report)
