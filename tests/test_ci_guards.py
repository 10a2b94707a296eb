"""The CI cannot go green by skipping: in CI (CI=1, as `.ci/run` sets it) a missing chromium or
playwright is an error, and any skip whose reason is not on conftest's allow-list fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ALLOWED_CI_SKIPS, unexpected_skips

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _pytest(args: list[str], tmp_path: Path, ci: bool, path: str | None = None):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS)])
    if ci:
        env["CI"] = "1"
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )


def test_only_the_allowed_reasons_pass():
    skipped = [("a::gpu", f"{ALLOWED_CI_SKIPS[0]} (cuda)"), ("b::browser", "chromium is missing")]
    assert unexpected_skips(skipped) == [("b::browser", "chromium is missing")]


def test_a_skip_not_on_the_allow_list_fails_ci_and_only_ci(tmp_path):
    (tmp_path / "test_skips.py").write_text(
        "import pytest\n"
        "def test_needs_gpu():\n    pytest.skip('needs a CUDA GPU')\n"
        "def test_quietly_gone():\n    pytest.skip('something was not installed')\n"
    )
    in_ci = _pytest(["test_skips.py"], tmp_path, ci=True)
    assert in_ci.returncode == pytest.ExitCode.TESTS_FAILED, in_ci.stdout
    assert "test_quietly_gone: something was not installed" in in_ci.stdout
    assert "test_needs_gpu" not in in_ci.stdout.split("unexpected skips", 1)[1]
    outside = _pytest(["test_skips.py"], tmp_path, ci=False)
    assert outside.returncode == pytest.ExitCode.OK, outside.stdout


def test_a_missing_chromium_is_an_error_in_ci(tmp_path):
    """With no chromium on PATH a browser module skips on a laptop and fails to load in CI."""
    browser_test = str(TESTS / "test_browser_lessons.py")
    empty = tmp_path / "bin"
    empty.mkdir()
    in_ci = _pytest(["--collect-only", browser_test], tmp_path, ci=True, path=str(empty))
    assert in_ci.returncode != pytest.ExitCode.OK
    assert "CI must install chromium" in in_ci.stdout
    outside = _pytest(["-rs", browser_test], tmp_path, ci=False, path=str(empty))
    assert outside.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, outside.stdout
    assert "chromium is not installed" in outside.stdout


def test_the_ci_script_sets_ci():
    script = (ROOT / ".ci" / "run").read_text()
    assert "export CI=1" in script


def test_the_ci_script_runs_the_readmes_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    (command,) = [line for line in readme.splitlines() if line.startswith("python3 -m venv")
                  and line.endswith("pytest")]
    run = command.split("&& ", 2)[2]  # after creating and activating the virtual environment
    assert run in (ROOT / ".ci" / "run").read_text().splitlines()
