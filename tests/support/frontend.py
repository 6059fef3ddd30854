"""A comm that stands in for the widget's front end in tests without a browser.

It keeps what the widget publishes and sends what a front end would (trait writes).
"""

from __future__ import annotations

from typing import Any

from comm import DummyComm

from segment_debugger.widget.widget import SegmentDebugger


class FrontEnd(DummyComm):
    """A comm that keeps the messages the widget publishes and plays the front end's writes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.messages: list[dict[str, Any]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if msg_type == "comm_msg" and data:
            self.messages.append(data)

    def custom(self, kind: str) -> list[dict[str, Any]]:
        """The custom messages of type ``kind`` sent so far, oldest first."""
        return [m["content"] for m in self.messages
                if m.get("method") == "custom" and m["content"].get("type") == kind]

    def set_traits(self, **state: Any) -> None:
        """Write traits as the front end does (through the comm's ``update``)."""
        self.handle_msg({"content": {"comm_id": self.comm_id, "data": {
            "method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def front_end(dbg: SegmentDebugger) -> FrontEnd:
    """The recording comm of a debugger made by ``offline_debugger``."""
    assert isinstance(dbg.comm, FrontEnd)
    return dbg.comm
