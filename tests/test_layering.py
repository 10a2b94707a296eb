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


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    """`file:line` of each import of streamlit (plain, from, or by name at run time)."""
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
        if any(name.split(".")[0] == FORBIDDEN for name in names):
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


def test_no_engine_file_imports_streamlit():
    offenders = []
    for path in engine_files():
        offenders += forbidden_imports(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        )
    assert offenders == []


def test_importing_the_engine_does_not_load_streamlit():
    modules = sorted(
        f"playground.{p.stem}" for p in engine_files() if p.stem not in ("__init__", "__main__")
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
