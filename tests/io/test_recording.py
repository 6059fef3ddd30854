"""Recordings: the line format, writing (formats, rotation, sidecar), reading damaged files,
capture that loses nothing to the buffer's cap, and the widget showing a recording."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path

import pandas as pd
import pytest
from support.redis_server import RedisServer
from support.waiting import wait_until

import segment_debugger
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event
from segment_debugger.io.recorder import CaptureBuffer, RecordingWriter, Spool, record
from segment_debugger.io.recording import (
    RecordingError,
    RecordingWarning,
    decode_line,
    encode_record,
    gaps_path,
    iter_recording,
    open_recording,
    part_path,
    payload_fits_line,
)
from segment_debugger.playground.fake import BAD_KINDS, FakeEventStream
from segment_debugger.sources.pubsub import RedisSource


def hostile_corpus(seed: int = 7) -> list[bytes]:
    """Valid events, one of every bad kind, pretty-printed JSON with newlines, CRLF, empty."""
    fake = FakeEventStream(seed)
    payloads = [fake.payload() for _ in range(5)]
    payloads += [fake.bad_payload(kind) for kind in BAD_KINDS]
    payloads.append(json.dumps(fake.event(), indent=2).encode())
    payloads.append(b'{"type": "track",\r\n "event": "CRLF"}')
    payloads.append(b'  {"type":"track","event":"padded","userId":"u"}  ')
    payloads.append(b'{"$raw_base64":"AAAA"}')
    payloads.append(b"")
    return payloads


def payloads_of(seed: int, n: int) -> list[bytes]:
    fake = FakeEventStream(seed)
    return [fake.payload() for _ in range(n)]


def events_of(
    payloads: list[bytes], t0: float = 1_714_560_000.0, buffer: EventBuffer | None = None
) -> list[Event]:
    events = []
    for i, raw in enumerate(payloads):
        event = parse_event(raw, f"ch{i % 2}", t0 + i * 0.25, "ch*" if i % 3 == 0 else None)
        event.stream_id = f"{1714560000000 + i}-0" if i % 4 == 0 else None
        events.append(event)
    buffer = EventBuffer() if buffer is None else buffer
    buffer.extend(events)  # seqs, duplicate flags: as live
    return events


def written(tmp_path: Path, name: str, events: list[Event], **options: object) -> Path:
    path = tmp_path / name
    writer = RecordingWriter(path, source="test", **options)  # type: ignore[arg-type]
    writer.write(events)
    writer.close()
    return path


def same_events(loaded: list[Event], original: list[Event]) -> None:
    assert [e.raw for e in loaded] == [e.raw for e in original]
    assert [e.seq for e in loaded] == list(range(1, len(original) + 1))
    assert [e.received_at for e in loaded] == [e.received_at for e in original]
    assert [e.channel for e in loaded] == [e.channel for e in original]
    assert [e.pattern for e in loaded] == [e.pattern for e in original]
    assert [e.stream_id for e in loaded] == [e.stream_id for e in original]


# ---- the line ---------------------------------------------------------------------------------


def test_every_hostile_payload_round_trips_byte_exact_through_a_line() -> None:
    for raw in hostile_corpus():
        line = encode_record(3, 1714560000.5, "events", None, "1-0", raw)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        json.loads(line)  # every line is JSON for any other reader
        item = decode_line(line)
        assert not isinstance(item, type(decode_line(b'{"$recording":{}}\n')))
        assert item.raw == raw
        assert (item.seq, item.received_at, item.channel, item.stream_id) == (
            3, 1714560000.5, "events", "1-0"
        )
        embedded = b'"payload":' in line
        assert embedded == payload_fits_line(raw)
        if embedded:  # the payload is the line's tail, as received
            assert line.endswith(b'"payload":' + raw + b"}\n")


def test_payloads_that_cannot_be_a_line_are_base64() -> None:
    fake = FakeEventStream(1)
    for raw in (fake.bad_payload("non_utf8"), b"", b"{\n}", b'{"a":1}\r', b"\xef\xbb\xbf{}"):
        assert not payload_fits_line(raw)
        assert b'"payload_base64":' in encode_record(1, 0.0, "c", None, None, raw)


def test_a_channel_named_like_the_payload_key_does_not_confuse_the_slice() -> None:
    raw = b'{"type":"track","event":",\\"payload\\":"}'
    line = encode_record(1, 0.0, ',"payload":', ',"payload":1}', None, raw)
    item = decode_line(line)
    assert item.raw == raw and item.channel == ',"payload":'


# ---- writing and reading ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rec.ndjson", "rec.ndjson.gz", "rec.parquet"])
def test_open_recording_gives_back_what_was_recorded(tmp_path: Path, name: str) -> None:
    payloads = hostile_corpus()
    original = events_of(payloads)
    path = written(tmp_path, name, original)
    buffer = open_recording(path)
    same_events(buffer.snapshot(), original)
    live = EventBuffer()
    events_of(payloads, buffer=live)
    pd.testing.assert_frame_equal(buffer.to_pandas(), live.to_pandas())
    sidecar = json.loads(gaps_path(path).read_text())
    assert sidecar["closed"] is True and sidecar["gaps"] == []
    assert sidecar["events"] == len(original)


def test_rotation_writes_numbered_parts_and_reads_them_in_order(tmp_path: Path) -> None:
    fake = FakeEventStream(3)
    original = events_of([fake.payload() for _ in range(400)])
    path = tmp_path / "rec.ndjson.gz"
    writer = RecordingWriter(path, rotate_bytes=4096)
    for i in range(0, 400, 10):
        writer.write(original[i:i + 10])
        writer.flush()
    writer.close()
    assert len(writer.parts) > 2
    assert writer.parts[:3] == [path, tmp_path / "rec.1.ndjson.gz", tmp_path / "rec.2.ndjson.gz"]
    assert part_path(tmp_path / "rec", 3) == tmp_path / "rec.3"
    assert part_path(tmp_path / "a.b.parquet", 1) == tmp_path / "a.b.1.parquet"
    same_events(open_recording(path).snapshot(), original)
    gaps_path(path).unlink()  # without the sidecar the parts are found by their numbers
    same_events(open_recording(path).snapshot(), original)
    # a later part alone keeps the seqs recorded in it
    later = open_recording(writer.parts[1]).snapshot()
    assert later[0].seq > 1 and [e.raw for e in later] == [
        e.raw for e in original[later[0].seq - 1:later[-1].seq]
    ]


def test_a_plain_export_loads_too(tmp_path: Path) -> None:
    import base64

    payloads = hostile_corpus()
    lines = []
    for raw in payloads:
        if payload_fits_line(raw) and raw != b'{"$raw_base64":"AAAA"}':
            lines.append(raw + b"\n")
        else:
            lines.append(b'{"$raw_base64":"' + base64.b64encode(raw) + b'"}\n')
    path = tmp_path / "export.ndjson"
    path.write_bytes(b"".join(lines))
    events = open_recording(path).snapshot()
    assert [e.raw for e in events] == payloads
    assert {e.channel for e in events} == {""}


# ---- damaged recordings -----------------------------------------------------------------------


def test_a_corrupt_line_and_a_truncated_end_are_named_and_the_rest_loads(tmp_path: Path) -> None:
    original = events_of(payloads_of(5, 10))
    path = written(tmp_path, "rec.ndjson", original)
    lines = path.read_bytes().splitlines(keepends=True)  # line 1 is the header
    lines[4] = lines[4][:30] + b"\x00garbage" + lines[4][40:]
    lines[-1] = lines[-1][: len(lines[-1]) // 2]
    path.write_bytes(b"".join(lines))
    with pytest.warns(RecordingWarning) as caught:
        events = open_recording(path).snapshot()
    message = str(caught[0].message)
    assert "line 5" in message and "line 11: truncated" in message
    assert [e.raw for e in events] == [e.raw for e in original[:3] + original[4:9]]
    assert [e.seq for e in events[:3]] == [1, 2, 3]


def test_a_truncated_gzip_loads_up_to_the_cut(tmp_path: Path) -> None:
    original = events_of(payloads_of(6, 2000))
    path = written(tmp_path, "rec.ndjson.gz", original)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.warns(RecordingWarning, match="compressed data damaged"):
        events = open_recording(path).snapshot()
    assert 0 < len(events) < 2000
    assert [e.raw for e in events] == [e.raw for e in original[: len(events)]]


def test_a_killed_recorder_leaves_a_readable_gzip(tmp_path: Path) -> None:
    original = events_of(payloads_of(8, 50))
    path = tmp_path / "rec.ndjson.gz"
    writer = RecordingWriter(path)
    writer.write(original)
    writer.flush()  # what record() does every half second; never closed: as if killed
    with pytest.warns(RecordingWarning):
        events = open_recording(path).snapshot()
    assert [e.raw for e in events] == [e.raw for e in original]
    writer.close()


def test_nothing_readable_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "rec.ndjson"
    path.write_bytes(b"not json\n\x00\x01\n")
    with pytest.raises(RecordingError, match="line 1"):
        open_recording(path)
    broken = written(tmp_path, "rec.parquet", events_of([b'{"type":"track"}']))
    broken.write_bytes(broken.read_bytes()[:-20])
    with pytest.raises(RecordingError, match="no footer"):
        open_recording(broken)
    with pytest.raises(RecordingError, match="no recording"):
        open_recording(tmp_path / "missing.ndjson")


def test_sidecar_gaps_are_put_back_where_they_happened(tmp_path: Path) -> None:
    original = events_of(payloads_of(9, 6))
    path = written(tmp_path, "rec.ndjson", original)
    sidecar = json.loads(gaps_path(path).read_text())
    sidecar["gaps"] = [{"started_at": original[2].received_at, "ended_at": original[3].received_at,
                        "duration": 0.25, "reason": "connection lost: test", "after_seq": 3,
                        "lost_estimate": 4, "estimate_basis": "exact", "channels": None}]
    gaps_path(path).write_text(json.dumps(sidecar))
    buffer = open_recording(path)
    (gap,) = buffer.gaps
    assert (gap.after_seq, gap.reason, gap.lost_estimate) == (3, "connection lost: test", 4)
    assert len(buffer) == 6


# ---- capture: nothing lost to the buffer's cap ------------------------------------------------


@pytest.mark.redis
def test_a_burst_larger_than_the_buffer_is_recorded_whole(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    buffer = CaptureBuffer(Spool(), max_messages=50)
    source = RedisSource(redis_server.url, channels="burst", buffer=buffer)
    writer = RecordingWriter(tmp_path / "burst.ndjson")
    fake = FakeEventStream(11)
    payloads = [fake.payload() for _ in range(5000)]
    stop = threading.Event()
    done: list[object] = []
    thread = threading.Thread(
        target=lambda: done.append(record(source, writer, stop=stop, count=5000)), daemon=True
    )
    thread.start()
    with redis_server.client() as client:
        wait_until(lambda: client.pubsub_numsub("burst")[0][1] == 1, what="recorder subscribed")
        pipe = client.pipeline(transaction=False)
        for raw in payloads:
            pipe.publish("burst", raw)
        pipe.execute()
    thread.join(timeout=30)
    assert done, "record() did not finish"
    assert buffer.stats["evicted"] > 4000  # the buffer kept only 50 of them
    events = open_recording(writer.path).snapshot()
    assert [e.raw for e in events] == payloads
    assert [e.seq for e in events] == list(range(1, 5001))


@pytest.mark.redis
def test_record_with_a_filter_numbers_what_it_keeps(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    from segment_debugger.core.query import parse_query

    buffer = CaptureBuffer(Spool())
    source = RedisSource(redis_server.url, channels="mixed", buffer=buffer)
    writer = RecordingWriter(tmp_path / "bad.ndjson")
    fake = FakeEventStream(12)
    payloads = [fake.payload() if i % 3 else fake.bad_payload("garbage") for i in range(60)]
    stop = threading.Event()
    thread = threading.Thread(
        target=record, args=(source, writer),
        kwargs={"stop": stop, "query": parse_query("valid:false")}, daemon=True,
    )
    thread.start()
    with redis_server.client() as client:
        wait_until(lambda: client.pubsub_numsub("mixed")[0][1] == 1, what="recorder subscribed")
        for raw in payloads:
            client.publish("mixed", raw)
    wait_until(lambda: buffer.last_seq == 60, what="all received")
    wait_until(lambda: writer.events >= 20, what="bad events written")
    stop.set()
    thread.join(timeout=10)
    events = open_recording(writer.path).snapshot()
    assert [e.raw for e in events] == payloads[::3]
    assert [e.seq for e in events] == list(range(1, 21))


# ---- the widget -------------------------------------------------------------------------------


def test_from_recording_shows_the_recording_without_redis(tmp_path: Path) -> None:
    original = events_of(hostile_corpus())
    path = written(tmp_path, "rec.ndjson.gz", original)
    with segment_debugger.SegmentDebugger.from_recording(path) as dbg:
        status = dbg.status
        assert status["state"] == "recording"
        assert status["reason"].startswith(f"{len(original)} events, 2024-05-01 ")
        assert " to " in status["reason"]
        assert dbg.source is not None and dbg.source.url == str(path)
        assert not any(t.name == "segment-debugger-source" for t in threading.enumerate())
        pd.testing.assert_frame_equal(dbg.to_pandas(), open_recording(path).to_pandas())
        assert dbg.to_pandas()["raw"].tolist() == [e.raw for e in original]
    assert segment_debugger.open_recording is open_recording


def test_iter_recording_streams_every_part(tmp_path: Path) -> None:
    original = events_of(payloads_of(4, 30))
    path = written(tmp_path, "rec.ndjson", original, rotate_bytes=2000)
    assert [r.raw for r in iter_recording(path)] == [e.raw for e in original]
    with gzip.open(tmp_path / "x.gz", "wb") as f:
        f.write(b"")


def test_recording_and_recorder_still_export_every_name_of_their_parts() -> None:
    """The format, reader, writer and spool modules split out keep their old import paths."""
    from segment_debugger.io import recorder, recording

    for module in (recording, recorder):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    assert recording.open_recording is segment_debugger.open_recording
    assert {"decode_line", "encode_record", "iter_recording", "part_path", "gaps_path",
            "RecordingError", "RecordingWarning", "RecordingSource"} <= set(recording.__all__)
    assert {"CaptureBuffer", "RecordingWriter", "Spool", "record", "Progress"} <= set(
        recorder.__all__)
