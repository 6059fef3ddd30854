"""Imports point down the flow (CONTRIBUTING.md): no module of the package imports a higher layer.

Read from the source (``ast``), nothing imported: every ``import`` and ``from … import`` of
every module, relative ones resolved, whether at the top, inside a function or under
``if TYPE_CHECKING:``. A layer may import the layers :data:`MAY_IMPORT` lists for it, nothing
else. The one exception is CONTRIBUTING's: ``core`` reaches ``analysis`` and ``io`` only by
imports inside the methods that need them (``EventBuffer.people``/``schemas``/``export``/
``capture``…, the ``person:`` field of a query), plus the annotations of those methods under
``TYPE_CHECKING``; a module-level import there would load them with every ``import core``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import segment_debugger

PACKAGE = Path(segment_debugger.__file__).parent

#: What each layer may import (itself always). ``analysis`` is a side branch: core only.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "sources": frozenset({"core"}),
    "analysis": frozenset({"core"}),
    "io": frozenset({"core", "sources"}),
    "widget": frozenset({"core", "sources", "analysis", "io"}),
    "playground": frozenset({"core", "sources", "analysis", "io", "widget"}),
    "cli": frozenset({"core", "sources", "analysis", "io", "widget", "playground"}),
}

#: Upward imports allowed inside functions (and under TYPE_CHECKING) only: CONTRIBUTING's.
DEFERRED_ONLY: dict[str, frozenset[str]] = {"core": frozenset({"analysis", "io"})}

#: What a layer may take from the package's own ``__init__`` (the lazy public façade, which
#: would load any layer): just the version.
FROM_TOP = frozenset({"__version__"})


@dataclass(frozen=True)
class Import:
    """One import statement naming a module of the package."""

    path: str  # relative to the package's parent, e.g. segment_debugger/io/replay.py
    line: int
    module: str  # absolute, e.g. segment_debugger.playground.publisher
    names: tuple[str, ...]  # for ``from … import``: what is taken
    deferred: bool  # inside a function
    typing_only: bool  # under ``if TYPE_CHECKING:``

    def __str__(self) -> str:
        where = "in a function" if self.deferred else "TYPE_CHECKING" if self.typing_only else ""
        return f"{self.path}:{self.line} imports {self.module}" + (f" ({where})" if where else "")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, path: str, package: str) -> list[Import]:
    """Every import of ``package`` in one module's ``source`` (``path`` relative, with .py)."""
    here = path[: -len(".py")].split("/")[:-1]  # the module's package (an __init__'s own)
    found: list[Import] = []

    def visit(node: ast.AST, deferred: bool, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(path, child.lineno, alias.name, (), deferred, typing_only))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = here[: len(here) - (child.level - 1)]
                    module = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    module = child.module or ""
                names = tuple(alias.name for alias in child.names)
                found.append(Import(path, child.lineno, module, names, deferred, typing_only))
            inner_deferred = deferred or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), inner_deferred, True)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), inner_deferred, typing_only)
                continue
            visit(child, inner_deferred, typing_only)

    visit(ast.parse(source, filename=path), False, False)
    return [i for i in found if i.module == package or i.module.startswith(package + ".")]


def layer_of(module_path: Path, root: Path) -> str | None:
    """The layer (first subpackage) a module belongs to; None for the package's own files."""
    parts = module_path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else None


