"""Browser fixtures: headless Debian Chromium via Playwright, and real Jupyter servers.

``browser`` (session) and ``page`` (one new context per test) are shared by every end-to-end
test. ``page_errors`` holds the console errors and uncaught page errors seen by ``page``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import CHROMIUM, VIEWPORT, PageErrors, block_external, launch
from harness import JupyterDirs, Server, start_lab
from playwright.sync_api import Browser, Page, sync_playwright


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium, one per test session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        browser = launch(p)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_errors() -> PageErrors:
    """Errors recorded by the ``page`` fixture (assert it is empty, or filter what you expect)."""
    return PageErrors()


@pytest.fixture
def page(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    """A page in a fresh browser context; its errors go to ``page_errors``.

    Requests to anything but localhost are aborted (see ``chromium.block_external``).
    """
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    block_external(context)
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
