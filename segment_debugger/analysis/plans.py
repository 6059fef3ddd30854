"""Tracking plans: which events a source may send, and the JSON Schema of their data.

A plan is a dict (or a JSON or YAML file holding one) of this shape::

    {
      "allow_unplanned_events": true,
      "events": {"Order Completed": {"properties": <JSON Schema>}},
      "identify": {"traits": <JSON Schema>},
      "group": {"traits": <JSON Schema>}
    }

``EventBuffer(tracking_plan=PLAN)`` (and ``SegmentDebugger(tracking_plan=PLAN)``) checks every
appended event against it: a ``track`` event named in ``events`` must have ``properties``
valid against that schema, ``identify`` and ``group`` events ``traits`` valid against theirs,
and with ``"allow_unplanned_events": false`` a ``track`` event whose name is not in ``events``
breaks the plan. Each break is a violation naming the event, the path and the rule
(``Order Completed: properties.revenue: 'abc' is not of type 'number'``), so the event becomes
invalid. Validation uses :mod:`jsonschema`, one validator built per schema when the plan is
loaded; an event whose data is valid costs one ``is_valid`` call, and the errors are worded only
for the events that break the plan. When :mod:`fastjsonschema` is installed, a schema using only
keywords both libraries read alike is also compiled with it, and data it accepts is valid
without asking jsonschema (data it rejects is judged, and worded, by jsonschema).

:func:`plan_from_traffic` writes a starter plan from the schemas inferred from traffic
(:class:`~segment_debugger.analysis.schemas.Schemas`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import orjson

from segment_debugger.core.event import Event

if TYPE_CHECKING:
    from segment_debugger.analysis.schemas import Schemas

__all__ = ["PlanSource", "TrackingPlan", "plan_from_traffic", "write_plan"]

#: What ``tracking_plan=`` takes: the plan itself, or the path of a JSON or YAML file.
PlanSource = Union[Mapping[str, Any], str, "os.PathLike[str]"]

#: At most this many plan violations are named per event (the rest are counted).
MAX_NAMED = 3

log = logging.getLogger("segment_debugger.core.buffer")  # where the buffer logs its checks

_KEYS = frozenset({"allow_unplanned_events", "events", "identify", "group"})


class TrackingPlan:
    """A loaded, checked tracking plan: :meth:`check` adds its violations to an event."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        from jsonschema import SchemaError
        from jsonschema.validators import validator_for

        if not isinstance(plan, Mapping):
            raise ValueError(f"a tracking plan is an object, got {type(plan).__name__}")
        unknown = sorted(set(plan) - _KEYS)
        if unknown:
            raise ValueError(
                f"tracking plan: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"expected {', '.join(sorted(_KEYS))}"
            )
        self.plan: dict[str, Any] = dict(plan)
        allow = plan.get("allow_unplanned_events", True)
        if not isinstance(allow, bool):
            raise ValueError("tracking plan: allow_unplanned_events must be true or false")
        self.allow_unplanned_events: bool = allow

        def build(where: str, schema: Any) -> Any:
            if not isinstance(schema, Mapping | bool):
                raise ValueError(f"tracking plan: {where} must be a JSON Schema (an object)")
            cls = validator_for(schema)
            try:
                cls.check_schema(schema)
            except SchemaError as exc:
                raise ValueError(f"tracking plan: {where} is not a valid JSON Schema: "
                                 f"{exc.message}") from None
            return _Validator(cls(schema), _fast_validator(schema))

        events = plan.get("events", {})
        if not isinstance(events, Mapping):
            raise ValueError("tracking plan: events must be an object of event name -> spec")
        self._events: dict[str, Any] = {}
        for name, spec in events.items():
            if not isinstance(spec, Mapping):
                raise ValueError(f"tracking plan: events[{name!r}] must be an object")
            schema = spec.get("properties", True)
            self._events[name] = build(f"events[{name!r}].properties", schema)
        self._traits: dict[str, Any] = {}
        for kind in ("identify", "group"):
            spec = plan.get(kind)
            if spec is None:
                continue
            if not isinstance(spec, Mapping):
                raise ValueError(f"tracking plan: {kind} must be an object")
            self._traits[kind] = build(f"{kind}.traits", spec.get("traits", True))

    @classmethod
    def load(cls, source: PlanSource | TrackingPlan) -> TrackingPlan:
        """Return the plan from a dict, a JSON or YAML file's path, or a TrackingPlan as is."""
        if isinstance(source, TrackingPlan):
            return source
        if isinstance(source, Mapping):
            return cls(source)
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            text = path.read_bytes()
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                return cls(yaml.safe_load(text))
            try:
                return cls(orjson.loads(text))
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"tracking plan {str(path)!r} is not JSON: {exc}") from None
        raise TypeError(
            f"tracking_plan must be a dict or the path of a JSON or YAML file, got {source!r}"
        )

    @property
    def events(self) -> tuple[str, ...]:
        """The planned track event names."""
        return tuple(self._events)

    def check(self, event: Event) -> None:
        """Add a violation to ``event`` for each way it breaks the plan (then it is invalid)."""
        typ = event.type
        if typ == "track":
            name = event.event
            if name is None:
                return
            validator = self._events.get(name)
            if validator is None:
                if not self.allow_unplanned_events:
                    self._flag(event, [f"{name}: event not in the tracking plan"])
                return
            value: Any = event.properties
            group, label = "properties", name
        elif typ in self._traits:
            validator = self._traits[typ]
            value, group, label = event.traits, "traits", typ
        else:
            return
        if value is None:
            value = {}
        fast = validator._fast  # is_valid, inlined: one call fewer per planned event
        if fast is not None:
            try:
                fast(value)
            except Exception:  # rejected (or it failed): jsonschema decides
                pass
            else:
                return
        if validator._full.is_valid(value):
            return
        self._flag(event, list(_messages(label, group, validator.iter_errors(value))))

    def check_all(self, events: Iterable[Event]) -> None:
        """:meth:`check` each event in turn (the buffer's per-chunk call).

        The common cases inline (a planned track event its compiled validator accepts, an
        event of a type the plan says nothing about); anything else goes through
        :meth:`check`. An event whose check fails is logged and skipped.
        """
        planned, traits = self._events, self._traits
        check = self.check
        for event in events:
            try:
                typ = event.type
                if typ == "track":
                    validator = planned.get(event.event)  # type: ignore[arg-type]
                    if validator is not None and validator._fast is not None:
                        value = event.properties
                        try:
                            validator._fast({} if value is None else value)
                        except Exception:  # rejected (or it failed): check decides and words
                            pass
                        else:
                            continue
                elif typ not in traits:
                    continue
                check(event)
            except Exception:  # a check must never lose an event
                log.exception("segment_debugger: checking event seq %d failed", event.seq)

    @staticmethod
    def _flag(event: Event, found: list[str]) -> None:
        event.violations = [*event.violations_view(), *found]
        event.valid = False


