"""Static catalogue the fake event stream draws from: people, pages, products, user agents...

Plain data only, used by :class:`~.fake.FakeEventStream` to make realistic
Segment messages; changing it changes what a seeded stream produces.
"""

from __future__ import annotations

#: Markup that ``FakeEventStream.bad_payload("html")`` puts in events (valid, but must render
#: as text).
HOSTILE_STRINGS: tuple[str, ...] = (
    "<img src=x onerror=alert(1)>",
    "<script>alert(document.cookie)</script>",
    '"><svg onload=alert(1)>',
)

#: Terminal escapes and bidi/zero-width spoofs that ``bad_payload("invisible")`` puts in ids
#: (flagged by the parser: they hide or reorder text).
INVISIBLE_STRINGS: tuple[str, ...] = (
    "\x1b[2J\x1b[1;31mterminal takeover\x1b[0m",
    "admin\u202etxt.exe",
    "user\u200b-42",
    "\u2066isolated\u2069",
)

FIRST_NAMES = (
    "Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Radia", "Guido",
    "Frances", "Edsger", "Katherine", "Tim", "Hedy", "John", "Sophie", "Yukihiro", "Anita",
    "Niklaus",
)
LAST_NAMES = (
    "Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
    "Perlman", "van Rossum", "Allen", "Dijkstra", "Johnson", "Berners-Lee", "Lamarr", "McCarthy",
    "Wilson", "Matsumoto", "Borg", "Wirth",
)
EMAIL_DOMAINS = ("example.com", "mail.example.org", "acme.example", "corp.example.net")
PLANS = ("free", "starter", "pro", "enterprise")
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR")
CURRENCIES = ("USD", "USD", "USD", "EUR", "GBP")
SITE = "https://shop.acme.example"

BROWSER_USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
)
IOS_USER_AGENTS = (
    "Acme/5.12.0 (iPhone; iOS 17.4.1; Scale/3.00)",
    "Acme/5.11.2 (iPad; iOS 16.7; Scale/2.00)",
)
NODE_USER_AGENT = "analytics-node-next/latest (node.js v20.12.2)"

LIBRARIES = {
    "web": {"name": "analytics.js", "version": "next-1.70.0"},
    "ios": {"name": "analytics-ios", "version": "4.1.8"},
    "server": {"name": "analytics-node", "version": "2.1.2"},
}

# (name, path, title, category)
PAGES = (
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
SCREENS = (
    "Home", "Product Detail", "Cart", "Checkout", "Settings", "Onboarding", "Search Results",
)
REFERRERS = ("", "https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/x1y2z3")

# (product_id, sku, name, category, price)
PRODUCTS = (
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
COMPANIES = (
    ("Initech", "Software", 250),
    ("Globex", "Manufacturing", 4200),
    ("Umbrella Corp", "Pharmaceuticals", 12000),
    ("Hooli", "Technology", 31000),
    ("Vandelay Industries", "Import/Export", 40),
    ("Stark Industries", "Aerospace", 8800),
    ("Wayne Enterprises", "Conglomerate", 51000),
    ("Soylent", "Food", 600),
)
FEATURES = ("dashboards", "alerts", "exports", "sql-editor", "api-keys", "sso", "audit-log")

# Track events and their relative frequency.
TRACK_EVENTS: tuple[tuple[str, int], ...] = (
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

