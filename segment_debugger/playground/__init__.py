"""Everything the demo needs: an embedded Redis, a fake Segment stream, a publisher thread.

(Not named ``demo``: the public function ``segment_debugger.demo`` would be shadowed by it.)
"""
