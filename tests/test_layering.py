"""Layering rule 1: the engine in playground/ never imports streamlit, neither in its source
nor at run time."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "playground"
FORBIDDEN = "streamlit"


def forbidden_imports(
    source: str, filename: str = "<source>", forbidden: tuple[str, ...] = (FORBIDDEN,)
) -> list[str]:
    """`file:line` of each import of a `forbidden` module or package (plain, from, or by name at
    run time); streamlit unless told."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in ("__import__", "import_module") and isinstance(first, ast.Constant):
                names = [str(first.value)]
        if any(name == bad or name.startswith(bad + ".") for name in names for bad in forbidden):
            found.append(f"{filename}:{node.lineno}")
    return found


def test_the_checker_catches_every_form():
    bad = [
        "import streamlit",
        "import streamlit as st",
        "import os, streamlit.components.v1",
        "from streamlit import session_state",
        "from streamlit.testing.v1 import AppTest",
        "def f():\n    import streamlit",
        "importlib.import_module('streamlit')",
        "__import__('streamlit.runtime')",
    ]
    for source in bad:
        assert forbidden_imports(source), source
    fine = ["import streamlit_like", "from .streamlit import x", "import torch", "x = 'streamlit'"]
    for source in fine:
        assert not forbidden_imports(source), source


def engine_files() -> list[Path]:
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) >= 10, "the engine's modules are all found"
    return files


# Rule 7: a page talks to runs, saved runs and registries; the training itself (a trainer, a
# model, torch) stays in the engine. Device facts (playground.training.devices) are allowed.
PAGE_FORBIDDEN = (
    "torch", "torchvision", "playground.models", "playground.training.trainer",
    "playground.training.multirun", "playground.training.multigroups",
    "playground.training.stepcore", "playground.training.fast", "playground.training.optim",
)


def test_the_page_checker_catches_torch_models_and_trainers():
    for source in ("import torch", "import torch.nn as nn", "from torchvision import utils",
                   "from playground.models.nets import MLP", "def f():\n    import torch",
                   "from playground.training.trainer import Trainer"):
        assert forbidden_imports(source, forbidden=PAGE_FORBIDDEN), source
    for source in ("import torchmetrics_like", "from playground.training.devices import warm_up",
                   "from playground.runs import backends", "import streamlit as st"):
        assert not forbidden_imports(source, forbidden=PAGE_FORBIDDEN), source


def test_no_page_imports_torch_a_model_or_a_trainer():
    pages = sorted((ROOT / "pages").rglob("*.py")) + [ROOT / "app.py"]
    assert len(pages) >= 10
    offenders = []
    for path in pages:
        offenders += forbidden_imports(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), PAGE_FORBIDDEN
        )
    assert offenders == []


def test_no_engine_file_imports_streamlit():
    offenders = []
    for path in engine_files():
        offenders += forbidden_imports(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        )
    assert offenders == []


