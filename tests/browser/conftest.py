"""Browser fixtures: headless Debian Chromium via Playwright, and real Jupyter servers.

``browser`` (session) and ``page`` (one new context per test) are shared by every end-to-end
test. ``page_errors`` holds the console errors and uncaught page errors seen by ``page``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import JupyterDirs, Server, start_lab

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}

@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium, one per test session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageErrors(list[str]):
    """Console errors and uncaught exceptions seen by a page, as readable strings."""

    def attach(self, page: Page) -> None:
        """Start recording ``page``'s console errors and page errors."""
        page.on("pageerror", lambda exc: self.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: self.append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error"
            else None,
        )


@pytest.fixture
def page_errors() -> PageErrors:
    """Errors recorded by the ``page`` fixture (assert it is empty, or filter what you expect)."""
    return PageErrors()


@pytest.fixture
def page(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    """A page in a fresh browser context; its errors go to ``page_errors``."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    page_errors.attach(page)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def jupyter_dirs() -> Iterator[JupyterDirs]:
    """Isolated Jupyter runtime/config/data dirs and a notebook root, for the session's lab."""
    dirs = JupyterDirs()
    try:
        yield dirs
    finally:
        dirs.cleanup()


@pytest.fixture(scope="session")
def lab_server(jupyter_dirs: JupyterDirs) -> Iterator[Server]:
    """A JupyterLab server on a free localhost port with a random token (one per session)."""
    server = start_lab(jupyter_dirs)
    try:
        yield server
    finally:
        server.stop()
