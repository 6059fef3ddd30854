"""Derived views of the buffered stream: people, inferred schemas, tracking plans.

Each module depends on :mod:`segment_debugger.core` only. Stateful ones are
:class:`~segment_debugger.core.buffer.BufferObserver` s kept in step with a buffer; plan checks
(:mod:`.plans`) run inside ``EventBuffer`` while an event is appended. The clock and delivery
checks are part of buffering itself: :mod:`segment_debugger.core.checks`. ``EventBuffer``
reaches this package only when asked (``tracking_plan=``, ``schemas()``, ``person()``), with
an import inside the method, so importing the core never imports it.
"""
