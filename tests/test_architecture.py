"""The package's shape: imports point one way (front doors → pipeline → stages → core types), with
no circles, and writing a beat never imports training code or the Groove MIDI loader (the product
never reads the dataset). Checked on every import written in the package, lazy ones included
(a circle that works only because an import waits inside a function is still a circle), and on
the modules a real `generate` loads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import audiogen

PACKAGE = Path(audiogen.__file__).parent
TRAINING = "audiogen.training"  # training loops and material, the Groove loader among them
# The modules `audiogen generate` goes through: front door, API, each stage's inference.
GENERATE_PATH = ("audiogen.cli", "audiogen.api", "audiogen.planner.generate", "audiogen.humanize",
                 "audiogen.renderers.sampler", "audiogen.renderers.neural", "audiogen.mix",
                 "audiogen.export")  # fmt: skip
FRONT_DOORS = {"audiogen.cli", "audiogen.cli.common", "audiogen.cli.info", "audiogen.__main__",
               "audiogen.api", "audiogen.batch",
               "audiogen.pipeline", "audiogen.server", "audiogen.server.app",
               "audiogen.server.errors", "audiogen.server.jobs", "audiogen.server.page",
               "audiogen.server.replies", "audiogen.server.schema", "audiogen.server.guards",
               "audiogen.server.ray_jobs"}  # fmt: skip


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(
        ".__init__"
    )


def _module_file(name: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks: imports for type hints only, never run."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(name: str, path: Path | None = None, packages: bool = True) -> set[str]:
    """Every audiogen module that module ``name`` (its source at ``path``, found by its name when
    None) imports when it runs, at the top or inside a function; with ``packages``, also the
    packages whose ``__init__`` such an import runs."""
    path = path or _module_file(name)
    assert path is not None, name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:  # `from pkg import module` imports the module
                full = f"{base}.{alias.name}"
                found.add(full if _module_file(full) is not None else base)
    modules = set()
    for imported in found:
        if imported.startswith("audiogen") and _module_file(imported) is not None:
            modules.add(imported)
            if packages:
                parts = imported.split(".")
                modules.update(".".join(parts[:k]) for k in range(1, len(parts)))
    return modules - {name}


def import_graph() -> dict[str, set[str]]:
    """Module → the audiogen modules it names in an import. Parent packages are left out: Python
    runs a package's ``__init__`` before its modules, so that edge is no circle."""
    return {_module_name(p): _imports(_module_name(p), p, packages=False)
            for p in PACKAGE.rglob("*.py")}  # fmt: skip


def import_closure(roots: tuple[str, ...]) -> dict[str, str]:
    """Every audiogen module reachable from ``roots`` by imports → the module that imports it."""
    reached = {root: "" for root in roots}
    todo = list(roots)
    while todo:
        name = todo.pop()
        for imported in _imports(name):
            if imported not in reached:
                reached[imported] = name
                todo.append(imported)
    return reached


def _chain(reached: dict[str, str], name: str) -> str:
    chain = [name]
    while reached.get(chain[-1]):
        chain.append(reached[chain[-1]])
    return " ← ".join(chain)


def test_no_generate_module_imports_training_code_even_lazily():
    reached = import_closure(GENERATE_PATH)
    bad = [_chain(reached, m) for m in sorted(reached) if m.startswith(TRAINING)]
    assert not bad, "the generate path imports training code:\n" + "\n".join(bad)
    assert {"audiogen.planner.checkpoint", "audiogen.humanize.checkpoint"} <= set(reached)


def test_nothing_outside_the_training_package_imports_it():
    outside = [p for p in PACKAGE.rglob("*.py") if TRAINING.split(".")[1] not in p.parts]
    offenders = []
    for path in outside:
        name = _module_name(path)
        offenders += [f"{name} imports {m}" for m in _imports(name) if m.startswith(TRAINING)]
    assert not offenders


def test_an_import_inside_a_function_is_seen(tmp_path):
    """The checks above fail when someone adds such an import, even a lazy or relative one."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..training import groove\n")
    assert "audiogen.training.groove" in _imports("audiogen.planner.probe", probe)
    probe.write_text("def f():\n    import audiogen.training.planner\n")
    assert "audiogen.training.planner" in _imports("audiogen.planner.probe", probe)


def test_a_generated_beat_loads_no_training_module(tmp_path):
    """A real run of the generate path (plan, humanize, render, mix, export), in a fresh
    interpreter, then the modules it loaded."""
    script = (
        "import sys, audiogen; "
        f"audiogen.generate(genre='house', bars=1, seed=1).save({str(tmp_path / 'beat')!r}); "
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('audiogen'))))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, cwd=PACKAGE.parent)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(done.stdout.split())
    assert {"audiogen.planner.generate", "audiogen.humanize", "audiogen.export"} <= loaded
    assert not {m for m in loaded if m.startswith(TRAINING)}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_circles():
    graph = import_graph()
    assert len(graph) > 30  # the whole package was read
    assert cycles(graph) == []


def test_the_cycle_check_catches_a_circle_through_a_lazy_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_stages_do_not_reach_up_into_the_front_doors():
    graph = import_graph()
    reaching_up = {m: sorted(graph[m] & FRONT_DOORS) for m in graph
                   if m not in FRONT_DOORS and graph[m] & FRONT_DOORS}  # fmt: skip
    assert reaching_up == {}
