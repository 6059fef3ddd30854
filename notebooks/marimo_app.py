"""The Segment debugger as a marimo app: `marimo edit notebooks/marimo_app.py` or `marimo run`.

SEGMENT_DEBUGGER_URL (and SEGMENT_DEBUGGER_CHANNEL) name the Redis to watch; without them the
app starts the zero-set-up demo (an embedded Redis and a fake stream, stopped with the debugger).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Segment debugger")


@app.cell
def _():
    import collections
    import html
    import os
    import threading
    import time

    import marimo as mo
    import pandas as pd

    import segment_debugger as sd

    return collections, html, mo, os, pd, sd, threading, time


@app.cell
def _(mo):
    mo.md(
        """
        # Segment debugger

        Live events from Redis. Click a row: the table under the list shows its fields.
        Change the channel to watch another one (the previous debugger closes).
        """
    )
    return


@app.cell
def _(mo, os):
    channel = mo.ui.text(
        value=os.environ.get("SEGMENT_DEBUGGER_CHANNEL", "events"), label="Channel"
    )
    channel  # noqa: B018 - a cell's last expression is its output
    return (channel,)


@app.cell
def _(channel, mo, os, sd):
    # One debugger per run of this cell. When the cell runs again (the channel changed) or is
    # deleted, marimo disposes what the cell made: the debugger registered itself for that
    # (segment_debugger.widget.registry), so the previous one unsubscribes and its threads end.
    _url = os.environ.get("SEGMENT_DEBUGGER_URL")
    if _url:
        dbg = sd.SegmentDebugger(url=_url, channels=[channel.value], max_messages=10_000)
    else:
        dbg = sd.demo(channel=channel.value, max_messages=10_000)
    # The UI element: a cell that reads `debugger` (its .value, or a trait through it) runs
    # again whenever the page changes a trait: the selection, the filter, pause, the toggles.
    debugger = mo.ui.anywidget(dbg)
    return dbg, debugger


@app.cell
def _(collections, dbg, mo, threading, time):
    # Stats, live. The debugger's flusher thread updates `dbg.stats`; a mo.state setter called
    # from such a plain thread changes the value but re-runs nothing (marimo-team/marimo#5080).
    # Called from a mo.Thread it does: marimo runs the cells that read the getter at once. So a
    # mo.Thread samples the stats once a second and pushes a history of per-type rates. It ends
    # when this cell is invalidated (mo.Thread.should_exit) or the debugger closes.
    get_rates, set_rates = mo.state({"t": [], "by_type": {}, "stats": dict(dbg.stats)})
    _HISTORY = 60  # one sample a second: the last minute
    _stop = threading.Event()
    dbg.on_close(_stop.set)  # a closed debugger ends the sampler at once

    # Bound as defaults: when a `marimo run` session ends marimo clears the app's globals
    # while this thread may still be between two samples.
    def _sample(dbg=dbg, set_rates=set_rates, mo=mo, time=time, deque=collections.deque,
                stop=_stop, history=_HISTORY) -> None:
        me = mo.current_thread()
        times: deque[float] = deque(maxlen=history)
        series: dict[str, deque[float]] = {}
        last_counts: dict[str, int] = {}
        last_t = None
        t0 = time.monotonic()
        while not me.should_exit and not dbg.closed and not stop.wait(1.0):
            stats = dict(dbg.stats)
            counts = dict(stats.get("by_type") or {})
            now = time.monotonic()
            if last_t is not None:
                dt = max(now - last_t, 1e-6)
                times.append(now - t0)
                for name in set(series) | set(counts):
                    rate = max(counts.get(name, 0) - last_counts.get(name, 0), 0) / dt
                    column = series.setdefault(
                        name, deque([0.0] * (len(times) - 1), maxlen=history)
                    )
                    column.append(rate)
                set_rates(
                    {
                        "t": list(times),
                        "by_type": {k: list(v) for k, v in series.items()},
                        "stats": stats,
                    }
                )
            last_counts, last_t = counts, now

    mo.Thread(target=_sample, name="sd-marimo-rates", daemon=True).start()
    return (get_rates,)


@app.cell
def _(get_rates, html, mo, sd, threading):
    _COLORS = {
        "track": "#1f77b4", "identify": "#ff7f0e", "page": "#2ca02c", "screen": "#d62728",
        "group": "#9467bd", "alias": "#8c564b", "unknown": "#7f7f7f",
    }

    def _chart(t: list[float], by_type: dict[str, list[float]], w: int = 640, h: int = 160) -> str:
        """Draw an inline SVG line per event type (numbers only: nothing from the payloads)."""
        if len(t) < 2:
            return '<div style="opacity:.7">collecting a few seconds of rates...</div>'
        top = max([max(v) for v in by_type.values() if v] + [1.0])
        span = max(t[-1] - t[0], 1e-6)
        lines, legend = [], []
        for name, values in sorted(by_type.items()):
            pts = values[-len(t):]
            xs = t[len(t) - len(pts):]
            points = " ".join(
                f"{(x - t[0]) / span * (w - 4) + 2:.1f},{h - 2 - v / top * (h - 4):.1f}"
                for x, v in zip(xs, pts, strict=True)
            )
            color = _COLORS.get(name, "#7f7f7f")
            lines.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>'
            )
            legend.append(
                f'<span style="color:{color};margin-right:1em">'
                f"{html.escape(name)} {pts[-1]:,.0f}/s</span>"
            )
        return (
            f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
            f'aria-label="events per second by type">'
            f'<rect width="{w}" height="{h}" fill="currentColor" opacity="0.05"/>'
            + "".join(lines)
            + f'</svg><div>{"".join(legend)} <span style="opacity:.7">(max {top:,.0f}/s, '
            "last minute)</span></div>"
        )

    _rates = get_rates()
    _stats = _rates["stats"]
    # Leaks would show here: debuggers open in this process and their reader threads (in
    # `marimo run` every session's kernel is a thread of the server process).
    _readers = sum(t.name == "segment-debugger-source" for t in threading.enumerate())
    mo.Html(
        '<div data-testid="sd-marimo-rates">'
        f'<div data-testid="sd-marimo-received">received {_stats.get("received", 0):,} · '
        f'{_stats.get("rate_per_s", 0.0):,.0f} events/s · invalid {_stats.get("invalid", 0):,}'
        f' · gaps {_stats.get("gaps", 0):,}</div>'
        + _chart(_rates["t"], _rates["by_type"])
        + f'<div data-testid="sd-marimo-process" style="opacity:.7">this process: '
        f'<span data-testid="sd-marimo-open">{len(sd.running())}</span> debugger(s) open, '
        f'<span data-testid="sd-marimo-readers">{_readers}</span> reader thread(s)</div></div>'
    )
    return


@app.cell
def _(debugger):
    debugger  # noqa: B018 - a cell's last expression is its output
    return


@app.cell
def _(dbg, debugger, html, mo, pd):
    # Runs again whenever the page changes a trait of `debugger` (it reads debugger.value).
    _state = debugger.value
    _seq = _state.get("selected_seq")
    _event = None if _seq is None else dbg.buffer.get(_seq)
    if _event is None:
        selected_fields = pd.DataFrame({"field": [], "value": []})
    else:
        _flat = pd.json_normalize(_event.data or {}, sep=".").iloc[0] if _event.data else {}
        selected_fields = pd.DataFrame(
            {"field": list(_flat.keys()), "value": [str(v) for v in _flat.values]}
            if len(_flat) else {"field": [], "value": []}
        )
    mo.vstack(
        [
            mo.Html(
                '<div data-testid="sd-marimo-view">'
                f'selected: <span data-testid="sd-marimo-selected">{_seq}</span> · '
                f'query: <code data-testid="sd-marimo-query">'
                f'{html.escape(_state.get("query") or "")}</code> · '
                f'paused: <span data-testid="sd-marimo-paused">{_state.get("paused")}</span>'
                "</div>"
            ),
            mo.Html(
                f'<div data-testid="sd-marimo-fields">{mo.as_html(selected_fields).text}</div>'
            ),
        ]
    )
    return (selected_fields,)


if __name__ == "__main__":
    app.run()
