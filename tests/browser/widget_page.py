"""Reading and driving the SegmentDebugger front end in a page, through its data-testids."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page

from segment_debugger.io.export import decode_line

#: A kernel expression: the raw payloads of ``dbg.filtered()`` (the view's criteria over the
#: whole buffer), base64 so any bytes survive JSON.
FILTERED_RAW_B64 = (
    "[__import__('base64').b64encode(e.raw).decode() "
    "for e in dbg.criteria.filter(dbg.buffer.snapshot())]"
)

#: The name the kernel gives an export: segment-events-<UTC time>.ndjson.
EXPORT_NAME = re.compile(r"segment-events-[0-9TZ:.\-]+\.ndjson")


def decode_b64(items: list[str]) -> list[bytes]:
    """The payloads ``FILTERED_RAW_B64`` returned, as bytes."""
    return [base64.b64decode(x) for x in items]


def ndjson_payloads(data: bytes) -> list[bytes]:
    """The payloads of an exported NDJSON file (one per line, each line ended by a newline)."""
    assert data == b"" or data.endswith(b"\n"), "the file does not end with a newline"
    return [decode_line(line) for line in data.split(b"\n")[:-1]]


#: Rows inside the list's viewport, top to bottom: {seq, type, text}.
_VISIBLE_ROWS_JS = """
(root) => {
  const list = root.querySelector('[role=listbox]');
  if (!list) return [];
  const box = list.getBoundingClientRect();
  return [...root.querySelectorAll('[data-testid=sd-row]')]
    .map((node) => ({ node, rect: node.getBoundingClientRect() }))
    .filter(({ rect }) => rect.height > 0 && rect.bottom > box.top + 1 && rect.top < box.bottom - 1)
    .sort((a, b) => a.rect.top - b.rect.top)
    .map(({ node }) => ({
      seq: Number(node.dataset.seq),
      type: node.dataset.type,
      text: node.textContent,
    }));
}
"""

#: In-page responsiveness probe: rAF frame count and gaps, long tasks.
INSTALL_PROBE_JS = """
() => {
  const probe = {
    frames: 0, maxFrameGap: 0, last: performance.now(), longTasks: [], running: true,
  };
  const tick = (now) => {
    probe.maxFrameGap = Math.max(probe.maxFrameGap, now - probe.last);
    probe.last = now;
    probe.frames += 1;
    if (probe.running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  try {
    probe.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) probe.longTasks.push(e.duration);
    });
    probe.observer.observe({ entryTypes: ['longtask'] });
  } catch (e) { /* longtask not supported: frame gaps still tell */ }
  window.__sdProbe = probe;
}
"""

READ_PROBE_JS = """
() => {
  const p = window.__sdProbe;
  return { frames: p.frames, maxFrameGap: p.maxFrameGap, longTasks: p.longTasks.slice() };
}
"""

STOP_PROBE_JS = """
() => {
  const p = window.__sdProbe;
  p.running = false;
  if (p.observer) p.observer.disconnect();
}
"""


class WidgetView:
    """One rendered SegmentDebugger in ``page`` (the first, unless ``root`` is given)."""

    def __init__(self, page: Page, root: Locator | None = None) -> None:
        self.page = page
        self.root = root or page.locator("[data-testid=sd-root]").first

    def testid(self, name: str) -> Locator:
        """The element with ``data-testid=name`` inside the widget."""
        return self.root.locator(f"[data-testid={name}]")

    @property
    def rows(self) -> Locator:
        """Every row element in the DOM (the virtual list keeps only those near the viewport)."""
        return self.testid("sd-row")

    def visible_rows(self) -> list[dict[str, Any]]:
        """Rows in the list's viewport, top (newest) first: ``{seq, type, text}``."""
        return list(self.root.evaluate(_VISIBLE_ROWS_JS))

    def visible_seqs(self) -> list[int]:
        """The seqs of the rows in the list's viewport, top first."""
        return [r["seq"] for r in self.visible_rows()]

    def top_seq(self) -> int | None:
        """The seq of the top visible row, or None when the list is empty."""
        seqs = self.visible_seqs()
        return seqs[0] if seqs else None

    def is_paused(self) -> bool:
        """True when the Live/Pause toggle shows paused."""
        return self.testid("sd-live-toggle").get_attribute("aria-pressed") == "true"

    def export(self, timeout: float = 60_000) -> tuple[str, bytes]:
        """Click Export and wait for the browser's download: its file name and bytes.

        Fails at once when the widget shows an export error (e.g. a kernel that does not answer
        ``export_request``), not after ``timeout`` ms.
        """
        note = self.testid("sd-export-status")
        with self.page.expect_download(timeout=timeout) as info:
            self.testid("sd-export").click()
            while not info.is_done():
                if note.get_attribute("data-state") == "error":
                    raise AssertionError(f"the export failed: {note.inner_text()}")
                self.page.wait_for_timeout(100)
        download = info.value
        failure = download.failure()
        assert failure is None, f"the download failed: {failure}"
        return download.suggested_filename, Path(download.path()).read_bytes()

    def new_count(self) -> int:
        """The number in "N new" while paused (0 when hidden or empty)."""
        text = self.testid("sd-new-count").inner_text().strip()
        digits = "".join(ch for ch in text.split(" ")[0] if ch.isdigit())
        return int(digits) if digits else 0
