"""Cost growth: time and SQL statements per request as the data grows, for pages that list.

For each scale (1×, 10× and 100× of the large office by default; see dataset.py) a fresh SQLite
database is loaded in a process of its own, and each page is requested through the app in that
process (no network): the number of SQL statements one request runs, its median time over
--repeat requests, and how much it shows (rows on the page and bytes). The statements must not
grow with the data (no N+1); the time may grow at most like what the page shows, which for
these pages stays the same (one cohort; 20 cases; 200 messages).

At 100× every part of the large office grows (`load_large(100)`: 5,000 cohorts with 60,000
participants, 100,000 cases, 2,000,000 messages), which takes about five minutes and 9 GB of
disk here, most of it the messages' bodies; --scales 1,10 is a quicker run.

    .venv/bin/python bench/cost_growth.py
    .venv/bin/python bench/cost_growth.py --scales 1,10 --repeat 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, environment

# What grows beyond the page itself: what a page reads in full to show a total.
BEYOND_THE_PAGE = {
    "library search": "it ranks and counts every matching case",
    "library, first page": "it counts the published library for its page count",
    "outbox list": "it counts every message per state",
    "outbox of a cohort": "it counts the cohort's messages per state",
}
# What each page shows, counted in its HTML: table rows of its list (cases are articles).
PAGES = {
    "cohort page": ("/cohorts/{cohort}", r"<tr"),
    "library search": ("/cases?q=authorship", r'<article class="card case-card'),
    "library, first page": ("/cases", r'<article class="card case-card'),
    "outbox list": ("/outbox", r"<tr"),
    "outbox of a cohort": ("/outbox?cohort={cohort}", r"<tr"),
}


async def measure_here(scale: float, repeat: int) -> dict[str, Any]:
    """In a child process whose environment names a fresh database: load, then measure."""
    import httpx
    from piccolo.engine import engine_finder

    import cli
    import dataset
    from app import create_app
    from bench.common import run_lifespan, sign_in
    from sessions.tables import Cohort

    started = time.perf_counter()
    await cli.migrate()
    summary = await dataset.load_large(scale)
    loaded = time.perf_counter() - started
    engine: Any = engine_finder()
    await engine.close_connection_pool()
    cohort = (
        await Cohort.select(Cohort.id)
        .where((Cohort.term == "Large office term") & (Cohort.status == "in_progress"))
        .order_by(Cohort.id)
        .first()
    )
    assert cohort is not None
    application: Any = create_app()
    found: dict[str, Any] = {"scale": scale, "load_seconds": loaded, "summary": summary}

    async def body() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://bench"
        ) as client:
            await sign_in(client)
            paths = {
                name: template.format(cohort=cohort["id"]) for name, (template, _) in PAGES.items()
            }
            times: dict[str, list[float]] = {name: [] for name in PAGES}
            for name, path in paths.items():
                for _ in range(5):  # warm: the pages this database holds are in memory
                    await client.get(path)
                with engine.count_queries() as counter:
                    response = await client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                found[name] = {
                    "queries": counter.count,
                    "shown": len(re.findall(PAGES[name][1], response.text)),
                    "kb": len(response.content) / 1024,
                }
            # The pages in turn, so that a busy moment of the machine touches them all alike.
            for _ in range(repeat):
                for name, path in paths.items():
                    began = time.perf_counter()
                    await client.get(path)
                    times[name].append(time.perf_counter() - began)
            for name in PAGES:
                found[name]["ms"] = statistics.median(times[name]) * 1000

    await run_lifespan(application, body)
    return found


def run_scale(scale: float, repeat: int, keep: bool) -> dict[str, Any]:
    var = Path(tempfile.mkdtemp(prefix=f"mentorcircle-growth-{scale:g}x-"))
    env = environment(var, f"sqlite:///{var / 'growth.sqlite3'}")
    try:
        result = subprocess.run(
            [sys.executable, __file__, "--child", str(scale), "--repeat", str(repeat)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"scale {scale:g}: {result.stderr[-3000:]}")
        found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return found
    finally:
        if not keep:
            shutil.rmtree(var, ignore_errors=True)


def report(results: list[dict[str, Any]]) -> None:
    base = results[0]
    print()
    scales = "".join(f"{r['scale']:>8g}×" for r in results)
    print(f"{'':22}{scales}")
    print(f"{'loaded in (s)':22}" + "".join(f"{r['load_seconds']:9.0f}" for r in results))
    problems = []
    for name in PAGES:
        print(f"{name}")
        print(f"  {'SQL statements':20}" + "".join(f"{r[name]['queries']:9}" for r in results))
        print(f"  {'median ms':20}" + "".join(f"{r[name]['ms']:9.1f}" for r in results))
        print(f"  {'rows shown':20}" + "".join(f"{r[name]['shown']:9}" for r in results))
        print(f"  {'KiB':20}" + "".join(f"{r[name]['kb']:9.0f}" for r in results))
        growth = [r[name]["ms"] / base[name]["ms"] for r in results]
        print(f"  {'time × of 1st':20}" + "".join(f"{g:9.2f}" for g in growth))
        if any(r[name]["queries"] != base[name]["queries"] for r in results):
            problems.append(f"{name}: the number of SQL statements grows with the data")
        shown = max(r[name]["shown"] for r in results) / max(base[name]["shown"], 1)
        # Linear in what the page shows, with room for noise and for a bigger database's
        # deeper indexes (a logarithm): at most 2× beyond the growth of what is shown.
        if growth[-1] > 2 * max(shown, 1.0):
            why = BEYOND_THE_PAGE.get(name, "")
            problems.append(
                f"{name}: time grew {growth[-1]:.1f}× while what it shows grew {shown:.1f}×"
                + (f" ({why})" if why else "")
            )
    print()
    for problem in problems:
        print(f"MISSED: {problem}")
    if not problems:
        print("ok: statements constant, time flat (what these pages show does not grow)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="1,10,100", help="comma-separated, e.g. 1,10")
    parser.add_argument("--repeat", type=int, default=30, help="requests timed per page")
    parser.add_argument("--keep", action="store_true", help="keep the databases (paths printed)")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        import logging

        logging.disable(logging.INFO)
        print(json.dumps(asyncio.run(measure_here(args.child, args.repeat))))
        return
    os.environ.pop("DATABASE_URL", None)
    results = []
    for scale in (float(s) for s in args.scales.split(",")):
        print(f"loading and measuring {scale:g}× ...", flush=True)
        results.append(run_scale(scale, args.repeat, args.keep))
        print(f"  {results[-1]['summary']}", flush=True)
    report(results)


if __name__ == "__main__":
    main()
