"""The rounded rows and tables the notebooks print.

nbval compares printed text, so the chapters print rounded numbers, never tensor reprs
(which would show a device or a dtype).
"""

from __future__ import annotations

from typing import Iterable, Sequence

__all__ = ["row", "table"]


def row(values, fmt: str = "{:.3f}") -> str:
    """A 1-d tensor (or any iterable of numbers) as one line of rounded numbers.

    >>> import torch
    >>> row(torch.tensor([0.5, 1.0 / 3.0]))
    '[0.500  0.333]'
    """
    if hasattr(values, "tolist"):
        values = values.tolist()
    return "[" + "  ".join(fmt.format(v) for v in values) + "]"


def table(rows: Iterable[Sequence], headers: Sequence[str], fmts: Sequence[str] = ()) -> str:
    """Rows of values as a plain-text table with right-aligned columns.

    ``fmts[j]`` formats column ``j`` (default ``"{}"``); each column is as wide as its
    widest cell.

    >>> print(table([("a", 0.5), ("bb", 0.25)], ["name", "p"], ["{}", "{:.2f}"]))
    name     p
       a  0.50
      bb  0.25
    """
    fmts = list(fmts) + ["{}"] * (len(headers) - len(fmts))
    cells = [[str(h) for h in headers]]
    cells += [[f.format(v) for f, v in zip(fmts, r)] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(headers))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells)
