"""Parse benchmark: ``parse_event`` vs ``orjson.loads`` alone, in microseconds per event.

    python benchmarks/parse.py [--events N] [--repeat R]

N pre-generated fake Segment payloads (``FakeEventStream(seed=1)``, compact JSON of ~730 bytes,
what Segment libraries and the playground publish), and the same events written the way
``json.dumps`` writes them by default (``", "`` and ``": "`` separators, non-ASCII escaped):
payloads that ``orjson.dumps`` does not write back byte for byte, so the duplicate-key check
takes its slower path. For each style, each function runs over all N payloads R times, the
order rotating; the figure is the fastest pass divided by N (min of R, in CPU time of this
process, ``time.process_time``: the machine is shared and noisy, other processes' load shows
less in CPU time than in wall time, and the minimum is the least disturbed pass).

Also shown, to see where the time goes: ``orjson.dumps`` of the parsed object (what the
duplicate-key check costs on top of the parse) and building the flat Event record alone, with
every field given, as the parser does (``event.parsed_event`` where the code has it).
A benchmark, not a test: prints a markdown table, the figure last, and always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
from _which_code import code_line, use_checkout

use_checkout()  # this checkout's code unless PYTHONPATH names another tree

from segment_debugger.core import event as _event_module  # noqa: E402
from segment_debugger.core.event import FROM_RAW, Event  # noqa: E402
from segment_debugger.core.segment import parse_event  # noqa: E402
from segment_debugger.playground.fake import FakeEventStream  # noqa: E402

#: The parser's own constructor, where the code measured has one (else Event(...)).
parsed_event: Any = getattr(_event_module, "parsed_event", None)


def payload_styles(n: int) -> dict[str, list[bytes]]:
    stream = FakeEventStream(seed=1)
    compact = [stream.payload() for _ in range(n)]
    spaced = [json.dumps(orjson.loads(p)).encode() for p in compact]
    return {"compact (orjson/fake stream)": compact, "json.dumps-style (spaces)": spaced}


def loop_loads(payloads: list[bytes]) -> None:
    loads = orjson.loads
    for raw in payloads:
        loads(raw)


def loop_parse(payloads: list[bytes]) -> None:
    parse = parse_event
    for raw in payloads:
        parse(raw, "bench", 0.0)


def loop_loads_dumps(payloads: list[bytes]) -> None:
    loads, dumps = orjson.loads, orjson.dumps
    for raw in payloads:
        dumps(loads(raw))


def loop_record(payloads: list[bytes]) -> None:
    """The record as the parser builds it: every field given, positionally."""
    if parsed_event is None:
        make = Event
        for raw in payloads:
            make(raw, "bench", 0.0, None, -1, len(raw), FROM_RAW, "track", "E", None, "u", "a",
                 "m", None, None, "t", "s", "r", FROM_RAW, None, FROM_RAW, True, None)
        return
    build = parsed_event
    for raw in payloads:
        build(raw, "bench", 0.0, None, len(raw), FROM_RAW, "track", "E", None, "u", "a", "m",
              None, None, "t", "s", "r", FROM_RAW, None, FROM_RAW, True, None, None)


FUNCTIONS: dict[str, Callable[[list[bytes]], None]] = {
    "orjson.loads": loop_loads,
    "orjson.loads + orjson.dumps": loop_loads_dumps,
    "Event record alone (as the parser builds it)": loop_record,
    "parse_event": loop_parse,
}


def timed(func: Callable[[list[bytes]], None], payloads: list[bytes]) -> float:
    gc.collect()
    t0 = time.process_time()
    func(payloads)
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    n = args.events
    results: dict[str, dict[str, float]] = {}
    sizes: dict[str, float] = {}
    for style, payloads in payload_styles(n).items():
        sizes[style] = sum(map(len, payloads)) / n
        best: dict[str, float] = dict.fromkeys(FUNCTIONS, float("inf"))
        names = list(FUNCTIONS)
        for rep in range(args.repeat):
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                best[name] = min(best[name], timed(FUNCTIONS[name], payloads))
        results[style] = {name: s / n * 1e6 for name, s in best.items()}

    print(f"\n### parse_event vs orjson.loads: {n:,} fake events, min of {args.repeat} passes\n")
    print(f"{code_line()}\n")
    styles = list(results)
    print("| µs/event | " + " | ".join(f"{s}, {sizes[s]:.0f} B" for s in styles) + " |")
    print("|---|" + "---:|" * len(styles))
    for name in FUNCTIONS:
        print(f"| {name} | " + " | ".join(f"{results[s][name]:.2f}" for s in styles) + " |")
    print("| parse_event / orjson.loads | " + " | ".join(
        f"{results[s]['parse_event'] / results[s]['orjson.loads']:.2f}x" for s in styles) + " |")
    print()
    figure: list[Any] = []
    for s in styles:
        r = results[s]
        figure.append(f"{s}: parse_event {r['parse_event']:.2f} µs/event, "
                      f"{r['parse_event'] / r['orjson.loads']:.2f}x orjson.loads")
    print("\n".join(figure))
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
