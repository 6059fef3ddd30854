"""Every notebook in notebooks/ executes top to bottom (nbclient) against the embedded stream.

Each runs in a real kernel of this interpreter: with ``demo()`` (no Redis URL in the
environment), and the dashboard also with ``SEGMENT_DEBUGGER_URL`` pointing at a Redis the test
feeds. After the kernel shuts down, nothing it started (an embedded redis-server) is left.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import nbformat
import psutil
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from support import REPO_ROOT
from support.leftovers import process_gone
from support.waiting import wait_until

from segment_debugger.playground.publisher import Publisher
from segment_debugger.playground.server import ENV_EMBEDDED, EmbeddedRedis

pytestmark = [pytest.mark.slow, pytest.mark.redis]

NOTEBOOKS = REPO_ROOT / "notebooks"
CELL_TIMEOUT_S = 120
KERNEL = "sd-notebook-tests"


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A kernelspec for this very interpreter, whatever else is installed."""
    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL
    spec.mkdir()
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "segment_debugger notebook tests",
                "language": "python",
            }
        )
    )
    return KernelSpecManager(kernel_dirs=[str(root)])


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The kernel inherits this process's environment: start from no URL, default backend."""
    monkeypatch.delenv("SEGMENT_DEBUGGER_URL", raising=False)
    monkeypatch.delenv("SEGMENT_DEBUGGER_CHANNEL", raising=False)
    monkeypatch.delenv("SEGMENT_DEBUGGER_STREAM", raising=False)
    monkeypatch.delenv(ENV_EMBEDDED, raising=False)
    yield monkeypatch


#: Appended to the dashboard by the tests: events arrive, and on which channel.
PROBE = """assert dbg.buffer.wait_for(10, timeout=60), dbg.status
print("channels:", sorted({e.channel for e in dbg.buffer.snapshot()}))"""


def execute(name: str, specs: KernelSpecManager, *extra: str) -> nbformat.NotebookNode:
    """Execute notebooks/<name> (plus ``extra`` cells) in a fresh kernel.

    Fails on any error output, and if processes the kernel started outlive its shutdown.
    """
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in extra)
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    with client.setup_kernel(cleanup_kc=True):  # shut the kernel down gracefully at the end
        kernel_pid = km.provisioner.pid  # type: ignore[union-attr]
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)  # raises CellExecutionError with the traceback
        started = [p.pid for p in psutil.Process(kernel_pid).children(recursive=True)]
    wait_until(lambda: all(process_gone(pid) for pid in started), timeout=15,
               what=f"{name}: the kernel's processes {started} to end after its shutdown")
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == [], f"{name}: error outputs {errors}"
    return nb


def text_of(nb: nbformat.NotebookNode) -> str:
    parts: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                parts.append(str(out.data.get("text/plain", "")))
    return "\n".join(parts)


def widget_views(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    return [
        out.data["application/vnd.jupyter.widget-view+json"]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if "data" in out and "application/vnd.jupyter.widget-view+json" in out.data
    ]


def test_notebooks_are_stored_without_outputs() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def test_quickstart_runs_on_demo(kernel_specs: KernelSpecManager, kernel_env: Any) -> None:
    nb = execute("quickstart.ipynb", kernel_specs)
    text = text_of(nb)
    assert "paused: True\npaused: False" in text
    assert "track events" in text
    assert widget_views(nb), "the debugger was not displayed"


def test_analysis_runs_on_demo(kernel_specs: KernelSpecManager, kernel_env: Any) -> None:
    nb = execute("analysis.ipynb", kernel_specs)
    text = text_of(nb)
    assert " events, " in text and " invalid" in text
    assert "Product Viewed" in text  # the top event names table


def test_dashboard_runs_on_demo(kernel_specs: KernelSpecManager, kernel_env: Any) -> None:
    # No close() in the dashboard: the kernel's shutdown (atexit) must stop the embedded Redis.
    nb = execute("dashboard.ipynb", kernel_specs, PROBE)
    assert len(widget_views(nb)) == 2  # the counters panel and the debugger
    assert "channels: ['events']" in text_of(nb)


def test_dashboard_runs_on_a_url_from_the_environment(
    kernel_specs: KernelSpecManager, kernel_env: pytest.MonkeyPatch
) -> None:
    with EmbeddedRedis() as server, Publisher(server.url, channel="dash", rate=200):
        kernel_env.setenv("SEGMENT_DEBUGGER_URL", server.url)
        kernel_env.setenv("SEGMENT_DEBUGGER_CHANNEL", "dash")
        nb = execute("dashboard.ipynb", kernel_specs, PROBE)
    assert len(widget_views(nb)) == 2
    assert "channels: ['dash']" in text_of(nb)


def test_dashboard_reads_a_stream_named_in_the_environment(
    kernel_specs: KernelSpecManager, kernel_env: pytest.MonkeyPatch
) -> None:
    probe = PROBE + "\nprint('source:', type(dbg.source).__name__)"
    with EmbeddedRedis() as server, Publisher(server.url, "dash-stream", rate=200, stream=True):
        kernel_env.setenv("SEGMENT_DEBUGGER_URL", server.url)
        kernel_env.setenv("SEGMENT_DEBUGGER_STREAM", "dash-stream")
        nb = execute("dashboard.ipynb", kernel_specs, probe)
    assert len(widget_views(nb)) == 2
    assert "channels: ['dash-stream']" in text_of(nb)
    assert "source: StreamSource" in text_of(nb)


def test_dashboard_on_demo_with_a_stream_name_publishes_into_that_stream(
    kernel_specs: KernelSpecManager, kernel_env: pytest.MonkeyPatch
) -> None:
    kernel_env.setenv("SEGMENT_DEBUGGER_STREAM", "demo-stream")  # no URL: the embedded demo
    probe = PROBE + "\nprint('source:', type(dbg.source).__name__)"
    nb = execute("dashboard.ipynb", kernel_specs, probe)
    assert "channels: ['demo-stream']" in text_of(nb)
    assert "source: StreamSource" in text_of(nb)
