"""Run notebooks top to bottom in a fresh kernel and save them with their outputs.

    .venv/bin/python tools/execute_notebook.py chapters/06_reinforce.ipynb [...]

Each notebook runs in its own folder with the ``python3`` kernel of this Python's
environment (its ``bin/`` first on ``PATH``), as nbval and Jupyter Book run it, and is
written back in place. A cell that raises stops the run and nothing is written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    env_bin = str(Path(sys.executable).parent)
    os.environ["PATH"] = env_bin + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,  # the website shows no live widget: don't ship its state
    )
    client.execute()
    for cell in nb.cells:  # timestamps would change the file on every run
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        execute(Path(arg))
        print("executed", arg)
