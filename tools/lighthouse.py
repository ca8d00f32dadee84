"""Lighthouse scores of three pages of the built site, as a reader on a real host gets them.

    python tools/lighthouse.py [--site _build/html] [--runs 1] [--no-readme]

Serves the site gzipped (tools/serve_gzip.py), runs Lighthouse (npm, pinned in
package.json; 12.2.3 is the last release that runs on Node 20) with Debian's Chromium
(``CHROME_PATH``, default /usr/bin/chromium; flags ``--headless --no-sandbox --disable-gpu``)
on the intro, chapter 3 and chapter 8, with its mobile settings (a simulated mid-range phone
on slow 4G) and its desktop preset, and writes

- each report to ``_build/lighthouse/<page>-<form factor>.json``;
- the table of performance and accessibility scores (and the mobile Largest Contentful
  Paint) to ``_build/lighthouse/scores.md`` and into README.md between the markers
  ``<!-- lighthouse:start -->`` and ``<!-- lighthouse:end -->``.

With ``--runs N`` each page is measured N times; the table gives every run's scores
(performance depends on the machine's load; accessibility does not) and the CPU benchmark
index Lighthouse measured before each run, and the bar is checked on the median. ``make lighthouse``
runs this; it is not part of ``make test``. Exit status 1 when a score is under the bar:
mobile performance 85, desktop performance 95, accessibility 100.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_gzip import serve  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = ROOT / "node_modules" / "lighthouse" / "cli" / "index.js"
PAGES = {
    "intro": "intro.html",
    "chapter 3": "chapters/03_softmax.html",
    "chapter 8": "chapters/08_summary.html",
}
FORM_FACTORS = {"mobile": [], "desktop": ["--preset=desktop"]}
BAR = {("mobile", "performance"): 85, ("desktop", "performance"): 95}
BAR_ACCESSIBILITY = 100
START, END = "<!-- lighthouse:start -->", "<!-- lighthouse:end -->"


def run_lighthouse(url: str, form_factor: str, out: Path) -> dict:
    """One Lighthouse run; returns the parsed JSON report (also written to ``out``)."""
    env = dict(os.environ)
    env.setdefault("CHROME_PATH", "/usr/bin/chromium")
    command = [
        "node",
        str(LIGHTHOUSE),
        url,
        "--output=json",
        f"--output-path={out}",
        "--only-categories=performance,accessibility",
        "--chrome-flags=--headless --no-sandbox --disable-gpu",
        "--quiet",
        *FORM_FACTORS[form_factor],
    ]
    subprocess.run(command, check=True, env=env, timeout=600)
    return json.loads(out.read_text(encoding="utf-8"))


def score(report: dict, category: str) -> int:
    return round(100 * (report["categories"][category]["score"] or 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite README.md")
    args = parser.parse_args()
    site = Path(args.site)
    if not (site / "index.html").is_file():
        sys.exit(f"no built site at {site} (run `make book` first)")
    if not LIGHTHOUSE.is_file():
        sys.exit(f"{LIGHTHOUSE} is missing (run `npm ci`)")
    out_dir = ROOT / "_build" / "lighthouse"
    out_dir.mkdir(parents=True, exist_ok=True)
    httpd = serve(site)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    rows, failures, benchmarks = [], [], []
    try:
        for name, page in PAGES.items():
            row = {"page": f"{name} (`{page}`)", "bench": {}}
            for form in FORM_FACTORS:
                perf, lcp, a11y, bench = [], [], [], []
                for run in range(args.runs):
                    stem = Path(page).stem + f"-{form}" + (f"-{run + 1}" if args.runs > 1 else "")
                    report = run_lighthouse(f"{base}/{page}", form, out_dir / f"{stem}.json")
                    perf.append(score(report, "performance"))
                    a11y.append(score(report, "accessibility"))
                    lcp.append(report["audits"]["largest-contentful-paint"]["numericValue"])
                    bench.append(report.get("environment", {}).get("benchmarkIndex") or 0)
                    benchmarks.append(bench[-1])
                    print(
                        f"{name} {form} run {run + 1}: performance {perf[-1]}, "
                        f"accessibility {a11y[-1]}, LCP {lcp[-1] / 1000:.1f} s, "
                        f"CPU benchmark index {bench[-1]:.0f}",
                        flush=True,
                    )
                row[form] = (perf, a11y, lcp)
                row["bench"][form] = bench
                median = statistics.median(perf)
                if median < BAR[(form, "performance")]:
                    failures.append(f"{name} {form} performance {median:g}")
                if min(a11y) < BAR_ACCESSIBILITY:
                    failures.append(f"{name} {form} accessibility {min(a11y)}")
            rows.append(row)
    finally:
        httpd.shutdown()
        httpd.server_close()

    version = json.loads((LIGHTHOUSE.parent.parent / "package.json").read_text())["version"]
    chromium = subprocess.run(
        [os.environ.get("CHROME_PATH", "/usr/bin/chromium"), "--version"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [
        "| page | mobile performance | mobile accessibility | mobile LCP (s) "
        "| desktop performance | desktop accessibility | CPU benchmark index (mobile; desktop) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def each(values, fmt="{:.0f}") -> str:
        return " / ".join(fmt.format(value) for value in values)

    for row in rows:
        (mp, ma, ml), (dp, da, _) = row["mobile"], row["desktop"]
        bench = f"{each(row['bench']['mobile'])}; {each(row['bench']['desktop'])}"
        lcp = each([ms / 1000 for ms in ml], "{:.1f}")
        lines.append(
            f"| {row['page']} | {each(mp)} | {each(ma)} | {lcp} | {each(dp)} | {each(da)} "
            f"| {bench} |"
        )
    runs = f"{args.runs} runs per cell, in order" if args.runs > 1 else "one run per cell"
    table = "\n".join(lines) + (
        f"\n\nLighthouse {version}, {chromium or 'Chromium'}, {runs}; site served "
        f"gzipped by `tools/serve_gzip.py`; CPU benchmark index {min(benchmarks):.0f} to "
        f"{max(benchmarks):.0f} (Lighthouse's measure of the machine before each run: higher "
        f"is faster; a busy machine scores lower on performance); measured "
        f"{datetime.date.today().isoformat()} by `make lighthouse`.\n"
    )
    (out_dir / "scores.md").write_text(table, encoding="utf-8")
    print("\n" + table)
    if not args.no_readme:
        readme = ROOT / "README.md"
        text = readme.read_text(encoding="utf-8")
        if START in text and END in text:
            block = f"{START}\n{table}{END}"
            pattern = re.escape(START) + ".*?" + re.escape(END)
            text = re.sub(pattern, lambda _: block, text, flags=re.DOTALL)
            readme.write_text(text, encoding="utf-8")
            print(f"table written to {readme.relative_to(ROOT)}")
        else:
            print(f"README.md has no {START} ... {END} markers: table not written")
    if failures:
        print("under the bar:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
