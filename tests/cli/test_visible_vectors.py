"""tail's printable() against spec/visible_vectors.json (the widget's visible() runs them too)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import REPO_ROOT

from segment_debugger.cli.format import printable

VECTORS: dict[str, Any] = json.loads(
    (REPO_ROOT / "spec" / "visible_vectors.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["id"] for c in VECTORS["cases"]])
def test_printable_shows_hidden_characters_like_the_widget(case: dict[str, str]) -> None:
    assert printable(case["input"]) == case["output"]


def test_the_vectors_cover_each_class_the_issue_names() -> None:
    inputs = "".join(c["input"] for c in VECTORS["cases"])
    for ch in ("\x00", "\x1b", "\u202e", "\u2066", "\u2069", "\u200b", "\ufeff"):
        assert ch in inputs, f"no vector with U+{ord(ch):04X}"