class _Validator:
    """A jsonschema validator, with a compiled fastjsonschema one in front when it is safe."""

    __slots__ = ("_fast", "_full")

    def __init__(self, full: Any, fast: Callable[[Any], Any] | None) -> None:
        self._full = full
        self._fast = fast

    def is_valid(self, value: Any) -> bool:
        fast = self._fast
        if fast is not None:
            try:
                fast(value)
            except Exception:  # rejected (or it failed): jsonschema decides
                return bool(self._full.is_valid(value))
            return True
        return bool(self._full.is_valid(value))

    def iter_errors(self, value: Any) -> Iterable[Any]:
        return self._full.iter_errors(value)  # type: ignore[no-any-return]


#: Keywords fastjsonschema (draft 7) and jsonschema (the schema's draft, 2020-12 by default)
#: read alike; with any other keyword, jsonschema alone validates. Their subschemas are walked.
_FAST_PLAIN = frozenset({
    "type", "required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
    "format", "title", "description", "default", "examples", "$comment",
})
_FAST_ONE = frozenset({"additionalProperties", "items", "not"})
_FAST_MANY = frozenset({"anyOf", "allOf", "oneOf"})
_FAST_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})


def _fast_validator(schema: Any) -> Callable[[Any], Any] | None:
    """Return a fastjsonschema validator for ``schema``, or None (not installed, or unsafe)."""
    if not _fast_safe(schema, 0):
        return None
    try:
        import fastjsonschema
    except ImportError:
        return None
    try:
        return fastjsonschema.compile(schema, use_formats=False)  # type: ignore[no-any-return]
    except Exception:
        return None


