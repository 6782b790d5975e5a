"""Dispatch throughput: mentorcircle's outbox and dispatcher against a bare aiosmtplib loop.

Enqueues N invitation-shaped messages (multipart, with a calendar part and attachment) in a
fresh SQLite database, then sends them to an SMTP sink running in another process, twice:

  1. the bare loop: the same prepared bytes through one aiosmtplib connection, nothing else;
  2. mentorcircle: claim batches from the outbox, send over one connection per batch, record
     every outcome in the database.

It prints messages per second for both and their ratio (target: at least 0.60), and the memory
of the process that sends through the outbox: its peak resident set while sending (target:
under 200 MB at 50,000 messages). That process is not this one: this one holds every prepared
message for the bare loop, the outbox's sender makes its messages in batches of 1,000 and
enqueues them as it goes, as the apps do. Absolute numbers drift on shared machines; the
ratio, taken in the same run, is what to compare.

    .venv/bin/python bench/dispatch.py            # 10,000 messages
    .venv/bin/python bench/dispatch.py --count 50000   # the memory figure's size
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import shutil
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


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Start the peak (VmHWM) afresh from the current size; Linux only."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def mentorcircle(port: int, count: int) -> dict[str, float]:
    """In a process of its own: enqueue `count` messages (made 1,000 at a time), then send them
    through the outbox; the rate and this process's memory while sending."""
    from piccolo.engine import engine_finder

    from cli import migrate
    from mail import outbox
    from mail.compose import message_id_for
    from mail.dispatcher import DispatchConfig, dispatch_due
    from mail.transports import SMTPConfig, SMTPTransport

    await migrate()
    for start in range(0, count, 1000):
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
                for n, (recipient, content) in (
                    (n, invite_bytes(n)) for n in range(start, min(start + 1000, count))
                )
            ]
        )
    transport = SMTPTransport(
        SMTPConfig.from_url(f"smtp://127.0.0.1:{port}?starttls=false&timeout=30"),
        "office@example.org",
    )
    before = rss_mb("VmRSS")
    enqueuing = rss_mb("VmHWM")
    resettable = reset_peak_rss()
    started = time.perf_counter()
    # The dispatcher as it ships: the default batch and lease.
    progress = await dispatch_due(transport, DispatchConfig())
    elapsed = time.perf_counter() - started
    assert progress.sent == count, progress
    engine = engine_finder()
    assert engine is not None
    await engine.close_connection_pool()
    return {
        "rate": count / elapsed,
        "rss_before_mb": before,
        "peak_sending_mb": rss_mb("VmHWM") if resettable else float("nan"),
        # (Not ru_maxrss: Linux carries the parent's figure over fork and exec.)
        "peak_enqueuing_mb": enqueuing,
    }


def outbox_in_child(port: int, count: int) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--outbox-child", str(port), "--count", str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the outbox sender failed:\n{result.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--outbox-child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.outbox_child:
        print(json.dumps(asyncio.run(mentorcircle(args.outbox_child, args.count))))
        return
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
        del messages
        ours = outbox_in_child(port, args.count)
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        shutil.rmtree(var, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"messages: {args.count}, average size {size / 1024:.1f} KiB")
    print(f"bare aiosmtplib loop:       {bare:8.0f} messages/s")
    print(f"mentorcircle dispatcher:    {ours['rate']:8.0f} messages/s")
    print(f"ratio: {ours['rate'] / bare:.2f} (target >= 0.60)")
    print(
        f"outbox sender's memory: {ours['rss_before_mb']:.0f} MB before sending, "
        f"peak {ours['peak_sending_mb']:.0f} MB while sending (target < 200 MB; "
        f"{ours['peak_enqueuing_mb']:.0f} MB while enqueuing)"
    )
    print(
        f"(this process, which holds the {args.count} prepared messages for the bare loop: "
        f"peak {peak_mb:.0f} MB)"
    )


if __name__ == "__main__":
    main()
