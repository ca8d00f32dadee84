"""`make student`: the exercise notebooks in exercises/, and the learner's work in them.

For every chapter, its exercise notebook (1) is committed and is what `make student`
writes from the chapter now; (2) holds no solution, no demonstration of a mistake, no
output, and promises nothing hidden; (3) keeps every exercise stub and its check, and opens
with a note (which chapter, run all first, where the worked solutions are); (4) uses no name
that only a removed solution defined; (5) runs top to bottom up to its first exercise
check, which answers "not attempted" for the untouched stub.

And regenerating never overwrites a notebook the learner has changed: an edited answer
survives `make student`, the regenerated notebook goes beside it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402

CHAPTERS = make_student.chapter_notebooks(ROOT)
STUB = "raise NotImplementedError"
CONFIG = make_student._config()


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _generated(chapter):
    original = nbformat.read(ROOT / chapter, as_version=4)
    return original, make_student.student_copy(original, chapter, CONFIG)


def _committed(chapter):
    path = ROOT / make_student.exercise_path(chapter)
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: run `make student`"
    return nbformat.read(path, as_version=4)


def test_every_chapter_gets_an_exercise_notebook():
    assert len(CHAPTERS) >= 8, CHAPTERS
    assert [make_student.exercise_path(c).as_posix() for c in CHAPTERS] == [
        f"exercises/{c.name}" for c in CHAPTERS
    ]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_exercise_notebook_is_committed_and_up_to_date(chapter):
    path = ROOT / make_student.exercise_path(chapter)
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: run `make student`"
    expected = make_student.exercise_notebook(chapter)
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(ROOT)} is not what `make student` writes from {chapter} now:"
        " run `make student` and commit it"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_no_solution_no_mistake_no_promise(chapter):
    original, copy = _generated(chapter)
    assert make_student.problems(copy) == []
    blocks = make_student.solution_blocks(original.cells)
    assert len(blocks) >= 2, f"{chapter}: fewer than two exercises with a solution"
    kept = "\n".join(c.source for c in copy.cells)
    for block in blocks:
        for i in block:
            source = original.cells[i].source.strip()
            if original.cells[i].cell_type == "code" and source:
                assert source not in kept, f"{chapter}: code cell {i} of a solution survived"
    assert "{solution" not in kept and "{exercise" not in kept
    assert not re.search(r"hidden solution|click to reveal", kept, re.IGNORECASE)
    assert all(not c.outputs and c.execution_count is None for c in _code(copy))
    assert "widgets" not in copy.metadata


@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_exercises_kept_as_numbered_headings(chapter):
    original, copy = _generated(chapter)
    stubs = [c.source for c in _code(original) if STUB in c.source]
    blocks = make_student.solution_blocks(original.cells)
    assert len(stubs) == len(blocks), f"{chapter}: every exercise needs a stub and a solution"
    assert [c.source for c in _code(copy) if STUB in c.source] == stubs
    headings = re.findall(r"(?m)^### Exercise (\d+): \S", "\n".join(c.source for c in copy.cells))
    assert headings == [str(n) for n in range(1, len(stubs) + 1)]
    for i, cell in enumerate(copy.cells):  # each stub is followed by its check
        if cell.cell_type == "code" and STUB in cell.source:
            after = copy.cells[i + 1]
            assert after.cell_type == "code" and "check_" in after.source, (
                f"{chapter}: the stub in cell {i} is not followed by its check"
            )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_opens_with_a_note_on_how_to_use_it(chapter):
    copy = _committed(chapter)
    note = copy.cells[0]
    assert note.cell_type == "markdown" and note.id == make_student.NOTE_CELL_ID
    number = int(re.match(r"\d+", chapter.name).group())
    assert f"exercise notebook of chapter {number}," in note.source
    assert "Run all cells first" in note.source
    owner_repo, branch, _ = make_student.repository(CONFIG)
    assert f"https://github.com/{owner_repo}/blob/{branch}/{chapter.as_posix()}" in note.source
    page = make_student.website(CONFIG) + chapter.with_suffix(".html").as_posix()
    assert f"]({page})" in note.source
    assert copy.cells[1].source.startswith("# "), "the chapter's title comes right after"


def test_exercise_text_rewritten_not_truncated():
    cell = nbformat.v4.new_markdown_cell
    cells = [
        cell(
            "## Exercises\n\nEach exercise has a cell for your answer, a cell that checks it,"
            " and a hidden solution.\nUse plain `torch`."
        ),
        cell(
            "```{exercise-start} A title with $x$\n:label: ex-a\n```\n\nDo it. The checker"
            " tries three inputs; the cell after the solution then plots it.\n\nMore."
        ),
        cell("```{exercise-end}\n```"),
        cell("## Summary\n\nThe lasso solution is sparse."),
    ]
    make_student._exercise_headings(cells)
    make_student._exercises_text(cells)
    assert [c.source for c in cells] == [
        "## Exercises\n\nEach exercise has a cell for your answer and a cell that checks it."
        "\nUse plain `torch`.",
        "### Exercise 1: A title with $x$\n\nDo it. The checker tries three inputs.\n\nMore.",
        "## Summary\n\nThe lasso solution is sparse.",  # outside the exercises: untouched
    ]


def test_solution_blocks_must_be_closed():
    cell = nbformat.v4.new_markdown_cell
    with pytest.raises(ValueError, match="never ends"):
        make_student.solution_blocks([cell("```{solution-start} ex-a\n```")])
    with pytest.raises(ValueError, match="never started"):
        make_student.solution_blocks([cell("```{solution-end}\n```")])
    cells = [
        cell("a"),
        cell("```{solution-start} ex-a\n```"),
        cell("b"),
        cell("```{solution-end}\n```"),
    ]
    assert make_student.solution_blocks(cells) == [range(1, 4)]


def test_problems_finds_solutions_and_mistake_demonstrations():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("Solution (click to reveal the code):"),
        nbformat.v4.new_code_cell("def softplus_solution(x):\n    return x"),
        nbformat.v4.new_code_cell("feedback = ex.check_softplus(textbook)\nfeedback.mistake"),
        nbformat.v4.new_code_cell("ex.check_softplus(my_softplus)"),
    ]
    found = "\n".join(make_student.problems(nb))
    assert "cell 0: promises something hidden" in found
    assert "cell 1: defines a solution" in found
    assert "cell 2: checks textbook" in found and "cell 2: demonstrates a mistake" in found
    assert "cell 3" not in found


@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_no_name_left_undefined(chapter, tmp_path):
    copy = _committed(chapter)
    code = "\n\n".join(
        "\n".join(
            line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for c in _code(copy)
    )
    script = tmp_path / "student.py"
    script.write_text(code, encoding="utf-8")
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", "--isolated", "--select", "F821", "--output-format", "concise"]
        + [str(script)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"{chapter}: the exercise notebook uses undefined names:\n{result.stdout}"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_runs_up_to_the_first_exercise(chapter, tmp_path, monkeypatch):
    copy = _committed(chapter)
    first_stub = next(
        i for i, c in enumerate(copy.cells) if c.cell_type == "code" and STUB in c.source
    )
    check = next(
        i for i in range(first_stub + 1, len(copy.cells)) if copy.cells[i].cell_type == "code"
    )
    copy.cells = copy.cells[: check + 1]
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{Path('/usr/bin')}:{Path('/bin')}")
    NotebookClient(copy, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = "".join(
        out.get("text", "") + out.get("data", {}).get("text/plain", "")
        for out in copy.cells[check].outputs
    )
    assert "not attempted" in shown, (
        f"{chapter}: the first check did not report 'not attempted': {shown!r}"
    )


# ----------------------------------------------------------------- the learner's work


def _make_student(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_student.py"), "--out", str(out)],
        capture_output=True,
        text=True,
    )


def _answer(path: Path, answer: str) -> None:
    """Write ``answer`` into the first exercise stub of the notebook at ``path``."""
    nb = nbformat.read(path, as_version=4)
    stub = next(c for c in nb.cells if c.cell_type == "code" and STUB in c.source)
    stub.source = stub.source.replace(STUB, answer)
    nbformat.write(nb, path)


ANSWER = "return 42  # the learner's answer"


def test_regenerating_never_overwrites_an_edited_answer(tmp_path):
    # the last chapter that gives a proper exercise notebook (all of them, once converted)
    chapter = [c for c in CHAPTERS if not make_student.problems(_generated(c)[1])][-1]
    first = _make_student(tmp_path)
    target = tmp_path / chapter.name
    assert target.is_file(), first.stdout + first.stderr
    _answer(target, ANSWER)
    edited = target.read_text(encoding="utf-8")

    again = _make_student(tmp_path)
    assert target.read_text(encoding="utf-8") == edited, "the learner's answer was overwritten"
    assert ANSWER in target.read_text(encoding="utf-8")
    beside = tmp_path / chapter.name.replace(".ipynb", ".new.ipynb")
    assert beside.read_text(encoding="utf-8") == make_student.exercise_notebook(chapter)
    assert f"{target}: YOU HAVE CHANGED THIS NOTEBOOK" in again.stderr
    assert str(beside) in again.stderr
    # the other chapters, untouched by the learner, are left as they were
    assert sorted(p.name for p in tmp_path.glob("*.new.ipynb")) == [beside.name]

    # a third run changes nothing: the answer stays, the .new copy is refreshed in place
    third = _make_student(tmp_path)
    assert ANSWER in target.read_text(encoding="utf-8")
    assert "YOU HAVE CHANGED" in third.stderr


def test_refuses_when_the_copy_beside_it_was_edited_too(tmp_path):
    target = tmp_path / "03_x.ipynb"
    text = make_student.exercise_notebook(CHAPTERS[0])
    assert make_student.write_exercise(target, text) == ("written", target)
    assert make_student.write_exercise(target, text) == ("unchanged", target)
    _answer(target, ANSWER)
    beside = make_student.new_path(target)
    assert make_student.write_exercise(target, text) == ("beside", beside)
    _answer(beside, "return 'mine too'")
    kept = target.read_text(encoding="utf-8"), beside.read_text(encoding="utf-8")
    assert make_student.write_exercise(target, text) == ("refused", None)
    assert (target.read_text(encoding="utf-8"), beside.read_text(encoding="utf-8")) == kept


def test_a_notebook_only_run_is_replaced_and_one_without_fingerprint_is_kept(tmp_path):
    target = tmp_path / "03_x.ipynb"
    text = make_student.exercise_notebook(CHAPTERS[0])
    make_student.write_exercise(target, text)
    nb = nbformat.read(target, as_version=4)
    for n, cell in enumerate(_code(nb), start=1):  # as Jupyter saves it after Run All
        cell.execution_count = n
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    nbformat.write(nb, target)
    assert not make_student.learner_changed(target), "outputs are not the learner's work"
    assert make_student.write_exercise(target, text) == ("written", target)
    assert target.read_text(encoding="utf-8") == text

    del nb.metadata[make_student.METADATA_KEY]  # e.g. a copy saved by another tool
    nbformat.write(nb, target)
    assert make_student.learner_changed(target)
    assert make_student.write_exercise(target, text)[0] == "beside"


def test_exercises_live_outside_what_make_clean_removes():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    clean = re.search(r"(?m)^clean:.*\n((?:\t.*\n)+)", makefile)
    assert clean, "no clean target in the Makefile"
    removed = clean.group(1).split()
    assert make_student.EXERCISES not in removed and not any(
        make_student.EXERCISES.startswith(p.rstrip("/") + "/") for p in removed
    )
    student = re.search(r"(?m)^student:.*\n((?:\t.*\n)+)", makefile)
    assert student and "make_student.py" in student.group(1)
    assert "_build" not in student.group(1), "make student must write exercises/, not _build/"
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "exercises/*.new.ipynb" in ignored  # a learner's side copies stay out of git


def test_intro_guides_learners_and_instructors():
    from dae_course.checking import Feedback

    intro = (ROOT / "intro.md").read_text(encoding="utf-8")
    learners = intro.partition("## For learners\n")[2].partition("\n## ")[0]
    instructors = intro.partition("## For instructors\n")[2].partition("\n## ")[0]
    assert learners and instructors, "intro.md needs the two guides"
    for words in ("exercises/NN_name.ipynb", "Run all cells first", "not attempted", "Colab"):
        assert words in learners, words
    assert "make student" in instructors and "exercises/" in instructors
    named = set(re.findall(r"`\.(\w+)`", instructors))  # the Feedback attributes it names
    assert {"passed", "mistake", "message"} <= named
    feedback = Feedback("e", "correct", "m")
    assert all(hasattr(feedback, name) for name in named), named
