"""A fake Segment event stream: realistic events of all six types plus bad ones, for Redis.

The stand-in for the ``segment/fake-event-stream`` Docker image. :class:`FakeEventStream` makes
the messages; :func:`publish` paces them onto a Redis channel. With a seed, everything but the
timestamps (which follow ``clock``) is reproducible.
"""

from __future__ import annotations

import random
import threading
import time
from bisect import bisect
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import orjson
import redis

#: The kinds of bad message :meth:`FakeEventStream.bad_payload` makes. All but ``html`` break
#: the Segment spec; ``html`` is a valid event whose fields carry markup and terminal escapes.
BAD_KINDS: tuple[str, ...] = (
    "garbage",
    "non_utf8",
    "not_object",
    "missing_type",
    "unknown_type",
    "track_without_event",
    "no_user_ids",
    "oversized",
    "bad_timestamp",
    "duplicate_message_id",
    "html",
)

#: Bad kinds that a spec-following parser (and the buffer, for duplicates) flags as invalid.
FLAGGED_KINDS: frozenset[str] = frozenset(BAD_KINDS) - {"html"}

HOSTILE_STRINGS: tuple[str, ...] = (
    "<img src=x onerror=alert(1)>",
    "<script>alert(document.cookie)</script>",
    '"><svg onload=alert(1)>',
    "\x1b[2J\x1b[1;31mterminal takeover\x1b[0m",
    "\u202etxt.exe",
)

_FIRST = (
    "Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Radia", "Guido",
    "Frances", "Edsger", "Katherine", "Tim", "Hedy", "John", "Sophie", "Yukihiro", "Anita",
    "Niklaus",
)
_LAST = (
    "Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
    "Perlman", "van Rossum", "Allen", "Dijkstra", "Johnson", "Berners-Lee", "Lamarr", "McCarthy",
    "Wilson", "Matsumoto", "Borg", "Wirth",
)
_EMAIL_DOMAINS = ("example.com", "mail.example.org", "acme.example", "corp.example.net")
_PLANS = ("free", "starter", "pro", "enterprise")
_LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR")
_CURRENCIES = ("USD", "USD", "USD", "EUR", "GBP")
_SITE = "https://shop.acme.example"

_BROWSER_UAS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
)
_IOS_UAS = (
    "Acme/5.12.0 (iPhone; iOS 17.4.1; Scale/3.00)",
    "Acme/5.11.2 (iPad; iOS 16.7; Scale/2.00)",
)
_NODE_UA = "analytics-node-next/latest (node.js v20.12.2)"

_LIBRARIES = {
    "web": {"name": "analytics.js", "version": "next-1.70.0"},
    "ios": {"name": "analytics-ios", "version": "4.1.8"},
    "server": {"name": "analytics-node", "version": "2.1.2"},
}

# (name, path, title, category)
_PAGES = (
    ("Home", "/", "Acme | Everything you need", None),
    ("Pricing", "/pricing", "Pricing | Acme", None),
    ("Docs", "/docs/getting-started", "Getting started | Acme Docs", "Docs"),
    ("Docs", "/docs/api/events", "Events API | Acme Docs", "Docs"),
    ("Product", "/products/{slug}", "{product} | Acme", "Shop"),
    ("Cart", "/cart", "Your cart | Acme", "Shop"),
    ("Checkout", "/checkout", "Checkout | Acme", "Shop"),
    ("Blog", "/blog/shipping-faster", "How we ship faster | Acme Blog", "Blog"),
    ("Sign Up", "/signup", "Create your account | Acme", None),
)
_SCREENS = (
    "Home", "Product Detail", "Cart", "Checkout", "Settings", "Onboarding", "Search Results",
)
_REFERRERS = ("", "https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/x1y2z3")

