"""The GPU check's wheel list stays what the book needs (tools/gpu-wheels.txt, tools/gpu_check.py).

The GPU machine reaches no registry: whatever the notebooks, dae_course, relaxlib and the check
import must be on its package list (tools/gpu-machine-packages.txt) or travel as a wheel, and
each wheel is pinned to the lock's version so that the CPU and GPU runs use the same nbval and
kernel. Fast, no network: metadata comes from this environment (.venv, built from the lock).
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import gpu_check  # noqa: E402

# The repository's own modules: its packages, and the helper modules that sit
# beside the tests and tools (pytest and the scripts put those folders on sys.path).
LOCAL = {"relaxlib", "dae_course", "bookinfo"} | {
    path.stem for folder in ("tests", "tools") for path in (ROOT / folder).glob("*.py")
}
# ipykernel imports debugpy only for its debugger, inside try/except ImportError.
LEFT_OUT = {"debugpy"}
# Import names whose distribution this environment may not hold (to name it anyway).
KNOWN = {"yaml": "pyyaml", "sklearn": "scikit-learn", "PIL": "pillow", "IPython": "ipython"}


def _names(path: Path) -> set[str]:
    return {
        gpu_check.normalize(line.strip())
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }


PINS = gpu_check.read_pins()
MACHINE = _names(ROOT / "tools" / "gpu-machine-packages.txt")


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[gpu_check.normalize(name)] = version.strip()
    return pins


def test_lists_are_read():
    assert {"nbval", "ipykernel", "ipywidgets", "nbformat", "jupyter-client"} <= set(PINS)
    assert {"torch", "numpy", "matplotlib", "pytest", "pytest-xdist", "hypothesis"} <= MACHINE


def test_every_wheel_is_pinned_to_the_lock():
    lock = _lock()
    differ = {
        f"{name}=={version} (lock: {lock[key]})"
        for key, (name, version) in PINS.items()
        if key in lock and lock[key] != version
    }
    assert not differ, f"tools/gpu-wheels.txt differs from requirements-lock.txt: {differ}"


def test_no_wheel_for_what_the_machine_has():
    both = set(PINS) & MACHINE
    assert not both, f"already on the GPU machine, drop from tools/gpu-wheels.txt: {both}"


def _applies(requirement: str) -> str | None:
    """The name of a Requires-Dist entry that applies to CPython 3.12 on Linux, no extras."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    req = Requirement(requirement)
    env = default_environment()
    env.update(
        python_version="3.12",
        python_full_version="3.12.3",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
        implementation_name="cpython",
        platform_python_implementation="CPython",
        extra="",
    )
    if req.marker is not None and not req.marker.evaluate(env):
        return None
    return gpu_check.normalize(req.name)


def test_every_wheel_needs_only_wheels_or_the_machine():
    missing = {}
    checked = 0
    for name, version in PINS.values():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        checked += 1
        for requirement in dist.requires or []:
            needed = _applies(requirement)
            if needed and needed not in PINS and needed not in MACHINE | LEFT_OUT:
                missing.setdefault(name, []).append(needed)
    if checked == 0:
        pytest.skip("none of the pinned packages is installed here at its pinned version")
    assert not missing, f"needed on the GPU machine, neither there nor a wheel: {missing}"