def _fast_safe(schema: Any, depth: int) -> bool:
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping) or depth > 32:
        return False
    for key, value in schema.items():
        if key in _FAST_PLAIN:
            if key == "type":
                kinds = [value] if isinstance(value, str) else value
                if not isinstance(kinds, list) or not all(k in _FAST_TYPES for k in kinds):
                    return False
            elif key == "required":
                if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
                    return False
            elif key in ("title", "description", "default", "examples", "$comment", "format"):
                continue
            elif isinstance(value, bool) or not isinstance(value, int | float):
                return False
        elif key in ("enum", "const"):  # strings and null only: `in` is exact for them
            values = value if key == "enum" else [value]
            if not isinstance(values, list) or not all(
                v is None or isinstance(v, str) for v in values
            ):
                return False
        elif key == "properties":
            if not isinstance(value, Mapping) or not all(
                _fast_safe(sub, depth + 1) for sub in value.values()
            ):
                return False
        elif key in _FAST_ONE:
            if not _fast_safe(value, depth + 1):
                return False
        elif key in _FAST_MANY:
            if not isinstance(value, list) or not value or not all(
                _fast_safe(sub, depth + 1) for sub in value
            ):
                return False
        else:
            return False
    return True


def _messages(label: str, group: str, errors: Iterable[Any]) -> Iterable[str]:
    ordered = sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.message))
    for error in ordered[:MAX_NAMED]:
        path = ".".join([group, *map(str, error.absolute_path)])
        yield f"{label}: {path}: {_cut(error.message)}"
    if len(ordered) > MAX_NAMED:
        yield f"{label}: {len(ordered) - MAX_NAMED} more tracking plan violations"


def _cut(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_plan(plan: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``plan`` to ``path``: YAML for ``.yaml``/``.yml``, else indented JSON."""
    target = Path(path)
    if target.suffix.lower() in (".yaml", ".yml"):
        import yaml

        target.write_text(yaml.safe_dump(dict(plan), sort_keys=False), encoding="utf-8")
    else:
        target.write_bytes(orjson.dumps(plan, option=orjson.OPT_INDENT_2) + b"\n")


# ---- a starter plan from traffic --------------------------------------------------------------

_JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")


def plan_from_traffic(
    schemas: Schemas, *, allow_unplanned_events: bool = True, required_share: float = 0.95
) -> dict[str, Any]:
    """Return a starter tracking plan (a dict) from the schemas inferred from traffic.

    One JSON Schema per track event name (its ``properties``), and for ``identify`` / ``group``
    their ``traits``: every path seen, nested, with the JSON types seen for it; a top-level
    property present in at least ``required_share`` of the occurrences is ``required``.
    Write it to a file, edit it, and pass it back as ``tracking_plan=``.
    """
    plan: dict[str, Any] = {"allow_unplanned_events": allow_unplanned_events, "events": {}}
    for (typ, name), paths in sorted(
        schemas.paths_by_event().items(), key=lambda item: (item[0][0], item[0][1] or "")
    ):
        occurrences = schemas.occurrences(typ, name)
        schema = _object_schema(paths, occurrences, required_share)
        if typ == "track" and name is not None:
            plan["events"][name] = {"properties": schema}
        elif typ in ("identify", "group"):
            plan[typ] = {"traits": schema}
    return plan


def _object_schema(
    paths: Mapping[str, tuple[Mapping[str, int], int]], occurrences: int, required_share: float
) -> dict[str, Any]:
    """``paths``: dotted path (group prefix removed) -> (count per JSON type, occurrences)."""
    root: dict[str, Any] = {"type": "object", "properties": {}}
    for path in sorted(paths):
        types, count = paths[path]
        node = root
        parts = path.split(".")
        for part in parts[:-1]:
            child = node["properties"].setdefault(part, {"type": "object", "properties": {}})
            if "properties" not in child:  # a scalar seen here too: keep both
                child.setdefault("properties", {})
            node = child
        leaf: dict[str, Any] = node["properties"].setdefault(parts[-1], {})
        seen = [t for t in _JSON_TYPES if t in types]
        if "integer" in seen and "number" in seen:
            seen.remove("integer")
        existing = leaf.get("type")
        if existing == "object" and "object" not in seen:
            seen.append("object")
        leaf["type"] = seen[0] if len(seen) == 1 else seen
        if len(parts) == 1 and occurrences and count / occurrences >= required_share:
            root.setdefault("required", []).append(parts[0])
    return root

