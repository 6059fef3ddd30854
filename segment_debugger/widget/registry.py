"""Which debuggers are open, and closing the one a notebook cell made when the cell runs again.

Re-running ``dbg = SegmentDebugger(...)`` makes a new debugger, but the notebook (ipywidgets)
keeps the old one alive with its thread, its Redis connection and its buffer. So every debugger
registers here with the cell that created it: IPython's ``pre_run_cell`` event tells which cell
is running (``info.cell_id``, sent by JupyterLab, Notebook 7 and VS Code) and a count of runs;
in a kernel the execute request itself says it (``metadata.cellId``, ``header.msg_id``), which
also covers the run that imported this package. A debugger created by another run of the same
cell closes the ones earlier runs made. Outside IPython, or when the front end sends no cell
id, nothing is replaced.

marimo has no IPython shell: there a debugger is tied to its cell the way marimo ties its own
objects (``mo.Thread``, a widget's comm): a ``CellLifecycleItem`` in the running context's
``cell_lifecycle_registry``, whose ``dispose`` marimo calls when the cell runs again, is deleted,
or an ancestor re-runs. ``marimo run`` runs each browser session's kernel as a thread of the
server and does not dispose those items when the session ends (it only clears the globals), so
a debugger made there also closes when the thread that made it ends.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: The status reason of a debugger closed because its cell ran again.
REPLACED_REASON = "closed: the cell that created it ran again (a new debugger replaced it)"
#: ... because its marimo cell was deleted.
DELETED_REASON = "closed: the cell that created it was deleted"
#: ... because the marimo session (``marimo run``: one kernel thread per browser session) ended.
SESSION_ENDED_REASON = "closed: the marimo session that created it ended"


class _Run:
    """The cell IPython is running now, and how many cells ran before."""

    cell_id: str | None = None
    number = 0


_lock = threading.Lock()
_open: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_cells: dict[int, tuple[str, object]] = {}  # registration id -> (cell id, run)
_ids = itertools.count(1)
_run = _Run()
_hooked: list[Any] = []  # the IPython shells we listen to (at most one in practice)


def _pre_run_cell(info: Any) -> None:
    _run.cell_id = getattr(info, "cell_id", None)
    _run.number += 1


def _listen_to_ipython() -> None:
    """Register the ``pre_run_cell`` hook once, if an IPython shell is running."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of ipywidgets
        return
    shell = get_ipython()
    if shell is None or any(s is shell for s in _hooked):
        return
    shell.events.register("pre_run_cell", _pre_run_cell)
    _hooked.append(shell)


def _current_cell() -> tuple[str | None, object]:
    """Return (the running cell's id or None, an identity of this run of it)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of ipywidgets
        return None, None
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is not None:
        try:
            parent = kernel.get_parent()
        except Exception:  # an older or unusual kernel: fall back to the event hook
            parent = None
        if isinstance(parent, dict):
            cell_id = (parent.get("metadata") or {}).get("cellId")
            run = (parent.get("header") or {}).get("msg_id")
            if isinstance(cell_id, str) and cell_id and run:
                return cell_id, run
    return _run.cell_id, _run.number


def _close_quietly(debugger: Any, reason: str) -> None:
    try:
        debugger.close(reason=reason)
    except Exception:  # never let a cleanup break marimo's runner or the watcher
        log.exception("segment_debugger: could not close a debugger (%s)", reason)


def _marimo_context() -> Any:
    """Return marimo's runtime context when a marimo cell is running here, else None.

    marimo is never imported by this: without it in ``sys.modules`` nothing runs in marimo.
    """
    if "marimo" not in sys.modules:
        return None
    try:
        from marimo._runtime.context import safe_get_context
    except ImportError:  # a marimo without the module: no hook (documented in README)
        return None
    ctx = safe_get_context()
    if ctx is None or getattr(ctx, "cell_id", None) is None:
        return None
    return ctx


def _tie_to_marimo_cell(debugger: Any) -> bool:
    """Close ``debugger`` when its marimo cell re-runs or is deleted; True when tied."""
    ctx = _marimo_context()
    if ctx is None:
        return False
    try:
        from marimo._runtime.cell_lifecycle_item import CellLifecycleItem
    except ImportError:
        return False

    ref = weakref.ref(debugger)

    class _CloseWithCell(CellLifecycleItem):  # type: ignore[misc]
        def create(self, context: Any) -> None:
            del context

        def dispose(self, context: Any, deletion: bool) -> bool:
            del context
            old = ref()
            if old is not None and not old.closed:
                _close_quietly(old, DELETED_REASON if deletion else REPLACED_REASON)
            return True

    try:
        ctx.cell_lifecycle_registry.add(_CloseWithCell())
    except Exception:
        log.exception("segment_debugger: could not tie the debugger to its marimo cell")
        return False
    _watch_session_thread(debugger)
    return True


_watched: dict[int, list[Any]] = {}  # kernel thread ident -> weakrefs of its debuggers


def _watch_session_thread(debugger: Any) -> None:
    """In ``marimo run`` (a kernel thread per session), close ``debugger`` when it ends.

    One watcher per session thread, joining it; nothing in ``marimo edit``, whose kernel is a
    process of its own (the debugger's threads end with it).
    """
    owner = threading.current_thread()
    if owner is threading.main_thread():
        return
    with _lock:
        refs = _watched.get(owner.ident or 0)
        if refs is not None:
            refs.append(weakref.ref(debugger))
            return
        refs = _watched[owner.ident or 0] = [weakref.ref(debugger)]

    def watch() -> None:
        owner.join()
        with _lock:
            left = _watched.pop(owner.ident or 0, [])
        for ref in left:
            old = ref()
            if old is not None and not old.closed:
                _close_quietly(old, SESSION_ENDED_REASON)

    threading.Thread(target=watch, name="sd-marimo-session-watch", daemon=True).start()


def register(debugger: Any, replace: Callable[[Any], None]) -> None:
    """Record ``debugger``; close (with ``replace``) what earlier runs of its cell made."""
    if _tie_to_marimo_cell(debugger):
        with _lock:
            key = next(_ids)
            _open[key] = debugger
            debugger._registry_key = key
        return
    _listen_to_ipython()
    cell_id, number = _current_cell()
    key = next(_ids)
    stale = []
    with _lock:
        _open[key] = debugger
        if cell_id is not None:
            _cells[key] = (cell_id, number)
            for other, (other_cell, other_number) in list(_cells.items()):
                if other_cell == cell_id and other_number != number:
                    old = _open.get(other)
                    if old is not None:
                        stale.append(old)
                    del _cells[other]
        debugger._registry_key = key
    for old in stale:
        try:
            replace(old)
        except Exception:  # closing an old debugger must never break the new one
            log.exception("segment_debugger: could not close the debugger its cell replaced")


def unregister(debugger: Any) -> None:
    """Forget ``debugger`` (it closed)."""
    key = getattr(debugger, "_registry_key", None)
    if not isinstance(key, int):
        return
    with _lock:
        _open.pop(key, None)
        _cells.pop(key, None)


def running() -> list[Any]:
    """Return the debuggers that are open, oldest first."""
    with _lock:
        return [d for _, d in sorted(_open.items())]


def close_all() -> int:
    """Close every open debugger; return how many were closed."""
    debuggers = running()
    for debugger in debuggers:
        debugger.close()
    return len(debuggers)


_listen_to_ipython()  # as early as possible: the run importing this module has begun already
