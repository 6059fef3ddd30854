"""The front-end bundle the widget ships: where it is, and what to show when it is not built.

``static/`` holds ``widget.js`` and ``widget.css`` built by ``cd js && npm run build``
(git-ignored); without them the widget renders :data:`FALLBACK_ESM`, a notice naming the
build command.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BUILD_HINT", "CSS_PATH", "ESM_PATH", "FALLBACK_ESM", "STATIC", "asset",
           "frontend_built"]

STATIC = Path(__file__).parent / "static"
ESM_PATH = STATIC / "widget.js"
CSS_PATH = STATIC / "widget.css"
BUILD_HINT = "cd js && npm ci && npm run build"

#: Shown instead of the debugger when the JS bundle was not built (e.g. a source checkout).
FALLBACK_ESM = f"""
export default {{
  render({{ el }}) {{
    const p = document.createElement("pre");
    p.textContent = "segment_debugger: the front end is not built.\\n" +
      "Build it with: {BUILD_HINT}\\nthen restart the kernel.";
    el.replaceChildren(p);
  }},
}};
"""


def frontend_built() -> bool:
    """Return True when the built JS bundle is present in the package."""
    return ESM_PATH.is_file()


def asset(path: Path, fallback: str) -> str | Path:
    """Return the bundle's text; its Path only for hot reload (``ANYWIDGET_HMR=1``).

    anywidget watches a Path with a callback that holds the widget, so a closed debugger
    given a Path is never garbage-collected (measured: +25 MB per closed 10k-event debugger).
    """
    if not path.is_file():
        return fallback
    if os.environ.get("ANYWIDGET_HMR", "") not in ("", "0"):
        return path
    return path.read_text(encoding="utf-8")
