"""Headless Debian Chromium for the end-to-end tests: launch flags and page error capture."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
)

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


def launch(p: Playwright) -> Browser:
    """Launch Debian's Chromium headless (never a downloaded browser build)."""
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def is_local(url: str) -> bool:
    """True for loopback http(s)/ws(s) URLs and in-page schemes (data:, blob:, about:)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome-error"):
        return True
    return parts.hostname in ("127.0.0.1", "localhost", "::1")


def block_external(context: BrowserContext) -> None:
    """Abort every request that leaves the machine (e.g. Voila's CDN font CSS): tests stay local."""
    context.route(lambda url: not is_local(url), lambda route: route.abort("blockedbyclient"))


class PageErrors(list[str]):
    """Console errors, uncaught exceptions and failed local requests seen by a page.

    Requests to other hosts are aborted by :func:`block_external`; they and the console's
    "Failed to load resource" lines about them go to ``blocked``, not into the list.
    """

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []

    def attach(self, page: Page) -> None:
        """Start recording ``page``'s console errors, page errors and failed requests."""
        page.on("pageerror", self._on_page_error)
        page.on("console", self._on_console)
        page.on("requestfailed", self._on_request_failed)

    def _on_page_error(self, exc: Exception) -> None:
        # the stack's first frames name the code that threw (the message alone often does not)
        stack = " | ".join((getattr(exc, "stack", None) or "").splitlines()[1:4])
        self.append(f"pageerror: {exc}" + (f" at {stack.strip()}" if stack else ""))

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        url = str(msg.location.get("url", ""))
        if msg.text.startswith("Failed to load resource") and url and not is_local(url):
            self.blocked.append(url)
        else:
            self.append(f"console.error: {msg.text} at {url}")

    def _on_request_failed(self, req: Request) -> None:
        if is_local(req.url):
            self.append(f"requestfailed: {req.url} ({req.failure})")
        else:
            self.blocked.append(req.url)
