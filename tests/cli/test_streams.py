"""``publish --stream/--maxlen/--sharded`` and ``tail --stream --from/--group`` on a real Redis
(what a target itself says and refuses: ``tests/io/test_publish.py``)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.cli import build_parser, main
from segment_debugger.cli.common import parse_from

pytestmark = pytest.mark.redis


def entries(server: RedisServer, stream: str) -> list[tuple[str, dict[bytes, bytes]]]:
    with server.client() as c:
        return [(i.decode(), fields) for i, fields in c.xrange(stream)]


def types_of(stream_entries: list[tuple[str, dict[bytes, bytes]]]) -> list[str]:
    return [orjson.loads(fields[b"data"]).get("type") or "?" for _, fields in stream_entries]


# ---- publish --stream -------------------------------------------------------------------------


def test_publish_stream_then_tail_from_0_prints_every_event(
    redis_server: RedisServer, process: Callable[..., Any], capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["publish", "--url", redis_server.url, "--stream", "seg", "--count", "30",
                 "--rate", "0", "--seed", "7"])
    assert code == 0
    out = capsys.readouterr().out
    assert "stream 'seg'" in out and "published 30 events to stream 'seg'" in out
    stored = entries(redis_server, "seg")
    assert len(stored) == 30
    assert all(list(fields) == [b"data"] for _, fields in stored)  # one field: the event

    tail = process("tail", redis_server.url, "--stream", "seg", "--from", "0", "--max", "30")
    code, err = tail.finish()
    assert code == 0, err
    lines = tail.events()
    assert len(lines) == 30
    assert [line.split()[1] for line in lines] == types_of(stored)
    last_id = stored[-1][0]
    assert "30 events shown" in err
    assert f"continue with --from {last_id}" in err
    assert "stream seg from 0" in err


def test_maxlen_trims_the_stream_to_about_n(redis_server: RedisServer) -> None:
    code = main(["publish", "--url", redis_server.url, "--stream", "trimmed", "--maxlen", "100",
                 "--count", "3000", "--rate", "0"])
    assert code == 0
    with redis_server.client() as c:
        info = c.xinfo_stream("trimmed")
        untrimmed_code = main(["publish", "--url", redis_server.url, "--stream", "whole",
                               "--count", "3000", "--rate", "0"])
        whole = c.xlen("whole")
    assert info["entries-added"] == 3000
    # MAXLEN ~ trims whole radix-tree nodes (100 entries each by default): about N, never less.
    assert 100 <= info["length"] < 300, info["length"]
    assert untrimmed_code == 0 and whole == 3000


def test_publish_to_a_key_that_is_no_stream_says_so(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str],
) -> None:
    with redis_server.client() as c:
        c.set("taken", "a string")
    assert main(["publish", "--url", redis_server.url, "--stream", "taken", "--count", "3",
                 "--rate", "0"]) == 1
    err = capsys.readouterr().err
    assert "key 'taken' holds something other than a stream" in err and "WRONGTYPE" in err


def test_tail_starts_at_a_duration_or_a_time_ago(
    redis_server: RedisServer, process: Callable[..., Any],
) -> None:
    now_ms = int(time.time() * 1000)
    with redis_server.client() as c:
        for i, age_s in enumerate((600, 590, 580, 60, 30)):  # three old entries, two recent
            event = {"type": "track", "event": f"{'old' if age_s > 300 else 'new'} {i}",
                     "messageId": f"m-{i}", "anonymousId": "a", "timestamp": "2026-01-01T00:00:00Z"}
            c.xadd("aged", {"data": orjson.dumps(event)}, id=f"{now_ms - age_s * 1000}-0")
    five_minutes_ago = datetime.fromtimestamp(now_ms / 1000 - 300, tz=timezone.utc)
    for start in ("5m", "300s", five_minutes_ago.strftime("%Y-%m-%dT%H:%M:%SZ")):
        tail = process("tail", redis_server.url, "--stream", "aged", "--from", start, "--max", "2")
        code, err = tail.finish()
        assert code == 0, err
        assert [line.split()[2:4] for line in tail.events()] == [["new", "3"], ["new", "4"]], start


def test_tail_in_a_consumer_group_acknowledges_what_it_read(
    redis_server: RedisServer, process: Callable[..., Any],
) -> None:
    assert main(["publish", "--url", redis_server.url, "--stream", "grouped", "--count", "5",
                 "--rate", "0"]) == 0
    tail = process("tail", redis_server.url, "--stream", "grouped", "--from", "0",
                   "--group", "readers", "--consumer", "cli-1", "--max", "5")
    code, err = tail.finish()
    assert code == 0, err
    assert len(tail.events()) == 5
    with redis_server.client() as c:
        wait_until(lambda: c.xpending("grouped", "readers")["pending"] == 0, what="all acked")
        (group,) = c.xinfo_groups("grouped")
        consumers = [x["name"] for x in c.xinfo_consumers("grouped", "readers")]
    assert group["name"] == b"readers" and consumers == [b"cli-1"]


def test_tail_stream_prints_new_entries_as_they_come(
    redis_server: RedisServer, process: Callable[..., Any],
) -> None:
    with redis_server.client() as c:
        c.xadd("live", {"data": b'{"type":"track","event":"before"}'})
    tail = process("tail", redis_server.url, "--stream", "live")  # default: new entries only
    wait_until(lambda: any(line.startswith("-- status: live") for line in tail.lines),
               what="tail is live")
    assert main(["publish", "--url", redis_server.url, "--stream", "live", "--count", "12",
                 "--rate", "0", "--seed", "3"]) == 0
    wait_until(lambda: len(tail.events()) >= 12, what="12 event lines")
    code, err = tail.interrupt()
    assert code == 0
    assert len(tail.events()) == 12 and "before" not in "\n".join(tail.lines)
    assert "12 events shown" in err


# ---- --from: what is accepted, what is refused (exit 2) ----------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$", "$"),
        ("0", "0"),
        ("-", "-"),
        ("1714564800000-0", "1714564800000-0"),
        ("1714564800000", "1714564800000"),
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1.5s", timedelta(seconds=1.5)),
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),  # naive: UTC
    ],
)
def test_from_accepts(text: str, expected: object) -> None:
    assert parse_from(text) == expected
    args = build_parser().parse_args(["tail", "--stream", "s", "--from", text])
    assert args.start == expected


@pytest.mark.parametrize(
    "text",
    ["yesterday", "5x", "-5m", "m5", "12:00", "", "2999-01-01T00:00:00Z", "99999999999999999",
     "1714564800000-x"],
)
def test_bad_from_exits_2_saying_what_is_accepted(
    text: str, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_from(text)
    with pytest.raises(SystemExit) as exit_info:
        main(["tail", "redis://127.0.0.1:1/0", "--stream", "s", f"--from={text}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --from" in err
    assert "Accepted: $ (new entries only" in err and "5m" in err and "2024-05-01T12:00:00Z" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tail", "--stream", "s", "--channel", "c"], "one tail reads one kind"),
        (["tail", "--stream", "s", "--shard-channel", "c"], "one tail reads one kind"),
        (["tail", "--from", "0"], "--from applies to streams"),
        (["tail", "--group", "g"], "--group applies to streams"),
        (["tail", "--stream", "s", "--consumer", "c"], "add --group G"),
        (["record", "-o", "r.ndjson", "--stream", "s", "--pattern", "p"], "one record reads"),
        (["record", "-o", "r.ndjson", "--consumer", "c"], "--consumer applies to streams"),
        (["publish", "--stream", "s", "--sharded"], "--sharded applies to channels"),
        (["publish", "--stream", "s", "--channel", "c"], "not both"),
        (["publish", "--maxlen", "5"], "give --stream NAME as well"),
        (["publish", "--stream", "s", "--maxlen", "0"], "--maxlen 0 is out of range"),
    ],
)
def test_flags_that_do_not_go_together_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
) -> None:
    # Refused before connecting: nothing listens on port 1.
    url = ["--url", "redis://127.0.0.1:1/0"] if argv[0] == "publish" else ["redis://127.0.0.1:1/0"]
    assert main([argv[0], *url, *argv[1:]]) == 2
    assert message in capsys.readouterr().err


def test_a_cluster_seed_list_is_passed_to_the_source_not_rejected(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Nothing listens on these ports: the command gets as far as connecting, and says so.
    code = main(["publish", "--url", "redis://127.0.0.1:1,127.0.0.1:2", "--count", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot reach Redis at redis://127.0.0.1:1,127.0.0.1:2" in err
    assert "malformed" not in err and "names no host" not in err


# ---- publish --sharded ------------------------------------------------------------------------


def test_publish_sharded_uses_spublish(redis_server: RedisServer) -> None:
    with redis_server.client() as c:
        pubsub = c.pubsub()
        pubsub.ssubscribe("orders")
        wait_until(lambda: pubsub.get_sharded_message(timeout=0.1) is not None, what="subscribed")
        plain = c.pubsub()
        plain.subscribe("orders")  # a classic subscriber must hear nothing
        wait_until(lambda: plain.get_message(timeout=0.1) is not None, what="subscribed")
        received: list[bytes] = []
        assert main(["publish", "--url", redis_server.url, "--sharded", "--channel", "orders",
                     "--count", "40", "--rate", "0"]) == 0

        def drain() -> bool:
            while (m := pubsub.get_sharded_message(timeout=0.05)) is not None:
                if m["type"] == "smessage":
                    received.append(m["data"])
            return len(received) >= 40

        wait_until(drain, what="40 sharded messages")
        # Nothing reached the classic subscriber: the first message it gets is a marker
        # PUBLISHed after them (Redis delivers to one connection in order), not a wait.
        c.publish("orders", b"marker")
        first = wait_until(lambda: plain.get_message(timeout=0.1), what="the marker")
        assert first["type"] == "message" and first["data"] == b"marker"
        pubsub.close()
        plain.close()
    assert all(orjson.loads(p)["type"] for p in received)
