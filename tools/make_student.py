"""Write the exercise notebooks: each chapter without its solutions, outputs cleared.

    python tools/make_student.py            # write exercises/NN_name.ipynb (`make student`)
    python tools/make_student.py --check    # exit 1 if one is missing or out of date
    python tools/make_student.py --out DIR  # write them somewhere else

For every notebook of _toc.yml under chapters/, the exercise notebook keeps the chapter's
text and code, the exercise statements, stubs and check cells, and

* drops each solution block: the cells from a ``{solution-start}`` directive to its
  ``{solution-end}`` (sphinx-exercise's gated syntax), which hold the reference solution,
  its check and the demonstrations of typical mistakes;
* drops every later code cell that uses a name the removed solutions defined (it would
  fail with a NameError: it belongs to the solution);
* turns each ``{exercise-start}`` directive into a heading "Exercise N: title" and drops
  the ``{exercise-end}`` markers (Jupyter and Colab would show the raw directives);
* drops, in the exercises section, each sentence (or clause after a semicolon) that
  mentions a solution, since none is there ("... and a hidden solution", "the cell after
  the solution ...");
* starts with a note: the exercise notebook of chapter N, run all cells first, and where
  the worked solutions are (the chapter's page on the website, chapters/NN_name.ipynb);
* clears every output and execution count.

Never losing a learner's work: each exercise notebook records, in its metadata
(``dae_exercises.fingerprint``), a hash of the cells it was generated with. A notebook on
disk whose cells no longer match its own fingerprint (or that has none) has been changed
by someone, so it is left as it is: the regenerated notebook goes beside it, as
``NN_name.new.ipynb``, with a message saying so. (Running the cells changes no fingerprint:
outputs are not work, so a notebook that was only run is replaced.)
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import posixpath
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bookinfo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = "exercises"  # the folder of the exercise notebooks, committed
METADATA_KEY = "dae_exercises"
NOTE_CELL_ID = "exercise-notebook-note"

SOLUTION_START = re.compile(r"^```\{solution-start\}", re.MULTILINE)
SOLUTION_END = re.compile(r"^```\{solution-end\}", re.MULTILINE)
EXERCISE_START = re.compile(
    r"^```\{exercise-start\}[ \t]*(?P<title>[^\n]*)\n(?P<options>(?::[^\n]*\n)*)```[ \t]*\n?",
    re.MULTILINE,
)
EXERCISE_END = re.compile(r"^```\{exercise-end\}[^\n]*\n```[ \t]*\n?", re.MULTILINE)
# A heading of the second level: "## Exercises" opens the exercises section, any other
# "## ..." closes it.
H2 = re.compile(r"^## ", re.MULTILINE)
EXERCISES_HEADING = re.compile(r"^## Exercises\b")
# What an exercise notebook must not promise: a solution (in its exercises section), or
# anything to reveal or hidden (anywhere).
MENTIONS_SOLUTION = re.compile(r"\bsolutions?\b", re.IGNORECASE)
PROMISES = re.compile(
    r"hidden solution|click to reveal|reveal (?:the|a) (?:code|solution|answer)", re.IGNORECASE
)


# ----------------------------------------------------------------- solutions


def _defined_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _used_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def solution_blocks(cells: list) -> list[range]:
    """The index ranges of the solution blocks, start and end markers included."""
    blocks, start = [], None
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        if SOLUTION_START.search(cell.source):
            if start is not None:
                raise ValueError(f"cell {i}: a solution starts inside another one")
            start = i
        if SOLUTION_END.search(cell.source):
            if start is None:
                raise ValueError(f"cell {i}: a solution ends that never started")
            blocks.append(range(start, i + 1))
            start = None
    if start is not None:
        raise ValueError(f"cell {start}: a solution that never ends")
    return blocks


def is_solution(cells: list, i: int) -> bool:
    """Cell i belongs to a solution block (see :func:`solution_blocks`)."""
    return any(i in block for block in solution_blocks(cells))


def _without_solutions(cells: list) -> list:
    drop: set[int] = set()
    removed_names: set[str] = set()
    in_solution = {i for block in solution_blocks(cells) for i in block}
    for i in range(len(cells)):
        if i in in_solution:
            drop.add(i)
            if cells[i].cell_type == "code":
                removed_names |= _defined_names(cells[i].source)
        elif cells[i].cell_type == "code":
            defined = _defined_names(cells[i].source)
            if removed_names & (_used_names(cells[i].source) - defined):
                drop.add(i)
                removed_names |= defined
            else:  # a kept cell that (re)defines a name makes it available again
                removed_names -= defined
    return [c for i, c in enumerate(cells) if i not in drop]


# ----------------------------------------------------------------- text


def _exercise_headings(cells: list) -> None:
    """``{exercise-start} Title`` -> "### Exercise N: Title"; ``{exercise-end}`` dropped."""
    number = 0

    def heading(match: re.Match) -> str:
        nonlocal number
        number += 1
        title = match["title"].strip()
        if re.match(r"Exercise \d+\b", title):  # the chapter numbers its exercises itself
            return f"### {title}\n"
        return f"### Exercise {number}: {title}\n" if title else f"### Exercise {number}\n"

    for cell in cells:
        if cell.cell_type == "markdown":
            text = EXERCISE_START.sub(heading, cell.source)
            cell.source = EXERCISE_END.sub("", text).strip("\n")
    cells[:] = [c for c in cells if c.cell_type != "markdown" or c.source.strip()]


def _sentences(paragraph: str) -> list[str]:
    """A paragraph cut after each full stop (or ! ?) that ends a sentence, spaces kept."""
    return re.split(r"(?<=[.!?])(?=\s+[A-Z*_`$(])", paragraph)


def _drop_mentions(paragraph: str) -> str:
    """The paragraph less its sentences, or clauses after a semicolon, that mention a
    solution."""
    if not MENTIONS_SOLUTION.search(paragraph) or paragraph.lstrip().startswith(("```", "$$")):
        return paragraph
    kept = []
    for sentence in _sentences(paragraph):
        if not MENTIONS_SOLUTION.search(sentence):
            kept.append(sentence)
            continue
        clauses = sentence.split("; ")
        if MENTIONS_SOLUTION.search(clauses[0]):
            continue  # the sentence is about the solution: drop all of it
        head = "; ".join(c for c in clauses if not MENTIONS_SOLUTION.search(c)).rstrip(" .")
        kept.append(head + ".")
    text = "".join(kept).strip()
    return text


def _rewrite_promises(text: str) -> str:
    """The exercises section's text without promising a solution it no longer has."""
    # the sentence every chapter's "## Exercises" opens with, said as it now is
    text = re.sub(
        r"a cell for your answer,\s+a cell that checks it,\s+and a hidden solution",
        "a cell for your answer and a cell that checks it",
        text,
    )
    paragraphs = re.split(r"(\n\s*\n)", text)
    return "".join(
        part if i % 2 else _drop_mentions(part) for i, part in enumerate(paragraphs)
    ).strip("\n")


