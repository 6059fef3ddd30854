"""PUBLISH -> row visible, frames, widget messages and memory: the debugger as a user sees it.

    python benchmarks/latency.py [--quick] [--seconds S] [--frame-seconds F] [--rss-events N]

Starts a redis-server (Redis's default pub/sub output-buffer limit), Voila serving a notebook
with one ``SegmentDebugger(max_messages=10_000)`` on it, and headless Chromium on the page,
all on free localhost ports and all stopped at the end (Ctrl-C and SIGTERM included). Events
come from a paced publisher process (pre-encoded fake Segment events, pipelined PUBLISH on a
raw socket, 100 slices a second). It measures, in one run:

1. **PUBLISH -> row visible.** The filter box is typed into as a user would (``event:Probe``).
   At 1,000 and at 20,000 events/s, every 100th event is a probe (a uniform 1 % sample): a
   valid track ``Probe`` whose userId is a unique id and whose ``properties.probe_t`` is the
   publisher's ``time.time()`` in ms just before the socket write. In the page, a
   MutationObserver notes the ``Date.now()`` at which each probe's row first enters the list's
   DOM (the same machine clock; the frame that paints it follows within one frame). Latency =
   appearance - publish. A probe is "shown" if its row entered the DOM at all.
2. **Frames while streaming** with 10,000 buffered and no filter, at 20,000 and 100,000
   events/s: requestAnimationFrame gaps in the page (frames/s, p50/p99/max gap, long tasks).
3. **Widget messages per second**: the page's kernel WebSocket, counted per wall-clock second
   (a WebSocket wrapper installed before Voila's scripts): widget ``comm_msg`` on IOPub and all
   IOPub messages, the busiest second of each phase; jupyter_server drops IOPub above 1,000
   messages/s. The kernel's own count (``dbg.pump`` deltas + snapshots + trait updates) is
   shown beside it.
4. **Kernel RSS per 100k events**, no browser: a child process parses fake events (each
   payload unique) into an ``EventBuffer(max_messages=1_000_000)`` (``max_bytes`` raised so the
   count is the bound) and reports its RSS as it fills. The live Voila kernel's RSS with
   10,000 buffered is shown too.

``--quick``: 10 s per latency rate, 5 s per frame rate, 200,000 events for item 4.
Prints markdown tables; the figure, printed last, is the p95 latency at both rates and the
share of probes shown (goal: p95 <= 200 ms, >= 95 % shown). A benchmark, not a test: no
assertions, always exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHANNEL = "latency"
PROBE_EVENT = "Probe"
QUERY = f"event:{PROBE_EVENT}"
PROBE_EVERY = 100  # 1 %
SLICES_PER_S = 100
LATENCY_RATES = (1_000, 20_000)
FRAME_RATES = (20_000, 100_000)
RSS_TEMPLATES = 20_000
TAIL_S = 3.0  # after the publisher ends, how long late probes may still appear

# ---- the paced publisher (a child process: python latency.py --publisher ...) ----------------


def publisher_main(args: argparse.Namespace) -> int:
    """Publish ``rate`` events/s for ``seconds`` s; every ``probe_every``-th event is a probe.

    Prints ``ready`` once the filler payloads are encoded and the socket is connected, then a
    JSON line ``{"sent", "seconds", "probes": [[id, publish ms], ...]}`` at the end (also on
    SIGINT/SIGTERM, which end the run early).
    """
    import orjson

    from segment_debugger.playground.fake import FakeEventStream

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    channel = args.channel.encode()
    head = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(channel), channel)
    stream = FakeEventStream(seed=args.seed)
    fillers = [stream.payload() for _ in range(args.unique)]
    encoded = [head + b"$%d\r\n%s\r\n" % (len(p), p) for p in fillers]
    sock = socket.create_connection(("127.0.0.1", args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print("ready", flush=True)

    probes: list[tuple[str, float]] = []
    every, offset = args.probe_every, args.probe_every // 2
    total = int(args.rate * args.seconds)
    count = 0
    t0 = time.perf_counter()
    while count < total and not stop.is_set():
        due = min(total, int((time.perf_counter() - t0) * args.rate) + 1)
        if due > count:
            chunk = []
            now_ms = time.time() * 1000.0
            stamp = datetime.datetime.fromtimestamp(now_ms / 1000, datetime.timezone.utc)
            iso = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            for k in range(count, due):
                if every and k % every == offset:
                    probe_id = f"{args.prefix}{k // every}"
                    payload = orjson.dumps({
                        "type": "track", "event": PROBE_EVENT, "userId": probe_id,
                        "messageId": f"msg-{probe_id}", "timestamp": iso,
                        "properties": {"probe_id": probe_id, "probe_t": now_ms},
                    })
                    chunk.append(head + b"$%d\r\n%s\r\n" % (len(payload), payload))
                    probes.append((probe_id, now_ms))
                else:
                    chunk.append(encoded[k % len(encoded)])
            try:
                sock.sendall(b"".join(chunk))
            except OSError:  # redis-server went away (Ctrl-C reaches it too): stop here
                break
            count = due
        sock.setblocking(False)  # drain the replies so the server never blocks on us
        try:
            while sock.recv(1 << 20):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        sock.setblocking(True)
        time.sleep(1 / SLICES_PER_S)
    seconds = time.perf_counter() - t0
    sock.close()
    with contextlib.suppress(OSError):  # the parent may have gone already
        print(json.dumps({"sent": count, "seconds": seconds, "probes": probes}), flush=True)
    return 0


class Paced:
    """The paced publisher as a child process in a session of its own; ``stop()`` ends it."""

    def __init__(self, port: int, rate: int, seconds: float, probe_every: int = 0,
                 prefix: str = "probe-", seed: int = 1) -> None:
        self.seconds = seconds
        argv = [sys.executable, str(Path(__file__).resolve()), "--publisher",
                "--port", str(port), "--channel", CHANNEL, "--rate", str(rate),
                "--duration", str(seconds), "--probe-every", str(probe_every),
                "--prefix", prefix, "--seed", str(seed)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     text=True, start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"the publisher did not start: {line!r}")

    def result(self) -> dict[str, Any]:
        """Wait for the run to end; return its JSON summary."""
        try:
            out, _ = self.proc.communicate(timeout=self.seconds * 2 + 60)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError("the publisher overran its time") from None
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"the publisher printed no summary (exit {self.proc.returncode})")
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def stop(self) -> None:
        """End the publisher (SIGTERM, then SIGKILL) and reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.communicate()

    def __enter__(self) -> Paced:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- kernel RSS (a child process: python latency.py --rss-child N) ---------------------------


