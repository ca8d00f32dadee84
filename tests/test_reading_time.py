"""The reading-time table on the intro page is what tools/reading_time.py counts now."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import reading_time  # noqa: E402


def test_committed_table_is_up_to_date():
    committed = (ROOT / "reading_times.md").read_text(encoding="utf-8")
    assert committed == reading_time.table(), (
        "reading_times.md is stale: run .venv/bin/python tools/reading_time.py --write"
    )


def test_intro_includes_the_table():
    assert "{include} reading_times.md" in (ROOT / "intro.md").read_text(encoding="utf-8")


def _notebook(tmp_path, cells):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    return path


def _md(text, tags=()):
    return {"cell_type": "markdown", "source": text, "metadata": {"tags": list(tags)}}


def _code(text, tags=()):
    return {"cell_type": "code", "source": text, "metadata": {"tags": list(tags)}}


def test_counts_core_only(tmp_path):
    path = _notebook(
        tmp_path,
        [
            _md("# Title\n\none two three"),
            _code("import setup_cell\nnot = counted"),
            _code("a = 1\nb = 2\n\n"),
            _md("deep words here", tags=["deep-dive"]),
            _code("x = 1", tags=["deep-dive", "hide-cell"]),
            _md("### Exercise 1: try\n\nmany words in the exercise"),
            _code("def my_f():\n    raise NotImplementedError"),
            _md("```{exercise-start} Capstone: a model\n:label: ex-cap\n```\n\nwords"),
            _code("def my_g():\n    raise NotImplementedError"),
            _md("## Summary\n\nfour more words here"),
        ],
    )
    counts = reading_time.chapter_counts(path)
    assert counts["words"] == 1 + 3 + 1 + 4  # "Title", "one two three", "Summary", four words
    assert counts["code_lines"] == 2
    assert counts["exercises"] == 1 and counts["capstones"] == 1
    assert counts["exercise_minutes"] == (
        reading_time.EXERCISE_MINUTES + reading_time.CAPSTONE_MINUTES
    )


def test_the_lecture_core_reads_in_about_two_and_a_half_hours():
    """Issue 12: the core of the lecture's eight chapters, code included, in at most about
    2.5 hours (the optional part beyond the lecture is not counted)."""
    assert reading_time.lecture_core_minutes() <= 155
