"""redis-py internals, isolated: everything that relies on names redis-py does not promise.

- The hiredis reader behind a connection: draining replies hiredis already parsed into memory
  (``reader.gets()``) avoids a ``get_message`` round trip per message, most of the read loop's
  cost at high rates.
- A connection pool whose TLS connections bound the handshake by the connect timeout, say what
  went wrong in words (a plain server, an untrusted certificate), are not retried blindly by
  redis-py, and can be interrupted from another thread (``stop()`` closes the socket out from
  under a blocked handshake).
- Sending commands packed into one write and reading the replies one at a time
  (:func:`send_commands`, :func:`read_reply`: the Streams read sent ahead), or both at once
  (:func:`send_packed`), and the plain client of a cluster's default node
  (:func:`default_node_client`): what ``io/publish.py``'s ``publish_batch`` writes with.

These hooks may move in a redis-py release: they are all here, and each has a fallback.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.connection import SSLConnection

try:
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NOT_ENOUGH_DATA
    from redis._parsers.hiredis import _HiredisParser
except ImportError:  # pragma: no cover - redis-py without this module layout
    _HiredisParser = None  # type: ignore[assignment,misc]
    _NOT_ENOUGH_DATA = object()

#: What ``reader.gets()`` returns when no complete reply is buffered.
NOT_ENOUGH_DATA: Any = _NOT_ENOUGH_DATA


def buffered_reader(connection: Any) -> Any | None:
    """Return the hiredis reader holding ``connection``'s received bytes, or None.

    None when hiredis is not installed, not used by this connection, or redis-py changed.
    """
    if _HiredisParser is None:
        return None
    parser = getattr(connection, "_parser", None)
    if not isinstance(parser, _HiredisParser):
        return None
    return getattr(parser, "_reader", None)


class TLSError(redis.RedisError):
    """The TLS handshake failed; the message says why in words and what to check.

    A :class:`redis.RedisError` but not a ``ConnectionError``, so redis-py does not retry it
    at once (the source backs off and retries instead).
    """


class Interrupter:
    """Holds the socket of a handshake in progress so another thread can close it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.interrupted = False

    def begin(self, sock: socket.socket) -> None:
        """Register ``sock``; close it at once if ``interrupt()`` came first."""
        with self._lock:
            self._sock = sock
            interrupted = self.interrupted
        if interrupted:
            _close(sock)

    def end(self) -> None:
        """Forget the socket (the handshake is over)."""
        with self._lock:
            self._sock = None

    def interrupt(self) -> None:
        """Close the registered socket: a blocked handshake fails at once. Thread-safe."""
        with self._lock:
            self.interrupted = True
            sock, self._sock = self._sock, None
        if sock is not None:
            _close(sock)

    def reset(self) -> None:
        """Allow new handshakes (after a restart)."""
        with self._lock:
            self.interrupted = False


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class _GuardedSSLConnection(SSLConnection):
    """An SSLConnection whose handshake is bounded, interruptible and explained."""

    interrupter: Interrupter | None = None

    def _wrap_socket_with_ssl(self, sock: socket.socket) -> Any:
        interrupter = self.interrupter
        sock.settimeout(self.socket_connect_timeout)
        if interrupter is not None:
            interrupter.begin(sock)
        try:
            wrapped = super()._wrap_socket_with_ssl(sock)  # type: ignore[no-untyped-call]
        except ssl.SSLCertVerificationError as exc:
            raise TLSError(
                f"TLS certificate not trusted ({exc.verify_message}): pass the CA that signed "
                "the server's certificate with ?ssl_ca_certs=/path/to/ca.pem"
            ) from None
        except TimeoutError:
            raise TLSError(
                f"TLS handshake failed: no TLS reply within {self.socket_connect_timeout:g} s; "
                "is the server TLS-enabled? (use redis:// for a plain server)"
            ) from None
        except (ssl.SSLError, OSError) as exc:
            if interrupter is not None and interrupter.interrupted:
                raise TLSError("TLS handshake interrupted: the source is stopping") from None
            raise TLSError(
                f"TLS handshake failed ({exc}): is the server TLS-enabled? "
                "(use redis:// for a plain server)"
            ) from None
        finally:
            if interrupter is not None:
                interrupter.end()
        wrapped.settimeout(self.socket_timeout)
        return wrapped


class GuardedPool(redis.ConnectionPool):
    """A ConnectionPool whose TLS connections use :class:`_GuardedSSLConnection`."""

    interrupter: Interrupter

    def make_connection(self) -> Any:
        """Make a connection as redis-py does, then attach the interrupter to it."""
        connection = super().make_connection()
        if isinstance(connection, _GuardedSSLConnection):
            connection.interrupter = self.interrupter
        return connection


def guarded_pool(url: str, interrupter: Interrupter, **options: Any) -> GuardedPool:
    """Return a pool for ``url`` (redis-py's ``from_url`` rules) with guarded TLS connections."""
    pool = GuardedPool.from_url(url, **options)
    pool.interrupter = interrupter
    if pool.connection_class is SSLConnection:
        pool.connection_class = _GuardedSSLConnection
    return pool


def socket_fileno(connection: Any) -> int | None:
    """Return the file descriptor of ``connection``'s socket, for polling, or None.

    None when not connected, or when redis-py renamed ``Connection._sock`` (no public
    accessor): callers then fall back to asking each connection in turn.
    """
    sock = getattr(connection, "_sock", None)
    try:
        return None if sock is None else int(sock.fileno())
    except (OSError, ValueError):
        return None


def send_commands(connection: Any, commands: Sequence[tuple[Any, ...]]) -> None:
    """Write ``commands`` to ``connection`` packed into one write; read no reply."""
    connection.send_packed_command(connection.pack_commands(commands))


def read_reply(connection: Any) -> Any:
    """Return the next reply on ``connection`` as its parser gave it; an error reply raises."""
    return connection.read_response()


def send_packed(client: redis.Redis, commands: Sequence[tuple[Any, ...]]) -> None:
    """Send ``commands`` packed into one write on a pooled connection, then read every reply.

    About twice as fast as a redis-py pipeline. A reply the server refuses raises its
    ``ResponseError``; on any error the connection is dropped (replies may be half read).
    """
    pool = client.connection_pool
    conn: Any = pool.get_connection()  # redis-py leaves these methods untyped
    try:
        send_commands(conn, commands)
        for _ in commands:
            read_reply(conn)
    except BaseException:
        conn.disconnect()  # replies may be half read: never reuse this connection
        raise
    finally:
        pool.release(conn)


def default_node_client(cluster: RedisCluster) -> redis.Redis:
    """Return the plain client of ``cluster``'s default node (a command any node takes)."""
    untyped: Any = cluster  # redis-py leaves get_default_node untyped
    client: redis.Redis = untyped.get_redis_connection(untyped.get_default_node())
    return client