def rss_mb() -> float:
    """This process's resident set size, in MB (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_child_main(events: int) -> int:
    """Fill an EventBuffer(max_messages=1_000_000) with unique fake events; print RSS as JSON."""
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.segment import parse_event
    from segment_debugger.playground.fake import FakeEventStream

    stream = FakeEventStream(seed=3)
    templates = []
    for _ in range(RSS_TEMPLATES):  # split around the messageId, made unique per event below
        payload = stream.payload()
        message_id = json.loads(payload)["messageId"].encode()
        head, _, tail = payload.partition(message_id)
        templates.append((head, tail))
    buffer = EventBuffer(max_messages=1_000_000, max_bytes=2**40)
    marks = sorted({0, 10_000, *range(100_000, events + 1, 100_000), events})
    base = rss_mb()
    print(json.dumps({"events": 0, "rss_mb": base, "payload_mb": 0.0}), flush=True)
    done, payload_bytes = 0, 0
    batch: list[Any] = []
    for mark in marks[1:]:
        while done < mark:
            head, tail = templates[done % RSS_TEMPLATES]
            raw = b"%s%08d-0000-4000-8000-%012d%s" % (head, done, done, tail)
            payload_bytes += len(raw)
            batch.append(parse_event(raw, CHANNEL, time.time()))
            done += 1
            if len(batch) == 1000 or done == mark:
                buffer.extend(batch)
                batch = []
        print(json.dumps({"events": len(buffer), "rss_mb": rss_mb(),
                          "payload_mb": payload_bytes / 2**20}), flush=True)
    return 0


def measure_rss(events: int) -> list[dict[str, float]]:
    """Run the RSS child and return its checkpoints."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--rss-child",
                             str(events)], stdout=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


# ---- measurements against the live page ----------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class Phase:
    """What one publishing phase measured."""

    name: str
    rate: int
    sent: int = 0
    seconds: float = 0.0
    received: int = 0
    gaps: int = 0
    buffered_before: int = 0
    kernel_msgs: int = 0  # pump deltas + snapshots
    kernel_traits: int = 0  # stats/status trait updates
    comm_busiest: int = 0
    comm_mean: float = 0.0
    iopub_busiest: int = 0
    probes: int = 0
    shown: int = 0
    longest_missed_run: int = 0  # most consecutive probes that never entered the DOM
    latencies: list[float] = field(default_factory=list)
    frames: dict[str, Any] = field(default_factory=dict)


KERNEL_COUNTERS = {
    "received": "dbg.buffer.stats['received']",
    "gaps": "dbg.buffer.stats['gaps']",
    "buffered": "len(dbg.buffer)",
    "messages": "dbg.pump.messages",
    "traits": "dbg.pump.trait_updates",
}


