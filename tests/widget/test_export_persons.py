"""``dbg.export()`` and the Export button bind ``person:`` terms as ``dbg.filtered()`` does.

Both read the ids from the identity graph attached to the buffer (no graph rebuilt from the
snapshot), so they write exactly ``filtered()``'s rows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.events import shared_devices

from segment_debugger.analysis import people as people_module
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.io.export import ndjson_lines
from segment_debugger.widget.widget import SegmentDebugger

QUERIES = ["person:dev1", "person:user0 type:track", "-person:user2",
           "person:dev3 OR person:nobody", "person:user1 person:dev4", ""]


@pytest.fixture
def dbg(offline_debugger: Callable[..., SegmentDebugger]) -> SegmentDebugger:
    buf = EventBuffer(max_messages=50)
    debugger = offline_debugger(buffer=buf)
    buf.extend(shared_devices(80))  # evictions too: the graph forgets what the buffer drops
    return debugger


def count_stitching(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of ``persons_among`` (a graph built from a snapshot) from now on."""
    stitched: list[int] = []
    real = people_module.persons_among
    monkeypatch.setattr(people_module, "persons_among",
                        lambda events, ids: stitched.append(1) or real(events, ids))
    return stitched


def filtered_lines(dbg: SegmentDebugger) -> list[bytes]:
    events = [dbg.buffer.get(int(seq)) for seq in dbg.filtered()["seq"]]
    return list(ndjson_lines([e for e in events if e is not None]))


def test_export_writes_filtered_rows_without_rebuilding_the_graph(
    dbg: SegmentDebugger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stitched = count_stitching(monkeypatch)
    for n, query in enumerate(QUERIES):
        dbg.query = query
        want = filtered_lines(dbg)
        path = tmp_path / f"out{n}.ndjson"
        assert dbg.export(path) == len(want), query
        assert path.read_bytes().splitlines() == want, query
        assert stitched == [], query  # read from the attached graph
    dbg.query = "person:dev1"
    assert len(filtered_lines(dbg)) > 0


def test_the_export_button_sends_filtered_rows_without_rebuilding_the_graph(
    dbg: SegmentDebugger, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[dict[str, Any], list[bytes] | None]] = []
    monkeypatch.setattr(dbg._requests, "_send",
                        lambda content, buffers=None: sent.append((dict(content), buffers)))
    stitched = count_stitching(monkeypatch)
    for query in QUERIES:
        dbg.query = query
        want = filtered_lines(dbg)
        sent.clear()
        dbg._requests.on_msg(dbg, {"type": "export_request", "request_id": "r"}, [])
        [(reply, buffers)] = sent
        assert reply["type"] == "export" and reply["count"] == len(want), query
        assert buffers is not None and buffers[0].splitlines() == want, query
        assert stitched == [], query