def _exercises_text(cells: list) -> None:
    """Rewrite every markdown chunk of the exercises section (see :func:`_rewrite_promises`)."""
    inside = False
    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        starts = [0] + [m.start() for m in H2.finditer(cell.source) if m.start() > 0]
        chunks = [cell.source[a:b] for a, b in zip(starts, starts[1:] + [len(cell.source)])]
        out = []
        for chunk in chunks:
            if chunk.startswith("## "):
                inside = bool(EXERCISES_HEADING.match(chunk))
            out.append(_rewrite_promises(chunk) + "\n\n" if inside else chunk)
        cell.source = "".join(out).strip("\n")


# ----------------------------------------------------------------- addresses


def _config() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8")) or {}


def repository(config: dict) -> tuple[str, str, str]:
    """(owner/name, branch, path_to_book) of the repository named in _config.yml."""
    repo = config.get("repository") or {}
    url = urlsplit(repo["url"])
    if url.netloc != "github.com":
        raise ValueError(f"repository.url is not on github.com: {url.geturl()}")
    owner_repo = url.path.strip("/").removesuffix(".git")
    return owner_repo, repo.get("branch") or "main", repo.get("path_to_book") or ""


def website(config: dict) -> str:
    """The published site: html.baseurl, else the GitHub Pages address of the repository
    (where .github/workflows/ci.yml deploys it)."""
    base = (config.get("html") or {}).get("baseurl") or ""
    if base:
        return base.rstrip("/") + "/"
    owner, name = repository(config)[0].split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def colab_url(config: dict, path: str) -> str:
    """The Colab address of a notebook of the repository, ``path`` relative to the book."""
    owner_repo, branch, in_repo = repository(config)
    colab = ((config.get("launch_buttons") or {}).get("colab_url") or "").rstrip("/")
    colab = colab or "https://colab.research.google.com"
    full = posixpath.normpath(posixpath.join(in_repo, path))
    return f"{colab}/github/{owner_repo}/blob/{branch}/{full}"


