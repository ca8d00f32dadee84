"""Run every chapter as a Colab user would, and check it runs top to bottom.

A Colab runtime has PyTorch, numpy, matplotlib, scikit-learn, ipywidgets and ipykernel, and no
relaxlib.
This test builds a fresh virtual environment holding only those -- torch, numpy and matplotlib
at the lock's versions, ipywidgets and ipykernel at the versions Colab ships (ipywidgets 7,
not the lock's 8: the explorers must work with both) -- copies each chapter notebook *alone*
into an empty directory, and executes it there with a Jupyter kernel running in that
environment. The notebook's first cell must install the distribution (``relaxlib`` and the
course package ``dae_course``) itself; ``$RELAXLIB_SOURCE`` points its pip at a copy of this
checkout's packages instead of the repository on GitHub, and that install must leave Colab's
own packages as they are. The distribution is uninstalled again before every chapter, so
every chapter proves its own setup cell.

Slow (a venv with torch, then every chapter): `make test` runs it as its own step,
`make colab-test`, on two workers, each with its own environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import bookinfo  # noqa: E402

NOTEBOOKS = bookinfo.toc_notebooks(ROOT)
# scikit-learn: chapter 8's real digits; Colab preinstalls it too.
LOCK_PACKAGES = ("torch", "numpy", "matplotlib", "scikit-learn")
# What Colab preinstalls (checked against a Colab runtime's `pip list`): installing relaxlib
# must not replace them (pyproject's extras therefore accept ipywidgets >= 7.6).
COLAB_PINS = ("ipywidgets==7.7.1", "ipykernel==6.17.1")
PACKAGES = ("relaxlib", "dae_course")  # the two packages of the one distribution
# One environment per pytest-xdist worker (`make colab-test` runs two side by side).
WORK = ROOT / "_build" / "colab" / os.environ.get("PYTEST_XDIST_WORKER", "main")
KERNEL = "colab-like"


def _lock_pins() -> list[str]:
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[name.strip().lower()] = version.strip()
    return [f"{name}=={pins[name]}" for name in LOCK_PACKAGES] + list(COLAB_PINS)


def _pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True
    )


def _has_relaxlib(python: Path) -> bool:
    """Whether both packages of the distribution are importable in ``python``'s environment."""
    probe = (
        "import importlib.util, sys; "
        f"sys.exit(any(importlib.util.find_spec(p) is None for p in {PACKAGES!r}))"
    )
    return subprocess.run([str(python), "-c", probe], cwd="/").returncode == 0


def _versions(python: Path) -> dict:
    listing = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(listing)}


@pytest.fixture(scope="session")
def colab_python() -> Path:
    """A fresh venv with only what Colab provides, and a kernelspec that runs it."""
    shutil.rmtree(WORK, ignore_errors=True)
    venv = WORK / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    _pip(python, "install", *_lock_pins())
    assert not _has_relaxlib(python), "the Colab-like environment must start without relaxlib"
    versions = _versions(python)
    for pin in COLAB_PINS:
        name, _, version = pin.partition("==")
        assert versions[name] == version, f"{name} {versions[name]} is not Colab's {version}"
    spec = WORK / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Colab-like", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    # pip builds a local directory in place (build/, *.egg-info): each worker installs from
    # its own copy of the packages, so two workers never build in the same folder at once.
    source = WORK / "relaxlib-source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return python


@pytest.fixture(scope="session")
def relaxlib_source(colab_python) -> Path:
    """This checkout's packages, copied for this worker: what $RELAXLIB_SOURCE points at."""
    return WORK / "relaxlib-source"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=str)
def test_chapter_runs_alone_in_a_colab_like_runtime(
    notebook, colab_python, relaxlib_source, tmp_path, monkeypatch
):
    _pip(colab_python, "uninstall", "-y", "relaxlib")
    assert not _has_relaxlib(colab_python)
    before = _versions(colab_python)
    alone = tmp_path / "content"  # Colab's working directory, holding nothing but the notebook
    alone.mkdir()
    copy = alone / Path(notebook).name
    shutil.copy(ROOT / notebook, copy)

    monkeypatch.setenv("RELAXLIB_SOURCE", str(relaxlib_source))
    monkeypatch.setenv("JUPYTER_PATH", str(WORK / "jupyter"))
    for var in ("PYTHONPATH", "RELAXLIB_DEVICE", "VIRTUAL_ENV"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")

    nb = nbformat.read(copy, as_version=4)
    client = NotebookClient(
        nb, kernel_name=KERNEL, timeout=600, resources={"metadata": {"path": str(alone)}}
    )
    client.execute()  # raises CellExecutionError, with the failing cell, on any error

    assert _has_relaxlib(colab_python), "the setup cell did not install relaxlib and dae_course"
    versions = _versions(colab_python)
    assert "relaxlib" in versions
    assert versions["torch"].startswith("2.13.0"), "the setup cell must keep Colab's torch"
    changed = {k: (v, versions.get(k)) for k, v in before.items() if versions.get(k) != v}
    assert not changed, f"the setup cell changed Colab's packages: {changed}"
    assert sorted(os.listdir(alone)) == [copy.name], "the chapter wrote files beside itself"
