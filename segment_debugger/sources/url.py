"""Validate Redis URLs and redact their secrets before they reach a repr, a log or a status.

Redaction works by allow-list: in the query string only the options below keep their values
(``?password=``, ``?username=``, ``?ssl_password=`` and any key redis-py may add later are
shown as ``***``); in the userinfo the password is redacted and the user name kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, unquote, urlsplit

#: The URL schemes a source accepts, with what each one means (used in error messages).
SCHEMES: dict[str, str] = {
    "redis": "redis://[[username]:password@]host[:port][/db]",
    "rediss": "rediss://[[username]:password@]host[:port][/db]  (TLS)",
    "unix": "unix://[[username]:password@]/path/to/redis.sock[?db=N]",
}

REDACTED = "***"

#: Query options whose values are shown as they are; every other value is redacted.
SAFE_QUERY_KEYS = frozenset({
    "db", "protocol", "client_name", "decode_responses", "encoding", "encoding_errors",
    "socket_timeout", "socket_connect_timeout", "socket_keepalive", "retry_on_timeout",
    "max_connections", "health_check_interval", "timeout",
    "ssl_cert_reqs", "ssl_check_hostname", "ssl_ca_certs", "ssl_ca_path", "ssl_certfile",
    "ssl_keyfile", "ssl_min_version", "ssl_ciphers",
})

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
    """The decoded password, if any (also among :attr:`secrets`)."""
    secrets: tuple[str, ...] = ()
    """Every secret the URL holds, decoded and as written, longest first (see :meth:`scrub`)."""

    def scrub(self, text: str) -> str:
        """Return ``text`` with the URL and every secret in it (raw or URL-encoded) replaced.

        For exception texts and log lines that may repeat what redis-py was given.
        """
        if self.url in text:
            text = text.replace(self.url, self.redacted)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def __repr__(self) -> str:
        return f"RedisURL({self.redacted!r})"


def _accepted() -> str:
    return "accepted forms: " + "; ".join(SCHEMES.values())


def redact(url: str) -> str:
    """Return ``url`` with its secrets replaced by ``***`` (see the module doc); never raises."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    userinfo, at, hostinfo = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:{REDACTED}@{hostinfo}"
    query = "&".join(_redacted_option(option) for option in parts.query.split("&")) if (
        parts.query
    ) else ""
    fragment = REDACTED if parts.fragment else ""
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    shown = f"{parts.scheme}://{netloc}{parts.path}" if "//" in url else (
        SplitResult(parts.scheme, netloc, parts.path, "", "").geturl()
    )
    return shown + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


def _redacted_option(option: str) -> str:
    key, eq, _value = option.partition("=")
    if not eq or unquote(key) in SAFE_QUERY_KEYS:
        return option
    return f"{key}={REDACTED}"


def _secrets(url: str) -> tuple[str, ...]:
    """Every secret in ``url``, decoded and as written, longest first (never raises)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found: set[str] = set()
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        found.add(userinfo.partition(":")[2])
    for option in parts.query.split("&"):
        key, eq, value = option.partition("=")
        if eq and unquote(key) not in SAFE_QUERY_KEYS:
            found.add(value)
    if parts.fragment:
        found.add(parts.fragment)
    both = {v for raw in found if raw for v in (raw, unquote(raw), quote(unquote(raw), safe=""))}
    return tuple(sorted(both, key=len, reverse=True))


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
    return RedisURL(url=url, redacted=shown, password=password, secrets=_secrets(url))


def split_seed_urls(url: str | Sequence[str]) -> tuple[str, ...]:
    """Return one URL per node named by ``url``, each checked by :func:`parse_redis_url`.

    A Redis Cluster is reached through any of its nodes, so a cluster URL may name several
    seed nodes: ``redis://[user:password@]h1:7000,h2:7001[/db][?options]`` (the credentials,
    database and options are shared by every host) or a list of URLs. One plain URL gives a
    one-element tuple. Raise :class:`RedisURLError` naming the offending part.
    """
    if isinstance(url, str):
        return _split_hosts(url)
    if isinstance(url, (bytes, bytearray)) or not isinstance(url, Sequence) or not url:
        raise RedisURLError(
            f"Redis URL must be a string or a non-empty list of strings, got {url!r}; "
            f"{_accepted()}"
        )
    return tuple(seed for item in url for seed in _split_hosts(item))


def parse_seed_urls(url: str | Sequence[str]) -> RedisURL:
    """Check every seed of ``url`` (see :func:`split_seed_urls`); return one :class:`RedisURL`.

    Its ``redacted`` form shows every seed, and ``scrub`` removes the secrets of all of them.
    A single plain URL gives exactly what :func:`parse_redis_url` gives.
    """
    seeds = split_seed_urls(url)
    if isinstance(url, str) and len(seeds) == 1:
        return parse_redis_url(url)
    parsed = [parse_redis_url(seed) for seed in seeds]
    text = url if isinstance(url, str) else ", ".join(url)
    shown = redact(text) if isinstance(url, str) else ", ".join(p.redacted for p in parsed)
    secrets = {s for p in parsed for s in p.secrets} | set(_secrets(text))
    return RedisURL(
        url=text,
        redacted=shown,
        password=parsed[0].password,
        secrets=tuple(sorted(secrets, key=len, reverse=True)),
    )


def _split_hosts(url: str) -> tuple[str, ...]:
    if not isinstance(url, str) or "," not in url:
        parse_redis_url(url)
        return (url,)
    shown = redact(url)
    scheme, sep, rest = url.partition("://")
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    userinfo, at, hosts = netloc.rpartition("@")
    if not sep or scheme.lower() == "unix" or "," in tail:
        raise RedisURLError(
            f"Redis URL {shown!r}: only redis:// and rediss:// URLs may list several hosts "
            f"(host1:port1,host2:port2); {_accepted()}"
        )
    seeds = []
    for host in hosts.split(","):
        if not host.strip():
            raise RedisURLError(
                f"Redis URL {shown!r} has an empty entry in its host list; "
                "write redis://host1:port1,host2:port2"
            )
        seed = f"{scheme}://{userinfo}{at}{host.strip()}{tail}"
        parse_redis_url(seed)
        seeds.append(seed)
    return tuple(seeds)