def exercise_path(chapter: Path | str) -> Path:
    """Where the exercise notebook of ``chapters/NN_name.ipynb`` lives: exercises/NN_name.ipynb."""
    return Path(EXERCISES) / Path(chapter).name


def chapter_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapters of _toc.yml that get an exercise notebook (the notebooks in chapters/)."""
    return [p for p in bookinfo.toc_notebooks(root) if p.parts[0] == "chapters"]


def _note(nb, chapter: Path, config: dict) -> str:
    title = next(
        (
            line[2:].strip()
            for c in nb.cells
            if c.cell_type == "markdown"
            for line in c.source.splitlines()
            if line.startswith("# ")
        ),
        chapter.stem,
    )
    number = re.match(r"\d+", chapter.name)
    which = f"chapter {int(number.group())}" if number else f"`{chapter.as_posix()}`"
    owner_repo, branch, in_repo = repository(config)
    source = posixpath.normpath(posixpath.join(in_repo, chapter.as_posix()))
    page = website(config) + chapter.with_suffix(".html").as_posix()
    github = f"https://github.com/{owner_repo}/blob/{branch}/{source}"
    return (
        f"> **This is the exercise notebook of {which}, *{title}*.** It holds the chapter's"
        " text and code, and its exercises without their solutions.\n>\n"
        "> **Run all cells first** (Jupyter: *Run › Run All Cells*; Colab: *Runtime › Run"
        " all*): the exercises use what the chapter's cells define. Then write your answer in"
        " each exercise's cell and run the check below it: it says *not attempted* until you"
        " do, and when something is off it tries to name the mistake.\n>\n"
        f"> The worked solutions are on [the chapter's page]({page}) of the book's website,"
        f" folded under each exercise, and in [`{source}`]({github}) of the repository.\n"
    )


# ----------------------------------------------------------------- the notebook


def _cells_fingerprint(nb) -> str:
    """A hash of what a learner can change: each cell's type and source (not outputs)."""
    cells = [[c.cell_type, c.source] for c in nb.cells]
    digest = hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def student_copy(
    nb: nbformat.NotebookNode, chapter: Path | str | None = None, config: dict | None = None
) -> nbformat.NotebookNode:
    """The exercise notebook of ``nb`` (see the module docstring); ``chapter`` is its path
    relative to the book (for the note at the top, which is left out without it)."""
    out = nbformat.from_dict(nb)
    out.cells = _without_solutions(out.cells)
    _exercise_headings(out.cells)
    _exercises_text(out.cells)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    out.metadata.pop("widgets", None)
    if chapter is not None:
        chapter = Path(chapter)
        note = nbformat.v4.new_markdown_cell(_note(out, chapter, config or _config()))
        note["id"] = NOTE_CELL_ID
        out.cells.insert(0, note)
        out.metadata[METADATA_KEY] = {
            "generated_from": chapter.as_posix(),
            "generator": "tools/make_student.py (make student)",
            "fingerprint": _cells_fingerprint(out),
        }
    return out


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """What would make ``nb`` a bad exercise notebook: a solution, a demonstration of a
    mistake, or a promise of something it does not hold (empty when there is none)."""
    found = []
    inside = False
    for i, cell in enumerate(nb.cells):
        where = f"cell {i}"
        if cell.cell_type == "markdown":
            if re.search(r"\{(solution|exercise)-(start|end)\}", cell.source):
                found.append(f"{where}: a sphinx-exercise directive was left in")
            if PROMISES.search(cell.source):
                found.append(
                    f"{where}: promises something hidden: {PROMISES.search(cell.source)[0]!r}"
                )
            if cell.get("id") == NOTE_CELL_ID:
                continue
            for chunk in re.split(r"(?m)^(?=## )", cell.source):
                if chunk.startswith("## "):
                    inside = bool(EXERCISES_HEADING.match(chunk))
                if inside and MENTIONS_SOLUTION.search(chunk):
                    found.append(f"{where}: the exercises section mentions a solution")
            continue
        if cell.cell_type != "code":
            continue
        defined = _defined_names(cell.source)
        if any("solution" in name for name in defined):
            found.append(f"{where}: defines a solution ({', '.join(sorted(defined))})")
        for call in re.finditer(r"\bcheck_\w+\(\s*([A-Za-z_]\w*)", cell.source):
            if not call[1].startswith("my_"):
                found.append(f"{where}: checks {call[1]}, not the learner's my_ function")
        if re.search(r"\.mistake\b", cell.source):
            found.append(f"{where}: demonstrates a mistake (uses feedback.mistake)")
    return found


