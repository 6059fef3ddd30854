"""What the playground may leave behind (processes, ports, threads): the tests' checks."""

from __future__ import annotations

import socket
import threading

import psutil


def nothing_listens(port: int) -> bool:
    """A server (SO_REUSEADDR, like redis-server and Voila) could bind the port again."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def process_gone(pid: int) -> bool:
    """The process exited (a zombie waiting to be reaped counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def our_threads() -> list[str]:
    """Names of the package's threads still running (debugger, publisher, fakeredis)."""
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith(("segment-debugger", "sd-demo", "sd-fakeredis"))
    ]