def problems(root: Path) -> list[str]:
    """Every import in the package under ``root`` that breaks the layering, as readable lines."""
    package = root.name
    out: list[str] = []
    unknown: set[str] = set()
    for file in sorted(root.rglob("*.py")):
        layer = layer_of(file, root)
        rel = file.relative_to(root.parent).as_posix()
        if layer is not None and layer not in MAY_IMPORT:
            if layer not in unknown:
                unknown.add(layer)
                out.append(f"{package}/{layer}/ is no known layer: add it to MAY_IMPORT "
                           "(and to CONTRIBUTING's layering line)")
            continue
        for imp in imports_of(file.read_text(encoding="utf-8"), rel, package):
            target = imp.module.split(".")
            if len(target) == 1:  # the package itself: its façade
                if layer is None:
                    continue
                taken = [n for n in imp.names if n not in FROM_TOP]
                layers = [n for n in taken if n in MAY_IMPORT]
                if taken and not layers:
                    out.append(f"{imp}: takes {', '.join(taken)} from the public façade, "
                               "which loads every layer; import it from its own module")
                    continue
                targets = layers
            else:
                targets = [target[1]]
            for to in targets:
                if layer is None or to == layer or to in MAY_IMPORT.get(layer, ()):
                    continue
                if to in DEFERRED_ONLY.get(layer, ()) and (imp.deferred or imp.typing_only):
                    continue
                out.append(f"{imp}: {layer}/ may not import {to}/"
                           + (" (only inside a function)" if to in DEFERRED_ONLY.get(layer, ())
                              else ""))
    return out


#: Private (``_``-prefixed) modules or names another layer may still import, with the reason.
#: Keys: (importing module, imported module, name or "" for the module itself), without the
#: package's name.
PRIVATE_ALLOWED: dict[tuple[str, str, str], str] = {
    ("analysis/hints.py", "core.query", "_term"): (
        "hints read a filter term exactly as the query grammar does; core.query has no public "
        "term reader yet (a public alias there would retire this)"
    ),
    ("io/publish.py", "sources._redispy", ""): (
        "publish_batch packs commands on a pooled connection and reaches a cluster's default "
        "node through redis-py internals; CONTRIBUTING keeps every redis-py internal in "
        "sources/_redispy.py, and a public alias would advertise names redis-py does not promise"
    ),
}


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def private_imports(root: Path) -> list[str]:
    """Imports of another layer's private module or private name, as readable lines.

    A layer's ``_``-prefixed modules and names are its own: another layer takes the public
    names (``core.frame`` re-exports what ``core._frame_*`` hold for others).
    """
    package = root.name
    out: list[str] = []
    for file in sorted(root.rglob("*.py")):
        layer = layer_of(file, root)
        rel = file.relative_to(root.parent).as_posix()
        here = rel.removeprefix(package + "/")
        for imp in imports_of(file.read_text(encoding="utf-8"), rel, package):
            target = imp.module.split(".")
            if len(target) < 2 or target[1] == layer:
                continue
            module = ".".join(target[1:])
            # "from pkg.core import _frame_columns" names a private module too
            taken = [("", m) for m in target[2:] if _private(m)][:1]
            taken += [(name, name) for name in imp.names if _private(name)]
            for name, private in taken:
                if (here, module, name) in PRIVATE_ALLOWED:
                    continue
                out.append(f"{imp}: takes {target[1]}/'s private {private}; import a public "
                           f"name (or allow-list it in PRIVATE_ALLOWED with the reason)")
    return out


def test_no_module_imports_a_higher_layer() -> None:
    found = problems(PACKAGE)
    assert not found, "imports pointing up the flow:\n" + "\n".join(found)


def test_no_layer_imports_another_layers_private_modules() -> None:
    found = private_imports(PACKAGE)
    assert not found, "private modules or names of another layer:\n" + "\n".join(found)


def test_every_private_allowance_is_still_needed() -> None:
    used = set()
    for file in sorted(PACKAGE.rglob("*.py")):
        rel = file.relative_to(PACKAGE.parent).as_posix()
        for imp in imports_of(file.read_text(encoding="utf-8"), rel, PACKAGE.name):
            module = imp.module.split(".", 1)[-1]
            here = rel.removeprefix(PACKAGE.name + "/")
            used.update((here, module, name) for name in (*imp.names, ""))
    assert set(PRIVATE_ALLOWED) <= used, set(PRIVATE_ALLOWED) - used


def test_every_subpackage_is_a_layer() -> None:
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == set(MAY_IMPORT)


