"""Execute each chapter in a fresh kernel and print how long it takes, against its budget.

    make time-chapters                                   # every notebook of _toc.yml
    .venv/bin/python tools/time_chapters.py chapters/08_summary.ipynb   # chosen notebooks
    .venv/bin/python tools/time_chapters.py --markdown timing.md        # also a table

Each notebook runs top to bottom in a new ``python3`` kernel started from this Python's
environment (its ``bin/`` is put first on ``PATH``), in the notebook's own folder, as
Jupyter Book runs it; nothing is written back. The time printed is the wall-clock time of
the whole run, kernel start included; the slowest cell is named to show where it went.

Budget: 30 s a chapter, 60 s for the worked model (chapters/08_summary.ipynb). Exits 1 if a
notebook fails or runs over its budget. Timing, not a test: ``make test`` does not run it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from bookinfo import toc_notebooks  # noqa: E402

DEFAULT_BUDGET_S = 30.0
BUDGET_S = {"chapters/08_summary.ipynb": 60.0}


def budget_for(path: Path) -> float:
    return BUDGET_S.get(path.as_posix(), DEFAULT_BUDGET_S)


def _kernel_environment() -> None:
    """Make the kernelspec ``python3`` resolve to this environment's Python."""
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    share = Path(sys.prefix) / "share" / "jupyter"
    if share.is_dir():
        os.environ["JUPYTER_PATH"] = str(share)
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def time_notebook(path: Path, timeout: int) -> dict:
    """Run one notebook in a fresh kernel; return its timings (seconds)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(ROOT / path, as_version=4)
    marks: dict = {"cells": []}

    def on_cell_start(cell, cell_index, **_):
        marks.setdefault("first_cell", time.perf_counter())
        marks["cell_start"] = time.perf_counter()

    def on_cell_executed(cell, cell_index, **_):
        marks["cells"].append((time.perf_counter() - marks["cell_start"], cell_index))

    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        resources={"metadata": {"path": str((ROOT / path).parent)}},
        on_cell_start=on_cell_start,
        on_cell_executed=on_cell_executed,
    )
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:200]
    except Exception as exc:  # a timeout, a dead kernel: report it, go on to the next
        error = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
    total = time.perf_counter() - start
    slowest = max(marks["cells"], default=(0.0, -1))
    return {
        "path": path,
        "total": total,
        "kernel_start": marks.get("first_cell", start + total) - start,
        "code_cells": sum(1 for c in nb.cells if c.cell_type == "code"),
        "slowest_s": slowest[0],
        "slowest_cell": slowest[1],
        "error": error,
    }


def machine() -> str:
    model = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = os.environ.get("RELAXLIB_DEVICE", "") or "cpu"
    return f"{model}, {os.cpu_count()} logical CPUs, python {platform.python_version()}, {device}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: those of _toc.yml")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)

    _kernel_environment()
    notebooks = [Path(os.path.relpath(p.resolve(), ROOT)) for p in args.notebooks] or toc_notebooks(
        ROOT
    )
    print(machine())
    print(f"{'notebook':<44} {'time s':>7} {'budget':>7} {'kernel s':>8} {'slowest cell':>16}")
    rows, failed = [], False
    for path in notebooks:
        r = time_notebook(path, args.timeout)
        budget = budget_for(path)
        status = "ok" if r["error"] is None and r["total"] <= budget else "OVER"
        if r["error"] is not None:
            status = "FAILED"
        failed |= status != "ok"
        slowest = f"#{r['slowest_cell']}: {r['slowest_s']:.1f} s"
        print(
            f"{path.as_posix():<44} {r['total']:>7.1f} {budget:>7.0f} {r['kernel_start']:>8.1f}"
            f" {slowest:>16}  {status}",
            flush=True,
        )
        if r["error"]:
            print(f"    error: {r['error']}", flush=True)
        rows.append((path, r, budget, status))
    total = sum(r["total"] for _, r, _, _ in rows)
    print(f"{'total':<44} {total:>7.1f}")
    if args.markdown:
        lines = [
            "| notebook | time (s) | budget (s) | slowest cell (s) | |",
            "|---|---:|---:|---:|---|",
        ]
        for path, r, budget, status in rows:
            lines.append(
                f"| `{path.as_posix()}` | {r['total']:.1f} | {budget:.0f} |"
                f" {r['slowest_s']:.1f} (cell {r['slowest_cell']}) | {status} |"
            )
        lines.append(f"| total | {total:.1f} | | | |")
        args.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
