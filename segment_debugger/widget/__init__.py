"""The notebook widget: a thin anywidget, the flusher, and the wire format of the front end.

``widget`` (the anywidget class), ``pump`` (deltas at a bounded rate), ``wire`` (rows and
messages shared with the front end); ``static/`` holds the built JS bundle.
"""
