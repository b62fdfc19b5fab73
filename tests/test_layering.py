"""The folders are the architecture: every module lives in a room, rooms import only rooms below
them, no two files import each other in a circle, the faces go through ``app``, and the pure
stages stay pure.

The order (a room may import the rooms to its left, never one to its right or at its own level)::

    base ← diagnostics ← lang ← {syntax, config} ← check ← compile ← {edits, backends} ← store
         ← run ← app ← ui ← serve ← cli

The pure stages — lang, syntax, config, check, compile, diagnostics, and base's path rules — never
reach the runtime, the network, subprocesses, files, the environment or the console.

Imports are read with ``ast`` from the source files, including imports inside functions (muxc
imports lazily); ``if TYPE_CHECKING:`` blocks are skipped, as they never run. The rule applies
transitively: a muxc module a pure module imports runs inside the pure stage too, so it is
checked by the same rules. Each violation is reported as ``path:line: what``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "muxc"

PURE_PACKAGES = ("muxc.lang", "muxc.syntax", "muxc.config", "muxc.check", "muxc.compile", "muxc.diagnostics")
# The confinement rule is pure; its resolver (muxc.base.confine) follows symlinks on disk.
PURE_MODULES = ("muxc.base.pathrules",)

# Each room's level: a room imports only rooms of a lower level (its own files aside).
ROOMS = {
    "base": 0, "diagnostics": 1, "lang": 2, "syntax": 3, "config": 3, "check": 4, "compile": 5,
    "edits": 6, "backends": 6, "store": 7, "run": 8, "app": 9, "ui": 10, "serve": 11,
    "cli": 12,
}
# What the faces may import: the one door, the UI, the diagnostics (their renderers) and the
# plumbing of base (no muxc imports of its own, so nothing gets past app through it).
FACES = {
    # `muxc serve` starts the gateway: the command imports serve's entry point (serve.server), nothing else
    "cli": ("app", "ui", "diagnostics", "base", "cli", "serve"),
    # the HTTP gateway: the clients' wire formats are its own; everything else through app
    "serve": ("app", "diagnostics", "base", "serve"),
}
TOP_LEVEL = ("__init__.py", "__main__.py")

FORBIDDEN_IMPORTS = (
    "muxc.run", "muxc.backends", "muxc.store", "muxc.ui", "muxc.cli", "muxc.app", "muxc.edits",
    "muxc.base.process", "muxc.base.files", "muxc.base.userdirs", "muxc.base.confine",
    "httpx", "sqlite_utils", "subprocess", "doit", "rich", "socket", "urllib.request", "shutil",
    "tempfile", "getpass",
)
FORBIDDEN_CALLS = {
    "open": "opens a file",
    "print": "prints",
    "input": "reads the console",
}
FORBIDDEN_METHODS = {
    "read_text": "reads a file", "read_bytes": "reads a file", "write_text": "writes a file",
    "write_bytes": "writes a file", "unlink": "deletes a file", "mkdir": "creates a directory",
}
FORBIDDEN_ATTRIBUTES = {
    ("os", "environ"): "reads the environment", ("os", "getenv"): "reads the environment",
    ("os", "putenv"): "changes the environment", ("os", "system"): "runs a command",
    ("time", "time"): "reads the clock", ("sys", "stdout"): "prints", ("sys", "stderr"): "prints",
}

# Known, deliberate exceptions (module, import or method). Each is I/O on muxc's own files, never on
# the user's input or output; anything new still fails the test.
ALLOWED = {
    # loading muxc's own grammar files (muxc/resources.py)
    ("muxc.base.resources", "read_text"),
    # Lark's grammar cache for the DSL parser: a file in the temp dir named after the user and
    # the version, a speed cache only (an unwritable directory just costs time)
    ("muxc.syntax.mux_lark", "tempfile"),
    ("muxc.syntax.mux_lark", "getpass"),
    # a developer script (`python -m tools.lalr_tables`) that regenerates the parsers' tables; it
    # is never imported at run time
    ("tools.lalr_tables", "write_text"),
}


def module_path(name: str) -> Path | None:
    relative = Path(*name.split("."))
    for candidate in (ROOT / relative.with_suffix(".py"), ROOT / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def pure_roots() -> list[str]:
    names = list(PURE_MODULES)
    for package in PURE_PACKAGES:
        directory = ROOT / Path(*package.split("."))
        names += [module_name(path) for path in sorted(directory.rglob("*.py"))]
    return names


class _Visitor(ast.NodeVisitor):
    """Collects (line, imported module) and (line, problem) for one module, skipping TYPE_CHECKING."""

    def __init__(self, name: str, is_package: bool) -> None:
        self.name = name
        self.package = name if is_package else name.rpartition(".")[0]
        self.imports: list[tuple[int, str]] = []
        self.problems: list[tuple[int, str]] = []

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.imports += [(node.lineno, alias.name) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parent = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            base = ".".join([*parent, base] if base else parent)
        self.imports.append((node.lineno, base))
        for alias in node.names:  # `from muxc.config import load` imports the module muxc.app.config_files
            if module_path(f"{base}.{alias.name}") is not None:
                self.imports.append((node.lineno, f"{base}.{alias.name}"))

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        if isinstance(function, ast.Name) and function.id in FORBIDDEN_CALLS:
            self.problems.append((node.lineno, f"calls {function.id}(): {FORBIDDEN_CALLS[function.id]}"))
        method = function.attr if isinstance(function, ast.Attribute) else None
        if method in FORBIDDEN_METHODS and (self.name, method) not in ALLOWED:
            self.problems.append((node.lineno, f"calls .{method}(): {FORBIDDEN_METHODS[method]}"))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and (node.value.id, node.attr) in FORBIDDEN_ATTRIBUTES:
            what = FORBIDDEN_ATTRIBUTES[(node.value.id, node.attr)]
            self.problems.append((node.lineno, f"uses {node.value.id}.{node.attr}: {what}"))
        self.generic_visit(node)


def scan(name: str) -> _Visitor:
    path = module_path(name)
    assert path is not None, name
    visitor = _Visitor(name, path.name == "__init__.py")
    visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return visitor


def forbidden(module: str) -> bool:
    return any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN_IMPORTS)


def violations() -> Iterator[str]:
    """Every violation in the pure modules and in the muxc modules they reach."""
    queue = pure_roots()
    seen = set(queue)
    via: dict[str, str] = {}
    while queue:
        name = queue.pop(0)
        visitor = scan(name)
        where = str(module_path(name).relative_to(ROOT))
        reached = f" (pure because {via[name]} imports it)" if name in via else ""
        for line, problem in visitor.problems:
            yield f"{where}:{line}: {problem}{reached}"
        for line, imported in visitor.imports:
            if forbidden(imported) and (name, imported) not in ALLOWED:
                yield f"{where}:{line}: imports {imported}{reached}"
            elif imported.startswith("muxc") and imported not in seen and module_path(imported) is not None:
                seen.add(imported)
                via[imported] = name
                queue.append(imported)


def test_the_pure_stages_reach_no_runtime_and_do_no_io() -> None:
    found = list(violations())
    assert found == [], "the pure stages must stay pure:\n" + "\n".join(found)


def test_the_checker_sees_every_pure_module_and_follows_imports() -> None:
    """Guard the test itself: it scans real files, resolves relative imports, and would notice."""
    roots = pure_roots()
    assert "muxc.syntax.mux" in roots and "muxc.check.templates" in roots and "muxc.config.build" in roots
    visitor = scan("muxc.check.templates")
    assert any(imported == "muxc.lang.jinja" for _, imported in visitor.imports)
    bad = _Visitor("muxc.syntax.example", False)
    bad.visit(ast.parse("import os\nimport subprocess\nfrom ..app.api import check\n"
                        "def f():\n    print(os.environ['X'])\n    open('x')\n"))
    assert [i for _, i in bad.imports if forbidden(i)] == ["subprocess", "muxc.app.api"]
    assert [p for _, p in bad.problems] == ["calls print(): prints", "uses os.environ: reads the environment",
                                            "calls open(): opens a file"]


# --- rooms, their order, and cycles ---------------------------------------------------------------


def every_module() -> list[str]:
    return [module_name(path) for path in sorted(PACKAGE.rglob("*.py"))]


def room_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def muxc_imports(name: str) -> list[tuple[int, str]]:
    """The muxc modules ``name`` imports (a package's ``__init__`` counts as that package; a
    module's own enclosing packages, which Python imports first anyway, do not count)."""
    return [(line, imported) for line, imported in scan(name).imports
            if imported.startswith("muxc.") and module_path(imported) is not None
            and not name.startswith(imported + ".")]


def test_no_module_lives_outside_a_room() -> None:
    loose = [path.name for path in PACKAGE.glob("*.py") if path.name not in TOP_LEVEL]
    rooms = sorted(path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file())
    assert loose == [], f"modules outside a room: {loose}"
    assert rooms == sorted(ROOMS), "a room was added or removed: give it its place in ROOMS"


def test_rooms_import_only_rooms_below_them() -> None:
    found = []
    for name in every_module():
        room = room_of(name)
        if room not in ROOMS:
            continue
        for line, imported in muxc_imports(name):
            other = room_of(imported)
            if other in ROOMS and other != room and ROOMS[other] >= ROOMS[room]:
                found.append(f"{module_path(name).relative_to(ROOT)}:{line}: {room} imports {imported} ({other})")
    assert found == [], "a room imports a room at or above its level:\n" + "\n".join(found)


def test_the_faces_reach_everything_through_app() -> None:
    found = []
    for face, allowed in FACES.items():
        for name in every_module():
            if room_of(name) != face:
                continue
            for line, imported in muxc_imports(name):
                if room_of(imported) not in allowed:
                    found.append(f"{module_path(name).relative_to(ROOT)}:{line}: imports {imported}")
    assert found == [], "a face imports past app/:\n" + "\n".join(found)


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_no_two_files_import_each_other_in_a_circle() -> None:
    graph = {name: {imported for _, imported in muxc_imports(name) if imported != name} for name in every_module()}
    assert import_cycles(graph) == [], "modules importing each other in a circle (lazy imports count too)"


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_cycles(graph) == [["a", "b", "c"]]


# --- one job, one implementation --------------------------------------------------------------------


def test_the_checker_and_the_renderer_know_the_same_filters() -> None:
    from muxc.lang.filters import MUXC_FILTERS
    from muxc.run.templating import FILTERS

    assert set(FILTERS) == MUXC_FILTERS
