"""The ``segment-debugger`` command line: publish, tail, the one-line summary, settings."""

from __future__ import annotations

import argparse
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from support.collector import ChannelCollector
from support.redis_server import RedisServer, free_port
from support.waiting import wait_until

from segment_debugger.cli import build_parser, main
from segment_debugger.cli.common import CommandError
from segment_debugger.cli.format import format_line, printable
from segment_debugger.cli.publish import resolve_publish_target
from segment_debugger.core.segment import parse_event
from segment_debugger.playground.publisher import publish

RECEIVED_AT = 1_764_000_000.5



def line_for(message: object) -> str:
    raw = message if isinstance(message, bytes) else orjson.dumps(message)
    return format_line(parse_event(raw, "events", RECEIVED_AT))


BASE = {
    "messageId": "m-1",
    "timestamp": "2026-01-01T00:00:00.000Z",
    "anonymousId": "anon-1",
}


# ---- the one-line summary -------------------------------------------------------------------


def test_track_line_has_time_padded_type_name_and_user() -> None:
    line = line_for({**BASE, "type": "track", "event": "Order Completed", "userId": "user-42"})
    clock = time.strftime("%H:%M:%S", time.localtime(RECEIVED_AT)) + ".500"
    assert line.startswith(f"{clock}  track     Order Completed")
    assert line.endswith("user-42")
    assert "✗" not in line


@pytest.mark.parametrize(
    ("fields", "label", "who"),
    [
        ({"type": "page", "name": "Pricing"}, "Pricing", "anon-1"),
        ({"type": "screen", "name": "Cart", "userId": "u-1"}, "Cart", "u-1"),
        (
            {"type": "identify", "userId": "u-2", "traits": {"email": "ada@example.com"}},
            "ada@example.com",
            "u-2",
        ),
        ({"type": "identify", "userId": "u-3", "traits": {}}, "u-3", "u-3"),
        ({"type": "group", "groupId": "org-7", "userId": "u-4"}, "org-7", "u-4"),
        ({"type": "alias", "previousId": "anon-9", "userId": "u-5"}, "anon-9 → u-5", "u-5"),
    ],
)
def test_label_per_type(fields: dict, label: str, who: str) -> None:
    line = line_for({**BASE, **fields})
    pattern = rf"^\d\d:\d\d:\d\d\.500  {fields['type']} *  {re.escape(label)} *  {who}$"
    assert re.match(pattern, line), line


def test_invalid_event_gets_a_mark_and_its_violations() -> None:
    line = line_for({**BASE, "type": "track", "userId": "u"})
    assert "✗" in line and "event" in line.split("✗", 1)[1]
    garbage = line_for(b"\x00\xff not json")
    assert garbage.split()[1] == "?"
    label = garbage.split("✗", 1)[0]  # like the widget's list: the first violation
    assert "✗" in garbage and "not valid UTF-8 (byte 0xff at offset 1)" in label


def test_hostile_fields_are_escaped_not_interpreted() -> None:
    line = line_for(
        {
            **BASE,
            "type": "track",
            "event": "\x1b[2J\x1b[31m<img src=x onerror=alert(1)>\r\nfake line",
            "userId": "\u202eevil\x07",
        }
    )
    assert line.isprintable(), repr(line)
    assert "\\x1b[2J" in line and "\\r\\n" in line and "\\u202e" in line and "\\x07" in line


def test_printable_truncates_long_text() -> None:
    assert printable("abcdef", 4) == "abc…"
    assert printable("tab\there") == "tab\\there"
    assert printable("plain") == "plain"
    assert printable("\x1b" * 10, 6) == "\\x1b\\…"
    assert printable("x" * 1_000_000, 10) == "x" * 9 + "…"


# ---- publish settings -----------------------------------------------------------------------


def publish_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["publish", *argv])


def test_environment_is_honoured() -> None:
    env = {
        "REDIS_HOST": "redis.internal",
        "REDIS_PORT": "6380",
        "REDIS_CHANNEL": "segment",
        "EVENTS_PER_SECOND": "250",
    }
    assert resolve_publish_target(publish_args(), env) == (
        "redis://redis.internal:6380/0", "segment", 250.0
    )
    assert resolve_publish_target(publish_args(), {"REDIS_URL": "redis://r:1/2"})[0] == "redis://r:1/2"


def test_flags_override_environment() -> None:
    env = {"REDIS_HOST": "envhost", "REDIS_PORT": "1", "REDIS_CHANNEL": "env",
           "EVENTS_PER_SECOND": "5", "REDIS_URL": "redis://envurl:2/0"}
    args = publish_args("--port", "7000", "--channel", "flag", "--rate", "9")
    assert resolve_publish_target(args, env) == ("redis://envhost:7000/0", "flag", 9.0)
    args = publish_args("--url", "redis://flag:3/1")
    assert resolve_publish_target(args, env)[0] == "redis://flag:3/1"


def test_defaults_without_environment() -> None:
    expected = ("redis://localhost:6379/0", "events", 100.0)
    assert resolve_publish_target(publish_args(), {}) == expected


def test_bad_environment_number_says_what_to_do() -> None:
    with pytest.raises(CommandError, match="EVENTS_PER_SECOND='fast' is not a number"):
        resolve_publish_target(publish_args(), {"EVENTS_PER_SECOND": "fast"})


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "publish" in capsys.readouterr().err