def run_phase(live: Any, name: str, rate: int, seconds: float, probes: bool,
              frames: bool) -> Phase:
    """Publish at ``rate`` for ``seconds``; measure probes and/or frames and messages."""
    from _browser import (
        INSTALL_FRAME_PROBE_JS,
        INSTALL_ROW_OBSERVER_JS,
        READ_FRAME_PROBE_JS,
        READ_ROW_OBSERVER_JS,
    )

    phase = Phase(name, rate)
    prefix = f"p{rate}-"
    before = live.eval_many(KERNEL_COUNTERS)
    phase.buffered_before = before["buffered"]
    if probes:
        live.page.evaluate(INSTALL_ROW_OBSERVER_JS, prefix)
    with Paced(live.redis.port, rate, seconds, PROBE_EVERY if probes else 0, prefix) as pub:
        if frames:
            live.page.evaluate(INSTALL_FRAME_PROBE_JS)
        start = time.time()
        result = pub.result()
        end = time.time()
        if frames:
            phase.frames = live.page.evaluate(READ_FRAME_PROBE_JS)
    phase.sent, phase.seconds = result["sent"], result["seconds"]
    live.settle(TAIL_S)
    if probes:
        seen: dict[str, float] = live.page.evaluate(READ_ROW_OBSERVER_JS, True)
        phase.probes = len(result["probes"])
        run = 0
        for probe_id, t_pub in result["probes"]:
            if probe_id in seen:
                phase.shown += 1
                phase.latencies.append(seen[probe_id] - t_pub)
                run = 0
            else:
                run += 1
                phase.longest_missed_run = max(phase.longest_missed_run, run)
    # received/gaps: wait for the kernel to drain what was published (a few seconds at most)
    deadline = time.monotonic() + 15
    after = live.eval_many(KERNEL_COUNTERS)
    while (after["received"] - before["received"] < phase.sent
           and after["gaps"] == before["gaps"] and time.monotonic() < deadline):
        time.sleep(0.5)
        after = live.eval_many(KERNEL_COUNTERS)
    phase.received = after["received"] - before["received"]
    phase.gaps = after["gaps"] - before["gaps"]
    phase.kernel_msgs = after["messages"] - before["messages"]
    phase.kernel_traits = after["traits"] - before["traits"]
    # widget messages per wall-clock second, whole seconds inside the publishing window
    window = [c for c in live.ws_counts() if start <= c[0] and c[0] + 1 <= end]
    if window:
        phase.comm_busiest = max(c[1] for c in window)
        phase.comm_mean = sum(c[1] for c in window) / len(window)
        phase.iopub_busiest = max(c[2] for c in window)
    print(f"  {name} at {rate:,}/s: sent {phase.sent:,} in {phase.seconds:.1f} s, received "
          f"{phase.received:,}, gaps {phase.gaps}, probes {phase.shown}/{phase.probes}, "
          f"widget msgs busiest second {phase.comm_busiest}", file=sys.stderr, flush=True)
    return phase


#: The list's viewport in rows and how many row elements the virtual list keeps in the DOM.
LIST_GEOMETRY_JS = """
() => {
  const root = document.querySelector('[data-testid=sd-root]');
  const list = root.querySelector('[role=listbox]');
  return { height_px: list.clientHeight,
           dom_rows: root.querySelectorAll('[data-testid=sd-row]').length };
}
"""


def run_browser(args: argparse.Namespace, phases: list[Phase], notes: dict[str, Any]) -> None:
    """Everything that needs Voila + Chromium; fills ``phases`` and ``notes`` as it goes."""
    from _browser import LivePage

    t0 = time.monotonic()
    with LivePage(CHANNEL, max_messages=10_000) as live:
        notes["startup_s"] = time.monotonic() - t0
        print(f"  Voila + Chromium up in {notes['startup_s']:.0f} s", file=sys.stderr)
        live.type_query(QUERY)
        for rate in LATENCY_RATES:
            phases.append(run_phase(live, "latency", rate, args.seconds, True, False))
        live.type_query("")
        notes["list"] = live.page.evaluate(LIST_GEOMETRY_JS)
        notes["buffered_for_frames"] = live.kernel.eval("len(dbg.buffer)")
        for rate in FRAME_RATES:
            phases.append(run_phase(live, "frames", rate, args.frame_seconds, False, True))
        live.settle(2)
        notes["kernel_rss_mb"] = live.kernel_rss_mb()
        notes["kernel_buffered"] = live.kernel.eval("len(dbg.buffer)")
        notes["iopub_warning"] = "IOPub message rate exceeded" in live.voila.log()
        notes["page_errors"] = list(live.errors)