# (product_id, sku, name, category, price)
_PRODUCTS = (
    ("507f1f77bcf86cd799439011", "ACM-TS-001", "Acme Logo T-Shirt", "Apparel", 24.0),
    ("507f1f77bcf86cd799439012", "ACM-HD-002", "Acme Hoodie", "Apparel", 59.0),
    ("507f1f77bcf86cd799439013", "ACM-MG-003", "Rocket Mug", "Kitchen", 14.5),
    ("507f1f77bcf86cd799439014", "ACM-BT-004", "Anvil Water Bottle", "Kitchen", 19.99),
    ("507f1f77bcf86cd799439015", "ACM-KB-005", "Mechanical Keyboard", "Electronics", 129.0),
    ("507f1f77bcf86cd799439016", "ACM-HP-006", "Noise-Cancelling Headphones", "Electronics", 249.0),
    ("507f1f77bcf86cd799439017", "ACM-BK-007", "Designing Data Pipelines", "Books", 39.95),
    ("507f1f77bcf86cd799439018", "ACM-ST-008", "Sticker Pack", "Accessories", 4.99),
    ("507f1f77bcf86cd799439019", "ACM-BP-009", "Commuter Backpack", "Accessories", 89.0),
    ("507f1f77bcf86cd79943901a", "ACM-LP-010", "Laptop Stand", "Electronics", 45.0),
)
_COMPANIES = (
    ("Initech", "Software", 250),
    ("Globex", "Manufacturing", 4200),
    ("Umbrella Corp", "Pharmaceuticals", 12000),
    ("Hooli", "Technology", 31000),
    ("Vandelay Industries", "Import/Export", 40),
    ("Stark Industries", "Aerospace", 8800),
    ("Wayne Enterprises", "Conglomerate", 51000),
    ("Soylent", "Food", 600),
)
_FEATURES = ("dashboards", "alerts", "exports", "sql-editor", "api-keys", "sso", "audit-log")

# Track events and their relative frequency.
_TRACK_EVENTS: tuple[tuple[str, int], ...] = (
    ("Product Viewed", 18),
    ("Products Searched", 8),
    ("Product Added", 10),
    ("Cart Viewed", 6),
    ("Checkout Started", 5),
    ("Coupon Applied", 2),
    ("Order Completed", 6),
    ("Signed Up", 3),
    ("Signed In", 8),
    ("Trial Started", 2),
    ("Subscription Upgraded", 1),
    ("Feature Used", 12),
    ("Invite Sent", 3),
    ("Report Exported", 4),
)


class _Weighted:
    """Items with relative weights; ``pick(rng)`` is a cheaper ``rng.choices(...)[0]``."""

    def __init__(self, items: tuple[Any, ...], weights: tuple[float, ...]) -> None:
        self.items = items
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect(self.cum, rng.random() * self.total)]


_TRACK_PICK = _Weighted(
    tuple(name for name, _ in _TRACK_EVENTS), tuple(weight for _, weight in _TRACK_EVENTS)
)

# Which call types each platform makes, and how often.
_PLATFORM_TYPES: dict[str, _Weighted] = {
    "web": _Weighted(("track", "page", "identify", "group", "alias"), (50, 30, 10, 5, 5)),
    "ios": _Weighted(("track", "screen", "identify", "alias"), (50, 34, 10, 6)),
    "server": _Weighted(("track", "identify", "group"), (75, 15, 10)),
}


@dataclass(frozen=True, slots=True)
class _User:
    user_id: str | None
    anonymous_id: str
    platform: str
    email: str
    name: str
    plan: str
    company: int
    ip: str
    user_agent: str
    locale: str


_iso_seconds: dict[int, str] = {}


