"""Serve a built site as a static host such as GitHub Pages does: text gzipped.

    python tools/serve_gzip.py [DIRECTORY] [--port PORT]      # default: _build/html, 8000

HTML, CSS, JavaScript, JSON, SVG and other text files are sent with
``Content-Encoding: gzip`` (level 6) when the client accepts it; images, fonts and
archives are sent as they are. ``make lighthouse`` measures the site through it, so that
the scores are those of a reader on a real host, not of an uncompressed local server.
Only the standard library is used. Also importable: :func:`serve` returns a started server.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Sent as they are (already compressed, or not worth it).
PRECOMPRESSED = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2", ".ico", ".gz"}


class GzipHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler that gzips text files (cached in memory, by mtime), over
    HTTP/1.1 with keep-alive like any real host (HTTP/1.0 would open a connection per file,
    which Lighthouse's network simulation charges a round trip each)."""

    protocol_version = "HTTP/1.1"
    _cache: dict = {}

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?")[0].endswith("/"):
                return super().send_head()  # the base class redirects to the "/" form
            path = path / "index.html"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not accepts or not path.is_file() or path.suffix.lower() in PRECOMPRESSED:
            return super().send_head()
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        body = self._cache.get(key)
        if body is None:
            body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
            self._cache[key] = body
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Last-Modified", self.date_time_string(int(stat.st_mtime)))
        self.end_headers()
        return io.BytesIO(body)


def serve(directory: os.PathLike | str, port: int = 0) -> ThreadingHTTPServer:
    """Start serving ``directory`` on 127.0.0.1:``port`` (0: any free port) in a thread."""
    handler = functools.partial(GzipHandler, directory=str(directory))
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    httpd = serve(args.directory, args.port)
    print(f"serving {args.directory} gzipped at http://127.0.0.1:{httpd.server_address[1]}/")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        httpd.shutdown()


if __name__ == "__main__":
    main()
