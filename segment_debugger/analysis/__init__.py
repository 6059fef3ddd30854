"""Derived views of the buffered stream: checks, inferred schemas, tracking plans, rates.

Each module depends on :mod:`segment_debugger.core` only. Stateful ones are
:class:`~segment_debugger.core.buffer.BufferObserver` s kept in step with a buffer; the per-event
checks (:mod:`.checks`, :mod:`.plans`) run inside ``EventBuffer`` while an event is appended.
"""
