"""Open the built pages in a real browser, offline, and watch every request it makes.

The static checks in test_offline_html.py read the markup; this one also sees what scripts
and stylesheets fetch at run time (MathJax's fonts and extensions, the widget manager's
modules).  Every request to a host other than the local test server is blocked and
reported.  It needs Debian's Chromium (/usr/bin/chromium, or $CHROMIUM) and Playwright for
Python, and is skipped without them.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sitecheck import HTML_DIR, parse_page, source_has_math, toc_pages

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture(scope="module")
def server():
    if not (HTML_DIR / "index.html").is_file():
        pytest.fail(f"no built site at {HTML_DIR} (run `make book` first)", pytrace=False)
    handler = functools.partial(_QuietHandler, directory=str(HTML_DIR))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def visit(browser, server):
    """Load a page with only the local server reachable; report what went wrong."""
    contexts = []

    def _visit(relative: str):
        context = browser.new_context(service_workers="block")
        contexts.append(context)
        page = context.new_page()
        report = {"external": [], "failed": [], "errors": []}
        local = urlsplit(server).netloc

        def route(route):
            url = route.request.url
            if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).netloc == local:
                route.continue_()
            else:
                report["external"].append(url)
                route.abort()

        def response(response):
            if response.status >= 400 and not response.url.endswith("/favicon.ico"):
                report["failed"].append(f"{response.status} {response.url}")

        page.route("**/*", route)
        page.on("response", response)
        page.on("pageerror", lambda error: report["errors"].append(str(error)))
        page.goto(f"{server}/{relative}", wait_until="load", timeout=TIMEOUT_MS)
        return page, report

    yield _visit
    for context in contexts:
        context.close()


PAGES = sorted(toc_pages().items())


@pytest.mark.parametrize(("source", "html"), PAGES, ids=[str(src) for src, _ in PAGES])
def test_page_works_offline(visit, source, html):
    page, report = visit(html.as_posix())
    built = parse_page(HTML_DIR / html)

    if source_has_math(source):
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
            timeout=TIMEOUT_MS,
        )
        counts = page.evaluate(
            """() => MathJax.startup.promise.then(() => ({
                typeset: document.querySelectorAll("mjx-container").length,
                errors: Array.from(document.querySelectorAll("mjx-merror"),
                                   e => e.getAttribute("data-mjx-error") || e.textContent),
            }))"""
        )
        assert counts["typeset"] >= len(built.math_texts) > 0, (
            f"{html}: MathJax typeset {counts['typeset']} of {len(built.math_texts)} formulas"
        )
        assert not counts["errors"], f"{html}: TeX errors {counts['errors']}"

    if built.widget_views:
        page.wait_for_selector(".jupyter-widgets", timeout=TIMEOUT_MS)
        rendered = page.locator(".jupyter-widgets").count()
        assert rendered >= built.widget_views, (
            f"{html}: {rendered} of {built.widget_views} widgets rendered"
        )

    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    assert not report["external"], f"{html} asked other hosts for: {report['external']}"
    assert not report["failed"], f"{html}: failed requests {report['failed']}"
    assert not report["errors"], f"{html}: script errors {report['errors']}"
