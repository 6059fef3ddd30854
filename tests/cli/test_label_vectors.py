"""Run the shared label vectors (spec/label_vectors.json), also run by the JS tests of format.ts.

``tail`` labels an event exactly as the widget's list does: the same Row, the same rule.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import REPO_ROOT

from segment_debugger.cli.format import event_label, row_label
from segment_debugger.core.segment import parse_event
from segment_debugger.widget.wire import Row, event_to_row

VECTORS_PATH = REPO_ROOT / "spec" / "label_vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = VECTORS["cases"]


def test_vector_file_is_well_formed() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 30
    for position, case in enumerate(CASES, 1):
        assert set(case) == {"id", "note", "raw", "row", "label"}, case["id"]
        assert set(case["row"]) == set(Row.__annotations__), case["id"]
        assert case["row"]["seq"] == position, case["id"]
        assert (case["raw"] is None) == case["row"]["truncated"], case["id"]
    types = {case["row"]["type"] for case in CASES}
    assert {"track", "page", "screen", "identify", "group", "alias", None} <= types


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["id"])
def test_row_label(case: dict[str, Any]) -> None:
    assert row_label(case["row"]) == case["label"], case["note"]


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["raw"] is not None], ids=lambda case: case["id"]
)
def test_event_label_and_the_row_come_from_the_payload(case: dict[str, Any]) -> None:
    event = parse_event(case["raw"].encode("utf-8"), "events", 0.0)
    event.seq = case["row"]["seq"]
    assert dict(event_to_row(event)) == case["row"], "the row in the file is stale"
    assert event_label(event) == case["label"], case["note"]


def regenerate() -> None:
    """Recompute every case's row and label from its raw payload (after a parser change).

    Run ``python tests/cli/test_label_vectors.py --write`` from the repository root, review the
    diff, and run the JS tests: they check the labels against ``label()`` in format.ts.
    """
    for position, case in enumerate(CASES, 1):
        if case["raw"] is not None:
            event = parse_event(case["raw"].encode("utf-8"), "events", 0.0)
            event.seq = position
            case["row"] = dict(event_to_row(event))
        case["label"] = row_label(case["row"])
    text = json.dumps(VECTORS, ensure_ascii=False, indent=1) + "\n"
    VECTORS_PATH.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write"]:
        regenerate()
