"""Dispatchers as separate processes on one PostgreSQL database: two at once never send a
message twice; one killed with SIGKILL leaves its messages to the next after the lease."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import ON_POSTGRES
from tests.test_cli import free_port

# Each makes a PostgreSQL database of its own: once per CI run is enough.
pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass of the suite")

ROOT = Path(__file__).resolve().parents[2]

ENQUEUE = """
import asyncio, sys
from cli import migrate
from mail import outbox
from mail.compose import Draft, compose, message_id_for
from piccolo.engine import engine_finder

async def main(count):
    await migrate()
    for start in range(0, count, 500):
        batch = []
        for n in range(start, min(start + 500, count)):
            key = f"load:{n}"
            content = compose(Draft("office@example.org", f"p{n}@example.edu", f"Message {n}", "Hello"), key=key, domain="example.org")
            batch.append(outbox.NewMessage(key, "test", f"p{n}@example.edu", f"Message {n}", content, message_id_for(key, "example.org")))
        await outbox.enqueue(batch)
    await engine_finder().close_connection_pool()

asyncio.run(main(int(sys.argv[1])))
"""


class Sink:
    """Counts every Message-ID it accepts; can be slowed down to catch a dispatcher mid-batch."""

    def __init__(self, delay: float = 0.0) -> None:
        self.message_ids: list[str] = []
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        message = message_from_bytes(envelope.original_content or b"")
        self.message_ids.append(str(message["Message-ID"]))
        return "250 OK"


def _env(database_url: str, tmp_path: Path, smtp_port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "MENTORCIRCLE_VAR_DIR": str(tmp_path),
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?starttls=false&timeout=10",
        "MAIL_FROM": "office@example.org",
        **extra,
    }


def _start_sink(sink: Sink) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def test_two_dispatchers_on_postgresql_deliver_2000_messages_exactly_once(
    empty_pg_database: str, tmp_path: Path
) -> None:
    sink = Sink()
    controller, port = _start_sink(sink)
    try:
        env = _env(empty_pg_database, tmp_path, port, DISPATCH_BATCH="25")
        enqueue = subprocess.run(
            [sys.executable, "-c", ENQUEUE, "2000"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert enqueue.returncode == 0, enqueue.stderr
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "cli", "dispatch", "--once"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [w.communicate(timeout=600) for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
    finally:
        controller.stop()
    counts = Counter(sink.message_ids)
    assert len(counts) == 2000
    assert max(counts.values()) == 1, "a message was delivered twice"
    # Both processes took part.
    sent = [int(out.split("sent ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(sent) == 2000 and min(sent) > 0, outputs


def test_a_killed_dispatchers_messages_go_out_after_its_lease(
    empty_pg_database: str, tmp_path: Path
) -> None:
    sink = Sink(delay=0.02)
    controller, port = _start_sink(sink)
    try:
        env = _env(
            empty_pg_database, tmp_path, port, DISPATCH_BATCH="20", DISPATCH_LEASE_SECONDS="3"
        )
        enqueue = subprocess.run(
            [sys.executable, "-c", ENQUEUE, "200"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert enqueue.returncode == 0, enqueue.stderr
        first = subprocess.Popen(
            [sys.executable, "-m", "cli", "dispatch"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while len(sink.message_ids) < 50 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)  # mid-batch: no chance to record what it sent
        first.wait(timeout=10)
        delivered_before = len(sink.message_ids)
        assert 50 <= delivered_before < 200
        time.sleep(3.5)  # the dead dispatcher's lease runs out
        second = subprocess.run(
            [sys.executable, "-m", "cli", "dispatch", "--once"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert second.returncode == 0, second.stderr
    finally:
        controller.stop()
    counts = Counter(sink.message_ids)
    assert len(counts) == 200, "every message arrived"
    twice = [message_id for message_id, n in counts.items() if n > 1]
    # Only the messages in flight at the kill (sent, outcome not yet recorded: the dispatcher
    # records one while it sends the next) may arrive again, with the same Message-ID, so mail
    # clients fold the two.
    assert len(twice) <= 2
    assert all(n <= 2 for n in counts.values())
