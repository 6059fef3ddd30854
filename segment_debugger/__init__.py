"""segment_debugger: a live debugger for Segment analytics events flowing through Redis.

The public API is re-exported here and imported lazily, so ``import segment_debugger`` stays
cheap and the headless engine never pulls in the widget stack.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Event": "core.event",
    "parse_event": "core.segment",
    "EventBuffer": "core.buffer",
    "parse_query": "core.query",
    "RedisSource": "sources.pubsub",
    "StreamSource": "sources.streams",
    "SegmentDebugger": "widget.widget",
    "demo": "playground.demo",
    "running": "widget.registry",
    "close_all": "widget.registry",
    "open_recording": "io.recording",
    "Capture": "io.capture",
    "CaptureTimeout": "io.capture",
    "Checks": "core.checks",
    "Criteria": "core.query",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'segment_debugger' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"segment_debugger.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
