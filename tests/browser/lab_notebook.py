"""Driving a notebook in JupyterLab through its UI: open, run all, save, theme."""

from __future__ import annotations

import re
from typing import Any

from harness import Server, wait_until
from playwright.sync_api import Page, expect

LIGHT = "JupyterLab Light"
DARK = "JupyterLab Dark"


class LabNotebook:
    """A notebook opened in a JupyterLab page (``server`` started with expose_app_in_browser)."""

    def __init__(self, page: Page, server: Server, path: str) -> None:
        self.page = page
        self.server = server
        self.path = path

    def open(self, timeout: float = 90) -> None:
        """Load /lab/tree/<path> and wait until the notebook and its kernel are up."""
        self.page.goto(self.server.url(f"/lab/tree/{self.path}"))
        expect(self.page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible(
            timeout=timeout * 1000
        )
        self.wait_kernel_idle(timeout)

    def wait_kernel_idle(self, timeout: float = 60) -> None:
        """Wait until the notebook toolbar reports an idle kernel."""
        self.page.wait_for_function(
            """() => {
                const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                const k = w && w.sessionContext && w.sessionContext.session
                    && w.sessionContext.session.kernel;
                return !!k && k.status === 'idle';
            }""",
            timeout=timeout * 1000,
        )

    def run_all(self) -> None:
        """Run every cell through the Run menu (Run > Run All Cells)."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    def command(self, command: str, args: dict[str, Any] | None = None) -> None:
        """Execute a JupyterLab command (what a menu item or palette entry does)."""
        self.page.evaluate(
            "([c, a]) => window.jupyterapp.commands.execute(c, a)", [command, args or {}]
        )

    def save(self, timeout: float = 30) -> None:
        """Save the notebook and wait until the saved file holds a widget view output."""
        self.command("docmanager:save")

        def saved_with_widget() -> bool:
            model = self.server.api(f"/api/contents/{self.path}")
            return any(
                "application/vnd.jupyter.widget-view+json" in out.get("data", {})
                for cell in model["content"]["cells"]
                for out in cell.get("outputs", [])
            )

        wait_until(saved_with_widget, timeout, f"{self.path} saved with the widget output")

    def set_theme(self, theme: str, timeout: float = 30) -> None:
        """Switch JupyterLab's theme (as Settings > Theme does) and wait until it is done.

        Done means applied and JupyterLab's splash screen gone: its removal runs on a 200 ms
        timer, and a theme change while that timer is pending makes JupyterLab remove the
        splash twice ("Failed to execute 'removeChild'" in the page, seen in a later test).
        """
        light = "true" if theme == LIGHT else "false"
        self.command("apputils:change-theme", {"theme": theme})
        self.page.wait_for_function(
            "(light) => document.body.dataset.jpThemeLight === light"
            " && !document.getElementById('jupyterlab-splash')",
            arg=light,
            timeout=timeout * 1000,
        )

    def output_text(self) -> str:
        """All text in the notebook's output areas."""
        return str(
            self.page.evaluate(
                "() => [...document.querySelectorAll('.jp-OutputArea')]"
                ".map((o) => o.innerText).join('\\n')"
            )
        )


class Notebook7(LabNotebook):
    """A notebook opened in Jupyter Notebook 7 (``/notebooks/<path>``), the same app underneath.

    Notebook 7's shell keeps one notebook as ``currentWidget`` and has the same Run menu, so
    :class:`LabNotebook`'s helpers apply.
    """

    def open(self, timeout: float = 90) -> None:
        """Load /notebooks/<path> and wait until the notebook and its kernel are up."""
        self.page.goto(self.server.url(f"/notebooks/{self.path}"))
        expect(self.page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(
            timeout=timeout * 1000
        )
        self.wait_kernel_idle(timeout)

    def run_cell(self, index: int) -> None:
        """Select code cell ``index`` and run it (Shift+Enter on it)."""
        cell = self.page.locator(".jp-Notebook .jp-Cell").nth(index)
        cell.locator(".jp-InputPrompt").click()
        self.command("notebook:run-cell")
