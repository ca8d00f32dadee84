"""The GPU check: relaxlib's tests, strict nbval over the book, and the benchmark, on CUDA.

    make test-gpu                                  # .venv's Python if there is one, else python3
    make test-gpu PY=python3 GPU_CHECK_OUT=$OUT    # a given interpreter, results under $OUT
    python3 tools/gpu_check.py                     # what make runs

Made for a GPU machine that reaches no package registry. It runs with the interpreter that
runs it and installs nothing from a registry: every package of tools/gpu-wheels.txt that
this interpreter lacks, or holds at another version, is installed from the wheel folder
(``make gpu-wheels`` fills it, on a machine with network) into a temporary folder put first
on PYTHONPATH, with the repository root (relaxlib, dae_course) after it. A kernelspec named
"python3" for this interpreter goes into a temporary JUPYTER_PATH.

Three steps, all run whatever the one before gave:

1. ``tests/test_relaxlib_*.py`` (their CUDA cases run where torch sees a GPU, else skip);
2. strict nbval over every notebook of _toc.yml, with RELAXLIB_DEVICE=cuda (cpu without one);
3. ``benchmarks/bench_relaxlib.py`` at 10^6 elements on that device.

One log (gpu-check.log) and a short summary.md (device, torch, counts, the benchmark table)
go to $GPU_CHECK_OUT (default _build/gpu-check). Exit status 1 if any step failed.

Environment: GPU_CHECK_OUT, GPU_WHEELS (wheel folder, default .whl), GPU_CHECK_WORKERS
(pytest-xdist workers, default min(8, CPUs)), NBVAL_SANITIZE (a --nbval-sanitize-with file;
default tests/nbval-sanitize.cfg, as `make nbval`), GPU_CHECK_BENCH_ARGS (default "--sizes
1e6 --threads 1"), GPU_CHECK_TIMEOUT_S (limit of each step, default 240 s, half of it for
the benchmark), GPU_CHECK_REQUIRE_CUDA=1 (no CUDA device is a failure). summary.md is
rewritten before each step, so a run cut short still says how far it got.
Only the standard library is imported here, so that it runs before anything is installed.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
WHEEL_LIST = ROOT / "tools" / "gpu-wheels.txt"
DEFAULT_BENCH_ARGS = "--sizes 1e6 --threads 1"
DEFAULT_TIMEOUT_S = 240.0
DEFAULT_SANITIZE = "tests/nbval-sanitize.cfg"  # what `make nbval` passes to nbval


# ----------------------------------------------------------------------------- wheels


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Foo_bar.baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = WHEEL_LIST) -> dict[str, tuple[str, str]]:
    """``{normalized name: (name as written, version)}`` of a file of ``name==version`` lines."""
    pins: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)", line)
        if not match:
            raise ValueError(f"{path.name}:{number}: expected name==version, got {raw!r}")
        pins[normalize(match[1])] = (match[1], match[2])
    return pins


def wheel_name_version(filename: str) -> tuple[str, str]:
    """(normalized name, version) from a wheel's file name."""
    parts = Path(filename).name.split("-")
    if len(parts) < 5 or not filename.endswith(".whl"):
        raise ValueError(f"not a wheel file name: {filename}")
    return normalize(parts[0]), parts[1]


def installed_version(name: str) -> Optional[str]:
    """The version of ``name`` this interpreter imports, or None."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def to_install(
    pins: dict[str, tuple[str, str]],
    version_of: Callable[[str], Optional[str]] = installed_version,
) -> list[str]:
    """The pinned packages this interpreter lacks or holds at another version."""
    return [key for key, (name, version) in pins.items() if version_of(name) != version]


def pick_wheels(
    keys: list[str], pins: dict[str, tuple[str, str]], folder: Path
) -> tuple[list[Path], list[str]]:
    """The wheel file of each pinned package in ``keys``, and the pins no file matches."""
    found: dict[tuple[str, str], Path] = {}
    for path in sorted(folder.glob("*.whl")) if folder.is_dir() else []:
        try:
            found.setdefault(wheel_name_version(path.name), path)
        except ValueError:
            continue
    files, missing = [], []
    for key in keys:
        name, version = pins[key]
        path = found.get((key, version))
        if path is None:
            missing.append(f"{name}=={version}")
        else:
            files.append(path)
    return files, missing


# ----------------------------------------------------------------------------- reports


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    cuda_skipped: int = 0
    failures: list[str] = field(default_factory=list)


def parse_junit(path: Path) -> Optional[Counts]:
    """Counts of a pytest --junitxml report (None when there is none to read)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    counts = Counts()
    for case in root.iter("testcase"):
        where = case.get("classname") or case.get("file") or ""
        ident = f"{where}::{case.get('name', '?')}".lstrip(":")
        if case.find("failure") is not None:
            counts.failed += 1
            counts.failures.append(ident)
        elif case.find("error") is not None:
            counts.errors += 1
            counts.failures.append(f"{ident} (error)")
        elif case.find("skipped") is not None:
            counts.skipped += 1
            reason = case.find("skipped").get("message", "")
            if "cuda" in reason.lower():
                counts.cuda_skipped += 1
        else:
            counts.passed += 1
    return counts


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float = 0.0
    note: str = ""
    counts: Optional[Counts] = None


