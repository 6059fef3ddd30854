"""Browser fixtures: headless Debian Chromium via Playwright, and real Jupyter servers.

``browser`` (session) and ``page`` (one new context per test) are shared by every end-to-end
test. ``page_errors`` holds the console errors and uncaught page errors seen by ``page``.
``lab`` (session) is one JupyterLab with the debugger notebook running, shared by the lab test
modules; ``session`` hands a test that page reset (see ``lab_session``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import CHROMIUM, VIEWPORT, PageErrors, block_external, launch
from harness import JupyterDirs, Server, start_lab
from lab_session import IOPUB_WARNING, LabSession, open_lab_session
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


@pytest.fixture(scope="session")
def lab(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSession]:
    """JupyterLab with the debugger notebook open and run, its kernel client, and Redis."""
    keep_log = tmp_path_factory.mktemp("lab-log") / "jupyterlab.log"
    with open_lab_session(browser, keep_log) as lab:
        yield lab


@pytest.fixture
def session(lab: LabSession) -> Iterator[LabSession]:
    """The shared lab session, reset: empty buffer, live, no filter, no selection, no errors."""
    lab.reset()
    yield lab
    assert lab.errors == [], "the page logged errors"
    assert IOPUB_WARNING not in lab.server.log()