def iso_utc(t: float) -> str:
    """Format epoch seconds as ISO-8601 UTC with milliseconds and a ``Z``, as Segment does."""
    seconds, ms = divmod(int(t * 1000), 1000)
    prefix = _iso_seconds.get(seconds)
    if prefix is None:  # strftime once per second, not once per call
        if len(_iso_seconds) > 64:
            _iso_seconds.clear()
        prefix = _iso_seconds[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{prefix}.{ms:03d}Z"


def _choice(rng: random.Random, seq: tuple[Any, ...]) -> Any:
    """Pick from ``seq`` like ``rng.choice``, but cheaper."""
    return seq[int(rng.random() * len(seq))]


def _uuid4(rng: random.Random) -> str:
    """Draw a version-4 UUID string from ``rng`` (reproducible, unlike :func:`uuid.uuid4`)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


class FakeEventStream:
    """An endless supply of realistic Segment messages, with a share of bad ones.

    A pool of recurring users (a few very active, many occasional; about a fifth anonymous)
    makes per-user statistics meaningful. ``kinds`` counts what was produced: ``"valid"`` and
    each entry of :data:`BAD_KINDS`.
    """

    def __init__(
        self,
        seed: int | None = None,
        invalid_fraction: float = 0.0,
        *,
        users: int = 400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0.0 <= invalid_fraction <= 1.0:
            raise ValueError(f"invalid_fraction must be between 0 and 1, got {invalid_fraction}")
        self.rng = random.Random(seed)
        self.invalid_fraction = invalid_fraction
        self.clock = clock
        self.kinds: Counter[str] = Counter()
        self._recent_ids: deque[str] = deque(maxlen=64)
        self._users = [self._make_user(i) for i in range(users)]
        # Zipf-like activity: user i is picked with weight 1/(i+1).
        self._user_cum_weights = list(accumulate(1.0 / (i + 1) for i in range(users)))

    # -- public API ---------------------------------------------------------------------------

    def event(self) -> dict[str, Any]:
        """Return the next valid Segment message as a dict (any of the six types)."""
        pick = self.rng.random() * self._user_cum_weights[-1]
        user = self._users[bisect(self._user_cum_weights, pick)]
        kind = _PLATFORM_TYPES[user.platform].pick(self.rng)
        if user.user_id is None and kind in ("alias", "group"):
            kind = "track"
        body = getattr(self, f"_{kind}")(user)
        message = self._common(user, kind)
        message.update(body)
        if kind == "page":
            message["context"]["page"] = body["properties"]
        return message

    def payload(self) -> bytes:
        """Return the next message as bytes: a bad one with probability ``invalid_fraction``."""
        if self.invalid_fraction and self.rng.random() < self.invalid_fraction:
            return self.bad_payload()
        self.kinds["valid"] += 1
        message = self.event()
        self._recent_ids.append(message["messageId"])  # what a duplicate may copy
        return orjson.dumps(message)

    def bad_payload(self, kind: str | None = None) -> bytes:
        """Return one bad message of ``kind`` (one of :data:`BAD_KINDS`; random when None)."""
        if kind is None:
            kind = self.rng.choice(BAD_KINDS)
            if kind == "duplicate_message_id" and not self._recent_ids:
                kind = "missing_type"
        if kind not in BAD_KINDS:
            raise ValueError(f"unknown bad kind {kind!r}; choose one of {', '.join(BAD_KINDS)}")
        self.kinds[kind] += 1
        return getattr(self, f"_bad_{kind}")()

    # -- users ---------------------------------------------------------------------------------

    def _make_user(self, i: int) -> _User:
        rng = self.rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        platform = rng.choices(("web", "ios", "server"), (60, 25, 15))[0]
        anonymous = platform != "server" and rng.random() < 0.2
        user_agent = {
            "web": rng.choice(_BROWSER_UAS),
            "ios": rng.choice(_IOS_UAS),
            "server": _NODE_UA,
        }[platform]
        handle = f"{first}.{last}".lower().replace(" ", "")
        return _User(
            user_id=None if anonymous else f"user-{rng.randrange(1, 100_000)}",
            anonymous_id=_uuid4(rng),
            platform=platform,
            email=f"{handle}{rng.randrange(1, 100)}@{rng.choice(_EMAIL_DOMAINS)}",
            name=f"{first} {last}",
            plan=rng.choices(_PLANS, (50, 25, 18, 7))[0],
            company=rng.randrange(len(_COMPANIES)),
            ip=f"{rng.randrange(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}."
            f"{rng.randrange(1, 255)}",
            user_agent=user_agent,
            locale=rng.choice(_LOCALES),
        )

    # -- common fields -------------------------------------------------------------------------

    def _common(self, user: _User, kind: str) -> dict[str, Any]:
        rng = self.rng
        now = self.clock()
        timestamp = now - rng.uniform(0.0, 1.5)
        sent_at = timestamp + rng.uniform(0.005, 0.25)
        context: dict[str, Any] = {
            "library": _LIBRARIES[user.platform],
            "ip": user.ip,
            "userAgent": user.user_agent,
            "locale": user.locale,
        }
        if user.platform == "web":
            page = _choice(rng, _PAGES)
            context["page"] = self._page_fields(page[1], page[2])
        elif user.platform == "ios":
            context["app"] = {"name": "Acme", "version": "5.12.0", "build": "5120"}
            context["os"] = {"name": "iOS", "version": "17.4.1"}
        message: dict[str, Any] = {
            "type": kind,
            "messageId": _uuid4(rng),
            "anonymousId": user.anonymous_id,
        }
        if user.user_id is not None:
            message["userId"] = user.user_id
        message["timestamp"] = iso_utc(timestamp)
        message["sentAt"] = iso_utc(sent_at)
        message["receivedAt"] = iso_utc(max(now, sent_at + 0.003))
        message["context"] = context
        return message

    def _page_fields(self, path: str, title: str) -> dict[str, Any]:
        product = _choice(self.rng, _PRODUCTS)
        path = path.replace("{slug}", product[1].lower())
        return {
            "path": path,
            "referrer": _choice(self.rng, _REFERRERS),
            "search": "",
            "title": title.replace("{product}", product[2]),
            "url": _SITE + path,
        }

    # -- the six call types --------------------------------------------------------------------

    def _track(self, user: _User) -> dict[str, Any]:
        rng = self.rng
        name = _TRACK_PICK.pick(rng)
        if user.platform == "server" and name in ("Product Viewed", "Products Searched"):
            name = "Order Completed"
        return {"event": name, "properties": self._track_properties(name, user)}

    def _track_properties(self, name: str, user: _User) -> dict[str, Any]:
        rng = self.rng
        currency = _choice(rng, _CURRENCIES)
        if name in ("Product Viewed", "Product Added"):
            props = self._product(_choice(rng, _PRODUCTS), 1 if name == "Product Viewed" else None)
            props["currency"] = currency
            if name == "Product Added":
                props["cart_id"] = f"cart_{rng.getrandbits(40):010x}"
            return props
        if name == "Products Searched":
            return {"query": _choice(rng, ("hoodie", "mug", "keyboard", "gift ideas", "backpack"))}
        if name in ("Cart Viewed", "Checkout Started", "Order Completed"):
            how_many = 1 if rng.random() < 0.6 else rng.randint(2, 3)
            products = [self._product(p, None) for p in rng.sample(_PRODUCTS, how_many)]
            subtotal = round(sum(p["price"] * p["quantity"] for p in products), 2)
            if name == "Cart Viewed":
                return {"cart_id": f"cart_{rng.getrandbits(40):010x}", "products": products}
            shipping = 0.0 if subtotal > 50 else 5.99
            tax = round(subtotal * 0.08, 2)
            return {
                "order_id": f"ord_{rng.getrandbits(48):012x}",
                "total": round(subtotal + shipping + tax, 2),
                "revenue": subtotal,
                "shipping": shipping,
                "tax": tax,
                "currency": currency,
                "products": products,
            }
        if name == "Coupon Applied":
            return {
                "order_id": f"ord_{rng.getrandbits(48):012x}",
                "coupon_id": "SPRING24",
                "coupon_name": "Spring sale",
                "discount": round(rng.uniform(2, 20), 2),
            }
        if name in ("Signed Up", "Signed In"):
            return {"method": _choice(rng, ("email", "google", "github", "sso")), "plan": user.plan}
        if name == "Trial Started":
            return {"trial_plan": _choice(rng, ("pro", "enterprise")), "trial_days": 14}
        if name == "Subscription Upgraded":
            price = _choice(rng, (29.0, 99.0, 499.0))
            return {
                "from_plan": user.plan, "to_plan": "pro", "revenue": price, "currency": currency,
            }
        if name == "Feature Used":
            return {"feature": _choice(rng, _FEATURES), "duration_ms": rng.randint(50, 90_000)}
        if name == "Invite Sent":
            invitee = f"{_choice(rng, _FIRST).lower()}@{_choice(rng, _EMAIL_DOMAINS)}"
            return {"invitee_email": invitee, "role": _choice(rng, ("member", "admin", "viewer"))}
        return {"format": _choice(rng, ("csv", "xlsx", "pdf")), "rows": rng.randint(10, 50_000)}

    def _product(self, product: tuple[str, str, str, str, float], quantity: int | None) -> dict:
        product_id, sku, name, category, price = product
        return {
            "product_id": product_id,
            "sku": sku,
            "name": name,
            "category": category,
            "brand": "Acme",
            "price": price,
            "quantity": quantity if quantity is not None else 1 + int(self.rng.random() * 3),
        }

    def _identify(self, user: _User) -> dict[str, Any]:
        traits: dict[str, Any] = {"plan": user.plan, "locale": user.locale}
        if user.user_id is not None:
            traits = {
                "email": user.email,
                "name": user.name,
                "plan": user.plan,
                "company": {"name": _COMPANIES[user.company][0]},
                "logins": self.rng.randint(1, 400),
            }
        return {"traits": traits}

    def _page(self, user: _User) -> dict[str, Any]:
        name, path, title, category = _choice(self.rng, _PAGES)
        props = self._page_fields(path, title)
        out: dict[str, Any] = {"name": name, "properties": props}
        if category is not None:
            out["category"] = category
        return out

    def _screen(self, user: _User) -> dict[str, Any]:
        name = _choice(self.rng, _SCREENS)
        props: dict[str, Any] = {"name": name}
        if name == "Product Detail":
            props["product_id"] = _choice(self.rng, _PRODUCTS)[0]
        return {"name": name, "properties": props}

    def _group(self, user: _User) -> dict[str, Any]:
        company, industry, employees = _COMPANIES[user.company]
        return {
            "groupId": f"org-{user.company + 101}",
            "traits": {
                "name": company,
                "industry": industry,
                "employees": employees,
                "plan": user.plan,
                "website": f"https://{company.lower().replace(' ', '')}.example",
            },
        }

    def _alias(self, user: _User) -> dict[str, Any]:
        return {"previousId": user.anonymous_id}

    # -- bad messages --------------------------------------------------------------------------

    def _valid_of(self, kind: str) -> dict[str, Any]:
        for _ in range(1000):
            message = self.event()
            if message["type"] == kind:
                return message
        raise RuntimeError(f"no {kind} event produced")  # pragma: no cover - weights forbid it

    def _bad_garbage(self) -> bytes:
        return self.rng.randbytes(self.rng.randint(1, 200))

    def _bad_non_utf8(self) -> bytes:
        raw = orjson.dumps(self._valid_of("track"))
        return raw.replace(b'"event":"', b'"event":"\xff\xfe\xc3(', 1)

    def _bad_not_object(self) -> bytes:
        return self.rng.choice((b"[1,2,3]", b"42", b'"track"', b"null", b"true", b""))

    def _bad_missing_type(self) -> bytes:
        message = self.event()
        del message["type"]
        return orjson.dumps(message)

    def _bad_unknown_type(self) -> bytes:
        message = self.event()
        message["type"] = self.rng.choice(("purchase", "Track", "event", "pageview"))
        return orjson.dumps(message)

    def _bad_track_without_event(self) -> bytes:
        message = self._valid_of("track")
        del message["event"]
        return orjson.dumps(message)

    def _bad_no_user_ids(self) -> bytes:
        message = self.event()
        for key in ("userId", "anonymousId", "previousId"):
            message.pop(key, None)
        return orjson.dumps(message)

    def _bad_oversized(self) -> bytes:
        message = self._valid_of("track")
        message["properties"]["debug_blob"] = "x" * (33 * 1024)
        return orjson.dumps(message)

    def _bad_bad_timestamp(self) -> bytes:
        message = self.event()
        message["timestamp"] = self.rng.choice(
            ("yesterday at noon", "2024-13-45T99:61:00Z", "1714000000", "")
        )
        return orjson.dumps(message)

    def _bad_duplicate_message_id(self) -> bytes:
        previous = self.rng.choice(self._recent_ids)
        message = self.event()
        message["messageId"] = previous
        return orjson.dumps(message)

    def _bad_html(self) -> bytes:
        message = self._valid_of("track")
        message["event"] = self.rng.choice(HOSTILE_STRINGS)
        message["properties"]["note"] = "<script>alert('xss')</script>"
        return orjson.dumps(message)


def publish_batch(client: redis.Redis, channel: str, payloads: list[bytes]) -> None:
    """PUBLISH every payload to ``channel`` in one round trip.

    Packs the commands on a pooled connection and reads the replies: about twice as fast as a
    redis-py pipeline, which matters at tens of thousands of messages per second.
    """
    if not payloads:
        return
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_packed_command(conn.pack_commands([("PUBLISH", channel, p) for p in payloads]))
        for _ in payloads:
            conn.read_response()
    except BaseException:
        conn.disconnect()  # replies may be half read: never reuse this connection
        raise
    finally:
        pool.release(conn)


def publish(
    client: redis.Redis,
    channel: str,
    *,
    rate: float,
    count: int | None = None,
    invalid_fraction: float = 0.0,
    seed: int | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[int], None] | None = None,
    progress_every: float = 5.0,
) -> int:
    """Publish fake events to ``channel`` at ``rate`` per second; return how many were published.

    Pacing follows a monotonic-clock schedule (message ``n`` is due at ``start + n / rate``), so
    per-message overhead does not slow the rate down; whatever is due is sent in one pipelined
    batch. ``rate <= 0`` publishes as fast as possible. Stops after ``count`` messages (None:
    never), or when ``stop`` is set. ``on_progress(published)`` is called every
    ``progress_every`` seconds. Redis errors propagate.
    """
    stream = FakeEventStream(seed, invalid_fraction)
    stop = stop or threading.Event()
    max_batch = 500 if rate <= 0 else max(1, min(500, int(rate / 50)))
    sent = 0
    start = time.monotonic()
    next_progress = start + progress_every
    while not stop.is_set() and (count is None or sent < count):
        now = time.monotonic()
        if on_progress is not None and now >= next_progress:
            on_progress(sent)
            next_progress = now + progress_every
        if rate > 0:
            due = int((now - start) * rate) + 1 - sent
            if due <= 0:
                stop.wait(min(0.1, (start + sent / rate) - now))
                continue
            if due > rate:  # more than a second behind: drop the debt rather than burst
                start = now - sent / rate
                due = 1
            n = min(due, max_batch)
        else:
            n = max_batch
        if count is not None:
            n = min(n, count - sent)
        publish_batch(client, channel, [stream.payload() for _ in range(n)])
        sent += n
    return sent
