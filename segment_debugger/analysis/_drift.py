"""Schema records and the drift judgement of one event (see :mod:`.schemas`).

The counts :class:`~.schemas.Schemas` keeps per (type, event name) and per path, the frozen
baseline, and :func:`judge`: the drift warnings of one event against either. Learning,
forgetting and reading the counts stay in :mod:`.schemas`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from segment_debugger.core.event import Event

#: The share of occurrences that makes a type "established" or a property "always there".
ESTABLISHED_SHARE = 0.95
#: At most this many drift warnings are written per event (the rest are counted).
MAX_WARNINGS = 5

Key = tuple[str, "str | None"]
Signature = tuple[tuple[str, str], ...]

_TYPES: dict[type, str] = {
    str: "string", int: "number", float: "number", bool: "boolean", dict: "object",
    list: "array", type(None): "null",
}


def json_type(value: object) -> str:
    """Return the JSON type name of a parsed value (``number`` for ints and floats alike)."""
    return _TYPES.get(type(value), "string")


@dataclass(slots=True)
class _Path:
    types: dict[str, int] = field(default_factory=dict)  # buffered occurrences per type
    clean: dict[str, int] = field(default_factory=dict)  # ... of those that were not drift
    count: int = 0  # buffered events holding the path
    first_seen: float = 0.0
    last_seen: float = 0.0


@dataclass(slots=True)
class _Schema:
    occurrences: int = 0  # buffered events of this (type, name)
    # path -> its counts; exact once the dirty signatures' pending counts are added (flush)
    paths: dict[str, _Path] = field(default_factory=dict)
    # Bumped whenever a path is added or removed, or a type appears in or leaves a path's
    # counts: what "settled" signatures were judged against.
    version: int = 0
    # Events learnt or forgotten so far (what a settled signature's margin is counted in).
    ops: int = 0
    # id(signature) -> its _Sig (which keeps the signature alive, so ids stay unique)
    sigs: dict[int, _Sig] = field(default_factory=dict)
    dirty: list[_Sig] = field(default_factory=list)  # the sigs with pending counts


@dataclass(slots=True, eq=False)
class _Sig:
    """The buffered events of one schema whose paths are one signature and did not drift.

    Learning or forgetting such an event while it cannot change what the per-path counts
    decide (see ``Schemas._settle`` and ``Schemas._forget``) only counts here, in ``pending``;
    :func:`flush` adds it to every path of the signature before anything reads the paths.
    """

    signature: Signature
    key: Key
    schema: _Schema
    live: int = 0  # buffered events counted here
    pending: int = 0  # learnt (+1) and forgotten (-1) events not yet in the per-path counts
    last_seen: float = 0.0  # the newest receive time among the pending learnt events
    version: int = -1  # settled against this schema version (-1: not settled) ...
    until: int = 0  # ... while the schema's ops stay at most this
    dirty: bool = False


def flush(schema: _Schema) -> None:
    """Add the pending counts of ``schema``'s signatures to its per-path counts.

    No count reaches zero here: a signature with pending counts has a buffered event (its
    last one is forgotten in full, after a flush), which holds each of its paths and types.
    """
    paths = schema.paths
    for sig in schema.dirty:
        n, at = sig.pending, sig.last_seen
        for path, kind in sig.signature:
            stats = paths[path]
            if n:
                stats.count += n
                stats.types[kind] += n
                stats.clean[kind] += n
            if at > stats.last_seen:
                stats.last_seen = at
        sig.pending, sig.last_seen, sig.dirty = 0, 0.0, False
    schema.dirty.clear()


@dataclass(frozen=True, slots=True)
class _Baseline:
    occurrences: int
    types: dict[str, str | None]  # path -> established type (None: none established)
    shares: dict[str, float]  # path -> share of occurrences holding it


def judge(
    event: Event, key: Key, schema: _Schema, baseline: _Baseline | None, signature: Signature,
    present: frozenset[str], new_after: int, missing_after: int, min_established: int,
) -> frozenset[str] | None:
    """Add drift warnings to ``event``; return the paths whose type drifted (None: none).

    ``schema`` holds the counts of the (type, name) ``key`` so far; ``baseline``, when frozen,
    is what drift is judged against instead; ``signature`` and ``present`` are the event's
    (path, type) pairs and the set of its paths; the thresholds are :class:`.Schemas`'s.
    """
    label = key[1] if key[1] is not None else key[0]
    found: list[str] = []
    drifted: set[str] = set()
    occurrences = schema.occurrences if baseline is None else baseline.occurrences
    paths = schema.paths
    known_paths = 0  # of this event's paths, those the schema (or baseline) holds
    for path, kind in signature:
        if baseline is not None:
            known = path in baseline.types
            established = baseline.types.get(path)
        else:
            stats = paths.get(path)
            known = stats is not None
            if stats is None or kind == "null":
                established = None
            else:
                clean = stats.clean
                # only this type seen (clean): established as it, or not yet — no drift
                established = (
                    None if len(clean) == 1 and kind in clean
                    else established_type(stats, min_established)
                )
        if not known:
            if occurrences >= new_after:
                parent = path.rpartition(".")[0]
                if _is_group(parent) or _parent_known(parent, baseline, schema):
                    found.append(f"{label}: new property {path} "
                                 f"(not in {occurrences:,} earlier occurrences)")
            continue
        known_paths += 1
        if established is not None and kind != established and kind != "null":
            drifted.add(path)
            found.append(f"{label}: {path} is {_article(kind)}, established as {established}")
    if occurrences >= missing_after:
        if baseline is not None:
            if known_paths < len(baseline.shares):
                for path, share in baseline.shares.items():
                    if path not in present and share >= ESTABLISHED_SHARE:
                        _missing(found, label, path, share, occurrences, present)
        elif known_paths < len(paths):  # else every path the schema holds is here
            total = schema.occurrences
            for path, stats in paths.items():
                if path not in present:
                    share = stats.count / total
                    if share >= ESTABLISHED_SHARE:
                        _missing(found, label, path, share, occurrences, present)
    if found:
        if len(found) > MAX_WARNINGS:
            found[MAX_WARNINGS:] = [f"{label}: {len(found) - MAX_WARNINGS} more drift warnings"]
        event.warnings = [*event.warnings_view(), *found]
    return frozenset(drifted) if drifted else None


def _missing(
    found: list[str], label: str, path: str, share: float, occurrences: int,
    present: frozenset[str],
) -> None:
    parent = path.rpartition(".")[0]
    if _is_group(parent) or parent in present:
        found.append(f"{label}: {path} missing (present in {share:.0%} of the "
                     f"last {occurrences:,} occurrences)")


def established_type(stats: _Path, min_established: int) -> str | None:
    """Return the type of 95 % of a path's occurrences that were not drift, or None.

    None too while fewer than ``min_established`` of them were counted.
    """
    total = 0
    best, most = "", -1
    for kind, n in stats.clean.items():  # the first most frequent wins a tie (as max())
        if kind != "null":
            total += n
            if n > most:
                best, most = kind, n
    if total < min_established:
        return None
    return best if most >= ESTABLISHED_SHARE * total else None


def _is_group(path: str) -> bool:
    return path in ("properties", "traits")


def _parent_known(parent: str, baseline: _Baseline | None, schema: _Schema) -> bool:
    return parent in baseline.types if baseline is not None else parent in schema.paths


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeio" else f"a {kind}"
