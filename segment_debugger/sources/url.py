"""Validate Redis URLs and redact their passwords before they reach a repr, a log or a status."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, quote, unquote, urlsplit

#: The URL schemes a source accepts, with what each one means (used in error messages).
SCHEMES: dict[str, str] = {
    "redis": "redis://[[username]:password@]host[:port][/db]",
    "rediss": "rediss://[[username]:password@]host[:port][/db]  (TLS)",
    "unix": "unix://[[username]:password@]/path/to/redis.sock[?db=N]",
}

REDACTED = "***"

#: Where a source connects when given no URL, and what it subscribes to when given no channel.
DEFAULT_URL = "redis://localhost:6379/0"
DEFAULT_CHANNEL = "events"


class RedisURLError(ValueError):
    """A Redis URL that cannot be used; the message says what was wrong and what is accepted."""


@dataclass(frozen=True, slots=True)
class RedisURL:
    """A checked Redis URL: the original (secret) text and a redacted one safe to show."""

    url: str
    """The URL as given, password included: pass it to redis-py, never print it."""
    redacted: str
    """The URL with the password replaced by ``***``."""
    password: str | None
    """The decoded password, kept so error texts can be scrubbed of it (see :meth:`scrub`)."""

    def scrub(self, text: str) -> str:
        """Return ``text`` with every occurrence of the password (raw or URL-encoded) replaced."""
        if not self.password:
            return text
        for secret in {self.password, quote(self.password, safe="")}:
            text = text.replace(secret, REDACTED)
        return text

    def __repr__(self) -> str:
        return f"RedisURL({self.redacted!r})"


def _accepted() -> str:
    return "accepted forms: " + "; ".join(SCHEMES.values())


def redact(url: str) -> str:
    """Return ``url`` with its password (if any) replaced by ``***``; never raises."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    netloc = f"{user}:{REDACTED}@{hostinfo}"
    return SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment).geturl()


def parse_redis_url(url: str) -> RedisURL:
    """Check ``url`` and return a :class:`RedisURL`; raise :class:`RedisURLError` if unusable.

    Only the shape is checked here (scheme, host, port, database, socket path); whether the
    server answers is the source's business.
    """
    if not isinstance(url, str) or not url.strip():
        raise RedisURLError(f"Redis URL must be a non-empty string, got {url!r}; {_accepted()}")
    shown = redact(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RedisURLError(f"Redis URL {shown!r} is malformed ({exc}); {_accepted()}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        what = f"scheme {parts.scheme + '://'!r}" if parts.scheme else "no scheme"
        raise RedisURLError(f"Redis URL {shown!r} has {what}; {_accepted()}")
    if scheme == "unix":
        if not parts.path or parts.path == "/":
            raise RedisURLError(
                f"Redis URL {shown!r} names no socket path; {SCHEMES['unix']}"
            )
    else:
        if not parts.hostname:
            raise RedisURLError(f"Redis URL {shown!r} names no host; {SCHEMES[scheme]}")
        db = parts.path.lstrip("/")
        if db and not db.isdigit():
            raise RedisURLError(
                f"Redis URL {shown!r}: database {db!r} is not a number; {SCHEMES[scheme]}"
            )
        if port is not None and port == 0:
            raise RedisURLError(f"Redis URL {shown!r}: port 0 is not usable; {SCHEMES[scheme]}")
    password = unquote(parts.password) if parts.password else None
    return RedisURL(url=url, redacted=shown, password=password)
