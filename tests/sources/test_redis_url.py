"""Redis URL validation and password redaction (no server needed)."""

from __future__ import annotations

import pytest

from segment_debugger.sources.url import RedisURLError, parse_redis_url, redact

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        (f"redis://alice:{SECRET}@h:1/2", "redis://alice:***@h:1/2"),
        (f"redis://:{SECRET}@h", "redis://:***@h"),
        (f"rediss://bob:{SECRET}@cache.example.com:6380/0", "rediss://bob:***@cache.example.com:6380/0"),
        (f"unix://u:{SECRET}@/run/redis.sock?db=3", "unix://u:***@/run/redis.sock?db=3"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("redis://alice@h", "redis://alice@h"),
    ],
)
def test_accepted_urls_are_redacted(url: str, shown: str) -> None:
    parsed = parse_redis_url(url)
    assert parsed.redacted == shown
    assert parsed.url == url
    assert SECRET not in repr(parsed)
    assert redact(url) == shown


def test_url_encoded_password_is_decoded_and_scrubbed_both_ways() -> None:
    parsed = parse_redis_url("redis://u:p%40ss%3Aword@h:6379")
    assert parsed.password == "p@ss:word"
    assert parsed.redacted == "redis://u:***@h:6379"
    text = "auth failed for p@ss:word (sent p%40ss%3Aword)"
    assert parsed.scrub(text) == "auth failed for *** (sent ***)"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://localhost:6379", "scheme 'http://'"),
        ("localhost:6379", "scheme 'localhost://'"),
        ("//localhost", "no scheme"),
        ("", "non-empty string"),
        ("redis://", "no host"),
        ("redis://h:notaport/0", "malformed"),
        ("redis://h:6379/zero", "not a number"),
        ("unix://", "no socket path"),
        ("redis://h:0", "port 0"),
    ],
)
def test_bad_urls_say_what_is_wrong_and_what_is_accepted(url: str, complaint: str) -> None:
    with pytest.raises(RedisURLError) as info:
        parse_redis_url(url)
    message = str(info.value)
    assert complaint in message
    assert "://[[username]:password@]" in message  # says what form is accepted


def test_bad_url_error_never_shows_the_password() -> None:
    for url in (f"http://u:{SECRET}@h", f"redis://u:{SECRET}@h:99999", f"redis://u:{SECRET}@h/x"):
        with pytest.raises(RedisURLError) as info:
            parse_redis_url(url)
        assert SECRET not in str(info.value)
        assert "***" in str(info.value)


def test_non_string_url_is_rejected() -> None:
    with pytest.raises(RedisURLError, match="non-empty string"):
        parse_redis_url(6379)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"redis://h:6379/0?password={SECRET}", "redis://h:6379/0?password=***"),
        (f"redis://h/0?username=alice&password={SECRET}&db=2",
         "redis://h/0?username=***&password=***&db=2"),
        (f"rediss://h?ssl_ca_certs=/etc/ca.pem&ssl_password={SECRET}",
         "rediss://h?ssl_ca_certs=/etc/ca.pem&ssl_password=***"),
        (f"redis://h?some_future_key={SECRET}&socket_timeout=3",
         "redis://h?some_future_key=***&socket_timeout=3"),
        (f"unix:///run/r.sock?password={SECRET}", "unix:///run/r.sock?password=***"),
        (f"redis://u:{SECRET}@h#{SECRET}", "redis://u:***@h#***"),
    ],
)
def test_query_credentials_are_redacted_by_allow_list(url: str, shown: str) -> None:
    parsed = parse_redis_url(url)
    assert parsed.redacted == shown
    assert redact(url) == shown
    assert SECRET not in repr(parsed)


def test_scrub_removes_the_url_and_each_query_secret_from_any_text() -> None:
    url = f"redis://h:1/0?password={SECRET}%21&username=alice"
    parsed = parse_redis_url(url)
    text = f"Error connecting to {url}: bad password {SECRET}! for user alice"
    scrubbed = parsed.scrub(text)
    assert SECRET not in scrubbed and "alice" not in scrubbed
    assert "redis://h:1/0?password=***&username=***" in scrubbed


def test_the_source_never_shows_a_query_password() -> None:
    import logging

    from segment_debugger.sources.pubsub import RedisSource

    src = RedisSource(f"redis://127.0.0.1:1/0?password={SECRET}")
    for shown in (repr(src), src.url, str(src.status), str(src.status.as_dict())):
        assert SECRET not in shown
    logging.getLogger("segment_debugger").info("%r", src)
