"""Packaging tells the truth: an installed package (a plain, non-editable `pip install .`) finds
the shipped example checkpoints and classifier, and writes nothing next to itself; run from a
checkout, it reads and writes the checkout's checkpoints/ as before."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from playground import paths
from playground.measures import classifier

ROOT = Path(__file__).resolve().parent.parent


def test_from_a_checkout_the_checkouts_folders_are_used(monkeypatch):
    monkeypatch.delenv(paths.CLASSIFIERS_ENV, raising=False)
    assert paths.checkout() == ROOT
    assert paths.shipped_checkpoints() == ROOT / "checkpoints"
    assert paths.classifiers_dir() == ROOT / "checkpoints" / "classifiers"
    assert classifier.find_classifier("digits-32-1") == (
        ROOT / "checkpoints" / "classifiers" / "digits-32-1.json"
    )


def test_an_installed_package_reads_its_share_folder_and_writes_to_the_user_cache(
    tmp_path, monkeypatch
):
    site_packages = tmp_path / "env" / "lib" / "site-packages"
    (site_packages / "playground").mkdir(parents=True)
    share = tmp_path / "env" / "share" / "gan-playground" / "checkpoints"
    share.mkdir(parents=True)
    monkeypatch.setattr(paths, "PACKAGE_DIR", site_packages / "playground")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(paths.CLASSIFIERS_ENV, raising=False)
    assert paths.checkout() is None
    assert paths.shipped_checkpoints() == share
    assert paths.classifiers_dir() == tmp_path / "cache" / "gan-playground" / "classifiers"
    assert classifier.classifier_dir() == paths.classifiers_dir()
    monkeypatch.setenv(paths.CLASSIFIERS_ENV, str(tmp_path / "mine"))
    assert classifier.classifier_dir() == tmp_path / "mine"


# ---------------------------------------------------------------------- a real install
def _source_copy(dest: Path) -> Path:
    """What `pip install .` reads, copied, so building never writes into the checkout."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "playground", dest / "playground",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "checkpoints" / "examples", dest / "checkpoints" / "examples")
    (dest / "checkpoints" / "classifiers").mkdir()
    for path in (ROOT / "checkpoints" / "classifiers").glob("digits-32-1.*"):
        shutil.copy2(path, dest / "checkpoints" / "classifiers" / path.name)
    return dest


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.slow
def test_a_plain_install_finds_shipped_files_and_writes_nothing_beside_itself(tmp_path):
    pytest.importorskip("setuptools")
    source = tmp_path / "source"
    source.mkdir()
    _source_copy(source)
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    env_site = Path(
        subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       capture_output=True, text=True, check=True).stdout.strip()
    )
    # The dependencies (torch, …) come from this test's environment, after the venv's own
    # site-packages, so the venv's installed `playground` is the one imported.
    (env_site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run(pip + ["install", "--no-deps", "--no-build-isolation", "--ignore-installed",
                          "--quiet", str(source)], check=True, cwd=tmp_path)
    installed = env_site / "playground"
    assert (installed / "cli.py").is_file()
    before = _files(env_dir)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop(paths.CLASSIFIERS_ENV, None)
    env.pop("PYTHONPATH", None)
    work = tmp_path / "work"  # not the checkout: nothing can be found there by accident
    work.mkdir()

    def run(*args: str) -> str:
        done = subprocess.run(args, capture_output=True, text=True, cwd=work, env=env,
                              timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    found = run(str(python), "-c", "import playground, playground.measures.classifier as c; "
                "print(playground.__file__); print(c.find_classifier('digits-32-1')); "
                "print(c.classifier_dir())").splitlines()
    assert Path(found[0]).is_relative_to(installed)
    shipped = env_dir / "share" / "gan-playground" / "checkpoints"
    assert Path(found[1]) == shipped / "classifiers" / "digits-32-1.json", "shipped classifier"
    assert Path(found[2]) == tmp_path / "cache" / "gan-playground" / "classifiers"
    assert "ring8-stable" in run(str(env_dir / "bin" / "gan-playground"), "presets")
    example = shipped / "examples" / "ring8-stable"
    out = work / "grid.png"
    run(str(env_dir / "bin" / "gan-playground"), "sample", str(example), "--n", "16",
        "--out", str(out))
    assert out.is_file()
    assert _files(env_dir) == before, "nothing was written into the installed environment"
