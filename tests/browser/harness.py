"""End-to-end harness: isolated Jupyter dirs, JupyterLab / Voila servers, a kernel client.

Everything here runs real processes on 127.0.0.1 and cleans up after itself: servers start in
a new process group and are stopped with every descendant (kernels included, which
jupyter_client starts in sessions of their own). Servers are tied to this process
(:func:`~segment_debugger.playground.procs.spawn_tied`): a pytest killed with SIGKILL takes
them, their kernels and their temp dir along.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import nbformat
import psutil
from jupyter_client.blocking import BlockingKernelClient
from support.redis_server import free_port

from segment_debugger.playground.procs import owned_temp_dir, spawn_tied

T = TypeVar("T")

BIN = Path(sys.executable).parent
KERNEL_NAME = "python3"
#: A static file every Voila serves; GET / would render the notebook (and start a kernel).
VOILA_PROBE = "/voila/labextensions/@voila-dashboards/widgets-manager7/package.json"


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    message: str | Callable[[], str] = "condition",
    interval: float = 0.05,
) -> T:
    """Poll ``predicate`` until it returns something truthy; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {text}")
        time.sleep(interval)


class JupyterDirs:
    """Temp root + JUPYTER_{RUNTIME,CONFIG,DATA}_DIR, with a kernelspec for this interpreter.

    The root is ``<prefix><our pid>-*`` (``prefix`` is ``sd-<kind>-``): the next one made
    removes those whose owner died without cleaning up.
    """

    def __init__(self, prefix: str = "sd-e2e-") -> None:
        self.base = Path(owned_temp_dir(prefix.removeprefix("sd-").strip("-") or "e2e"))
        self.root = self.base / "root"
        self.runtime = self.base / "runtime"
        self.config = self.base / "config"
        self.data = self.base / "data"
        for d in (self.root, self.runtime, self.config, self.data):
            d.mkdir()
        spec_dir = self.data / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        (spec_dir / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Python 3 (segment_debugger e2e)",
                    "language": "python",
                }
            )
        )
        # JupyterLab user settings: no news/update toasts that could cover the page.
        self.write_lab_setting(
            "@jupyterlab/apputils-extension", "notification",
            {"fetchNews": "false", "checkForUpdates": False},
        )
        # JupyterLab >= 4.4 sends comm messages to a kernel subshell (ipykernel 7) by default.
        # After a page reload it sometimes keeps using a subshell id the kernel no longer knows:
        # the kernel logs "Cannot handle comm_msg ...: Unknown subshell_id" and drops every
        # front-end -> kernel widget message (our snapshot requests included), for any widget.
        # That is upstream (README "Known issues"); the e2e tests run with the workaround we
        # document for users, so they test our widget rather than that race.
        self.write_lab_setting(
            "@jupyterlab/apputils-extension", "kernels-settings",
            {"commsOverSubshells": "disabled"},
        )

    def write_lab_setting(self, plugin_pkg: str, plugin: str, value: dict[str, Any]) -> None:
        """Write a JupyterLab user-settings file (read by the server on each page load)."""
        path = self.config / "lab" / "user-settings" / plugin_pkg / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))

    def env(self) -> dict[str, str]:
        """The environment for a server: isolated dirs, this venv first on PATH."""
        env = dict(os.environ)
        for key in list(env):
            if key.startswith(("JUPYTER", "JPY_", "IPYTHON")):
                del env[key]
        env.update(
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            JUPYTER_CONFIG_DIR=str(self.config),
            JUPYTER_DATA_DIR=str(self.data),
            JUPYTERLAB_SETTINGS_DIR=str(self.config / "lab" / "user-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.config / "lab" / "workspaces"),
            IPYTHONDIR=str(self.base / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            JUPYTER_PREFER_ENV_PATH="0",
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
        )
        return env

    def cleanup(self) -> None:
        """Remove every temp dir."""
        shutil.rmtree(self.base, ignore_errors=True)


def write_notebook(path: Path, cells: Sequence[str]) -> Path:
    """Write a notebook of code cells bound to the isolated ``python3`` kernelspec."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, str(path))
    return path


class Server:
    """A Jupyter server child process (JupyterLab or Voila) in its own process group.

    Tied to this process: if this one dies, the server, its kernels and ``dirs`` go too.
    """

    def __init__(
        self,
        dirs: JupyterDirs,
        argv: list[str],
        port: int,
        token: str,
        name: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.dirs = dirs
        self.port = port
        self.token = token
        self.name = name
        self.log_path = dirs.base / f"{name}.log"
        self._log = self.log_path.open("wb")
        self._tied = spawn_tied(
            argv,
            cwd=str(dirs.root),
            env={**dirs.env(), **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            remove=[str(dirs.base)],
        )
        self.proc = self._tied.proc

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """An absolute URL for ``path``, with the token when there is one."""
        sep = "&" if "?" in path else "?"
        tok = f"{sep}token={self.token}" if self.token else ""
        return f"{self.base_url}{path}{tok}"

    def log(self) -> str:
        """Everything the server printed so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def api(self, path: str, method: str = "GET", body: Any = None, timeout: float = 5) -> Any:
        """Call the server's REST API and return the decoded JSON (None for an empty body)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if self.token:
            req.add_header("Authorization", f"token {self.token}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def wait_ready(self, probe: str, timeout: float = 60) -> None:
        """Wait until GET ``probe`` answers 200, or raise with the server's log."""

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode}:\n{self.log()[-4000:]}"
                )
            try:
                req = urllib.request.Request(self.base_url + probe)
                if self.token:
                    req.add_header("Authorization", f"token {self.token}")
                with urllib.request.urlopen(req, timeout=2) as resp:
                    return bool(resp.status == 200)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        try:
            wait_until(ready, timeout, f"{self.name} to answer {probe}", interval=0.2)
        except TimeoutError as exc:
            self.stop()
            raise TimeoutError(f"{exc}\n--- {self.name} log ---\n{self.log()[-4000:]}") from None

    def kernel_connection_files(self) -> list[Path]:
        """Connection files of the live kernels this server started, oldest first.

        Read from the kernels' command lines (``-f FILE``): Voila keeps them in a temp dir of
        its own, JupyterLab in the isolated runtime dir.
        """
        found: list[tuple[float, Path]] = []
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for child in children:
            try:
                cmd, created = child.cmdline(), child.create_time()
            except psutil.Error:
                continue
            if "ipykernel_launcher" in cmd and "-f" in cmd:
                found.append((created, Path(cmd[cmd.index("-f") + 1])))
        return [path for _, path in sorted(found)]

    def notebook_kernel(self, notebook: str, timeout: float = 60) -> Path:
        """The connection file of the kernel of the session for ``notebook`` (JupyterLab only)."""

        def lookup() -> Path | None:
            for session in self.api("/api/sessions"):
                if session.get("path") == notebook and session.get("kernel"):
                    path = self.dirs.runtime / f"kernel-{session['kernel']['id']}.json"
                    if path.exists():
                        return path
            return None

        return wait_until(lookup, timeout, f"a kernel session for {notebook}", interval=0.2)

    def stop(self, timeout: float = 15) -> None:
        """Terminate the server's process group and every descendant, and wait for them."""
        if self.proc.poll() is None:
            try:
                root = psutil.Process(self.proc.pid)
                family = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                family = []
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
            _, alive = psutil.wait_procs(family, timeout=timeout)
            for p in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
            psutil.wait_procs(alive, timeout=timeout)
        self._tied.stop(timeout)  # the watchdog leaves (and anything left in the group goes)
        self._log.close()


