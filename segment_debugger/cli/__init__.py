"""The ``segment-debugger`` command line: one parser, one module per subcommand.

``publish`` (:mod:`.publish`) sends fake events, ``tail`` (:mod:`.tail`) prints them one line
each (the line: :mod:`.format`), ``record`` (:mod:`.record`) writes them to a file, ``replay``
(:mod:`.replay`) publishes a recording again, ``demo`` (:mod:`.demo`) runs the dashboard. Each
module exposes ``add_parser(subparsers)``, which registers the subcommand and sets ``func``:
``func(args)`` returns the exit code or raises :class:`~.common.CommandError`. What they share
(the source flags of ``tail`` and ``record``, connecting to Redis) is :mod:`.common`'s.
"""

from __future__ import annotations

import argparse
import sys

from segment_debugger.cli import demo, publish, record, replay, tail
from segment_debugger.cli.common import EXIT_USAGE, CommandError

#: The subcommand modules, in the order ``--help`` lists them.
COMMANDS = (publish, tail, record, replay, demo)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``segment-debugger`` argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="segment-debugger", description="A live debugger for Segment events in Redis."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``segment-debugger`` command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(func(args) or 0)
    except CommandError as exc:
        print(f"segment-debugger {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
