"""The engine: events, their buffer, the filter language and DataFrames; no Redis, no widget.

bytes -> :class:`Event` (``segment``), a bounded :class:`EventBuffer` (``buffer``), the filter
language (``query``) and DataFrames (``frame``). Everything above builds on it.
"""