def _root_flag() -> list[str]:
    return ["--allow-root"] if os.geteuid() == 0 else []


def _start_jupyter(
    dirs: JupyterDirs, command: str, name: str, app_flags: list[str], timeout: float
) -> Server:
    """Start a Jupyter server application on a free port with a random token."""
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        str(BIN / command),
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={dirs.root}",
        *app_flags,
        "--ServerApp.log_level=INFO",
        *_root_flag(),
    ]
    server = Server(dirs, argv, port, token, name)
    server.wait_ready("/api/status", timeout)
    return server


def start_lab(dirs: JupyterDirs, timeout: float = 90) -> Server:
    """Start JupyterLab on a free port with a random token, serving ``dirs.root``."""
    return _start_jupyter(
        dirs, "jupyter-lab", "jupyterlab",
        ["--LabApp.expose_app_in_browser=True", "--LabApp.news_url="], timeout,
    )


def start_voila(
    dirs: JupyterDirs, notebook: Path, env: dict[str, str] | None = None, timeout: float = 90
) -> Server:
    """Start Voila on a free port serving one notebook (no token: Voila has none by default).

    ``env`` adds environment variables for the server and the kernels it starts.
    """
    port = free_port()
    argv = [
        str(BIN / "voila"),
        str(notebook),
        f"--port={port}",
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        f"--Voila.root_dir={dirs.root}",
        # Notebook 7 (in the test extra) installs this JupyterLab extension; Voila loads every
        # installed one and this one fails in Voila's page ("The getter for the shared module
        # is not a function"), a console error unrelated to the debugger.
        "--VoilaConfiguration.extension_denylist=['@jupyter-notebook/lab-extension']",
    ]
    server = Server(dirs, argv, port, "", "voila", env)
    server.wait_ready(VOILA_PROBE, timeout)
    return server


