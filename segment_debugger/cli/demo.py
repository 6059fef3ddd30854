"""``segment-debugger demo``: Redis, the fake event stream and the Voila dashboard in one command.

Without ``--url`` the demo uses a Redis answering at
:data:`~segment_debugger.sources.url.DEFAULT_URL` or, when none does, starts an
:class:`~segment_debugger.playground.server.EmbeddedRedis`. It publishes the fake Segment
stream from a thread of this process (to a pub/sub channel, or with ``--stream`` to a Redis
stream), serves ``dashboard.ipynb`` with Voila
(:class:`~segment_debugger.playground.voila.VoilaServer`, told the Redis URL through
``SEGMENT_DEBUGGER_URL`` and the channel through ``SEGMENT_DEBUGGER_CHANNEL``, or the stream
through ``SEGMENT_DEBUGGER_STREAM``), prints the URL and opens a browser. Ctrl-C or SIGTERM stops
everything (Voila and its kernels, the publisher, the embedded server) and exits 0.
"""

from __future__ import annotations

import argparse
import os
import threading
import webbrowser
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from segment_debugger.cli.common import EXIT_USAGE, stop_on_signals
from segment_debugger.playground.demo import DEMO_STREAM_MAXLEN
from segment_debugger.playground.publisher import Publisher
from segment_debugger.playground.server import EmbeddedRedis, ping
from segment_debugger.playground.voila import VoilaServer, port_is_free
from segment_debugger.sources.url import DEFAULT_CHANNEL, DEFAULT_URL, redact

#: The ``--help`` text: the module docstring's second paragraph without reST markup.
DESCRIPTION = (
    f"Without --url the demo uses a Redis answering at {DEFAULT_URL} or, when none "
    "does, starts an embedded one (a redis-server on PATH, else fakeredis). It publishes a "
    "fake Segment stream (to a pub/sub channel, or with --stream to a Redis stream), serves the "
    "dashboard notebook with Voila, prints the URL and opens "
    "a browser. Ctrl-C stops everything (Voila and its kernels, the publisher, the embedded "
    "server) and exits 0."
)

#: Environment variables the dashboard notebook reads.
ENV_URL = "SEGMENT_DEBUGGER_URL"
ENV_CHANNEL = "SEGMENT_DEBUGGER_CHANNEL"
#: Set (to the stream's name) when the dashboard must read a stream instead of a channel.
ENV_STREAM = "SEGMENT_DEBUGGER_STREAM"
DASHBOARD = "dashboard.ipynb"


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``demo`` on the ``segment-debugger`` command line."""
    parser = subparsers.add_parser(
        "demo",
        help="run the live demo dashboard (fake events, embedded Redis if needed, Voila)",
        description=DESCRIPTION,
    )
    parser.add_argument("--url", help=f"Redis URL or cluster seed list to use (default: "
                        f"{DEFAULT_URL} if it answers, else an embedded server)")
    parser.add_argument("--port", type=int, default=8866, help="Voila port (default: 8866)")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="fake events per second (default: 100)")
    parser.add_argument("--invalid-fraction", type=float, default=0.02,
                        help="fraction of invalid events (default: 0.02)")
    parser.add_argument("--channel", default=DEFAULT_CHANNEL,
                        help=f"pub/sub channel, or with --stream the stream "
                        f"(default: {DEFAULT_CHANNEL})")
    parser.add_argument("--stream", action="store_true",
                        help="publish to a Redis stream (XADD) named --channel, and have the "
                        "dashboard read it (XREAD) instead of pub/sub")
    parser.add_argument("--maxlen", type=int, default=DEMO_STREAM_MAXLEN, metavar="N",
                        help="with --stream: trim the stream to about N entries "
                        f"(default: {DEMO_STREAM_MAXLEN})")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument("--notebook", type=Path,
                        help="serve this notebook instead of the dashboard")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for Voila to answer (default: 60)")
    parser.set_defaults(func=run)


def find_dashboard() -> Path:
    """Return the dashboard notebook: the copy inside the package (wheels), else the repo's."""
    packaged = resources.files("segment_debugger").joinpath("notebooks").joinpath(DASHBOARD)
    if packaged.is_file():
        return Path(str(packaged))
    repo = Path(__file__).resolve().parents[2] / "notebooks" / DASHBOARD
    if repo.is_file():
        return repo
    raise FileNotFoundError(
        f"{DASHBOARD} is neither in the installed package nor in a source checkout ({repo}):"
        " reinstall segment-debugger, or pass --notebook PATH"
    )


def dashboard_env(
    base: Mapping[str, str], url: str, name: str, *, stream: bool
) -> dict[str, str]:
    """Return the dashboard's environment: ``base`` plus where to read (channel or stream)."""
    env = {**base, ENV_URL: url, ENV_CHANNEL: name}
    if stream:
        env[ENV_STREAM] = name
    else:
        env.pop(ENV_STREAM, None)  # one inherited from our own environment must not win
    return env


def _say(text: str) -> None:
    print(f"segment-debugger demo: {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the demo until SIGINT/SIGTERM; return the exit code."""
    stop = threading.Event()
    with stop_on_signals(stop):
        return _serve(args, stop)


def _serve(args: argparse.Namespace, stop: threading.Event) -> int:
    server: EmbeddedRedis | None = None
    publisher: Publisher | None = None
    voila: VoilaServer | None = None
    try:
        if args.maxlen < 1:
            _say(f"error: --maxlen {args.maxlen} is out of range: give a count >= 1")
            return EXIT_USAGE
        notebook = args.notebook or find_dashboard()
        if not notebook.is_file():
            _say(f"error: notebook {notebook} does not exist")
            return EXIT_USAGE
        if not port_is_free(args.port):
            _say(f"error: port {args.port} is in use: stop what uses it or pass --port N")
            return EXIT_USAGE
        url = args.url
        if url is None:
            if ping(DEFAULT_URL):
                url = DEFAULT_URL
                _say(f"using the Redis answering at {url}")
            else:
                server = EmbeddedRedis().start()
                url = server.url
                _say(f"started an embedded Redis ({server.kind}) at {url}")
        elif not ping(url, timeout=2.0):
            _say(f"error: no Redis answers at {redact(url)}: check --url, or omit it for an "
                 "embedded one")
            return EXIT_USAGE
        publisher = Publisher(
            url, args.channel, rate=args.rate, invalid_fraction=args.invalid_fraction,
            stream=args.stream, maxlen=args.maxlen if args.stream else None,
        ).start()
        _say(f"publishing fake events to {publisher.target} at {args.rate:g}/s")
        env = dashboard_env(os.environ, url, args.channel, stream=args.stream)
        voila = VoilaServer(Path(notebook).resolve(), args.port, env)
        voila.start()
        if not voila.wait_ready(args.timeout, stop):
            return 0
        _say(f"dashboard at {voila.url}  (Ctrl-C to stop)")
        if not args.no_browser:
            webbrowser.open(voila.url)
        while not stop.wait(0.5):
            if not voila.running:
                _say(f"error: Voila exited unexpectedly; its log:\n{voila.log_tail()}")
                return 1
        _say("stopping")
        return 0
    except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
        _say(f"error: {exc}")
        return 1
    finally:
        if voila is not None:
            voila.stop()
        if publisher is not None:
            publisher.stop()
        if server is not None:
            server.stop()
