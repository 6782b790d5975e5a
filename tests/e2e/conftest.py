"""Browser tests: the real app under uvicorn in a subprocess, driven by Debian's Chromium through
Playwright, with axe-core run on every page visited.

Page objects would be overkill for three pages; `Visit` gathers the two checks every page gets:
no serious or critical accessibility violation, and no Content-Security-Policy violation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import skip_or_fail
from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "tools" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free loopback port, on its own SQLite database loaded with the demo."""
    yield from serve_demo(tmp_path_factory.mktemp("e2e-var"))


def serve_demo(var: Path, **settings: str) -> Iterator[str]:
    """Load the demo into a new database under `var` and serve it; `settings` are more
    environment variables (SMTP_URL, DISPATCH_IN_APP, ...). Yields the base URL."""
    port = free_port()
    env = {
        **os.environ,
        "MENTORCIRCLE_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'e2e.sqlite3'}",
        "BASE_URL": f"http://127.0.0.1:{port}",
        **settings,
    }
    demo = subprocess.run(
        [sys.executable, "-m", "cli", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError("the app did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)")
    if not AXE.exists():
        skip_or_fail(f"axe-core is missing at {AXE} (run: npm install --prefix tests/tools)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        await instance.close()


class Visit:
    """A browser tab that checks every page it lands on."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.csp_violations: list[str] = []
        page.on(
            "console",
            lambda message: (
                self.csp_violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

    async def goto(self, path: str) -> Any:
        response = await self.page.goto(self.base + path)
        await self.check()
        return response

    async def check(self) -> None:
        """Fail on serious or critical axe violations and on any CSP violation."""
        await self.page.wait_for_load_state("load")
        # evaluate() is not subject to the page's CSP, unlike an injected <script> tag.
        await self.page.evaluate("() => {" + AXE.read_text() + "\n}")
        violations = await self.page.evaluate(
            """async () => {
                const result = await window.axe.run(document, {resultTypes: ["violations"]});
                return result.violations
                    .filter(v => v.impact === "serious" || v.impact === "critical")
                    .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map(n => n.target.join(" ")).join(", ")}`);
            }"""
        )
        assert violations == [], f"accessibility violations on {self.page.url}: {violations}"
        assert self.csp_violations == [], (
            f"CSP violations on {self.page.url}: {self.csp_violations}"
        )


@pytest.fixture
async def visit(browser: Any, live_server: str) -> AsyncIterator[Visit]:
    context = await browser.new_context()
    page = await context.new_page()
    yield Visit(page, live_server)
    await context.close()
