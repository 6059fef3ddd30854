"""Files and captures: export (NDJSON, gzip, Parquet, CSV), Arrow/polars tables, test captures.

Imports point down the flow: this package reads :mod:`segment_debugger.core` and
:mod:`segment_debugger.sources`; core's ``EventBuffer.export`` / ``to_arrow`` / ``capture``
import from here only when called. The names below load on first use, so importing one module
of the package (``io.publish`` for the ``publish`` command) does not pull in pandas and pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segment_debugger.io.arrow import events_to_arrow, events_to_polars
    from segment_debugger.io.capture import Capture, CaptureTimeout
    from segment_debugger.io.export import (
        FORMATS,
        WRAPPER_KEY,
        decode_line,
        encode_payload,
        export_events,
        read_ndjson,
    )

_EXPORTS = {
    "FORMATS": "export",
    "WRAPPER_KEY": "export",
    "Capture": "capture",
    "CaptureTimeout": "capture",
    "decode_line": "export",
    "encode_payload": "export",
    "events_to_arrow": "arrow",
    "events_to_polars": "arrow",
    "export_events": "export",
    "read_ndjson": "export",
}

__all__ = [
    "FORMATS",
    "WRAPPER_KEY",
    "Capture",
    "CaptureTimeout",
    "decode_line",
    "encode_payload",
    "events_to_arrow",
    "events_to_polars",
    "export_events",
    "read_ndjson",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'segment_debugger.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"segment_debugger.io.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
