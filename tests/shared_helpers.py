"""Helpers that several test files share (tests/ is on sys.path under pytest)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

# Tolerances for comparing two correct computations of the same quantity at a given dtype.
# Half precisions: a few units of their machine epsilon (2**-11 and 2**-8), scaled up for the
# rounding of x/T before the exponential.
TOL = {
    torch.float16: {"rtol": 1e-2, "atol": 1e-2},
    torch.bfloat16: {"rtol": 5e-2, "atol": 5e-2},
    torch.float32: {"rtol": 1e-5, "atol": 1e-6},
    torch.float64: {"rtol": 1e-10, "atol": 1e-12},
}


def stored_slider_html(notebook: Path) -> str:
    """The HTML of the one kernel-free slider stored in ``notebook``."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    found = [
        "".join(out["data"]["text/html"])
        for cell in cells
        if cell["cell_type"] == "code" and "sliders.jshtml(" in "".join(cell["source"])
        for out in cell.get("outputs", [])
        if "text/html" in out.get("data", {})
    ]
    assert len(found) == 1, f"{notebook.name}: expected one stored slider, found {len(found)}"
    return found[0]