def test_importing_the_engine_does_not_load_streamlit():
    modules = sorted(  # dotted names: playground.bench.ui for playground/bench/ui.py
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in engine_files()
        if p.name != "__main__.py" and p != ENGINE / "__init__.py"
    )
    script = (
        "import importlib, json, sys\n"
        f"names = {modules!r}\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "from playground.cli import main\n"
        "main(['presets'])\n"  # runs the lazy imports of the command line too
        "print(json.dumps({'imported': [n for n in names if n in sys.modules],\n"
        "                  'streamlit': sorted(m for m in sys.modules\n"
        "                                      if m.split('.')[0] == 'streamlit')}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == modules
    assert result["streamlit"] == []


# Rule 7: pages talk to a run through its public interface and its snapshots only, so the same
# page works with a run in this process or one in a Ray worker (playground.runs.ray.cluster).
PAGES = ROOT / "pages"
RUN_INTERNALS = ("trainer", "between_steps")  # attributes that hand a page the live models


def run_internals_used(source: str, filename: str = "<source>") -> list[str]:
    """`file:line what` for each `.trainer` / `.between_steps` attribute and each `id(...)` call
    (caches key on `run.uid`: Python reuses id() values, and a proxy's id says nothing)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Attribute) and node.attr in RUN_INTERNALS:
            found.append(f"{filename}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "id":
            found.append(f"{filename}:{node.lineno} id()")
    return found


def test_the_run_checker_catches_every_form():
    bad = [
        "run.trainer.step",
        "x = slot.run.trainer",
        "with run.between_steps():\n    pass",
        "cache[id(run)] = 1",
        "key = (id(run), 3)",
        "getattr(run, 'x').trainer",
    ]
    for source in bad:
        assert run_internals_used(source), source
    fine = ["trainer = load(folder)", "Run(trainer=trainer)", "run.uid", "run.snapshot().step",
            "ident(run)", "x.trainers"]
    for source in fine:
        assert not run_internals_used(source), source


def test_no_page_reaches_into_a_run():
    files = sorted(PAGES.rglob("*.py")) + [ROOT / "app.py"]
    assert len(files) >= 5, "the pages are all found"
    offenders = []
    for path in files:
        offenders += run_internals_used(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        )
    assert offenders == []


# Rule 7 also: no private name is imported across modules. A leading underscore says "this
# module's own"; another module that needs it gets a public name (or the code moves).
PROJECT_PACKAGES = ("playground", "pages")


def private_names_used(source: str, filename: str = "<source>") -> list[str]:
    """`file:line name` for each `_name` imported from a project module, and each `_name`
    read as an attribute of an imported project module (`checkpoints._load`)."""
    found, modules = [], set()
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            if node.level == 0 and top not in PROJECT_PACKAGES:
                continue
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{filename}:{node.lineno} {alias.name}")
                else:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT_PACKAGES:
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and _private(node.attr)
        ):
            found.append(f"{filename}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def _private(name: str) -> bool:
    # `_` alone is gettext's public name for "translate" (pages.ui.i18n._), not a private one.
    return name.startswith("_") and not name.startswith("__") and name != "_"


def test_the_private_name_checker_catches_every_form():
    bad = [
        "from .checkpoints import _load_tensors",
        "from .checkpoints import read_meta, _check as check",
        "from .trainer import (\n    _INIT_LOCK,\n    SERIES,\n)",
        "from playground.latent import _real_points",
        "from pages.ui import _style",
        "from . import checkpoints\nx = checkpoints._load_tensors(1, 2)",
        "from playground import store as s\ns._atomic(1)",
        "import playground.data.loading\nplayground._x",
    ]
    for source in bad:
        assert private_names_used(source), source
    fine = [
        "from .checkpoints import load_tensors",
        "from torch import _C",
        "import torch\ntorch._foreach_add_(a, b)",
        "from . import checkpoints\ncheckpoints.load_tensors(1, 2)",
        "from .config import __version__",
        "from pages.ui.i18n import _",
        "self._x = 1",
    ]
    for source in fine:
        assert not private_names_used(source), source


def test_no_module_imports_another_modules_private_name():
    files = engine_files() + sorted(PAGES.rglob("*.py")) + [ROOT / "app.py"]
    offenders = []
    for path in files:
        offenders += private_names_used(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        )
    assert offenders == []


# Rule 1 of the layout: imports go one way, down this list (top first). Each entry is a layer of
# packages or modules under playground/; a module may import its own layer or any layer below.
LAYERS = (
    ("__main__", "cli", "everyloss", "classifier", "bench"),  # commands and the benchmark
    ("lessons",),
    ("runs",),
    ("latent", "onnxmodel"),
    ("storage",),
    ("training",),
    ("measures",),
    ("settings",),
    ("data",),
    ("models",),
    ("objectives",),
    ("views",),
    ("errors", "paths", "texts", ""),  # "" is playground/__init__.py
)
MAX_LEVELS = 12  # the longest chain of layers one import leads down


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path, known: set[str]) -> dict[str, int]:
    """The project modules `path` imports, each with the line of its first import. `from a
    import b` counts as importing a.b when that is a module, else a."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # a.b.c where only a.b is a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.setdefault(target, node.lineno)
    return found


def import_graph() -> dict[str, dict[str, int]]:
    files = engine_files() + sorted(PAGES.rglob("*.py"))
    known = {module_name(p) for p in files} | {"pages"}
    return {module_name(p): project_imports(p, known) for p in files}


def layer_of(module: str) -> int:
    """The index in LAYERS of an engine module (pages are above them all: -1)."""
    if module.split(".")[0] == "pages":
        return -1
    part = module.removeprefix("playground").removeprefix(".").split(".")[0]
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The import circles of `graph` (its strongly connected parts of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1 or v in graph.get(v, {}):
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def upward_imports(graph: dict[str, dict[str, int]]) -> list[str]:
    return [f"{m}:{line} imports {t}" for m, deps in graph.items() for t, line in deps.items()
            if layer_of(t) < layer_of(m)]


def layer_levels(graph: dict[str, dict[str, int]]) -> int:
    """The longest chain of distinct layers along imports (1 = a layer that imports no other)."""
    below = {i: set() for i in range(-1, len(LAYERS))}
    for m, deps in graph.items():
        below[layer_of(m)] |= {layer_of(t) for t in deps if layer_of(t) != layer_of(m)}
    depth: dict[int, int] = {}
    for i in sorted(below, reverse=True):  # imports only go to larger indices
        depth[i] = 1 + max((depth[j] for j in below[i]), default=0)
    return max(depth[i] for i in below if i >= 0)


def test_the_graph_checkers_catch_a_circle_and_an_upward_import():
    circle = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert cycles(circle) == [["a", "b", "c"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []
    up = {"playground.views.figures": {"playground.runs.runner": 3},
          "playground.runs.runner": {"playground.views.figures": 9}}
    assert upward_imports(up) == ["playground.views.figures:3 imports playground.runs.runner"]
    assert layer_levels({"playground.cli": {"playground.runs.runner": 1},
                         "playground.runs.runner": {"playground.views.figures": 1},
                         "playground.views.figures": {}}) == 3
    found = project_imports(ENGINE / "cli.py", set(import_graph()))
    assert "playground.settings.config" in found and "playground.errors" in found


def test_imports_form_no_circle_go_only_down_and_stay_shallow():
    graph = import_graph()
    assert len(graph) >= 60, "every engine and page module is read"
    assert cycles(graph) == []
    assert upward_imports(graph) == []
    assert layer_levels(graph) <= MAX_LEVELS


def test_no_project_module_is_imported_inside_a_function():
    """Function-local imports dodge circles and hide a module's needs; only optional heavy
    libraries (ray, torchvision's pieces) may be imported late, and never project modules."""
    late = []
    for path in engine_files() + sorted(PAGES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and node.col_offset > 0:
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or "."] if not node.level else ["."])
                if any(n == "." or n.split(".")[0] in PROJECT_PACKAGES for n in names):
                    late.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert late == []


def test_no_module_reexports_or_forwards_names():
    """`from x import y as y` re-exports and a module-level __getattr__ forward names that live
    elsewhere; a name is imported from the module that defines it."""
    found = []
    for path in engine_files() + sorted(PAGES.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and any(a.asname == a.name for a in node.names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} re-export")
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} __getattr__")
    assert found == []


def test_every_package_says_what_it_holds_and_may_import():
    for init in sorted(ENGINE.rglob("__init__.py")) + sorted(PAGES.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc.split()) >= 8, f"{init.relative_to(ROOT)} needs a docstring"
