"""Export: NDJSON (byte-exact, wrapped when it must be), gzip, Parquet, CSV; atomic files."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event
from segment_debugger.io import arrow as io_arrow
from segment_debugger.io import export as io_export
from segment_debugger.io.export import decode_line, encode_payload, read_ndjson
from segment_debugger.playground.fake import BAD_KINDS, FakeEventStream

#: Payloads that are valid JSON but not what orjson writes, or that must be wrapped.
EDGE_PAYLOADS: list[bytes] = [
    b'{\n  "type": "track",\n  "event": "Pretty",\n  "userId": "u1"\n}',  # pretty-printed
    b'{"type":"track","event":"CRLF",\r\n"userId":"u1"}',
    b'{"type": "track", "event": "Spaces", "userId": "u1"}',  # valid, not orjson's bytes
    b'{"userId":"u1","type":"identify","traits":{"n":1.0,"e":1E2}}',  # 1.0 and 1E2 kept
    b'{"type":"track","event":"\\u00e9t\\u00e9","userId":"u1"}',  # escapes kept as escapes
    b'{"type":"track","event":"line\xe2\x80\xa8sep","userId":"u1"}',  # U+2028 inside a string
    b'  {"type":"track","event":"Padded","userId":"u1"}\t',  # whitespace around the object
    b"",  # empty
    b"\n",
    b"\xff\xfe\x00garbage",  # not UTF-8
    b'{"type":"track","event":"\xff","userId":"u1"}',  # JSON-shaped but not UTF-8
    b"not json at all",
    b'{"$raw_base64":"AAAA"}',  # looks like the wrapper: must be wrapped itself
    b'{ "$raw_base64" : "not base64!" }',
    b'{"$raw_base64":"AAAA","other":1}',  # two keys: an ordinary payload
    b'{"note":"$raw_base64"}',
    b"42",
    b'"text"',
    b"null",
    b'{"a":1,"a":2}',  # duplicate keys: valid JSON, kept byte-exact
    b'{"big":123456789012345678901234567890}',  # beyond 64 bits
    b"[1,2,3]",
    b'{"x":"\\ud800"}',  # a lone surrogate escape
]


def hostile_corpus() -> list[bytes]:
    corpus: list[bytes] = []
    for seed in range(5):
        fake = FakeEventStream(seed=seed)
        corpus.extend(fake.payload() for _ in range(20))
        corpus.extend(fake.bad_payload(kind) for kind in BAD_KINDS)
    corpus.extend(EDGE_PAYLOADS)
    return corpus


def buffer_of(payloads: list[bytes], max_messages: int = 100_000) -> EventBuffer:
    buf = EventBuffer(max_messages=max_messages)
    now = time.time()
    for i, raw in enumerate(payloads):
        buf.append(parse_event(raw, "events", now + i / 1000))
    return buf


def realistic(n: int, seed: int = 7) -> list[bytes]:
    fake = FakeEventStream(seed=seed)
    return [fake.payload() for _ in range(n)]


# -- NDJSON ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["events.ndjson", "events.jsonl", "EVENTS.NDJSON"])
def test_ndjson_round_trips_the_hostile_corpus_byte_exact(tmp_path: Path, name: str) -> None:
    corpus = hostile_corpus()
    buf = buffer_of(corpus)
    path = tmp_path / name
    assert buf.export(path) == len(corpus)
    data = path.read_bytes()
    assert data.endswith(b"\n")
    lines = data[:-1].split(b"\n")
    assert len(lines) == len(corpus)
    for line, raw in zip(lines, corpus, strict=True):
        orjson.loads(line)  # every line is valid JSON
        assert b"\r" not in line
        assert decode_line(line) == raw
    assert list(read_ndjson(path)) == corpus


def test_valid_payloads_are_the_lines_themselves_others_are_wrapped(tmp_path: Path) -> None:
    corpus = hostile_corpus()
    buffer_of(corpus).export(tmp_path / "e.ndjson")
    lines = (tmp_path / "e.ndjson").read_bytes()[:-1].split(b"\n")
    for line, raw in zip(lines, corpus, strict=True):
        verbatim = (
            raw != b"" and b"\n" not in raw and b"\r" not in raw and _is_json(raw)
            and not _wrapper_shaped(raw)
        )
        if verbatim:
            assert line == raw
        else:
            assert orjson.loads(line) == {"$raw_base64": base64.b64encode(raw).decode()}


def _is_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def _wrapper_shaped(raw: bytes) -> bool:
    value = orjson.loads(raw)
    return isinstance(value, dict) and list(value) == ["$raw_base64"] and isinstance(
        value["$raw_base64"], str
    )


def test_the_wrapper_is_exactly_specified() -> None:
    assert encode_payload(b"") == b'{"$raw_base64":""}'
    assert encode_payload(b"\xff") == b'{"$raw_base64":"/w=="}'
    assert encode_payload(b'{"a":\n1}') == b'{"$raw_base64":"eyJhIjoKMX0="}'
    assert encode_payload(b'{"a": 1}') == b'{"a": 1}'
    assert decode_line(b'{"$raw_base64":"/w=="}\n') == b"\xff"
    assert decode_line(b'{"a": 1}\n') == b'{"a": 1}'


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=80), st.text(max_size=40).map(str.encode),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                              lambda c: st.lists(c, max_size=3)
                              | st.dictionaries(st.text(max_size=12), c, max_size=3),
                              max_leaves=8).map(lambda v: json.dumps(v, indent=None).encode())))
def test_any_bytes_survive_one_line(raw: bytes) -> None:
    line = encode_payload(raw)
    assert b"\n" not in line and b"\r" not in line
    orjson.loads(line)
    assert decode_line(line) == raw


def test_events_made_by_hand_take_the_checked_path(tmp_path: Path) -> None:
    buf = EventBuffer()
    for raw in (b'{"a":\n1}', b'{"type":"track"}', b"\x00", b'{"$raw_base64":"AA=="}'):
        buf.append(Event(raw, "c", 0.0, data={"not": "from raw"}, size=len(raw)))
    buf.export(tmp_path / "h.jsonl")
    assert list(read_ndjson(tmp_path / "h.jsonl")) == [e.raw for e in buf.snapshot()]


def test_gzip_holds_the_same_lines(tmp_path: Path) -> None:
    buf = buffer_of(hostile_corpus())
    assert buf.export(tmp_path / "e.ndjson.gz") == buf.export(tmp_path / "e.ndjson")
    assert buf.export(tmp_path / "e.jsonl.gz") == len(buf)
    plain = (tmp_path / "e.ndjson").read_bytes()
    assert gzip.decompress((tmp_path / "e.ndjson.gz").read_bytes()) == plain
    assert gzip.decompress((tmp_path / "e.jsonl.gz").read_bytes()) == plain
    assert list(read_ndjson(tmp_path / "e.ndjson.gz")) == [e.raw for e in buf.snapshot()]


def test_query_selects_what_is_written(tmp_path: Path) -> None:
    buf = buffer_of(hostile_corpus())
    wanted = [e.raw for e in buf.filter("type:track valid:true")]
    assert 0 < len(wanted) < len(buf)
    assert buf.export(tmp_path / "t.ndjson", query="type:track valid:true") == len(wanted)
    assert list(read_ndjson(tmp_path / "t.ndjson")) == wanted


def test_an_empty_buffer_gives_empty_files(tmp_path: Path) -> None:
    buf = EventBuffer()
    assert buf.export(tmp_path / "e.ndjson") == 0
    assert (tmp_path / "e.ndjson").read_bytes() == b""
    assert buf.export(tmp_path / "e.parquet") == 0
    table = pq.read_table(tmp_path / "e.parquet")
    assert table.num_rows == 0
    assert table.column_names == list(buf.to_pandas().columns)
    assert buf.export(tmp_path / "e.csv") == 0
    assert (tmp_path / "e.csv").read_text().splitlines()[0].startswith('"seq","received_at"')


# -- Parquet and Arrow -------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Lists read back from Arrow are numpy arrays in pandas: compare them as lists."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def assert_same_frame(back: pd.DataFrame, frame: pd.DataFrame, json_columns: set[str]) -> None:
    assert list(back.columns) == list(frame.columns)
    assert len(back) == len(frame)
    for name in frame.columns:
        if name in json_columns:  # documented: values Arrow cannot type are JSON text
            decoded = [None if v is None or v is np.nan else orjson.loads(v) for v in back[name]]
            expected = [None if v is None or v is np.nan else _plain(v) for v in frame[name]]
            assert decoded == expected, name
            continue
        assert back[name].dtype == frame[name].dtype, name
        if frame[name].dtype == object:
            assert [_plain(v) for v in back[name]] == [_plain(v) for v in frame[name]], name
        else:
            pd.testing.assert_series_equal(back[name], frame[name], check_names=True, obj=name)


def test_parquet_reads_back_as_to_pandas(tmp_path: Path) -> None:
    buf = buffer_of(hostile_corpus() + realistic(300))
    frame = buf.to_pandas()
    assert buf.export(tmp_path / "e.parquet") == len(frame)
    table = pq.read_table(tmp_path / "e.parquet")
    assert table.schema.field("raw").type in (pa.binary(), pa.large_binary())
    assert table.schema.field("violations").type == pa.list_(pa.string())
    assert str(table.schema.field("received_at").type) == "timestamp[us, tz=UTC]"
    json_columns = set(orjson.loads(table.schema.metadata.get(io_arrow.JSON_COLUMNS_KEY, b"[]")))
    assert json_columns == {"properties.products"}  # lists of objects
    assert_same_frame(table.to_pandas(), frame, json_columns)
    assert list(table.column("raw").to_pylist()) == [e.raw for e in buf.snapshot()]


def test_parquet_row_groups_hold_every_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(io_export, "ROW_GROUP_ROWS", 64)
    buf = buffer_of(realistic(300))
    buf.export(tmp_path / "e.parquet")
    file = pq.ParquetFile(tmp_path / "e.parquet")
    assert file.num_row_groups == 5
    assert_same_frame(file.read().to_pandas(), buf.to_pandas(), {"properties.products"})


def test_to_arrow_is_the_frame_without_pandas(tmp_path: Path) -> None:
    buf = buffer_of(hostile_corpus() + realistic(100))
    table = buf.to_arrow()
    assert isinstance(table, pa.Table)
    assert_same_frame(table.to_pandas(), buf.to_pandas(), {"properties.products"})
    buf.export(tmp_path / "e.parquet")
    assert pq.read_table(tmp_path / "e.parquet").equals(table.cast(table.schema))


def test_message_lists_are_built_from_offsets_as_lists_would_be() -> None:
    lists: list[Any] = [None, ["a", "b"], [], None, ["c"], ("d",), None]
    built = io_arrow._string_lists(lists)
    assert built.equals(pa.array([list(v) if v else [] for v in lists], type=pa.list_(pa.string())))
    assert io_arrow._string_lists([None, None]).to_pylist() == [[], []]
    assert io_arrow._string_lists([]).type == pa.list_(pa.string())


def test_the_garbage_collector_is_paused_only_while_building() -> None:
    import gc

    buf = buffer_of(realistic(50))
    seen: list[bool] = []
    original = io_arrow.group_columns

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    assert gc.isenabled()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(io_arrow, "group_columns", spy)
        buf.to_arrow()
        assert seen == [False] and gc.isenabled()
        patch.setattr(io_arrow, "group_columns", lambda *a, **k: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            buf.to_arrow()
        assert gc.isenabled()
    gc.disable()
    try:
        buf.to_arrow()
        assert not gc.isenabled()  # a caller's pause is left as it was
    finally:
        gc.enable()


def test_mixed_kinds_become_json_text_and_folding_is_recorded() -> None:
    payloads = [
        orjson.dumps({"type": "track", "event": "E", "userId": "u",
                      "properties": {"mixed": value, f"k{i}": i, "n": i}})
        for i, value in enumerate([1, "one", True, [1, "a"], {"deep": 1}] * 10)
    ]
    buf = buffer_of(payloads)
    table = buf.to_arrow(max_columns=20)
    json_columns = orjson.loads(table.schema.metadata[io_arrow.JSON_COLUMNS_KEY])
    assert "properties.mixed.deep" in table.column_names  # an object is flattened, as in pandas
    assert "properties.mixed" in json_columns
    mixed = table.column("properties.mixed").to_pylist()
    decoded = [orjson.loads(v) if v is not None else None for v in mixed[:5]]
    assert decoded == [1, "one", True, [1, "a"], None]
    assert table.column("properties.n").type == pa.int64()
    folded = orjson.loads(table.schema.metadata[io_arrow.FOLDED_KEY])
    assert folded == buf.to_pandas(max_columns=20).attrs["folded"]


def test_to_polars() -> None:
    pl = pytest.importorskip("polars")
    buf = buffer_of(hostile_corpus())
    frame = buf.to_polars()
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns == list(buf.to_pandas().columns)
    assert frame["raw"].to_list() == [e.raw for e in buf.snapshot()]
    assert frame["seq"].dtype == pl.Int64


def test_to_polars_without_polars_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ImportError, match=r"segment-debugger\[polars\]"):
        EventBuffer().to_polars()


# -- CSV ----------------------------------------------------------------------------------------


def test_csv_has_the_frame_columns_and_ndjson_lines_as_raw(tmp_path: Path) -> None:
    corpus = hostile_corpus()
    buf = buffer_of(corpus)
    assert buf.export(tmp_path / "e.csv") == len(corpus)
    with open(tmp_path / "e.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    frame = buf.to_pandas()
    assert len(rows) == len(corpus)
    assert list(rows[0]) == list(frame.columns)
    assert [decode_line(row["raw"].encode()) for row in rows] == corpus
    assert [json.loads(row["violations"]) for row in rows] == [list(v) for v in frame.violations]
    assert [int(row["seq"]) for row in rows] == frame.seq.tolist()
    again = pd.read_csv(io.StringIO((tmp_path / "e.csv").read_text()))
    assert len(again) == len(corpus)


# -- files: bad input, atomicity ------------------------------------------------------------------


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("name", ["events.txt", "events", "events.gz", "events.csv.gz", ".ndjson"])
def test_an_unknown_extension_names_the_ones_that_exist(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"\.ndjson, \.jsonl, \.ndjson\.gz.*\.parquet.*\.csv"):
        buffer_of(realistic(3)).export(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_path_says_to_give_a_file_name(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    target.mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory: give a file name inside it"):
        buffer_of(realistic(3)).export(target)
    assert list(target.iterdir()) == []


def test_a_missing_directory_says_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        buffer_of(realistic(3)).export(tmp_path / "nope" / "e.ndjson")


def test_a_read_only_location_says_what_to_do(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes through permission bits: use a read-only filesystem
        target = Path("/sys/segment-debugger-export.ndjson")
        if not Path("/sys").is_dir():
            pytest.skip("no /sys")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        target = locked / "e.ndjson"
    try:
        with pytest.raises(PermissionError, match="export to a directory you can write to"):
            buffer_of(realistic(3)).export(target)
        assert not target.exists()
    finally:
        if target.parent != Path("/sys"):
            target.parent.chmod(0o755)


@pytest.mark.parametrize("name", ["e.ndjson", "e.ndjson.gz", "e.parquet", "e.csv"])
def test_an_error_midway_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    target = tmp_path / name
    target.write_bytes(b"the previous export")
    monkeypatch.setattr(io_export, "ROW_GROUP_ROWS", 10)
    monkeypatch.setattr(io_export, "_NDJSON_SLICE", 10)
    calls = 0
    real = io_export.raw_array if name.endswith(".parquet") else io_export.ndjson_lines

    def failing(events: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError(28, "No space left on device")
        return real(events)

    monkeypatch.setattr(io_export, "raw_array" if name.endswith(".parquet") else "ndjson_lines",
                        failing)
    with pytest.raises(OSError, match="No space left"):
        buffer_of(realistic(50)).export(target)
    assert target.read_bytes() == b"the previous export"
    assert leftovers(tmp_path) == []


def test_a_new_file_gets_the_umask_mode_and_replaces_an_old_one(tmp_path: Path) -> None:
    target = tmp_path / "e.ndjson"
    target.write_bytes(b"old")
    mask = os.umask(0o022)
    os.umask(mask)
    buffer_of(realistic(5)).export(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~io_export._umask()
    assert len(list(read_ndjson(target))) == 5
    assert leftovers(tmp_path) == []


def test_dbg_export_writes_exactly_filtered(tmp_path: Path) -> None:
    from segment_debugger.widget.widget import SegmentDebugger

    corpus = hostile_corpus()
    buf = buffer_of(corpus)
    with SegmentDebugger(url=None, buffer=buf, query="type:track", type_filter=["track"],
                         invalid_only=True) as dbg:
        shown = dbg.filtered()
        assert 0 < len(shown) < len(buf)
        assert dbg.export(tmp_path / "shown.ndjson") == len(shown)
        assert list(read_ndjson(tmp_path / "shown.ndjson")) == shown["raw"].tolist()
        assert dbg.export(tmp_path / "shown.parquet") == len(shown)
        back = pq.read_table(tmp_path / "shown.parquet").to_pandas()
        assert back["seq"].tolist() == shown["seq"].tolist()
        assert dbg.export(tmp_path / "all.ndjson", filtered=False) == len(corpus)
        assert list(read_ndjson(tmp_path / "all.ndjson")) == corpus
