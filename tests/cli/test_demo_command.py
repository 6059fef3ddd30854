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


def test_demo_command_refuses_a_bad_maxlen(capsys: pytest.CaptureFixture[str]) -> None:
    args = _demo_args(port=free_port(), maxlen=0)
    assert args.func(args) == 2
    assert "--maxlen 0 is out of range" in capsys.readouterr().out


def test_the_dashboard_is_told_to_read_a_stream_or_a_channel() -> None:
    inherited = {"PATH": "/bin", demo_command.ENV_STREAM: "stale"}
    env = demo_command.dashboard_env(inherited, "redis://h:1/0", "evts", stream=True)
    assert env[demo_command.ENV_URL] == "redis://h:1/0"
    assert env[demo_command.ENV_STREAM] == "evts" and env["PATH"] == "/bin"
    env = demo_command.dashboard_env(inherited, "redis://h:1/0", "evts", stream=False)
    assert env[demo_command.ENV_CHANNEL] == "evts"
    assert demo_command.ENV_STREAM not in env  # an inherited one must not win
    args = _demo_args(stream=True)
    assert args.stream and args.maxlen == demo_command.DEMO_STREAM_MAXLEN


def test_dashboard_notebook_is_found() -> None:
    path = demo_command.find_dashboard()
    assert path.name == "dashboard.ipynb" and path.is_file()


def _demo_args(**overrides: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    demo_command.add_parser(parser.add_subparsers())
    argv = ["demo", "--no-browser"]
    for key, value in overrides.items():
        argv += [f"--{key}"] if value is True else [f"--{key}", str(value)]
    return parser.parse_args(argv)
