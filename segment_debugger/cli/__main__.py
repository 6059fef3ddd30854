"""``python -m segment_debugger.cli``: the same as the ``segment-debugger`` command."""

import sys

from segment_debugger.cli import main

sys.exit(main())
