"""The notebook widget: a thin anywidget, the flusher, and the wire format of the front end.

``widget`` (the anywidget class: traits and wiring), ``pump`` (deltas at a bounded rate),
``wire`` (rows, messages and traits shared with the front end), ``requests`` (answers to the
front end's requests), ``view`` (the view's criteria, the selected event), ``python_api``
(the DataFrame and analysis methods), ``registry`` (one debugger per cell, ``close_all``),
``assets`` (the built bundle); ``static/`` holds the built JS bundle.
"""