def test_demo_is_registered() -> None:
    args = build_parser().parse_args(["demo"])
    assert callable(args.func)


# ---- publish against a real redis-server ----------------------------------------------------


@pytest.mark.redis
def test_publish_count_is_received(
    redis_server: RedisServer, collect: Callable[[str], ChannelCollector],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sub = collect("events")
    code = main(["publish", "--url", redis_server.url, "--count", "300", "--rate", "0",
                 "--invalid", "0.1", "--seed", "4"])
    assert code == 0
    wait_until(lambda: len(sub.payloads) >= 300, what="300 payloads received")
    assert len(sub.payloads) == 300
    out = capsys.readouterr().out
    assert "channel 'events'" in out and "published 300 events" in out


@pytest.mark.redis
def test_publish_reads_the_environment(
    redis_server: RedisServer, collect: Callable[[str], ChannelCollector],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    sub = collect("from-env")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("REDIS_PORT", str(redis_server.port))
    monkeypatch.setenv("REDIS_CHANNEL", "from-env")
    monkeypatch.setenv("EVENTS_PER_SECOND", "0")
    assert main(["publish", "--count", "40"]) == 0
    wait_until(lambda: len(sub.payloads) >= 40, what="40 payloads on from-env")
    assert all(orjson.loads(p)["type"] for p in sub.payloads)
    assert "full speed" in capsys.readouterr().out


def test_unreachable_redis_exits_2_with_advice(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert main(["publish", "--host", "127.0.0.1", "--port", str(port), "--count", "1"]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach Redis at redis://127.0.0.1:{port}/0" in err
    assert "Start a Redis server" in err


# ---- the command as a process: SIGINT stops it cleanly ---------------------------------------


@pytest.mark.redis
def test_publish_stops_cleanly_on_sigint(
    redis_server: RedisServer, collect: Callable[[str], ChannelCollector],
    process: Callable[..., Any],
) -> None:
    sub = collect("events")
    pub = process("publish", "--url", redis_server.url, "--rate", "200")
    wait_until(lambda: len(sub.payloads) >= 20, what="publisher running")
    code, _err = pub.interrupt()
    assert code == 0
    final = pub.lines[-1]
    assert final.startswith("published ") and "events to channel 'events'" in final
    published = int(final.split()[1])
    wait_until(lambda: len(sub.payloads) >= published, what="all published received")
    assert published == len(sub.payloads)


@pytest.mark.redis
def test_tail_prints_a_line_per_event_and_escapes_hostile_ones(
    redis_server: RedisServer, process: Callable[..., Any],
) -> None:
    tail = process("tail", redis_server.url, "--channel", "events")
    wait_until(lambda: any(line.startswith("-- status: live") for line in tail.lines),
               what="tail is live")
    hostile = {**BASE, "type": "track", "event": "\x1b[2J<img src=x onerror=alert(1)>",
               "userId": "user-\x1b[31mred"}
    with redis_server.client() as client:
        main(["publish", "--url", redis_server.url, "--count", "20", "--rate", "0", "--seed", "5"])
        client.publish("events", orjson.dumps(hostile))
        client.publish("events", b"\x00garbage")
    wait_until(lambda: len(tail.lines) >= 23, what="22 event lines after the status line")
    code, err = tail.interrupt()
    assert code == 0
    events = [line for line in tail.lines if not line.startswith("--")]
    assert len(events) == 22
    assert all(line.isprintable() for line in tail.lines)
    assert "\\x1b[2J<img src=x onerror=alert(1)>" in events[20]
    assert "user-\\x1b[31mred" in events[20]
    assert "✗" in events[21]
    assert "22 events shown" in err


@pytest.mark.redis
def test_tail_filter_and_max(redis_server: RedisServer, process: Callable[..., Any]) -> None:
    tail = process("tail", redis_server.url, "--filter", "type:identify", "--max", "3")
    wait_until(lambda: any("live" in line for line in tail.lines), what="tail is live")
    with redis_server.client() as client:
        stop = threading.Event()
        publisher = threading.Thread(
            target=publish, args=(client, "events"), kwargs={"rate": 500, "stop": stop, "seed": 6}
        )
        publisher.start()
        try:
            code = tail.proc.wait(timeout=20)
        finally:
            stop.set()
            publisher.join()
    assert code == 0
    tail._reader.join(timeout=5)
    events = [line for line in tail.lines if not line.startswith("--")]
    assert len(events) == 3
    assert all(line.split()[1] == "identify" for line in events)


def test_tail_and_record_take_the_same_source_options() -> None:
    """One declaration of the source flags: both commands parse them alike."""
    parser = build_parser()
    flags = ["redis://h:1/0", "--stream", "a", "--stream", "b", "--from", "5m", "--group", "g",
             "--consumer", "c", "--channel", "x", "--pattern", "p*", "--shard-channel", "s"]
    tail = vars(parser.parse_args(["tail", *flags]))
    record = vars(parser.parse_args(["record", "-o", "r.ndjson", *flags]))
    source_keys = ("url", "stream", "start", "group", "consumer", "channel", "pattern",
                   "shard_channel")
    assert {k: tail[k] for k in source_keys} == {k: record[k] for k in source_keys}
    assert tail["stream"] == ["a", "b"] and tail["url"] == "redis://h:1/0"