def test_the_layers_form_one_order() -> None:
    # No two layers may import each other, even through others: the arrows make no circle.
    def below(layer: str) -> set[str]:
        seen: set[str] = set()
        todo = list(MAY_IMPORT[layer])
        while todo:
            nxt = todo.pop()
            if nxt not in seen:
                seen.add(nxt)
                todo.extend(MAY_IMPORT[nxt])
        return seen

    assert all(layer not in below(layer) for layer in MAY_IMPORT)


# ---- the scan itself sees what it must (a small package written for it) ---------------------


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def fake_package(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    files = {f"{layer}/__init__.py": "" for layer in MAY_IMPORT}
    files["__init__.py"] = "__version__ = '0'\n"
    return write(pkg, files)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        # down the flow, the version from the façade, core's deferred exceptions: fine
        ("widget/ok.py", "from pkg.io.export import x\nimport pkg.core.event\n", None),
        ("widget/v.py", "from pkg import __version__\n", None),
        ("core/buf.py", "def people():\n    from pkg.analysis.people import p\n", None),
        ("core/buf2.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                         "    from pkg.io.capture import Capture\n", None),
        ("cli/x.py", "from pkg import playground, widget\n", None),
        # up the flow: at the top, in a function, relative, through the façade
        ("io/replay.py", "from pkg.playground.publisher import Target\n",
         "io/ may not import playground/"),
        ("io/replay2.py", "def f():\n    from pkg.playground import publisher\n",
         "io/ may not import playground/"),
        ("io/rel.py", "from ..playground.publisher import Target\n",
         "io/ may not import playground/"),
        ("sources/s.py", "import pkg.widget.wire\n", "sources/ may not import widget/"),
        ("analysis/a.py", "from pkg.sources.url import redact\n",
         "analysis/ may not import sources/"),
        ("analysis/b.py", "from pkg import io\n", "analysis/ may not import io/"),
        ("io/c.py", "from pkg import demo\n", "from the public façade"),
        ("core/top.py", "from pkg.analysis.people import p\n",
         "core/ may not import analysis/ (only inside a function)"),
        ("core/w.py", "def f():\n    from pkg.widget import wire\n",
         "core/ may not import widget/"),
        ("sources/tc.py", "import typing\nif typing.TYPE_CHECKING:\n    from pkg.io import x\n",
         "sources/ may not import io/"),
        ("extra/x.py", "", "is no known layer"),
    ],
)
def test_the_scan_sees_upward_imports(
    fake_package: Path, name: str, text: str, expected: str | None
) -> None:
    write(fake_package, {name: text})
    found = problems(fake_package)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found
        assert found[0].startswith(f"pkg/{name.split('/')[0]}/")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        # public names, a layer's own private modules, the façade's dunders: fine
        ("analysis/ok.py", "from pkg.core.frame import text_column\n", None),
        ("core/own.py", "from pkg.core._frame_columns import text_column\n", None),
        ("core/own2.py", "from ._frame_columns import text_column\n", None),
        ("widget/v.py", "from pkg import __version__\n", None),
        # another layer's private module: at the top, in a function, relative, as a name
        ("analysis/p.py", "from pkg.core._frame_columns import text_column\n",
         "core/'s private _frame_columns"),
        ("analysis/q.py", "def f():\n    from pkg.core._frame_columns import x\n",
         "core/'s private _frame_columns"),
        ("analysis/r.py", "from ..core._frame_columns import x\n",
         "core/'s private _frame_columns"),
        ("io/s.py", "from pkg.core import _frame_columns\n", "core/'s private _frame_columns"),
        ("widget/t.py", "import pkg.sources._redispy\n", "sources/'s private _redispy"),
        # another layer's private name from a public module
        ("analysis/u.py", "from pkg.core.query import _plan\n", "core/'s private _plan"),
    ],
)
def test_the_scan_sees_private_imports(
    fake_package: Path, name: str, text: str, expected: str | None
) -> None:
    write(fake_package, {name: text})
    found = private_imports(fake_package)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found
        assert found[0].startswith(f"pkg/{name.split('/')[0]}/")
