"""segment_debugger: a live debugger for Segment analytics events flowing through Redis."""