class KernelEval:
    """Run Python in a live kernel through its connection file and return JSON results."""

    def __init__(self, connection_file: Path) -> None:
        self.client = BlockingKernelClient(connection_file=str(connection_file))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=30)

    def exec(self, code: str, timeout: float = 30) -> str:
        """Execute ``code``; return its stdout, or raise RuntimeError with the traceback."""
        out: list[str] = []
        errors: list[str] = []

        def on_iopub(msg: dict[str, Any]) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream" and content.get("name") == "stdout":
                out.append(content["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(content.get("traceback", [])))

        reply = self.client.execute_interactive(
            code, silent=False, store_history=False, timeout=timeout, output_hook=on_iopub
        )
        if reply["content"]["status"] != "ok" or errors:
            raise RuntimeError(f"kernel raised while running {code!r}:\n" + "\n".join(errors))
        return "".join(out)

    def eval(self, expr: str, timeout: float = 30) -> Any:
        """Evaluate ``expr`` in the kernel and return it decoded from JSON (``default=str``)."""
        marker = secrets.token_hex(4)
        text = self.exec(
            f"import json as _j\nprint({marker!r} + _j.dumps({expr}, default=str))", timeout
        )
        for line in text.splitlines():
            if line.startswith(marker):
                return json.loads(line[len(marker) :])
        raise RuntimeError(f"no result printed for {expr!r}; stdout was {text!r}")

    def try_exec(self, code: str, timeout: float = 15) -> str | None:
        """Run ``code`` for a teardown; on failure return what went wrong instead of raising.

        A teardown must go on (close the page, stop the server and with it the kernel) even
        when the kernel no longer answers: an exception here would leave a kernel behind,
        still connected to Redis, for every later test to trip over.
        """
        try:
            self.exec(code, timeout)
        except Exception as exc:  # reported by the caller after the cleanup
            return f"{code!r} failed in the kernel: {type(exc).__name__}: {exc}"
        return None

    def close(self) -> None:
        """Stop the client's channels (the kernel keeps running)."""
        self.client.stop_channels()


def start_notebook7(dirs: JupyterDirs, timeout: float = 90) -> Server:
    """Start Jupyter Notebook 7 (``jupyter notebook``) like :func:`start_lab`.

    Notebook 7 is a JupyterLab application: the same settings, kernels and REST API, and
    ``window.jupyterapp`` in the page (``expose_app_in_browser``).
    """
    return _start_jupyter(
        dirs, "jupyter-notebook", "notebook7",
        ["--JupyterNotebookApp.expose_app_in_browser=True"], timeout,
    )


def start_marimo_run(
    dirs: JupyterDirs,
    app: Path,
    env: dict[str, str] | None = None,
    session_ttl: int = 2,
    timeout: float = 90,
) -> Server:
    """Start ``marimo run APP`` on a free port, no token, in its own process group.

    In run mode every browser session gets a kernel *thread* in this server process; a session
    whose page went away is closed after ``session_ttl`` seconds.
    """
    port = free_port()
    argv = [
        str(BIN / "marimo"),
        "run",
        str(app),
        "--headless",
        "--no-token",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--session-ttl={session_ttl}",
        "--no-check",
        "--no-sandbox",
    ]
    server = Server(dirs, argv, port, "", "marimo", env)
    server.wait_ready("/health", timeout)
    return server
