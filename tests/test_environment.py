"""The pinned environment is stated in several files; these tests keep them in agreement.

- requirements-lock.txt: the full pinned set that `make` installs into .venv;
- requirements.in and environment.yml: the top-level pins, for pip and for conda users;
- pyproject.toml: relaxlib's own, deliberately loose, dependencies (Colab keeps its torch);
- package.json / package-lock.json: the JavaScript that the website serves itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(lines: list[str], source: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"{source}: {line!r} is not an exact 'name==version' pin"
        name = canonical(match.group(1))
        assert name not in pins, f"{source}: {name} is pinned twice"
        pins[name] = match.group(2)
    return pins


@pytest.fixture(scope="module")
def lock() -> dict[str, str]:
    path = ROOT / "requirements-lock.txt"
    return parse_pins(path.read_text(encoding="utf-8").splitlines(), path.name)


@pytest.fixture(scope="module")
def requirements_in() -> dict[str, str]:
    path = ROOT / "requirements.in"
    return parse_pins(path.read_text(encoding="utf-8").splitlines(), path.name)


@pytest.fixture(scope="module")
def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def conda_python(environment: dict) -> str:
    specs = [
        dep
        for dep in environment["dependencies"]
        if isinstance(dep, str) and re.match(r"^python\s*[=<>]", dep)
    ]
    assert len(specs) == 1, f"environment.yml must name python exactly once, found {specs}"
    match = re.fullmatch(r"python\s*=?=\s*(\d+\.\d+)(\.\*)?", specs[0].strip())
    assert match, f"environment.yml: pin python to a minor version (python=3.X), not {specs[0]!r}"
    return match.group(1)


def conda_pip_pins(environment: dict) -> dict[str, str]:
    sections = [dep["pip"] for dep in environment["dependencies"] if isinstance(dep, dict)]
    assert len(sections) == 1, "environment.yml needs exactly one 'pip:' section"
    return parse_pins(sections[0], "environment.yml pip section")


# ----------------------------------------------------------------- the lock itself


def test_lock_pins_torch_exactly(lock):
    # The CPU wheel of this release is available offline; another spec can pull a CUDA build.
    assert lock.get("torch") == "2.13.0", "the lock must say torch==2.13.0 (no '+cpu' label)"


def test_lock_has_no_cuda_runtime(lock):
    cuda = sorted(name for name in lock if name.startswith(("nvidia-", "triton")))
    assert not cuda, f"the lock pulls a CUDA build of torch: {cuda}"


def test_lock_pins_jupyter_book_1(lock):
    # Jupyter Book 2 is a different tool that does not read _config.yml / _toc.yml.
    assert Version(lock["jupyter-book"]).major == 1
    assert Version(lock["jupyter-book"]) >= Version("1.0.4.post1")


def test_lock_leaves_out_relaxlib_and_pip(lock):
    assert "relaxlib" not in lock, "relaxlib is installed from the checkout, not the lock"
    assert "pip" not in lock


def test_lock_can_install_relaxlib_without_build_isolation(lock):
    # `make` runs `pip install -e . --no-build-isolation`: the build backend must be locked.
    assert "setuptools" in lock


# ----------------------------------------------------------------- agreement with the lock


def test_requirements_in_agrees_with_lock(requirements_in, lock):
    missing = sorted(set(requirements_in) - set(lock))
    assert not missing, f"requirements.in pins packages the lock lacks: {missing}"
    differ = {
        name: (version, lock[name])
        for name, version in requirements_in.items()
        if version != lock[name]
    }
    assert not differ, f"requirements.in and the lock disagree (in, lock): {differ}"


def test_environment_yml_pip_pins_agree_with_lock(environment, lock):
    pins = conda_pip_pins(environment)
    assert pins, "environment.yml pins nothing"
    missing = sorted(set(pins) - set(lock))
    assert not missing, f"environment.yml pins packages the lock lacks: {missing}"
    differ = {
        name: (version, lock[name]) for name, version in pins.items() if version != lock[name]
    }
    assert not differ, f"environment.yml and the lock disagree (yml, lock): {differ}"


def test_environment_yml_names_every_top_level_pin(environment, requirements_in):
    assert set(conda_pip_pins(environment)) == set(requirements_in), (
        "environment.yml's pip section and requirements.in must list the same packages"
    )


def test_environment_yml_python_agrees(environment, pyproject):
    python = conda_python(environment)
    lock_header = (ROOT / "requirements-lock.txt").read_text(encoding="utf-8")
    match = re.search(r"^# python: (\d+\.\d+)$", lock_header, flags=re.MULTILINE)
    assert match, "requirements-lock.txt must record the Python it was made with ('# python: X.Y')"
    assert python == match.group(1), (
        f"environment.yml asks for python {python}, the lock was made with {match.group(1)}"
    )
    requires = pyproject["project"]["requires-python"]
    assert Version(python) in Requirement(f"python{requires}").specifier, (
        f"python {python} is outside relaxlib's requires-python {requires!r}"
    )


# ----------------------------------------------------------------- relaxlib stays loose


def project_requirements(pyproject) -> list[Requirement]:
    project = pyproject["project"]
    requirements = [Requirement(dep) for dep in project.get("dependencies", [])]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += [Requirement(dep) for dep in extra]
    return requirements


def test_pyproject_keeps_torch_loose(pyproject):
    torch = [Requirement(dep) for dep in pyproject["project"]["dependencies"]]
    torch = [req for req in torch if canonical(req.name) == "torch"]
    assert len(torch) == 1, "relaxlib must depend on torch"
    spec = torch[0].specifier
    assert Version("2.2") in spec and Version("2.13.0") in spec and Version("3.0") in spec, (
        f"relaxlib's torch requirement must stay 'torch>=2.2' (no pin, no cap), not {spec}"
    )


def test_pyproject_does_not_pin_numpy(pyproject):
    for req in project_requirements(pyproject):
        if canonical(req.name) == "numpy":
            operators = {spec.operator for spec in req.specifier}
            assert not operators & {"==", "===", "~=", "<", "<="}, (
                f"relaxlib must not pin or cap numpy (Colab keeps its own): {req}"
            )


# ----------------------------------------------------------------- the site's JavaScript


def test_npm_dependencies_are_exact_and_locked():
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    locked = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    deps = package["dependencies"]
    assert set(deps) == {"requirejs", "@jupyter-widgets/html-manager"}
    tools = package["devDependencies"]
    for name, version in {**deps, **tools}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}: pin an exact version"
        assert locked[f"node_modules/{name}"]["version"] == version, (
            f"package-lock.json has another {name}; run `npm install` and commit the lock"
        )
    # site/mathjax_svg.cjs typesets the math at build time with MathJax 3's API
    assert tools["mathjax-full"].startswith("3."), "site/mathjax_svg.cjs is written for MathJax 3"


def test_widget_manager_matches_ipywidgets(lock):
    # @jupyter-widgets/html-manager 1.x renders the widget state that ipywidgets 8 saves.
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    manager = Version(package["dependencies"]["@jupyter-widgets/html-manager"])
    ipywidgets = Version(lock["ipywidgets"])
    assert (ipywidgets.major, manager.major) == (8, 1), (
        f"ipywidgets {ipywidgets} needs a matching @jupyter-widgets/html-manager, not {manager}"
    )


def _requires_closure(roots: list[str]) -> set[str]:
    """Every distribution that ``roots`` need, following the installed metadata."""
    from importlib.metadata import PackageNotFoundError, distribution

    seen, todo = set(), [(canonical(r), ()) for r in roots]
    while todo:
        name, extras = todo.pop()
        key = (name, tuple(sorted(extras)))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((canonical(req.name), tuple(req.extras)))
    return {name for name, _ in seen}


def test_every_locked_package_is_required(requirements_in, lock):
    # The lock is what requirements.in needs, nothing else: a front end installed into
    # .venv by hand (JupyterLab, say) must not leak into it through `make lock`.
    needed = _requires_closure(list(requirements_in))
    stray = sorted(name for name in lock if name not in needed)
    assert not stray, (
        f"requirements-lock.txt holds packages that requirements.in does not need: {stray}; "
        "rebuild .venv from requirements.in alone (make distclean venv) before `make lock`"
    )


def test_requires_closure_follows_dependencies():
    closure = _requires_closure(["nbval"])
    assert {"nbval", "pytest", "ipykernel", "jupyter-client"} <= closure
    assert "jupyter-book" not in closure
