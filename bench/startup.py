"""Start-up: from `mentorcircle serve` to the first 200 on /health, in seconds.

Twice: on a fresh SQLite database (serve runs every migration and loads the curricula first)
and on one already migrated (the usual restart). Beside them, in the same run, the baseline:
uvicorn serving a bare Litestar app (bench/bare.py) to its first 200, which is what Python,
the framework and the server cost before mentorcircle does anything. Each figure is the median
of --repeat starts.

    .venv/bin/python bench/startup.py
    .venv/bin/python bench/startup.py --repeat 5
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, environment, free_port


def mentorcircle_command() -> list[str]:
    script = Path(sys.executable).parent / "mentorcircle"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def time_to_200(command: list[str], env: dict[str, str], port: int) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        while not healthy(port):
            if process.poll() is not None:
                raise RuntimeError(
                    f"{command} exited: {process.stderr.read() if process.stderr else ''}"
                )
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"{command} gave no 200 on /health within 120 s")
            time.sleep(0.01)
        return time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    serve = mentorcircle_command()
    fresh, migrated, bare = [], [], []
    kept = Path(tempfile.mkdtemp(prefix="mentorcircle-startup-"))
    try:
        for attempt in range(args.repeat):
            var = kept / f"fresh-{attempt}"
            env = environment(var, f"sqlite:///{var / 'startup.sqlite3'}")
            env.pop("DISPATCH_IN_APP")  # as it ships: the dispatcher starts with the app
            port = free_port()
            fresh.append(time_to_200([*serve, "serve", "--port", str(port)], env, port))
            port = free_port()
            migrated.append(time_to_200([*serve, "serve", "--port", str(port)], env, port))
            port = free_port()
            uvicorn = [sys.executable, "-m", "uvicorn", "bench.bare:create_app", "--factory"]
            bare.append(time_to_200([*uvicorn, "--port", str(port)], env, port))
    finally:
        shutil.rmtree(kept, ignore_errors=True)
    base = statistics.median(bare)
    print(f"median of {args.repeat} starts, to the first 200 on /health:")
    print(f"  bare Litestar app under uvicorn (baseline): {base:6.2f} s")
    for label, figures in (("fresh SQLite database", fresh), ("already migrated", migrated)):
        mid = statistics.median(figures)
        print(f"  mentorcircle serve, {label:22} {mid:6.2f} s  ({mid / base:.1f}× the baseline)")


if __name__ == "__main__":
    main()
