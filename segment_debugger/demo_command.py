"""The ``segment-debugger demo`` subcommand (owned by the demo work; replaced there)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``demo`` on the ``segment-debugger`` command line."""
    parser = subparsers.add_parser("demo", help="run the live demo dashboard (embedded Redis)")
    parser.set_defaults(func=_not_ready)


def _not_ready(args: argparse.Namespace) -> int:
    raise SystemExit("segment-debugger demo: not built yet")
