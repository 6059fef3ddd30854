"""Files and captures: export (NDJSON, gzip, Parquet, CSV), Arrow/polars tables, test captures.

Imports point down the flow: this package reads :mod:`segment_debugger.core`; core's
``EventBuffer.export`` / ``to_arrow`` / ``capture`` import from here only when called.
"""

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
