"""dae_course.explorers: what a live explorer shows before it runs, how sharp its image is,
and that its slider's readout prints a value as the caption does.

(The first explorer tests, redrawing and validation, are in test_plotting.py.)
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

explorers = pytest.importorskip("dae_course.explorers")
W = pytest.importorskip("ipywidgets")

ROOT = Path(__file__).resolve().parent.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def draw_caption(fig, value):
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, value])
    return f"T = {value:.3g}: a <line>"


def _displayed(obj) -> dict:
    """The mime bundle a notebook saves when a cell shows ``obj`` (ipywidgets 7 or 8)."""
    if hasattr(type(obj), "_ipython_display_"):  # ipywidgets 7: display(bundle, raw=True)
        shown = []
        with mock.patch("IPython.display.display", lambda data, raw=False: shown.append(data)):
            obj._ipython_display_()
        return shown[0]
    from IPython.core.formatters import DisplayFormatter

    return DisplayFormatter().format(obj)[0]


def _png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(data)).size


@pytest.mark.parametrize("figsize, dpi", [((7.0, 3.0), 80), ((9.0, 3.2), 80), ((4.0, 2.0), 100)])
def test_image_drawn_at_twice_the_size_it_is_displayed(figsize, dpi):
    explorer = explorers.temperature_explorer(draw_caption, figsize=figsize, dpi=dpi)
    shown = round(figsize[0] * dpi)
    assert explorer.image.width == str(shown)  # the <img width> of ipywidgets 7 and 8
    ratio = explorers.PIXEL_RATIO
    assert ratio >= 2
    assert _png_size(explorer.image.value) == (ratio * shown, round(ratio * figsize[1] * dpi))
    explorer.slider.value = 0.5
    assert _png_size(explorer.image.value) == (ratio * shown, round(ratio * figsize[1] * dpi))


def test_the_png_is_the_same_every_time():
    a = explorers.temperature_explorer(draw_caption).image.value
    b = explorers.temperature_explorer(draw_caption).image.value
    assert a == b and b"matplotlib.org" not in a  # no version stamp in the file


def test_says_what_it_is_where_no_kernel_runs_it():
    explorer = explorers.temperature_explorer(draw_caption, value=0.05, min=0.05, max=20.0)
    data = _displayed(explorer)  # what a notebook saves as the cell's output
    assert data[WIDGET_VIEW]["model_id"] == explorer.model_id  # live where a kernel runs
    text = data["text/plain"]
    assert "ParameterExplorer(" not in text
    assert text.startswith("Live explorer (temperature T)")
    assert "run this notebook's cells to move the slider" in text
    assert "temperature T = 0.05" in text and "T = 0.05: a <line>" in text
    html = data["text/html"]
    assert "Live explorer (temperature T)" in html and "run this notebook" in html
    assert '<img src="data:image/png;base64,' in html and 'width="560"' in html
    assert "a &lt;line&gt;" in html and "<line>" not in html  # escaped
    explorer.slider.value = 1.0  # the fallback follows the last drawing
    assert "temperature T = 1." in _displayed(explorer)["text/plain"]


def test_ipywidgets_7_displays_the_same_bundle():
    # ipywidgets 7 displays a widget with _ipython_display_ (which would bypass the
    # bundle above); 8 with _repr_mimebundle_. The explorer provides what its version uses.
    uses_7 = hasattr(W.Widget, "_ipython_display_")
    assert hasattr(explorers.ParameterExplorer, "_ipython_display_") == uses_7


@pytest.mark.parametrize(
    "spec, d3",
    [(".3g", ".3"), (".2g", ".2"), ("g", ".6"), (".0f", ".0f"), (".2e", ".2e"), ("#.3g", "#.3g")],
)
def test_d3_format_of_python_specs(spec, d3):
    assert explorers.d3_format(spec) == d3
    W.FloatSlider(readout_format=explorers.d3_format(spec))  # ipywidgets accepts it


def test_slider_gets_the_d3_spec_and_readout_matches_caption():
    explorer = explorers.temperature_explorer(draw_caption, value=0.05, min=0.05, max=20.0)
    assert explorer.slider.readout_format == ".3"
    assert explorer.format_value() == "0.05"
    assert "T = 0.05:" in explorer.caption.value


SLIDER_VALUES = [
    10 ** (lo + (hi - lo) * k / 60)  # the positions of the chapters' log sliders
    for lo, hi in [(-1.30103, 1.30103), (-1.69897, 1.69897), (-3, 0), (-0.69897, 1.69897)]
    for k in range(61)
] + [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 20.0, 0.0123456, 3.0, 64.0]
COUNTS = [1024 ** (k / 50) for k in range(51)]  # chapter 6's slider of m, readout ".0f"


@pytest.mark.skipif(
    not shutil.which("node") or not (ROOT / "node_modules" / "d3-format").is_dir(),
    reason="needs node and node_modules/d3-format (make node)",
)
@pytest.mark.parametrize(
    "spec, values", [(".3g", SLIDER_VALUES), (".2g", SLIDER_VALUES), (".0f", COUNTS)]
)
def test_readout_in_the_browser_prints_what_python_prints(spec, values, tmp_path):
    """d3-format (what ipywidgets' readout uses) against Python's format(), on the values
    the chapters' log sliders take. (They differ elsewhere only in details: from
    10**precision on, 1e+2 against 1e+02; d3 writes a minus as U+2212; and it rounds a
    tie away from zero where Python rounds it to even.)"""
    script = tmp_path / "readout.mjs"
    package = ROOT / "node_modules" / "d3-format"
    main = json.loads((package / "package.json").read_text(encoding="utf-8"))["main"]
    module = (package / main).resolve().as_uri()
    script.write_text(
        f'import {{format}} from "{module}";\n'
        "const [spec, values] = JSON.parse(process.argv[2]);\n"
        "console.log(JSON.stringify(values.map((v) => format(spec)(v))));\n",
        encoding="utf-8",
    )
    d3 = explorers.d3_format(spec)
    result = subprocess.run(
        ["node", str(script), json.dumps([d3, values])],
        capture_output=True,
        text=True,
        check=True,
    )
    browser = json.loads(result.stdout)
    python = [format(v, spec) for v in values]
    differ = [(v, b, p) for v, b, p in zip(values, browser, python) if b != p]
    assert not differ, f"readout {d3!r} and caption {spec!r} print differently: {differ[:5]}"
