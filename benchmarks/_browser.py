"""A live SegmentDebugger in Voila, fed by a real redis-server, open in headless Chromium.

Shared by the benchmarks that need a browser (``latency.py``). Everything runs on 127.0.0.1,
on free ports, and is stopped when the ``with`` block ends, Ctrl-C and SIGTERM included:
redis-server, Voila and its kernel (a process group of their own, stopped with every
descendant by ``tests/browser/harness.py``), the Playwright driver and Chromium, temp dirs.

The page also runs in-page instruments, installed before Voila's own scripts:

- a WebSocket counter: the messages the page receives from the kernel, per wall-clock
  second: widget ``comm_msg`` on IOPub, all IOPub (what jupyter_server's rate limit counts),
  and all;
- (on demand) a row observer: the first ``Date.now()`` at which each row whose user column
  starts with a prefix is put into the list's DOM;
- (on demand) a frame probe: every requestAnimationFrame gap, and long tasks.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "tests", ROOT / "tests" / "browser"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from chromium import CHROMIUM, VIEWPORT, PageErrors, block_external, launch  # noqa: E402
from harness import (  # noqa: E402
    JupyterDirs,
    KernelEval,
    Server,
    start_voila,
    wait_until,
    write_notebook,
)
from playwright.sync_api import sync_playwright  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402

#: Installed before any page script: counts the kernel WebSocket's messages per second.
#: Handles both Jupyter kernel WebSocket protocols: JSON text frames (legacy) and the binary
#: ``v1.kernel.websocket.jupyter.org`` frames (offsets, then channel, header, ...); only the
#: channel and header are decoded, never the content.
WS_COUNTER_JS = """
(() => {
  const counts = new Map();  // second -> {comm, iopub, all}
  const decoder = new TextDecoder();
  const bump = (kind) => {
    const s = Math.floor(Date.now() / 1000);
    let c = counts.get(s);
    if (!c) { c = { comm: 0, iopub: 0, all: 0 }; counts.set(s, c); }
    c.all += 1;
    if (kind !== 'other') c.iopub += 1;
    if (kind === 'comm') c.comm += 1;
  };
  const COMM = /"msg_type": ?"comm_msg"/;
  const classify = (data) => {  // 'comm' (comm_msg on IOPub), 'iopub' (other IOPub), 'other'
    let channel, header;
    if (typeof data === 'string') {  // JSON frame: {"header": ..., "channel": ...}
      const msg = JSON.parse(data);
      channel = msg.channel;
      header = JSON.stringify(msg.header || {});
    } else if (data instanceof ArrayBuffer) {
      const view = new DataView(data);
      const n = Number(view.getBigUint64(0, true));
      if (n < 3 || 8 * (n + 1) > data.byteLength) return 'other';
      const off = (i) => Number(view.getBigUint64(8 * (i + 1), true));
      channel = decoder.decode(new Uint8Array(data, off(0), off(1) - off(0)));
      header = decoder.decode(new Uint8Array(data, off(1), off(2) - off(1)));
    } else {
      return 'other';
    }
    if (channel !== 'iopub') return 'other';
    return COMM.test(header) ? 'comm' : 'iopub';
  };
  const Native = window.WebSocket;
  class CountingWebSocket extends Native {
    constructor(...args) {
      super(...args);
      if (String(args[0]).includes('/channels')) {
        this.addEventListener('message', (ev) => {
          let kind = 'other';
          try { kind = classify(ev.data); } catch (e) { kind = 'other'; }
          bump(kind);
        });
      }
    }
  }
  window.WebSocket = CountingWebSocket;
  window.__sdWs = counts;
})();
"""

#: Per-second WebSocket counts so far: [[second, comm, iopub, all], ...], oldest first.
READ_WS_JS = """
() => [...window.__sdWs.entries()].sort((a, b) => a[0] - b[0])
  .map(([s, c]) => [s, c.comm, c.iopub, c.all])
"""

#: Record the first Date.now() each row whose user column starts with ``prefix`` enters the DOM.
INSTALL_ROW_OBSERVER_JS = """
(prefix) => {
  const root = document.querySelector('[data-testid=sd-root]');
  const seen = new Map();
  const note = (node, now) => {
    if (node.nodeType !== 1 || node.dataset.testid !== 'sd-row') return;
    const user = node.querySelector('[data-testid=sd-user]');
    const text = user ? user.textContent : '';
    if (text.startsWith(prefix) && !seen.has(text)) seen.set(text, now);
  };
  const observer = new MutationObserver((records) => {
    const now = Date.now();
    for (const r of records) for (const n of r.addedNodes) note(n, now);
  });
  observer.observe(root, { childList: true, subtree: true });
  const now = Date.now();
  for (const n of root.querySelectorAll('[data-testid=sd-row]')) note(n, now);
  window.__sdRows = { seen, observer };
}
"""

#: {row user text: first seen (ms since the epoch)}; stops the observer when ``stop`` is true.
READ_ROW_OBSERVER_JS = """
(stop) => {
  const r = window.__sdRows;
  if (stop) r.observer.disconnect();
  return Object.fromEntries(r.seen);
}
"""

#: Every requestAnimationFrame gap (ms) and long task (ms) from now on.
INSTALL_FRAME_PROBE_JS = """
() => {
  const probe = { gaps: [], longTasks: [], last: null, running: true,
                  t0: performance.now(), t1: null };
  const tick = (now) => {
    if (probe.last !== null) probe.gaps.push(now - probe.last);
    probe.last = now;
    if (probe.running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  try {
    probe.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) probe.longTasks.push(e.duration);
    });
    probe.observer.observe({ entryTypes: ['longtask'] });
  } catch (e) { /* no longtask entries: the frame gaps still tell */ }
  window.__sdFrames = probe;
}
"""

#: Stop the frame probe; return {seconds, gaps, longTasks}.
READ_FRAME_PROBE_JS = """
() => {
  const p = window.__sdFrames;
  p.running = false;
  if (p.observer) p.observer.disconnect();
  return { seconds: (performance.now() - p.t0) / 1000, gaps: p.gaps, longTasks: p.longTasks };
}
"""


class _Interrupted(KeyboardInterrupt):
    """SIGTERM, raised as KeyboardInterrupt so every ``finally`` runs as on Ctrl-C."""


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(f"signal {signum}")


def exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM unwind the stack like Ctrl-C (the ``with`` blocks then stop everything)."""
    signal.signal(signal.SIGTERM, _raise_interrupt)


