"""Dispatch throughput: mentorcircle's outbox and dispatcher against a bare aiosmtplib loop.

Enqueues N invitation-shaped messages (multipart, with a calendar part and attachment) in a
fresh SQLite database, then sends them to an SMTP sink running in another process, twice:

  1. the bare loop: the same prepared bytes through one aiosmtplib connection, nothing else;
  2. mentorcircle: claim batches from the outbox, send over one connection per batch, record
     every outcome in the database.

It prints messages per second for both and their ratio (target: at least 0.60), and the peak
resident memory of this process. Absolute numbers drift on shared machines; the ratio, taken
in the same run, is what to compare.

    .venv/bin/python bench/dispatch.py            # 10,000 messages
    .venv/bin/python bench/dispatch.py --count 50000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def invite_bytes(n: int) -> tuple[str, bytes]:
    from mail.compose import Calendar, Draft, compose
    from sessions.invites import Attendee, Organizer, calendar_bytes, session_event

    start = dt.datetime(2027, 3, 3, 21, 0, tzinfo=dt.UTC) + dt.timedelta(weeks=n % 8)
    session = {
        "ical_uid": f"session-{n % 8}@example.org",
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=1),
        "position": n % 8 + 1,
        "title": "Communicating across differences",
        "video_url": "",
        "location": "Biology Building, Room 214",
    }
    recipient = f"participant{n}@example.edu"
    event = session_event(
        session,
        "Entering Mentoring: Life Sciences",
        sequence=0,
        stamp=start,
        organizer=Organizer("Amara Okafor", "amara@example.org"),
        attendee=Attendee(n, f"Participant {n}", recipient, "", False),
    )
    text = "Dear participant,\n\nYou are invited to the next session.\n" * 3
    content = compose(
        Draft(
            "office@example.org",
            recipient,
            "Invitation",
            text,
            "<p>" + text + "</p>",
            calendar=Calendar(calendar_bytes([event], method="REQUEST"), "REQUEST"),
        ),
        key=f"bench:{n}",
        domain="example.org",
    )
    return recipient, content


async def bare_loop(port: int, messages: list[tuple[str, bytes]]) -> float:
    import aiosmtplib

    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
    await client.connect()
    started = time.perf_counter()
    for recipient, content in messages:
        await client.sendmail("office@example.org", [recipient], content)
    elapsed = time.perf_counter() - started
    await client.quit()
    return len(messages) / elapsed


async def mentorcircle(port: int, messages: list[tuple[str, bytes]]) -> float:
    from piccolo.engine import engine_finder

    from cli import migrate
    from mail import outbox
    from mail.compose import message_id_for
    from mail.dispatcher import DispatchConfig, dispatch_due
    from mail.transports import SMTPConfig, SMTPTransport

    await migrate()
    for start in range(0, len(messages), 1000):
        await outbox.enqueue(
            [
                outbox.NewMessage(
                    f"bench:{n}",
                    "invite",
                    recipient,
                    "Invitation",
                    content,
                    message_id_for(f"bench:{n}", "example.org"),
                )
                for n, (recipient, content) in enumerate(
                    messages[start : start + 1000], start=start
                )
            ]
        )
    transport = SMTPTransport(
        SMTPConfig.from_url(f"smtp://127.0.0.1:{port}?starttls=false&timeout=30"),
        "office@example.org",
    )
    started = time.perf_counter()
    # The dispatcher as it ships: the default batch and lease.
    progress = await dispatch_due(transport, DispatchConfig())
    elapsed = time.perf_counter() - started
    assert progress.sent == len(messages), progress
    engine = engine_finder()
    assert engine is not None
    await engine.close_connection_pool()
    return len(messages) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="mentorcircle-bench-"))
    os.environ.update(
        {
            "MENTORCIRCLE_VAR_DIR": str(var),
            "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
            "SECRET_KEY": "bench",
            "MAIL_FROM": "office@example.org",
            "DISPATCH_IN_APP": "false",
        }
    )
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
        messages = [invite_bytes(n) for n in range(args.count)]
        size = sum(len(content) for _, content in messages) / len(messages)
        bare = asyncio.run(bare_loop(port, messages))
        ours = asyncio.run(mentorcircle(port, messages))
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"messages: {args.count}, average size {size / 1024:.1f} KiB")
    print(f"bare aiosmtplib loop:       {bare:8.0f} messages/s")
    print(f"mentorcircle dispatcher:    {ours:8.0f} messages/s")
    print(f"ratio: {ours / bare:.2f} (target >= 0.60)")
    print(
        f"peak RSS of this process: {peak_mb:.0f} MB (includes the {args.count} prepared messages)"
    )


if __name__ == "__main__":
    main()
