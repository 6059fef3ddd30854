"""A fake Segment event stream: realistic events of all six types plus bad ones, for Redis.

The stand-in for the ``segment/fake-event-stream`` Docker image. :class:`FakeEventStream` makes
the messages from the data in :mod:`segment_debugger.playground.catalog`;
:func:`segment_debugger.playground.publisher.publish` paces them onto a Redis channel. With a seed,
everything but the timestamps (which follow ``clock``) is reproducible.
"""

from __future__ import annotations

import random
import time
from bisect import bisect
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import orjson

from segment_debugger.playground.catalog import (
    BROWSER_USER_AGENTS,
    COMPANIES,
    CURRENCIES,
    EMAIL_DOMAINS,
    FEATURES,
    FIRST_NAMES,
    HOSTILE_STRINGS,
    INVISIBLE_STRINGS,
    IOS_USER_AGENTS,
    LAST_NAMES,
    LIBRARIES,
    LOCALES,
    NODE_USER_AGENT,
    PAGES,
    PLANS,
    PRODUCTS,
    REFERRERS,
    SCREENS,
    SITE,
    TRACK_EVENTS,
)

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
    "invisible",
)

#: Bad kinds that a spec-following parser flags as invalid (a duplicate messageId is a warning:
#: the buffer flags it, and the event stays valid; see segment_debugger.core.checks).
FLAGGED_KINDS: frozenset[str] = frozenset(BAD_KINDS) - {"html", "duplicate_message_id"}


class _Weighted:
    """Items with relative weights; ``pick(rng)`` is a cheaper ``rng.choices(...)[0]``."""

    def __init__(self, items: tuple[Any, ...], weights: tuple[float, ...]) -> None:
        self.items = items
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect(self.cum, rng.random() * self.total)]


_TRACK_PICK = _Weighted(
    tuple(name for name, _ in TRACK_EVENTS), tuple(weight for _, weight in TRACK_EVENTS)
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
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        platform = rng.choices(("web", "ios", "server"), (60, 25, 15))[0]
        anonymous = platform != "server" and rng.random() < 0.2
        user_agent = {
            "web": rng.choice(BROWSER_USER_AGENTS),
            "ios": rng.choice(IOS_USER_AGENTS),
            "server": NODE_USER_AGENT,
        }[platform]
        handle = f"{first}.{last}".lower().replace(" ", "")
        return _User(
            user_id=None if anonymous else f"user-{rng.randrange(1, 100_000)}",
            anonymous_id=_uuid4(rng),
            platform=platform,
            email=f"{handle}{rng.randrange(1, 100)}@{rng.choice(EMAIL_DOMAINS)}",
            name=f"{first} {last}",
            plan=rng.choices(PLANS, (50, 25, 18, 7))[0],
            company=rng.randrange(len(COMPANIES)),
            ip=f"{rng.randrange(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}."
            f"{rng.randrange(1, 255)}",
            user_agent=user_agent,
            locale=rng.choice(LOCALES),
        )

    # -- common fields -------------------------------------------------------------------------

    def _common(self, user: _User, kind: str) -> dict[str, Any]:
        rng = self.rng
        now = self.clock()
        timestamp = now - rng.uniform(0.0, 1.5)
        sent_at = timestamp + rng.uniform(0.005, 0.25)
        context: dict[str, Any] = {
            "library": LIBRARIES[user.platform],
            "ip": user.ip,
            "userAgent": user.user_agent,
            "locale": user.locale,
        }
        if user.platform == "web":
            page = _choice(rng, PAGES)
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
        product = _choice(self.rng, PRODUCTS)
        path = path.replace("{slug}", product[1].lower())
        return {
            "path": path,
            "referrer": _choice(self.rng, REFERRERS),
            "search": "",
            "title": title.replace("{product}", product[2]),
            "url": SITE + path,
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
        currency = _choice(rng, CURRENCIES)
        if name in ("Product Viewed", "Product Added"):
            props = self._product(_choice(rng, PRODUCTS), 1 if name == "Product Viewed" else None)
            props["currency"] = currency
            if name == "Product Added":
                props["cart_id"] = f"cart_{rng.getrandbits(40):010x}"
            return props
        if name == "Products Searched":
            return {"query": _choice(rng, ("hoodie", "mug", "keyboard", "gift ideas", "backpack"))}
        if name in ("Cart Viewed", "Checkout Started", "Order Completed"):
            how_many = 1 if rng.random() < 0.6 else rng.randint(2, 3)
            products = [self._product(p, None) for p in rng.sample(PRODUCTS, how_many)]
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
            return {"feature": _choice(rng, FEATURES), "duration_ms": rng.randint(50, 90_000)}
        if name == "Invite Sent":
            invitee = f"{_choice(rng, FIRST_NAMES).lower()}@{_choice(rng, EMAIL_DOMAINS)}"
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
                "company": {"name": COMPANIES[user.company][0]},
                "logins": self.rng.randint(1, 400),
            }
        return {"traits": traits}

    def _page(self, user: _User) -> dict[str, Any]:
        name, path, title, category = _choice(self.rng, PAGES)
        props = self._page_fields(path, title)
        out: dict[str, Any] = {"name": name, "properties": props}
        if category is not None:
            out["category"] = category
        return out

    def _screen(self, user: _User) -> dict[str, Any]:
        name = _choice(self.rng, SCREENS)
        props: dict[str, Any] = {"name": name}
        if name == "Product Detail":
            props["product_id"] = _choice(self.rng, PRODUCTS)[0]
        return {"name": name, "properties": props}

    def _group(self, user: _User) -> dict[str, Any]:
        company, industry, employees = COMPANIES[user.company]
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

    def _bad_invisible(self) -> bytes:
        message = self._valid_of("track")
        message["userId"] = self.rng.choice(INVISIBLE_STRINGS)
        return orjson.dumps(message)

    def _bad_html(self) -> bytes:
        message = self._valid_of("track")
        message["event"] = self.rng.choice(HOSTILE_STRINGS)
        message["properties"]["note"] = "<script>alert('xss')</script>"
        return orjson.dumps(message)