def _imports(source: str) -> set[str]:
    """Top-level modules a piece of code imports, except in a try/except ImportError."""
    tree = ast.parse(source)
    optional: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            caught = {
                name.id
                for handler in node.handlers
                if handler.type is not None
                for name in ast.walk(handler.type)
                if isinstance(name, ast.Name)
            }
            if caught & {"ImportError", "ModuleNotFoundError"}:
                # the import tried, and the fallback imported where it fails
                fallbacks = [stmt for handler in node.handlers for stmt in handler.body]
                optional |= {id(n) for stmt in node.body + fallbacks for n in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _sources():
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()
                code = [line for line in lines if not line.lstrip().startswith(("%", "!"))]
                yield notebook, "\n".join(code)
    paths = [*(ROOT / "dae_course").rglob("*.py"), *(ROOT / "relaxlib").rglob("*.py")]
    paths += sorted((ROOT / "tests").glob("test_relaxlib_*.py"))
    paths += [ROOT / "tools" / "gpu_check.py", ROOT / "tools" / "bookinfo.py"]
    paths += [ROOT / "benchmarks" / "bench_relaxlib.py"]
    for path in paths:
        yield path, path.read_text(encoding="utf-8")


def test_every_import_is_on_the_machine_or_a_wheel():
    where = {}
    for path, source in _sources():
        for module in _imports(source):
            where.setdefault(module, set()).add(path.relative_to(ROOT).as_posix())
    third_party = {m: w for m, w in where.items() if m not in LOCAL | sys.stdlib_module_names}
    assert {"torch", "matplotlib"} <= set(third_party)
    owners = metadata.packages_distributions()
    uncovered, unknown = {}, {}
    for module, paths in sorted(third_party.items()):
        dists = {gpu_check.normalize(d) for d in owners.get(module, [])}
        if module in KNOWN:
            dists.add(KNOWN[module])
        if not dists:
            unknown[module] = sorted(paths)
        elif not dists & (MACHINE | set(PINS)):
            uncovered[module] = sorted(paths)
    assert not unknown, f"imported, but no distribution here provides it: {unknown}"
    assert not uncovered, (
        "imported, but neither on the GPU machine (tools/gpu-machine-packages.txt) nor in"
        f" tools/gpu-wheels.txt: {uncovered}"
    )


# ----------------------------------------------------------------------------- the script


def test_to_install_takes_what_is_missing_or_at_another_version():
    pins = {"nbval": ("nbval", "0.11.0"), "traitlets": ("traitlets", "5.16.1")}
    here = {"nbval": "0.11.0", "traitlets": "5.0.0"}
    assert gpu_check.to_install(pins, here.get) == ["traitlets"]
    assert gpu_check.to_install(pins, lambda name: None) == ["nbval", "traitlets"]


def test_pick_wheels_matches_name_and_version(tmp_path):
    for name in (
        "nbval-0.11.0-py2.py3-none-any.whl",
        "rpds_py-2026.9.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "traitlets-5.0.0-py3-none-any.whl",
    ):
        (tmp_path / name).write_bytes(b"")
    pins = {
        "nbval": ("nbval", "0.11.0"),
        "rpds-py": ("rpds-py", "2026.9.1"),
        "traitlets": ("traitlets", "5.16.1"),
    }
    files, missing = gpu_check.pick_wheels(list(pins), pins, tmp_path)
    assert [f.name.split("-")[0] for f in files] == ["nbval", "rpds_py"]
    assert missing == ["traitlets==5.16.1"]
    assert gpu_check.pick_wheels(["nbval"], pins, tmp_path / "absent") == ([], ["nbval==0.11.0"])


def test_read_pins_refuses_a_loose_line(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("# comment\nnbval==0.11.0  # why\nipykernel>=7\n")
    with pytest.raises(ValueError, match="w.txt:3"):
        gpu_check.read_pins(path)


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_relaxlib_sampling" name="test_a" time="0.1"/>
<testcase classname="tests.test_relaxlib_sampling" name="test_cuda_b" time="0">
  <skipped type="pytest.skip" message="needs a CUDA device">skip</skipped></testcase>
<testcase classname="tests.test_x" name="test_c" time="0">
  <skipped message="other reason">skip</skipped></testcase>
<testcase classname="chapters.03_softmax.ipynb" name="Cell 4" time="1">
  <failure message="outputs differ">diff</failure></testcase>
<testcase classname="" name="chapters/09.ipynb" time="0"><error message="boom"/></testcase>
</testsuite></testsuites>"""


def test_parse_junit_counts_and_names_failures(tmp_path):
    report = tmp_path / "r.xml"
    report.write_text(JUNIT)
    counts = gpu_check.parse_junit(report)
    assert (counts.passed, counts.failed, counts.errors) == (1, 1, 1)
    assert (counts.skipped, counts.cuda_skipped) == (2, 1)
    assert counts.failures == [
        "chapters.03_softmax.ipynb::Cell 4",
        "chapters/09.ipynb (error)",
    ]
    assert gpu_check.parse_junit(tmp_path / "absent.xml") is None


def test_summary_says_what_ran_and_what_failed():
    counts = gpu_check.Counts(passed=10, skipped=3, cuda_skipped=3)
    steps = [
        gpu_check.Step("relaxlib tests", True, 12.0, counts=counts),
        gpu_check.Step("nbval, RELAXLIB_DEVICE=cpu", False, 30.0, "8 notebooks"),
    ]
    facts = {"CUDA": "not available: CUDA tests skipped"}
    bench = "W1130 00:29:46.418000 1 torch/utils/cpp_extension.py:178] No CUDA runtime\n"
    text = gpu_check.summary_markdown(facts, steps, bench + "softplus  1e6  1.00")
    assert text.startswith("# GPU check: FAILED (nbval, RELAXLIB_DEVICE=cpu)")
    assert "| CUDA | not available: CUDA tests skipped |" in text
    assert "| relaxlib tests | passed | 10 | 0 | 0 | 3 (3 need CUDA) | 12 |" in text
    assert "softplus  1e6  1.00" in text and "No CUDA runtime" not in text
    partial = gpu_check.summary_markdown(facts, steps, "", running="benchmark")
    assert partial.startswith("# GPU check: INCOMPLETE, stopped or still running at: benchmark;")


def test_makefile_targets_need_no_venv_and_read_the_list():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    rule = re.search(r"^test-gpu:(.*)$", makefile, re.M)
    assert rule and rule[1].strip() == "", "make test-gpu must not bootstrap .venv"
    assert "tools/gpu_check.py" in makefile
    wheels = makefile[makefile.index("\ngpu-wheels:") :]
    assert "-r tools/gpu-wheels.txt" in wheels and "--python-version 3.12" in wheels
    assert "/.whl/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_nbval_sanitizes_as_make_nbval_does():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile[makefile.index("\nnbval:") :].split("\n\n", 1)[0]
    used = re.findall(r"--nbval-sanitize-with\s+(\S+)", recipe)
    default = re.search(r"^NBVAL_SANITIZE \?=[ \t]*(\S*)", makefile, re.M)
    assert default, "the Makefile sets no NBVAL_SANITIZE default for make test-gpu"
    assert used == ([default[1]] if default[1] else []), "make nbval and make test-gpu differ"
    assert gpu_check.DEFAULT_SANITIZE == default[1] or not used
