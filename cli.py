"""The `mentorcircle` command: migrate, serve, demo, users, tokens, backup. Thin: it calls
services."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from errors import DomainError


async def migrate() -> list[str]:
    """Run every pending migration, then add the shipped curricula. Returns the migrations run."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from sessions.builtin_curricula import load_builtin_curricula

    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}\n{output.getvalue()}")
    await load_builtin_curricula()
    return [
        line.split(":")[0].strip(" -") for line in output.getvalue().splitlines() if "ok!" in line
    ]


async def _close_engine() -> None:
    from piccolo.engine import engine_finder

    engine = engine_finder()
    if engine is not None:
        await engine.close_connection_pool()


def _run(work: Callable[[], Awaitable[int]]) -> int:
    async def wrapped() -> int:
        try:
            return await work()
        except DomainError as error:
            print(f"error: {error.detail}", file=sys.stderr)
            return 2
        finally:
            await _close_engine()

    return asyncio.run(wrapped())


# -- commands -------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    async def work() -> int:
        applied = await migrate()
        print(f"Database is up to date ({len(applied)} migration(s) applied now).")
        return 0

    return _run(work)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from settings import get_settings

    if cmd_migrate(args) != 0:
        return 1
    settings = get_settings()
    print(f"mentorcircle is starting on http://{args.host}:{args.port}")
    if settings.base_url != f"http://{args.host}:{args.port}":
        print(f"  Links in messages use BASE_URL={settings.base_url}.")
    uvicorn.run(
        "app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level="info",
        proxy_headers=True,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    async def work() -> int:
        from case_studies.demo import load_demo_cases
        from sessions.demo import DEMO_PASSWORD, load_demo

        await migrate()
        summary = await load_demo()
        print(summary)
        print(f"Demo case library: {await load_demo_cases()} case studies added.")
        if args.large:
            from dataset import load_large

            print(await load_large(args.scale))
        print(
            f"Sign in as admin@example.org (or any demo person) with the password {DEMO_PASSWORD!r}."
        )
        return 0

    return _run(work)


def cmd_users_add(args: argparse.Namespace) -> int:
    async def work() -> int:
        from facilitators.services import PersonInput, create_person

        person_id = await create_person(
            PersonInput(name=args.name, email=args.email, department=args.department or ""),
            set(args.role),
            actor_id=None,
            password=args.password,
        )
        print(
            f"Added person {person_id}: {args.name} <{args.email}> ({', '.join(sorted(args.role))})"
        )
        return 0

    return _run(work)


def cmd_tokens_create(args: argparse.Namespace) -> int:
    async def work() -> int:
        from facilitators.services import create_token, find_person_id_by_email

        person_id = await find_person_id_by_email(args.email)
        if person_id is None:
            print(f"error: no person with the email {args.email}", file=sys.stderr)
            return 2
        token = await create_token(person_id, args.name, actor_id=None)
        print(token)
        return 0

    return _run(work)


def _parse_now(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def cmd_dispatch(args: argparse.Namespace) -> int:
    """Send what is due from the outbox: once (with a progress bar), or until stopped."""

    async def work() -> int:
        import signal

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from app import SCHEDULER_STEPS, connect_apps
        from mail import dispatcher, outbox
        from mail.setup import configured_transport, dispatch_config
        from settings import get_settings

        settings = get_settings()
        transport = configured_transport(settings)
        config = dispatch_config(settings)
        now = _parse_now(args.now)
        connect_apps()
        print(f"Sending through {transport.description}")
        # Links in prompts and reminders are made now, from BASE_URL: it must be the site's.
        print(f"  Links in messages use BASE_URL={settings.base_url}")
        if not args.once:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await dispatcher.run(transport, config, stop, now=now, steps=SCHEDULER_STEPS)
            return 0
        await dispatcher.run_steps(SCHEDULER_STEPS, now)
        due = (await outbox.counts())["queued"]
        with Progress(
            TextColumn("[bold]outbox"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            disable=not sys.stdout.isatty(),
        ) as bar:
            task = bar.add_task("send", total=due or None, detail="")

            def show(progress: dispatcher.Progress) -> None:
                bar.update(
                    task,
                    completed=progress.handled,
                    detail=f"sent {progress.sent} · failed {progress.failed} · retry later {progress.retried}",
                )

            result = await dispatcher.dispatch_due(transport, config, now=now, on_progress=show)
        print(f"sent {result.sent}, failed {result.failed}, to retry later {result.retried}")
        for error in result.errors[:20]:
            print(f"  failed: {error}")
        return 0

    return _run(work)


def cmd_mail_test(args: argparse.Namespace) -> int:
    """Send one test message through the configured transport and show the server's answer."""

    async def work() -> int:
        from facilitators.validation import normalize_email
        from mail.compose import Draft, compose
        from mail.setup import configured_transport
        from settings import get_settings

        to = normalize_email(args.to, "--to")
        settings = get_settings()
        transport = configured_transport(settings)
        key = f"test:{dt.datetime.now(dt.UTC).isoformat()}"
        content = compose(
            Draft(
                sender=settings.mail_from,
                recipient=to,
                subject="mentorcircle: test message",
                text="This is a test message from mentorcircle. If you can read it, mail works.",
            ),
            key=key,
            domain=settings.mail_domain,
        )
        async with transport:
            outcome = await transport.send(to, content)
        print(
            f"{transport.description}: {outcome.result.value} ({outcome.code or '-'} {outcome.reply})"
        )
        return 0 if outcome.result.value == "sent" else 1

    return _run(work)


PG_DUMP_ADVICE = """mentorcircle backup copies SQLite databases; this one is PostgreSQL. Use pg_dump,
which takes a consistent snapshot while the app runs:

    pg_dump --format=custom --file=mentorcircle.dump "$DATABASE_URL"

and restore into an empty database with:

    pg_restore --no-owner --dbname="$DATABASE_URL" mentorcircle.dump"""


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy a SQLite database that may be in use with SQLite's online backup API: one step, so
    the copy is the database as one read transaction saw it (in WAL mode the app keeps writing
    meanwhile). Written beside the target and renamed, so no half-written file is ever at
    `target`. The copy is checked (integrity_check) and made a single file (no WAL). Returns
    its size in bytes."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30)) as live,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            live.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")
            (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise RuntimeError(f"the copy fails its integrity check: {verdict}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def cmd_backup(args: argparse.Namespace) -> int:
    """A consistent copy of the running SQLite database; on PostgreSQL, how to use pg_dump."""
    from settings import get_settings

    settings = get_settings()
    if settings.is_postgres:
        print(PG_DUMP_ADVICE, file=sys.stderr)
        return 2
    source = settings.sqlite_path
    target = Path(args.path).expanduser()
    if not source.is_file():
        print(f"error: there is no database at {source} (DATABASE_URL)", file=sys.stderr)
        return 2
    if target.is_dir():
        print(f"error: {target} is a folder: give the backup's file name", file=sys.stderr)
        return 2
    if not target.parent.is_dir():
        print(f"error: the folder {target.parent} does not exist", file=sys.stderr)
        return 2
    if target.exists() and target.resolve() == source.resolve():
        print("error: that is the database itself: give another file name", file=sys.stderr)
        return 2
    if target.exists() and not args.force:
        print(f"error: {target} exists: add --force to replace it", file=sys.stderr)
        return 2
    size = backup_sqlite(source, target)
    print(f"Backed up {source} to {target} ({size:,} bytes; integrity check ok).")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mentorcircle",
        description="Run Entering Mentoring learning communities. Configuration comes from the "
        "environment (DATABASE_URL, SECRET_KEY, BASE_URL, MAIL_FROM, SMTP_URL).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser(
        "migrate", help="apply database migrations and load the shipped curricula"
    ).set_defaults(func=cmd_migrate)

    serve = commands.add_parser("serve", help="migrate, then serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)

    demo = commands.add_parser("demo", help="load a demo organization (safe to run again)")
    demo.add_argument(
        "--large",
        action="store_true",
        help="also load a large office (50 cohorts, 1,000 cases, 20,000 messages; once per database)",
    )
    demo.add_argument("--scale", type=float, default=1.0, help="with --large: multiply its counts")
    demo.set_defaults(func=cmd_demo)

    users = commands.add_parser("users", help="manage people and accounts").add_subparsers(
        dest="users_command", required=True
    )
    add = users.add_parser("add", help="add a person with an account")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True)
    add.add_argument(
        "--role",
        action="append",
        required=True,
        choices=["admin", "staff", "facilitator", "participant"],
        help="repeat for several roles",
    )
    add.add_argument("--password", help="at least 10 characters; omit for email sign-in only")
    add.add_argument("--department")
    add.set_defaults(func=cmd_users_add)

    tokens = commands.add_parser("tokens", help="personal API tokens").add_subparsers(
        dest="tokens_command", required=True
    )
    create = tokens.add_parser("create", help="create a token and print it (shown once)")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="cli")
    create.set_defaults(func=cmd_tokens_create)
    dispatch = commands.add_parser("dispatch", help="send due messages from the outbox")
    dispatch.add_argument("--once", action="store_true", help="send what is due, then stop")
    dispatch.add_argument("--now", help="evaluate what is due at this ISO time (backfills, tests)")
    dispatch.set_defaults(func=cmd_dispatch)

    backup = commands.add_parser(
        "backup", help="copy the SQLite database safely while the app runs (PostgreSQL: pg_dump)"
    )
    backup.add_argument(
        "path", help="the file to write, e.g. backups/mentorcircle-2027-05-01.sqlite3"
    )
    backup.add_argument("--force", action="store_true", help="replace the file if it exists")
    backup.set_defaults(func=cmd_backup)

    mail = commands.add_parser("mail", help="mail set-up").add_subparsers(
        dest="mail_command", required=True
    )
    test = mail.add_parser("test", help="send one test message and report the server's answer")
    test.add_argument("--to", required=True)
    test.set_defaults(func=cmd_mail_test)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args: Any = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
