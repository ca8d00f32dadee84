"""Sphinx extension: every chapter page links its exercise notebook.

A chapter ``chapters/NN_name.ipynb`` has an exercise notebook ``exercises/NN_name.ipynb``
(written by ``make student``, tools/make_student.py: the chapter without its solutions).
For each chapter page that has one, this extension

* puts a note at the top of the page, below its title, with two ordinary text links:
  "download the exercises" (the notebook as served by the site, with a ``download``
  attribute) and "open the exercises in Colab" (the notebook in the repository named by
  ``repository.url`` in _config.yml, like the theme's own Colab launch button);
* adds the same two links to the page's header menus, beside the theme's own: the
  download menu ("exercises .ipynb") and the launch menu ("Colab: exercises");
* copies the exercise notebooks into the built site, at ``exercises/NN_name.ipynb``
  (``html_extra_path`` would put a folder's *contents* at the site's root).

Chapters without an exercise notebook get none of this (the site tests,
tests/site/test_exercise_links.py, require one for every chapter).
"""

from __future__ import annotations

import posixpath
import shutil
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from docutils import nodes
from sphinx.application import Sphinx

EXERCISES = "exercises"
CHAPTERS = "chapters"


def exercise_for(app: Sphinx, docname: str) -> str | None:
    """The exercise notebook of a page, relative to the book (None: the page has none)."""
    if posixpath.dirname(docname) != CHAPTERS:
        return None
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return None
    path = f"{EXERCISES}/{posixpath.basename(docname)}.ipynb"
    return path if (Path(app.srcdir) / path).is_file() else None


def colab_url(app: Sphinx, path: str) -> str | None:
    """The Colab address of a notebook of the repository (as the theme's launch button)."""
    options = app.config.html_theme_options or {}
    colab = ((options.get("launch_buttons") or {}).get("colab_url") or "").strip("/")
    repository = urlsplit(options.get("repository_url") or "")
    if not colab or repository.netloc != "github.com":
        return None
    owner_repo = repository.path.strip("/").removesuffix(".git")
    branch = options.get("repository_branch") or "main"
    in_repo = posixpath.join((options.get("path_to_docs") or "").strip("/"), path)
    return f"{colab}/github/{owner_repo}/blob/{branch}/{in_repo}"


def note_html(download: str, filename: str, colab: str | None) -> str:
    links = (
        f'<a class="reference download" href="{escape(download)}"'
        f' download="{escape(filename)}">download the exercises'
        f" (<code>{escape(filename)}</code>)</a>"
    )
    if colab:
        links += (
            f' or <a class="reference external" href="{escape(colab)}">'
            "open the exercises in Colab</a>"
        )
    return (
        '<div class="admonition tip dae-exercise-links">\n'
        '<p class="admonition-title">Exercise notebook</p>\n'
        "<p>This chapter's exercises come in a notebook of their own: the chapter's text and"
        f" code, without the solutions. To work on them, {links}, and run all its cells"
        " first. The worked solutions are on this page, folded under each exercise.</p>\n"
        "</div>\n"
    )


def add_note(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """The note with the two links, below the page's title."""
    if app.builder.format != "html":
        return
    path = exercise_for(app, docname)
    if path is None:
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None or not isinstance(section[0], nodes.title):
        return
    download = posixpath.relpath(path, posixpath.dirname(docname))
    html = note_html(download, posixpath.basename(path), colab_url(app, path))
    section.insert(1, nodes.raw("", html, format="html"))


def add_header_links(app: Sphinx, pagename: str, templatename, context: dict, doctree) -> None:
    """The two links in the theme's download and launch menus (sphinx-book-theme)."""
    path = exercise_for(app, pagename)
    buttons = context.get("header_buttons")
    if path is None or not isinstance(buttons, list):
        return
    groups = {b.get("label"): b for b in buttons if b.get("type") == "group"}
    if "download-buttons" in groups:
        groups["download-buttons"]["buttons"].insert(
            1,
            {
                "type": "link",
                "url": context["pathto"](path, 1),
                "text": "exercises .ipynb",
                "tooltip": "Download the exercise notebook (without solutions)",
                "icon": "fas fa-pen",
                "label": "download-exercises-button",
            },
        )
    colab = colab_url(app, path)
    if colab and "launch-buttons" in groups:
        groups["launch-buttons"]["buttons"].append(
            {
                "type": "link",
                "url": colab,
                "text": "Colab: exercises",
                "tooltip": "Open the exercise notebook in Colab",
                "icon": "fas fa-pen",
                "label": "colab-exercises-button",
            }
        )


def copy_notebooks(app: Sphinx, exception) -> None:
    """The exercise notebooks of the built chapters, into the site's exercises/ folder."""
    if exception is not None or app.builder.format != "html":
        return
    for docname in sorted(app.env.found_docs):
        path = exercise_for(app, docname)
        if path is None:
            continue
        target = Path(app.outdir) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(app.srcdir) / path, target)


def setup(app: Sphinx) -> dict:
    app.connect("doctree-resolved", add_note)
    # after sphinx-book-theme has built its header menus (priority 501)
    app.connect("html-page-context", add_header_links, priority=600)
    app.connect("build-finished", copy_notebooks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