# ---- report ---------------------------------------------------------------------------------


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def report(phases: list[Phase], notes: dict[str, Any], rss: list[dict[str, float]],
           args: argparse.Namespace) -> None:
    from ingest import load_average, machine

    lat = [p for p in phases if p.name == "latency"]
    frm = [p for p in phases if p.name == "frames"]
    if lat:
        print(f"\n### PUBLISH -> row visible: filter box `{QUERY}`, 1 % of events are probes, "
              f"{args.seconds:g} s per rate (Voila + headless Chromium)\n")
        print("| rate (events/s) | published (achieved/s) | received (gaps) | probes published "
              "| probes shown | p50 ms | p95 ms | p99 ms | max ms |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for p in lat:
            shown = 100 * p.shown / p.probes if p.probes else float("nan")
            print(f"| {p.rate:,} | {p.sent:,} ({p.sent / max(p.seconds, 1e-9):,.0f}) | "
                  f"{p.received:,} ({p.gaps}) | {p.probes:,} | {p.shown:,} ({shown:.1f} %) | "
                  f"{ms(percentile(p.latencies, 50))} | {ms(percentile(p.latencies, 95))} | "
                  f"{ms(percentile(p.latencies, 99))} | "
                  f"{ms(max(p.latencies, default=float('nan')))} |")
        print("\nLatency: the first `Date.now()` at which the probe's row entered the list's DOM "
              "(MutationObserver) minus the publisher's `time.time()` just before its socket "
              "write, same machine clock; painting follows within a frame. Shown: the probe's "
              "row entered the DOM at all; the percentiles are over the probes shown. Goal: "
              "p95 <= 200 ms at both rates, >= 95 % shown.")
        geo = notes.get("list")
        if geo:
            runs = ", ".join(f"{p.longest_missed_run} at {p.rate:,}/s" for p in lat)
            print(f"The list is {geo['height_px']} px tall (about {geo['height_px'] // 28} rows "
                  f"of 28 px); the virtual list keeps {geo['dom_rows']} rows in the DOM (the "
                  "viewport plus overscan). A delta that brings more matches than that at once "
                  "(after a stall) pushes the older ones past the DOM before they are drawn: "
                  f"longest run of consecutive probes never shown: {runs}.")
    if frm:
        print(f"\n### Frames while streaming: {notes.get('buffered_for_frames', 0):,} buffered, "
              f"no filter, {args.frame_seconds:g} s per rate\n")
        print("| rate (events/s) | published (achieved/s) | received (gaps) | frames/s "
              "| p50 gap ms | p99 gap ms | max gap ms | long tasks (longest ms) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for p in frm:
            gaps = p.frames.get("gaps", [])
            fps = len(gaps) / p.frames["seconds"] if p.frames.get("seconds") else float("nan")
            tasks = p.frames.get("longTasks", [])
            print(f"| {p.rate:,} | {p.sent:,} ({p.sent / max(p.seconds, 1e-9):,.0f}) | "
                  f"{p.received:,} ({p.gaps}) | {fps:.1f} | {percentile(gaps, 50):.1f} | "
                  f"{percentile(gaps, 99):.1f} | {max(gaps, default=float('nan')):.1f} | "
                  f"{len(tasks)} ({max(tasks, default=0):.0f}) |")
        print("\nrequestAnimationFrame gaps in the page while the flood runs. Goal: 60-66 "
              "frames/s, p99 gap ~17 ms.")
    if phases:
        print("\n### Widget messages per second (the page's kernel WebSocket)\n")
        print("| phase | rate (events/s) | widget comm_msg, busiest second | mean/s "
              "| all IOPub, busiest second | kernel: deltas+snapshots /s | trait updates /s |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for p in phases:
            secs = max(p.seconds, 1e-9)
            print(f"| {p.name} | {p.rate:,} | {p.comm_busiest} | {p.comm_mean:.1f} | "
                  f"{p.iopub_busiest} | {p.kernel_msgs / secs:.1f} | "
                  f"{p.kernel_traits / secs:.1f} |")
        warn = "seen" if notes.get("iopub_warning") else "not seen"
        print(f"\njupyter_server drops IOPub messages above 1,000/s (averaged over 3 s): "
              f"\"IOPub message rate exceeded\" {warn} in Voila's log. Goal: ~12 widget "
              f"messages/s.")
    if rss:
        print("\n### Kernel memory: RSS of a process holding N parsed events "
              "(EventBuffer(max_messages=1_000_000), every payload unique)\n")
        print("| buffered events | RSS MB | payload MB | MB per 100k (since previous row) |")
        print("|---:|---:|---:|---:|")
        prev = None
        for r in rss:
            per = ("-" if prev is None or r["events"] == prev["events"] else
                   f"{(r['rss_mb'] - prev['rss_mb']) / (r['events'] - prev['events']) * 1e5:.0f}")
            print(f"| {int(r['events']):,} | {r['rss_mb']:.0f} | {r['payload_mb']:.0f} | {per} |")
            prev = r
        if "kernel_rss_mb" in notes:
            print(f"\nThe live Voila kernel (widget, pump, {notes['kernel_buffered']:,} buffered) "
                  f"at the end of the run: {notes['kernel_rss_mb']:.0f} MB RSS.")
        if len(rss) >= 3:
            per_event = (rss[-1]["payload_mb"] / rss[-1]["events"]) * 2**20
            print(f"The default max_bytes (256 MiB of payload) would hold about "
                  f"{256 * 2**20 / per_event:,.0f} of these {per_event:.0f}-byte events.")
    if notes.get("page_errors"):
        print("\nPage errors: " + "; ".join(notes["page_errors"][:5]))
    print("\nMachine:\n" + "\n".join(machine()) + f"\n- load average (1 min) at the end: "
          f"{load_average():.1f}")
    print("\n" + figure(lat, frm, phases, rss))


def figure(lat: list[Phase], frm: list[Phase], phases: list[Phase],
           rss: list[dict[str, float]]) -> str:
    """The one-line figure printed last."""
    def k(rate: int) -> str:
        return f"{rate // 1000}k/s"

    parts = []
    if lat:
        p95 = ", ".join(f"{k(p.rate)} {ms(percentile(p.latencies, 95))} ms" for p in lat)
        shown = " / ".join(f"{100 * p.shown / p.probes:.0f} %" if p.probes else "-" for p in lat)
        parts.append(f"latency p95: {p95} (goal <= 200 ms); probes shown {shown}")
    if frm:
        fps = ", ".join(
            f"{k(p.rate)} {len(p.frames.get('gaps', [])) / p.frames['seconds']:.0f}/s "
            f"(p99 gap {percentile(p.frames.get('gaps', []), 99):.0f} ms)"
            for p in frm if p.frames.get("seconds"))
        parts.append(f"frames {fps}")
    if phases:
        parts.append(f"busiest second {max(p.comm_busiest for p in phases)} widget msgs")
    if len(rss) >= 3:
        first = next(r for r in rss if r["events"] >= 10_000)
        slope = (rss[-1]["rss_mb"] - first["rss_mb"]) / (rss[-1]["events"] - first["events"])
        parts.append(f"RSS {slope * 1e5:.0f} MB per 100k events")
    return "; ".join(parts) if parts else "no figure: nothing was measured"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short phases, fewer events")
    parser.add_argument("--seconds", type=float, help="seconds per latency rate (30; quick 10)")
    parser.add_argument("--frame-seconds", type=float,
                        help="seconds per frame rate (20; quick 5)")
    parser.add_argument("--rss-events", type=int,
                        help="events for the memory curve (1,000,000; quick 200,000)")
    parser.add_argument("--no-browser", action="store_true", help="only the memory curve")
    # the child processes this script starts (not for users)
    parser.add_argument("--publisher", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--channel", default=CHANNEL, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--probe-every", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="probe-", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--unique", type=int, default=20_000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.publisher:
        args.seconds = args.duration
        return publisher_main(args)
    if args.rss_child is not None:
        return rss_child_main(args.rss_child)

    from _browser import exit_cleanly_on_sigterm

    exit_cleanly_on_sigterm()
    args.seconds = args.seconds or (10.0 if args.quick else 30.0)
    args.frame_seconds = args.frame_seconds or (5.0 if args.quick else 20.0)
    args.rss_events = args.rss_events or (200_000 if args.quick else 1_000_000)
    phases: list[Phase] = []
    notes: dict[str, Any] = {}
    rss: list[dict[str, float]] = []
    try:
        if not args.no_browser:
            run_browser(args, phases, notes)
        print(f"  memory curve to {args.rss_events:,} events...", file=sys.stderr, flush=True)
        rss = measure_rss(args.rss_events)
    finally:
        report(phases, notes, rss, args)
    return 0


if __name__ == "__main__":
    if "--publisher" in sys.argv or "--rss-child" in sys.argv:
        sys.exit(main())  # a child of this benchmark: its parent reports
    try:
        main()
    except KeyboardInterrupt:
        print("benchmark failed: interrupted", file=sys.stderr)
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
