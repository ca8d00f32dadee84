"""Count each chapter's core reading time and exercise time; write the table intro.md shows.

    .venv/bin/python tools/reading_time.py            # print the table
    .venv/bin/python tools/reading_time.py --write    # also write reading_times.md

The *core* of a chapter is every cell outside its exercises and outside its deep dives
(cells tagged ``deep-dive``, folded on the website). Its reading time counts the words of
its markdown (an equation counts as one word per symbol group, a rough but steady measure)
at WORDS_PER_MINUTE, plus its lines of code at CODE_LINES_PER_MINUTE; the setup cell is not
counted. The exercise time is a flat EXERCISE_MINUTES per exercise (a sphinx-exercise
``{exercise-start}`` block, or a heading ``### Exercise``), and CAPSTONE_MINUTES for one whose
title names a capstone. ``tests/test_reading_time.py``
checks that the committed table is what this script writes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import bookinfo  # noqa: E402

WORDS_PER_MINUTE = 200  # technical prose, read with care (adults average about 240)
CODE_LINES_PER_MINUTE = 15  # short cells read line by line, with their output
EXERCISE_MINUTES = 10
CAPSTONE_MINUTES = 30
OUTPUT = ROOT / "reading_times.md"

# An exercise starts at sphinx-exercise's gated directive; its title names a capstone.
EXERCISE_HEADING = re.compile(
    r"^(?:#{3,4}\s*(Exercise|Capstone)\b|```\{exercise-start\}(.*)$)", re.IGNORECASE | re.MULTILINE
)
SECTION_HEADING = re.compile(r"^#{1,2}\s+\S", re.MULTILINE)


def _words(markdown: str) -> int:
    return len(re.findall(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*", markdown))


def _code_lines(source: str) -> int:
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip() == "#")


def chapter_counts(path: Path) -> dict:
    """Words and code lines of the core, and the exercises, of one notebook."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    words = code = exercises = capstones = 0
    in_exercise = False
    first_code = True
    for cell in cells:
        source = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown":
            heading = EXERCISE_HEADING.search(source)
            if heading:
                in_exercise = True
                title = (heading.group(1) or heading.group(2) or "").lower()
                if "capstone" in title:
                    capstones += 1
                else:
                    exercises += 1
            elif SECTION_HEADING.search(source) and not source.lstrip().startswith("###"):
                in_exercise = False  # a new section (## ...) ends the exercise
        if in_exercise or "deep-dive" in tags:
            if cell["cell_type"] == "code":
                first_code = False
            continue
        if cell["cell_type"] == "markdown":
            words += _words(source)
        elif cell["cell_type"] == "code":
            if not first_code:
                code += _code_lines(source)
            first_code = False
    minutes = words / WORDS_PER_MINUTE + code / CODE_LINES_PER_MINUTE
    return {
        "words": words,
        "code_lines": code,
        "core_minutes": round(minutes),
        "exercises": exercises,
        "capstones": capstones,
        "exercise_minutes": exercises * EXERCISE_MINUTES + capstones * CAPSTONE_MINUTES,
    }


def _title(path: Path) -> str:
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            match = re.search(r"^#\s+(.+)$", "".join(cell["source"]), re.MULTILINE)
            if match:
                return match.group(1).strip()
    return path.stem


def _rows(names: list[Path], start: int) -> tuple[list[str], int, int]:
    rows, total_core, total_ex = [], 0, 0
    for i, name in enumerate(names, start=start):
        path = ROOT / name
        c = chapter_counts(path)
        total_core += c["core_minutes"]
        total_ex += c["exercise_minutes"]
        link = f"[{_title(path)}]({Path(name).with_suffix('')}.ipynb)"
        exercises = f"{c['exercises']}" + (" + capstone" if c["capstones"] else "")
        rows.append(
            f"| {i} | {link} | {c['core_minutes']} min | {exercises} | "
            f"{c['exercise_minutes']} min |"
        )
    return rows, total_core, total_ex


def lecture_core_minutes() -> int:
    """The core reading time of the lecture's chapters (the optional part left out)."""
    optional = set(bookinfo.optional_notebooks(ROOT))
    names = [n for n in bookinfo.toc_notebooks(ROOT) if n not in optional]
    return _rows(names, 1)[1]


def table() -> str:
    optional = bookinfo.optional_notebooks(ROOT)
    lecture = [n for n in bookinfo.toc_notebooks(ROOT) if n not in set(optional)]
    rows, total_core, total_ex = _rows(lecture, 1)
    header = [
        "<!-- Written by tools/reading_time.py --write; do not edit by hand. -->",
        "",
        "| | chapter | core reading | exercises | exercise time |",
        "| --- | --- | --- | --- | --- |",
    ]
    rows.append(f"| | **the lecture's chapters** | **{total_core} min** | | **{total_ex} min** |")
    if optional:
        extra, extra_core, extra_ex = _rows(optional, len(lecture) + 1)
        rows.append(f"| | *{bookinfo.OPTIONAL_PART} (optional)* | | | |")
        rows += extra
        rows.append(
            f"| | **{bookinfo.OPTIONAL_PART.lower()}** | **{extra_core} min** | | "
            f"**{extra_ex} min** |"
        )
    footer = [
        "",
        f"Core reading counts the prose at {WORDS_PER_MINUTE} words and the code at "
        f"{CODE_LINES_PER_MINUTE} lines a minute, leaving out the folded deep dives and the "
        f"exercises; exercise time allows {EXERCISE_MINUTES} minutes an exercise and "
        f"{CAPSTONE_MINUTES} for the capstone.",
        "",
    ]
    return "\n".join(header + rows + footer)


if __name__ == "__main__":
    text = table()
    print(text)
    if "--write" in sys.argv[1:]:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