def _quietly(close: Any) -> None:
    """Call ``close()``, ignoring any error (the thing may be gone already)."""
    with contextlib.suppress(Exception):
        close()


class LivePage:
    """redis-server + Voila serving a one-widget notebook + Chromium on it + a kernel client.

    ``with LivePage(channel) as live:`` gives ``live.page`` (the rendered debugger, its source
    live), ``live.kernel`` (a :class:`KernelEval` on the Voila kernel: ``dbg`` is the widget),
    ``live.redis`` and ``live.voila``. ``redis_args`` are extra redis-server arguments.
    """

    def __init__(self, channel: str, max_messages: int = 10_000,
                 redis_args: tuple[str, ...] = (), timeout: float = 120) -> None:
        self.channel = channel
        self.max_messages = max_messages
        self.redis_args = redis_args
        self.timeout = timeout
        self.errors = PageErrors()
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> LivePage:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # Ctrl-C while stopping must not leave the rest running: finish the unwinding first.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._stack.close()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _start(self) -> None:
        if not Path(CHROMIUM).exists():
            raise RuntimeError(f"{CHROMIUM} not found (apt-get install chromium)")
        stack = self._stack
        self.redis = stack.enter_context(RedisServer(None, *self.redis_args))
        dirs = JupyterDirs(prefix="sd-bench-")
        stack.callback(dirs.cleanup)
        notebook = write_notebook(dirs.root / "latency.ipynb", [
            "from segment_debugger import SegmentDebugger\n"
            f"dbg = SegmentDebugger({self.redis.url!r}, channels=[{self.channel!r}], "
            f"max_messages={self.max_messages})",
            "dbg",
        ])
        self.voila: Server = start_voila(dirs, notebook, timeout=self.timeout)
        stack.callback(self.voila.stop)
        # Ctrl-C reaches the Playwright driver too (same process group): closing what it
        # already lost must not hide the interrupt nor stop the rest of the cleanup.
        playwright = sync_playwright().start()
        stack.callback(_quietly, playwright.stop)
        browser = launch(playwright)
        stack.callback(_quietly, browser.close)
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        stack.callback(_quietly, context.close)
        block_external(context)
        context.add_init_script(WS_COUNTER_JS)
        self.page = context.new_page()
        self.errors.attach(self.page)
        self.page.goto(self.voila.url("/"), timeout=self.timeout * 1000)
        self.page.locator("[data-testid=sd-root]").first.wait_for(
            state="visible", timeout=self.timeout * 1000)
        files = wait_until(self.voila.kernel_connection_files, 30, "the Voila kernel")
        self.kernel_file = files[-1]
        self.kernel = KernelEval(self.kernel_file)
        stack.callback(_quietly, self.kernel.close)
        wait_until(lambda: self.kernel.eval("dbg.status['state']") == "live", 30,
                   "the debugger's source to go live")

    # -- helpers -----------------------------------------------------------------------------

    def type_query(self, text: str, delay_ms: float = 40) -> None:
        """Clear the filter box and type ``text`` key by key; wait until Python has it."""
        box = self.page.locator("[data-testid=sd-root] [data-testid=sd-filter]").first
        box.click()
        box.fill("")
        if text:
            box.press_sequentially(text, delay=delay_ms)
        wait_until(lambda: self.kernel.eval("dbg.query") == text, 15, f"the query {text!r}")

    def ws_counts(self) -> list[tuple[int, int, int, int]]:
        """[(second, comm_msg on IOPub, all IOPub, all messages), ...] the page received."""
        return [tuple(r) for r in self.page.evaluate(READ_WS_JS)]  # type: ignore[misc]

    def kernel_rss_mb(self) -> float:
        """The Voila kernel's resident set size, in MB."""
        import psutil

        for proc in psutil.Process(self.voila.proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if str(self.kernel_file) in proc.cmdline():
                    return float(proc.memory_info().rss) / 2**20
        return float("nan")

    def settle(self, seconds: float) -> None:
        """Let the page run for ``seconds`` (Playwright events keep being served)."""
        self.page.wait_for_timeout(seconds * 1000)

    def eval_many(self, exprs: dict[str, str]) -> dict[str, Any]:
        """Evaluate several expressions in the kernel in one round trip."""
        body = "{" + ", ".join(f"{k!r}: {v}" for k, v in exprs.items()) + "}"
        result: dict[str, Any] = self.kernel.eval(body)
        return result

