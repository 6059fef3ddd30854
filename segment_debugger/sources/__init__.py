"""Sources read Redis into an :class:`~segment_debugger.core.buffer.EventBuffer` from a thread.

``base`` owns what every source shares (thread, backoff, status, gaps, redaction); each other
module is one kind of source. Sources know nothing of the widget.
"""
