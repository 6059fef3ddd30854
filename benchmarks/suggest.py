"""Suggest benchmark: one filter-box suggestion request over N buffered events, in ms.

    python benchmarks/suggest.py [--events N] [--repeat R]

N fake Segment events (``FakeEventStream(seed=1).payload()``, what the playground publishes)
in an ``EventBuffer`` with schema inference on (as a widget's buffer has). Timed, as the widget
answers a ``suggest_request`` (``Suggester.suggest(text)``):

- **cold**: the first request after the buffer changed (the summary is rebuilt: the newest
  5,000 events read, the schemas' paths merged) — what every request costs at most once a
  second while events arrive;
- **warm**: a request on an unchanged buffer (the summary cached) — ``properties.`` and
  ``event:`` (values counted once per summary, then cached).

Baseline, in the same run: ``Criteria.of("type:track").filter(snapshot)``, one pass of the
filter over the buffer — what the widget already does for every change of the filter box
(the pump's snapshot after the ``query`` trait changes). Each figure is the fastest of R passes
(``time.perf_counter``; the machine is shared and noisy). A benchmark, not a test: prints a
markdown table, the figure last, and always exits 0.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable

from _which_code import code_line, use_checkout

use_checkout()  # this checkout's code unless PYTHONPATH names another tree

from segment_debugger.analysis.suggest import Suggester  # noqa: E402
from segment_debugger.core.buffer import EventBuffer  # noqa: E402
from segment_debugger.core.query import Criteria  # noqa: E402
from segment_debugger.core.segment import parse_event  # noqa: E402
from segment_debugger.playground.fake import FakeEventStream  # noqa: E402


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` calls of ``fn``, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="buffered events (10,000)")
    parser.add_argument("--repeat", type=int, default=9, help="passes, best kept (9)")
    args = parser.parse_args(argv)
    n, repeat = args.events, args.repeat
    stream = FakeEventStream(seed=1)
    buffer = EventBuffer(max_messages=n, infer_schemas=True)
    buffer.extend(parse_event(stream.payload(), "events", 1.0 + i / 1000) for i in range(n))
    criteria = Criteria.of("type:track")

    def cold() -> None:
        Suggester(buffer).suggest("event:")  # a new Suggester: nothing cached

    warm = Suggester(buffer)
    warm.suggest("event:")
    rows = [
        ("baseline: one filter pass (`type:track`)",
         best_ms(lambda: criteria.filter(buffer.snapshot()), repeat)),
        ("cold: summary rebuilt, `event:`", best_ms(cold, repeat)),
        ("warm: `properties.`", best_ms(lambda: warm.suggest("properties."), repeat)),
        ("warm: `event:`", best_ms(lambda: warm.suggest("event:"), repeat)),
        ("warm: `type:track userid:u1 properties.c` (+ hint)",
         best_ms(lambda: warm.suggest("type:track userid:u1 properties.c"), repeat)),
    ]
    baseline = rows[0][1]
    print(f"\n### Suggest: {n:,} buffered events\n")
    print(f"{code_line()}\n")
    print("| request | ms | / baseline |")
    print("|---|---:|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} | {ms / baseline:.2f}x |")
    print(f"\nMachine: {platform.machine()}, Python {platform.python_version()}, best of {repeat}")
    cold_ms, warm_ms = rows[1][1], rows[2][1]
    print(f"\nsuggest over {n:,} events: cold {cold_ms:.1f} ms ({cold_ms / baseline:.2f}x one "
          f"filter pass), warm {warm_ms:.2f} ms")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # a benchmark reports, never fails the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
        sys.exit(0)
