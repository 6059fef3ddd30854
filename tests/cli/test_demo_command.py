"""``segment-debugger demo`` up to starting Voila: refusals, the dashboard notebook."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from support.leftovers import our_threads
from support.redis_server import free_port

from segment_debugger.cli import demo as demo_command


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    yield
    assert our_threads() == [], "threads still running after the test"


def test_demo_command_refuses_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = _demo_args(port=port)
        assert args.func(args) == 2
    assert f"port {port} is in use" in capsys.readouterr().out


def test_demo_command_refuses_an_unreachable_url(capsys: pytest.CaptureFixture[str]) -> None:
    dead = free_port()  # nothing listens there
    args = _demo_args(port=free_port(), url=f"redis://127.0.0.1:{dead}/0")
    assert args.func(args) == 2
    assert "no Redis answers" in capsys.readouterr().out


def test_dashboard_notebook_is_found() -> None:
    path = demo_command.find_dashboard()
    assert path.name == "dashboard.ipynb" and path.is_file()


def _demo_args(**overrides: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    demo_command.add_parser(parser.add_subparsers())
    argv = ["demo", "--no-browser"]
    for key, value in overrides.items():
        argv += [f"--{key}", str(value)]
    return parser.parse_args(argv)
