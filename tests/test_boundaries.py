"""Stage boundaries: writing a beat never imports training code or the Groove MIDI loader (the
product never reads the dataset), checked on the modules a real `generate` loads and on every
import written in the inference packages, lazy ones included."""

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


def _module_file(name: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(name: str, path: Path | None = None) -> set[str]:
    """Every audiogen module that module ``name`` (its source at ``path``, found by its name when
    None) imports, at the top or inside a function."""
    path = path or _module_file(name)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    modules = set()
    for imported in found:
        if imported.startswith("audiogen") and _module_file(imported) is not None:
            modules.add(imported)
            parts = imported.split(".")  # importing a module runs its packages' __init__ too
            modules.update(".".join(parts[:k]) for k in range(1, len(parts)))
    return modules


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
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
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
