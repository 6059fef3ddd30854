"""``record`` and ``replay`` as child processes against a real redis-server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.collector import ChannelCollector
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.io.recording import gaps_path, iter_recording, open_recording
from segment_debugger.playground.fake import BAD_KINDS, FakeEventStream

pytestmark = pytest.mark.redis

Start = Callable[..., Any]  # tests/cli/conftest.py's Process


def corpus() -> list[bytes]:
    fake = FakeEventStream(21)
    payloads = [fake.payload() for _ in range(40)]
    payloads += [fake.bad_payload(kind) for kind in BAD_KINDS]
    payloads.append(json.dumps(fake.event(), indent=2).encode())  # newlines inside
    payloads.append(b'{"type":"track",\r\n"event":"crlf"}')
    return payloads


def subscribed(server: RedisServer, channel: str) -> bool:
    with server.client() as client:
        return bool(client.pubsub_numsub(channel)[0][1] >= 1)


def lines_written(path: Path) -> int:
    try:
        return sum(1 for _ in iter_recording(path))
    except Exception:  # the gzip stream may be mid-flush
        return 0


def test_record_then_replay_is_byte_identical(
    redis_server: RedisServer, process: Start, collect: Callable[[str], ChannelCollector],
    tmp_path: Path,
) -> None:
    out = tmp_path / "rec.ndjson.gz"
    payloads = corpus()
    rec = process("record", redis_server.url, "--channel", "src", "--out", str(out))
    wait_until(lambda: subscribed(redis_server, "src"), what="recorder subscribed")
    with redis_server.client() as client:
        for raw in payloads:
            client.publish("src", raw)
    wait_until(lambda: lines_written(out) == len(payloads), what="all recorded")
    code, err = rec.interrupt()
    assert code == 0, err
    assert f"recorded {len(payloads)} events" in err
    sidecar = json.loads(gaps_path(out).read_text())
    assert sidecar["closed"] is True and sidecar["gaps"] == []

    witness = collect("dst")
    rep = process("replay", str(out), "--url", redis_server.url, "--channel", "dst",
                  "--speed", "max")
    code, err = rep.finish()
    assert code == 0, err
    assert f"replayed {len(payloads)} events" in err
    wait_until(lambda: len(witness.received) == len(payloads), what="all replayed")
    assert witness.payloads == payloads


def test_record_stops_by_count_and_duration_and_filters(
    redis_server: RedisServer, process: Start, tmp_path: Path
) -> None:
    out = tmp_path / "bad.parquet"
    fake = FakeEventStream(22)
    payloads = [fake.payload() if i % 2 else fake.bad_payload("garbage") for i in range(40)]
    rec = process("record", redis_server.url, "--channel", "c", "--out", str(out),
                  "--filter", "valid:false", "--count", "5")
    wait_until(lambda: subscribed(redis_server, "c"), what="recorder subscribed")
    with redis_server.client() as client:
        for raw in payloads:
            client.publish("c", raw)
    code, err = rec.finish()
    assert code == 0, err
    assert [e.raw for e in open_recording(out).snapshot()] == payloads[0:10:2]

    started = time.monotonic()
    timed = process("record", redis_server.url, "--channel", "c", "--out",
                    str(tmp_path / "t.ndjson"), "--duration", "0.5")
    code, err = timed.finish()
    assert code == 0, err
    assert time.monotonic() - started < 10


def test_a_server_restart_while_recording_is_named_in_the_sidecar(
    private_redis: RedisServer, process: Start, tmp_path: Path
) -> None:
    out = tmp_path / "rec.ndjson"
    rec = process("record", private_redis.url, "--channel", "c", "--out", str(out))
    wait_until(lambda: subscribed(private_redis, "c"), what="recorder subscribed")
    with private_redis.client() as client:
        client.publish("c", b'{"type":"track","event":"before","userId":"u"}')
    wait_until(lambda: lines_written(out) == 1, what="first recorded")
    private_redis.restart()
    wait_until(lambda: subscribed(private_redis, "c"), timeout=20, what="resubscribed")
    with private_redis.client() as client:
        client.publish("c", b'{"type":"track","event":"after","userId":"u"}')
    wait_until(lambda: json.loads(gaps_path(out).read_text())["gaps"], what="gap in sidecar")
    code, err = rec.interrupt()
    assert code == 0, err
    assert "1 gap(s)" in err
    sidecar = json.loads(gaps_path(out).read_text())
    (gap,) = sidecar["gaps"]
    assert gap["after_seq"] == 1 and "connection lost" in gap["reason"]
    assert gap["started_at"] <= gap["ended_at"]
    buffer = open_recording(out)
    assert len(buffer) == 2 and buffer.gaps[0].after_seq == 1


def test_replay_to_a_server_that_goes_away_stops_with_the_count(
    private_redis: RedisServer, process: Start, tmp_path: Path
) -> None:
    from segment_debugger.core.segment import parse_event
    from segment_debugger.io.recorder import RecordingWriter

    events = [parse_event(b'{"i":%d}' % i, "c", 1_714_560_000 + i * 0.02) for i in range(300)]
    writer = RecordingWriter(tmp_path / "rec.ndjson")
    writer.write(events)
    writer.close()
    with private_redis.client() as client:
        pubsub = client.pubsub()
        pubsub.subscribe("gone")
        wait_until(lambda: pubsub.get_message(timeout=0.1), what="subscribed")
        rep = process("replay", str(writer.path), "--url", private_redis.url, "--channel", "gone")
        wait_until(lambda: pubsub.get_message(timeout=0.1), what="replay started")
        private_redis.stop()
        pubsub.close()
    code, err = rep.finish()
    assert code == 1, err
    assert "stopped: Redis went away after" in err
    replayed = int(err.split(" of 300 events replayed")[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert 1 <= replayed < 300


def test_a_corrupt_recording_replays_its_good_part_and_names_the_bad_line(
    redis_server: RedisServer, process: Start, collect: Callable[[str], ChannelCollector],
    tmp_path: Path,
) -> None:
    path = tmp_path / "rec.ndjson"
    path.write_bytes(
        b'{"seq":1,"received_at":1.0,"channel":"c","pattern":null,"stream_id":null,'
        b'"payload":{"a":1}}\n'
        b'{"seq":2,"received_at":1.0,"channel":"c","pat\n'
        b'{"seq":3,"received_at":1.0,"channel":"c","pattern":null,"stream_id":null,'
        b'"payload":{"a":3}}\n'
    )
    witness = collect("good")
    rep = process("replay", str(path), "--url", redis_server.url, "--channel", "good",
                  "--speed", "max")
    code, err = rep.finish()
    assert code == 0, err
    assert "line 2" in err and "replayed 2 events" in err
    wait_until(lambda: len(witness.received) == 2, what="good part replayed")
    assert witness.payloads == [b'{"a":1}', b'{"a":3}']


def test_replay_usage_errors(process: Start, tmp_path: Path) -> None:
    code, err = process("replay", str(tmp_path / "missing.ndjson"), "--channel", "x").finish()
    assert code == 2 and "no recording" in err
    code, err = process("replay", "f", "--channel", "x", "--stream", "y").finish()
    assert code == 2 and "not allowed with" in err


@pytest.mark.parametrize(
    ("target", "url", "message"),
    [
        # Nothing listens on these ports: a seed list means a cluster, which redis-py reports
        # with RedisClusterException (no RedisError): it used to escape as a traceback.
        (["--channel", "x"], "redis://127.0.0.1:1,127.0.0.1:2",
         "cannot reach Redis at redis://127.0.0.1:1,127.0.0.1:2"),
        (["--channel", ""], "redis://127.0.0.1:1/0", "non-empty"),
        (["--stream", ""], "redis://127.0.0.1:1/0", "non-empty"),
        (["--channel", "x"], "redis://127.0.0.1:1/0", "cannot reach Redis at redis://127.0.0.1:1/0"),
    ],
)
def test_replay_says_what_is_wrong_instead_of_a_traceback(
    target: list[str], url: str, message: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from segment_debugger.cli import main

    rec = tmp_path / "rec.ndjson"
    rec.write_bytes(b'{"type":"track","event":"x"}\n')
    assert main(["replay", str(rec), "--url", url, *target]) == 2
    assert message in capsys.readouterr().err


def test_replay_into_a_key_of_another_type_says_so_and_exits_1(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from segment_debugger.cli import main

    with redis_server.client() as admin:
        admin.set("taken", "a string")
    rec = tmp_path / "rec.ndjson"
    rec.write_bytes(b'{"type":"track","event":"x"}\n')
    assert main(["replay", str(rec), "--url", redis_server.url, "--stream", "taken"]) == 1
    err = capsys.readouterr().err
    assert "key 'taken' holds something other than a stream" in err
    assert "0 of 1 events replayed" in err