def summary_markdown(
    facts: dict[str, str], steps: list[Step], bench_text: str, running: Optional[str] = None
) -> str:
    """The summary; ``running``: the step under way, for a summary written before the end."""
    failed = [s.name for s in steps if not s.ok]
    head = "PASSED" if not failed else "FAILED (" + ", ".join(failed) + ")"
    if running:
        head = f"INCOMPLETE, stopped or still running at: {running}" + (
            "; failed so far: " + ", ".join(failed) if failed else ""
        )
    out = [f"# GPU check: {head}", "", "| | |", "|---|---|"]
    out += [f"| {key} | {value} |" for key, value in facts.items()]
    out += [
        "",
        "| step | result | passed | failed | errors | skipped | seconds | note |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for s in steps:
        c = s.counts
        cells = ["", "", "", ""]
        if c is not None:
            skipped = str(c.skipped)
            if c.cuda_skipped:
                skipped += f" ({c.cuda_skipped} need CUDA)"
            cells = [str(c.passed), str(c.failed), str(c.errors), skipped]
        result = "passed" if s.ok else "**FAILED**"
        out.append(
            f"| {s.name} | {result} | " + " | ".join(cells) + f" | {s.seconds:.0f} | {s.note} |"
        )
    listed = [(s.name, f) for s in steps if s.counts for f in s.counts.failures]
    if listed:
        out += ["", "## Failed tests", ""]
        out += [f"- {name}: `{ident}`" for name, ident in listed[:40]]
        if len(listed) > 40:
            out.append(f"- ... and {len(listed) - 40} more (gpu-check.log)")
    # torch's own log lines (e.g. "W1130 00:29:46.418 ... No CUDA runtime is found") left out
    table = "\n".join(
        line for line in bench_text.splitlines() if not re.match(r"[IWEF]\d{4} \d\d:", line)
    )
    out += ["", "## Benchmark", "", "```text", table.strip() or "(no output)", "```", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------- running


class Log:
    """Everything the check and its commands print: to the terminal and to one file."""

    def __init__(self, path: Path):
        self.file = path.open("w", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, text: str) -> None:
        with self.lock:
            sys.stdout.write(text)
            sys.stdout.flush()
            self.file.write(text)
            self.file.flush()

    def say(self, text: str) -> None:
        self.write(f"[gpu-check] {text}\n")


def run(cmd: list[str], env: dict[str, str], log: Log, timeout: float) -> tuple[int, str]:
    """Run ``cmd`` in the repository root, its output streamed to the log; (status, output).

    Past ``timeout`` seconds its whole process group is killed and the status is 124.
    """
    log.say("$ " + " ".join(shlex.quote(part) for part in cmd))
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            log.write(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        status = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.say(f"timed out after {timeout:.0f} s: killing it")
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        status = 124
    reader.join(timeout=10)
    return status, "".join(lines)


# What the pinned wheels declare they need, checked against what this Python holds (wheels
# are installed with --no-deps): a clash is reported, not fatal, since it may not matter.
NEEDS = r"""
import json, sys
from importlib import metadata
from packaging.requirements import Requirement
clashes = []
for name in json.loads(sys.argv[1]):
    try:
        requires = metadata.distribution(name).requires or []
    except metadata.PackageNotFoundError:
        continue
    for text in requires:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            have = None
        if have is None or not req.specifier.contains(have, prereleases=True):
            clashes.append(f"{name} needs {req.name}{req.specifier}, found {have or 'none'}")
print("NEEDS " + json.dumps(clashes))
"""

PROBE = r"""
import json, torch
info = {"torch": torch.__version__, "cuda_build": torch.version.cuda,
        "cuda": torch.cuda.is_available()}
if info["cuda"]:
    props = torch.cuda.get_device_properties(0)
    info["device"] = torch.cuda.get_device_name(0)
    info["count"] = torch.cuda.device_count()
    info["memory_gib"] = round(props.total_memory / 2**30, 1)
    torch.ones(1, device="cuda").sum().item()  # a kernel really runs
print("PROBE " + json.dumps(info))
"""


def write_kernelspec(jupyter_path: Path) -> None:
    """A kernelspec "python3" for this interpreter (nbval --nbval-current-env needs none,
    but anything that starts a kernel by name then gets this Python and its PYTHONPATH)."""
    folder = jupyter_path / "kernels" / "python3"
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (gpu check)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")


def pytest_step(
    name: str, args: list[str], env: dict[str, str], log: Log, tmp: Path, timeout: float
) -> Step:
    report = tmp / (re.sub(r"\W+", "-", name) + ".xml")
    start = time.monotonic()
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}"]
    status, _ = run(cmd + args, env, log, timeout)
    step = Step(name, status == 0, time.monotonic() - start, counts=parse_junit(report))
    if status == 124:
        step.note = f"timed out after {timeout:.0f} s"
    elif status == 5:
        step.note = "pytest collected no tests"
    elif status != 0 and (step.counts is None or not step.counts.failures):
        step.note = f"pytest exit status {status} (gpu-check.log)"
    return step


def main() -> int:
    started = time.monotonic()
    out = Path(os.environ.get("GPU_CHECK_OUT") or ROOT / "_build" / "gpu-check")
    out = out if out.is_absolute() else ROOT / out
    out.mkdir(parents=True, exist_ok=True)
    wheels = Path(os.environ.get("GPU_WHEELS") or ROOT / ".whl")
    wheels = wheels if wheels.is_absolute() else ROOT / wheels
    cpus = os.cpu_count() or 1
    workers = os.environ.get("GPU_CHECK_WORKERS") or str(min(8, cpus))
    timeout = float(os.environ.get("GPU_CHECK_TIMEOUT_S") or DEFAULT_TIMEOUT_S)
    bench_args = shlex.split(os.environ.get("GPU_CHECK_BENCH_ARGS") or DEFAULT_BENCH_ARGS)
    sanitize = os.environ.get("NBVAL_SANITIZE", "").strip()
    if not sanitize and (ROOT / DEFAULT_SANITIZE).is_file():
        sanitize = DEFAULT_SANITIZE
    require_cuda = os.environ.get("GPU_CHECK_REQUIRE_CUDA", "") not in ("", "0")

    log = Log(out / "gpu-check.log")
    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    steps: list[Step] = []
    facts: dict[str, str] = {
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "host": f"{platform.node()}, {cpus} CPUs, {platform.machine()}",
        "Python": f"{platform.python_version()} ({sys.executable})",
    }
    log.say(f"Python {platform.python_version()} at {sys.executable}; results in {out}")

    # -- the environment: wheels, PYTHONPATH, a kernelspec, private Jupyter/IPython folders
    env = dict(os.environ)
    site = tmp / "site"
    start = time.monotonic()
    pins = read_pins()
    keys = to_install(pins)
    wheel_step = Step("wheels", True)
    python_path = [str(ROOT)]
    notes = []
    if keys:
        files, missing = pick_wheels(keys, pins, wheels)
        if missing:
            wheel_step.ok = False
            shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
            notes.append(
                f"{len(missing)} not in {wheels} (run `make gpu-wheels` where pip reaches"
                f" PyPI, then bring that folder): {shown}"
            )
            log.say("missing wheels: " + ", ".join(missing))
        if files:
            cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index"]
            cmd += ["--no-deps", "--no-compile", "--no-cache-dir", "--disable-pip-version-check"]
            cmd += ["--target", str(site)] + [str(f) for f in files]
            status, _ = run(cmd, env, log, timeout)
            if status != 0:
                wheel_step.ok = False
                notes.append(f"pip install of {len(files)} wheels from {wheels} failed ({status})")
            else:
                python_path.insert(0, str(site))
                notes.append(f"{len(files)} installed from {wheels.name}/ into a temporary folder")
    else:
        notes.append("none needed: every pinned package is here at its version")
    wheel_step.note = "; ".join(notes)
    wheel_step.seconds = time.monotonic() - start
    steps.append(wheel_step)
    if env.get("PYTHONPATH"):
        python_path.append(env["PYTHONPATH"])
    jupyter = tmp / "jupyter"
    write_kernelspec(jupyter)
    env.update(
        PYTHONPATH=os.pathsep.join(python_path),
        PYTHONUNBUFFERED="1",
        JUPYTER_PATH=str(jupyter),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        IPYTHONDIR=str(tmp / "ipython"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )

    # -- do the wheels find what they need? (debugpy is left out on purpose)
    status, text = run([sys.executable, "-c", NEEDS, json.dumps(list(pins))], env, log, 60)
    for line in text.splitlines():
        if line.startswith("NEEDS "):
            clashes = [c for c in json.loads(line[len("NEEDS ") :]) if "needs debugpy" not in c]
            if clashes:
                listed = "; ".join(clashes)
                wheel_step.note += f"; declared needs not met (may not matter): {listed}"

    # -- what torch sees
    status, text = run([sys.executable, "-c", PROBE], env, log, 120)
    probe = {}
    for line in text.splitlines():
        if line.startswith("PROBE "):
            probe = json.loads(line[len("PROBE ") :])
    cuda = bool(probe.get("cuda"))
    device = "cuda" if cuda else "cpu"
    if not probe:
        facts["torch"] = f"could not be imported (status {status}; gpu-check.log)"
    else:
        facts["torch"] = f"{probe['torch']} (built for CUDA {probe['cuda_build'] or 'none'})"
    if cuda:
        facts["CUDA"] = (
            f"{probe['device']} ({probe['memory_gib']} GiB), {probe['count']} device(s):"
            " CUDA tests run, nbval with RELAXLIB_DEVICE=cuda, benchmark on cuda"
        )
    else:
        facts["CUDA"] = (
            "not available: CUDA tests skipped, nbval with RELAXLIB_DEVICE=cpu,"
            " benchmark on the CPU"
        )
    log.say(f"torch {probe.get('torch', '?')}; CUDA: {facts['CUDA']}")
    if require_cuda and not cuda:
        steps.append(Step("CUDA device", False, note="GPU_CHECK_REQUIRE_CUDA is set"))
    env["RELAXLIB_DEVICE"] = device

    def progress(running: str) -> None:
        """Rewrite summary.md now, so that a run cut short still says how far it got."""
        text = summary_markdown(facts, steps, "", running)
        (out / "summary.md").write_text(text, encoding="utf-8")

    # -- 1. relaxlib's tests
    progress("relaxlib tests")
    tests = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("tests/test_relaxlib_*.py"))
    steps.append(pytest_step("relaxlib tests", ["-n", workers] + tests, env, log, tmp, timeout))

    # -- 2. strict nbval over the book's notebooks
    progress("nbval")
    nb_name = f"nbval, RELAXLIB_DEVICE={device}"
    try:
        sys.path.insert(0, str(ROOT / "tools"))
        import bookinfo

        notebooks = [p.as_posix() for p in bookinfo.toc_notebooks()]
    except Exception as error:  # a broken _toc.yml or no yaml: say so, go on
        steps.append(Step(nb_name, False, note=f"no notebook list: {error}"))
    else:
        args = ["--nbval", "--nbval-current-env", "-n", workers, "--dist", "loadfile"]
        if sanitize:
            args += ["--nbval-sanitize-with", sanitize]
        step = pytest_step(nb_name, args + notebooks, env, log, tmp, timeout)
        step.note = (f"{len(notebooks)} notebooks; " + step.note).rstrip("; ")
        steps.append(step)

    # -- 3. the benchmark (a short step: half the limit of the others)
    progress("benchmark")
    start = time.monotonic()
    table = tmp / "bench.md"
    cmd = [sys.executable, "benchmarks/bench_relaxlib.py", "--device", device]
    status, bench_text = run(cmd + bench_args + ["--markdown", str(table)], env, log, timeout / 2)
    note = " ".join(bench_args)
    if status != 0:
        note += f"; exit status {status}" + (" (timed out)" if status == 124 else "")
    steps.append(Step(f"benchmark on {device}", status == 0, time.monotonic() - start, note))

    facts["took"] = f"{time.monotonic() - started:.0f} s"
    summary = summary_markdown(facts, steps, bench_text)
    (out / "summary.md").write_text(summary, encoding="utf-8")
    log.write("\n" + summary)
    log.file.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(s.ok for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