def exercise_notebook(chapter: Path | str, root: Path = ROOT) -> str:
    """The text of the exercise notebook of ``chapter`` (a path relative to ``root``)."""
    nb = nbformat.read(root / chapter, as_version=4)
    return nbformat.writes(student_copy(nb, chapter, _config())) + "\n"


def learner_changed(path: Path) -> bool:
    """Whether the notebook at ``path`` was changed since it was generated: its cells no
    longer match the fingerprint it records (or it records none, or cannot be read)."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - unreadable: someone's file, do not touch it
        return True
    recorded = (nb.metadata.get(METADATA_KEY) or {}).get("fingerprint")
    return recorded != _cells_fingerprint(nb)


def new_path(path: Path) -> Path:
    """``NN_name.ipynb`` -> ``NN_name.new.ipynb``: where a regenerated notebook goes when
    the learner changed the one at ``path``."""
    return path.with_name(path.stem + ".new" + path.suffix)


def write_exercise(target: Path, text: str) -> tuple[str, Path | None]:
    """Write ``text`` to ``target`` unless that would overwrite someone's changes.

    Returns (what happened, where it went): "written", "unchanged", "beside" (the target
    was changed, so it went to ``NN_name.new.ipynb``), or "refused" (that one was changed
    too: nothing written).
    """
    for place, outcome in ((target, "written"), (new_path(target), "beside")):
        if place.exists():
            if place.read_text(encoding="utf-8") == text:
                return ("unchanged" if place == target else "beside"), place
            if learner_changed(place):
                continue
        place.parent.mkdir(parents=True, exist_ok=True)
        place.write_text(text, encoding="utf-8")
        return outcome, place
    return "refused", None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / EXERCISES, help="default: exercises/")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; fail if one is missing or stale"
    )
    args = parser.parse_args(argv)
    failed = 0
    for chapter in chapter_notebooks():
        text = exercise_notebook(chapter)
        target = args.out / chapter.name
        shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
        wrong = problems(nbformat.reads(text, as_version=4))
        if wrong:
            failed += 1
            print(
                f"{shown}: NOT WRITTEN: {chapter} would give an exercise notebook that is not"
                " one (are its exercises sphinx-exercise blocks, each solution in a"
                " {solution-start} ... {solution-end} block?):\n  " + "\n  ".join(wrong),
                file=sys.stderr,
            )
            continue
        if args.check:
            current = target.read_text(encoding="utf-8") if target.exists() else None
            if current != text:
                failed += 1
                state = "missing" if current is None else "out of date"
                print(f"{shown}: {state} (run `make student`)", file=sys.stderr)
            continue
        outcome, place = write_exercise(target, text)
        if outcome == "written":
            print(f"{shown}: written from {chapter}")
        elif outcome == "unchanged":
            print(f"{shown}: up to date")
        elif outcome == "beside":
            new = place.relative_to(ROOT) if place.is_relative_to(ROOT) else place
            print(
                f"{shown}: YOU HAVE CHANGED THIS NOTEBOOK, so it was left as it is. The"
                f" regenerated exercises are in {new}: compare the two, copy what you"
                " need, then delete the one you do not want.",
                file=sys.stderr,
            )
        else:
            failed += 1
            print(
                f"{shown}: NOT WRITTEN: you have changed both it and {new_path(shown)}."
                f" Rename or delete {new_path(shown)} and run `make student` again.",
                file=sys.stderr,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
