"""The front end's requests: the dispatch table of the widget's custom messages and its answers.

``snapshot_request`` and ``clear_request`` go to the pump; ``raw_request`` (one event's raw
payload), ``export_request`` (the filtered view as NDJSON, for the Export button) and
``suggest_request`` (the filter box's completions) are answered here. Each answer carries the
request's ``request_id``; a malformed request, an unknown type or a handler that raises gets an
``error`` message (and a log line), never an exception in the kernel.

No lock is taken here: every answer leaves through the widget's ``send``, which holds the
widget's one re-entrant lock (``_funnel``, also the pump's) while it sends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from segment_debugger.widget.view import shown_events
from segment_debugger.widget.wire import (
    MAX_BROWSER_EXPORT_BYTES,
    ErrorMsg,
    ExportMsg,
    RawMsg,
    SuggestionItem,
    SuggestionsMsg,
)

if TYPE_CHECKING:
    from segment_debugger.analysis.suggest import Suggester
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.query import Criteria
    from segment_debugger.widget.pump import Pump

__all__ = ["Requests", "Send"]

log = logging.getLogger(__name__)

#: A request's handler: (the message, its request_id or None).
Handler = Callable[[dict[str, Any], "str | None"], object]


class Send(Protocol):
    """How an answer leaves: the widget's locked ``send`` (binary ``buffers`` optional)."""

    def __call__(  # noqa: D102
        self, content: Mapping[str, Any], buffers: list[bytes] | None = None
    ) -> None: ...


class Requests:
    """Answer one widget's front-end requests; :meth:`on_msg` is the widget's message callback.

    ``criteria`` returns what the view shows now (the Export button exports it); ``send``
    sends one message under the widget's lock.
    """

    def __init__(
        self,
        *,
        buffer: EventBuffer,
        pump: Pump,
        suggester: Suggester,
        criteria: Callable[[], Criteria],
        send: Send,
    ) -> None:
        self._buffer = buffer
        self._suggester = suggester
        self._criteria = criteria
        self._send = send
        self.handlers: dict[str, Handler] = {
            "snapshot_request": lambda _msg, rid: pump.snapshot(rid),
            "clear_request": lambda _msg, rid: pump.clear(rid),
            "raw_request": self._on_raw_request,
            "export_request": self._on_export_request,
            "suggest_request": self._on_suggest_request,
        }
        """The dispatch table: message type -> handler."""

    def on_msg(self, _widget: object, content: object, _buffers: object) -> None:
        """Handle one custom message from the front end (any content: bad input is answered)."""
        request_id = None
        if isinstance(content, dict) and isinstance(content.get("request_id"), str):
            request_id = content["request_id"]
        try:
            self._dispatch(content, request_id)
        except Exception as exc:
            log.exception("segment_debugger could not handle a front-end message")
            self._reply_error(f"{type(exc).__name__} while handling the request: {exc}",
                              request_id)

    def _dispatch(self, content: object, request_id: str | None) -> None:
        if not isinstance(content, dict):
            self._reply_error(
                f"a message must be a JSON object with a 'type', got {type(content).__name__}",
                None,
            )
            return
        kind = content.get("type")
        handler = self.handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            self._reply_error(
                f"unknown message type {kind!r}: expected one of {', '.join(self.handlers)}",
                request_id,
            )
            return
        handler(content, request_id)

    def _on_raw_request(self, content: dict[str, Any], request_id: str | None) -> None:
        seq = content.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            self._reply_error(f"raw_request needs an integer 'seq', got {seq!r}", request_id)
            return
        event = self._buffer.get(seq)
        raw = None if event is None else event.raw_text()
        self._send(RawMsg(type="raw", seq=seq, raw=raw, request_id=request_id))

    def _on_export_request(self, _content: dict[str, Any], request_id: str | None) -> None:
        """Answer the Export button: the filtered view as NDJSON, in the message's buffer."""
        from segment_debugger.io.export import ndjson_lines

        events = shown_events(self._buffer, self._criteria())
        data = b"".join(line + b"\n" for line in ndjson_lines(events))
        if len(data) > MAX_BROWSER_EXPORT_BYTES:
            self._reply_error(
                f"the filtered view is {len(data) / 2**20:,.0f} MB, too large for a browser "
                "download: use dbg.export(path) in Python", request_id)
            return
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        msg = ExportMsg(type="export", request_id=request_id,
                        filename=f"segment-events-{stamp}.ndjson", count=len(events),
                        size=len(data))
        self._send(msg, buffers=[data])

    def _on_suggest_request(self, content: dict[str, Any], request_id: str | None) -> None:
        """Answer the filter box: suggestions and a hint for its text at the caret."""
        text, caret = content.get("text"), content.get("caret")
        if not isinstance(text, str) or not isinstance(caret, int) or isinstance(caret, bool):
            self._reply_error("suggest_request needs a string 'text' and an integer 'caret'",
                              request_id)
            return
        answer = self._suggester.suggest(text, caret)
        self._send(SuggestionsMsg(
            type="suggestions",
            items=[SuggestionItem(label=i.label, insert=i.insert, detail=i.detail)
                   for i in answer.items],
            start=answer.start, end=answer.end, hint=answer.hint, request_id=request_id))

    def _reply_error(self, message: str, request_id: str | None) -> None:
        log.warning("segment_debugger front-end request failed: %s", message)
        self._send(ErrorMsg(type="error", message=message, request_id=request_id))
