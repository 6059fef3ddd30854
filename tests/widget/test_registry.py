"""Open debuggers are listed, closed all at once, and a re-run cell replaces its debugger."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import comm
import pytest
from IPython.core.interactiveshell import InteractiveShell
from support.waiting import wait_until

import segment_debugger
from segment_debugger.widget import registry
from segment_debugger.widget.widget import SegmentDebugger


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """A real IPython shell running cells (as a kernel does), with cell ids."""
    from comm import DummyComm

    monkeypatch.setattr(comm, "create_comm", DummyComm)
    ip = InteractiveShell.instance()
    # A kernel gives the cell id in each execute request; a bare shell only through the
    # pre_run_cell event, which the registry hooks once a shell exists.
    registry._listen_to_ipython()
    ip.run_cell("from segment_debugger import SegmentDebugger")
    yield ip
    segment_debugger.close_all()
    ip.events.unregister("pre_run_cell", registry._pre_run_cell)
    registry._hooked.clear()
    InteractiveShell.clear_instance()


def test_running_and_close_all() -> None:
    a = SegmentDebugger(url=None)
    b = SegmentDebugger(url=None)
    try:
        assert [d for d in segment_debugger.running() if d in (a, b)] == [a, b]
        b.close()
        assert b not in segment_debugger.running() and b.closed
    finally:
        closed = segment_debugger.close_all()
    assert closed >= 1 and a.closed and segment_debugger.running() == []


def test_a_cell_run_again_replaces_its_debugger(shell: InteractiveShell) -> None:
    for _ in range(3):
        shell.run_cell("dbg = SegmentDebugger(url=None)", cell_id="cell-a")
    first_of_b = shell.run_cell("other = SegmentDebugger(url=None)", cell_id="cell-b")
    assert first_of_b.success
    open_now = segment_debugger.running()
    assert len(open_now) == 2  # one per cell, not one per run
    assert shell.user_ns["dbg"] in open_now and shell.user_ns["other"] in open_now


def test_the_replaced_debugger_says_why(shell: InteractiveShell) -> None:
    shell.run_cell("dbg = SegmentDebugger(url=None); old = dbg", cell_id="cell-a")
    old = shell.user_ns["old"]
    shell.run_cell("dbg = SegmentDebugger(url=None)", cell_id="cell-a")
    assert old.closed
    assert old.status["state"] == "stopped"
    assert old.status["reason"] == registry.REPLACED_REASON


def test_two_debuggers_made_by_one_run_both_stay(shell: InteractiveShell) -> None:
    shell.run_cell("a = SegmentDebugger(url=None); b = SegmentDebugger(url=None)",
                   cell_id="cell-c")
    assert not shell.user_ns["a"].closed and not shell.user_ns["b"].closed


def test_without_a_cell_id_nothing_is_replaced(shell: InteractiveShell) -> None:
    shell.run_cell("dbg = SegmentDebugger(url=None); first = dbg")
    shell.run_cell("dbg = SegmentDebugger(url=None)")
    assert not shell.user_ns["first"].closed


def test_in_a_real_kernel_the_execute_request_names_the_cell() -> None:
    """ipykernel: the cell id comes with each execute request (JupyterLab's metadata.cellId)."""
    import queue

    from jupyter_client.manager import start_new_kernel

    # PYTHONFAULTHANDLER: a kernel that stops answering is made to print every thread's stack
    # (SIGABRT below), so a hang says where it hangs
    km, kc = start_new_kernel(
        kernel_name="python3", env={**os.environ, "PYTHONFAULTHANDLER": "1"}
    )

    def run(code: str, cell_id: str) -> list[str]:
        msg = kc.session.msg("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True,
        }, metadata={"cellId": cell_id})
        kc.shell_channel.send(msg)
        lines: list[str] = []
        while True:
            try:
                reply = kc.get_iopub_msg(timeout=60)
            except queue.Empty as exc:
                km.signal_kernel(signal.SIGABRT)  # the stacks go to the captured stderr
                with contextlib.suppress(AssertionError):  # the failure below is what matters
                    wait_until(lambda: not km.is_alive(), timeout=5, what="the kernel to abort")
                raise AssertionError(
                    f"no message from the kernel for 60 s running {cell_id}; output so far "
                    f"{lines}; its threads' stacks are in the captured stderr"
                ) from exc
            if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            kind, content = reply["msg_type"], reply["content"]
            if kind == "stream":
                lines.extend(content["text"].splitlines())
            elif kind == "error":
                raise AssertionError(f"kernel error: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return lines

    try:
        code = ("import segment_debugger as sd\n"
                "dbg = sd.SegmentDebugger(url=None)\n"
                "print('open', len(sd.running()))")
        assert run(code, "cell-1") == ["open 1"]  # this run imported the package
        assert run(code, "cell-1") == ["open 1"]  # the re-run replaced it
        assert run(code, "cell-2") == ["open 2"]  # another cell adds its own
        assert run("print('closed', sd.close_all(), len(sd.running()))", "cell-3") == [
            "closed 2 0"
        ]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_every_public_name_imports() -> None:
    """The lazy public API: each name in __all__ resolves (a typo in _EXPORTS would not)."""
    for name in segment_debugger.__all__:
        assert getattr(segment_debugger, name) is not None, name
    assert sorted(segment_debugger.__all__) == sorted(dir(segment_debugger))
