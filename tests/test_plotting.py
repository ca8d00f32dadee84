"""The shared plotting machinery: dae_course.sliders (offline jshtml sliders) and
dae_course.explorers (live ipywidgets explorers). Chapter figures are tested with their chapter."""

from __future__ import annotations

import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib._pylab_helpers import Gcf  # noqa: E402

from dae_course import sliders  # noqa: E402

TEMPS = [10 ** (1 - 3 * i / 7) for i in range(8)]


def draw_line(fig, value):
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, value])
    ax.set_ylim(0, 10)
    return f"value = {value:.3g}"


@pytest.fixture(scope="module")
def html():
    return sliders.jshtml(
        lambda: sliders.scrub_animation(draw_line, TEMPS, figsize=(3, 2)), alt='a "line" <demo>'
    ).data


def test_import_relaxlib_needs_only_torch():
    code = (
        "import sys, relaxlib; "
        "bad = [m for m in ('matplotlib', 'ipywidgets', 'IPython') "
        "if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_jshtml_loads_nothing_from_other_hosts(html):
    assert "http" not in html.lower()
    assert "font-awesome" not in html
    assert "<link" not in html
    assert not re.search(r'\bsrc="(?!data:)', html)  # no external image or script


def test_jshtml_buttons_labelled(html):
    buttons = re.findall(r"<button([^>]*)>(.*?)</button>", html, re.S)
    assert len(buttons) == 9
    for attrs, body in buttons:
        assert 'title="' in attrs and 'aria-label="' in attrs
        text = re.sub(r"<[^>]+>", "", body).strip()
        assert text, f"empty button: {attrs}"
        assert "fa-" not in body
    assert 'class="fa' not in html


def test_jshtml_frame_count(html):
    assert sliders.jshtml_frame_count(html) == len(TEMPS)
    assert f"new Array({len(TEMPS)})" in html


def test_jshtml_alt_escaped_and_slider_present(html):
    assert 'alt="a &quot;line&quot; &lt;demo&gt;"' in html
    assert 'type="range"' in html


def test_jshtml_is_deterministic_and_ids_unique():
    def make():
        return sliders.scrub_animation(draw_line, TEMPS[:3], figsize=(2, 2))

    a, b = sliders.jshtml(make).data, sliders.jshtml(make).data
    ida = re.search(r'id="_anim_img(\w+)"', a).group(1)
    idb = re.search(r'id="_anim_img(\w+)"', b).group(1)
    assert ida != idb  # two animations on one page must not share ids
    assert a.replace(ida, "ID") == b.replace(idb, "ID")
    fixed = sliders.jshtml(make, html_id="fixed_1").data
    assert 'id="_anim_imgfixed_1"' in fixed and "animfixed_1.play_animation()" in fixed


_FRESH_RUN = """
import matplotlib
matplotlib.use("Agg")
from dae_course import sliders

def draw(fig, v):
    fig.add_subplot().plot([0, 1], [0, v])

print(sliders.jshtml(lambda: sliders.scrub_animation(draw, [1, 2]), alt="demo").data)
"""


def test_jshtml_is_the_same_in_a_fresh_kernel():
    # nbval compares a fresh run with the stored HTML: no random uuid may survive.
    runs = [
        subprocess.run(
            [sys.executable, "-c", _FRESH_RUN], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and "_anim_img" in runs[0]


def test_jshtml_id_does_not_depend_on_pixels():
    # Another FreeType or matplotlib build draws other pixels; the id must not change.
    a = sliders.jshtml(lambda: sliders.scrub_animation(draw_line, TEMPS[:2]), alt="x").data
    b = sliders.jshtml(lambda: sliders.scrub_animation(draw_line, TEMPS[2:4]), alt="x").data
    ida = re.search(r'id="_anim_img(\w+)_\d+"', a).group(1)
    idb = re.search(r'id="_anim_img(\w+)_\d+"', b).group(1)
    assert ida == idb


def test_jshtml_renders_every_frame_past_the_embed_limit():
    # matplotlib silently drops frames beyond animation.embed_limit; jshtml must not.
    with matplotlib.rc_context({"animation.embed_limit": 1e-4}):  # in MB: about 100 bytes
        html = sliders.jshtml(
            lambda: sliders.scrub_animation(draw_line, TEMPS[:3], figsize=(2, 2))
        ).data
    assert sliders.jshtml_frame_count(html) == 3


def test_jshtml_closes_figure():
    before = len(plt.get_fignums())
    sliders.jshtml(lambda: sliders.scrub_animation(draw_line, TEMPS[:2], figsize=(2, 2)))
    assert len(plt.get_fignums()) == before


def test_jshtml_size_limit():
    with pytest.raises(ValueError, match="bytes"):
        sliders.jshtml(
            lambda: sliders.scrub_animation(draw_line, TEMPS[:2], figsize=(2, 2)), max_bytes=100
        )


def test_jshtml_rejects_other_objects():
    with pytest.raises(TypeError):
        sliders.jshtml(lambda: "not an animation")


def test_offline_jshtml_on_raw_matplotlib_output():
    anim = sliders.scrub_animation(draw_line, TEMPS[:2], figsize=(2, 2))
    raw = anim.to_jshtml()
    plt.close(anim._fig)
    assert "http" in raw  # matplotlib links Font Awesome from a CDN ...
    out = sliders.offline_jshtml(raw)
    assert "http" not in out  # ... and offline_jshtml removes it
    assert out.count('<span aria-hidden="true">') == 9
    with pytest.raises(ValueError):
        sliders.offline_jshtml(raw, html_id="bad id")


# --------------------------------------------------------------------------------------
# dae_course.explorers
# --------------------------------------------------------------------------------------


def test_temperature_explorer_redraws():
    explorers = pytest.importorskip("dae_course.explorers")
    explorer = explorers.temperature_explorer(draw_line)
    assert explorer.redraws == 1 and explorer.value == 1.0
    first = explorer.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    explorer.slider.value = 0.2
    assert explorer.redraws == 2
    assert explorer.image.value != first
    assert explorer.caption.value == "<code>value = 0.2</code>"
    # The explorer's figure is not registered with pyplot (it would pile up in notebooks).
    managed = [m.canvas.figure for m in Gcf.get_all_fig_managers()]
    assert all(fig is not explorer.figure for fig in managed)


def test_parameter_explorer_linear_and_validation():
    explorers = pytest.importorskip("dae_course.explorers")
    explorer = explorers.parameter_explorer(
        draw_line, value=2.0, min=0.0, max=5.0, description="δ", log=False
    )
    assert type(explorer.slider).__name__ == "FloatSlider"
    explorer.slider.value = 3.0
    assert explorer.caption.value == "<code>value = 3</code>"
    with pytest.raises(ValueError):
        explorers.parameter_explorer(draw_line, value=1.0, min=0.0, max=5.0, description="T")
    with pytest.raises(ValueError):
        explorers.parameter_explorer(draw_line, value=9.0, min=1.0, max=5.0, description="T")


def test_external_urls_ignores_embedded_images_but_finds_real_loads():
    from dae_course.sliders import external_urls

    frame = "data:image/png;base64," + "aHR0cHM6" * 50 + "httpAAA=="
    clean = f'<img src="{frame}"><script>// a comment\nvar a = 1;</script>'
    assert external_urls(clean) == []
    dirty = clean + '<link rel="stylesheet" href="https://cdn.example.com/fa.css">'
    assert external_urls(dirty) == ["https://cdn.example.com/fa.css"]
    assert external_urls('<script src="//cdn.example.org/x.js"></script>') == [
        "//cdn.example.org/x.js"
    ]


# --------------------------------------------------------------------------------------
# dae_course.sliders: accessible, responsive, light (issue 16)
# --------------------------------------------------------------------------------------


def draw_captioned(fig, value):
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, value])
    return f"T = {value:.3g}: slope {value:.2f}"


def test_jshtml_slider_is_labelled_and_announces_values():
    html = sliders.jshtml(
        lambda: sliders.scrub_animation(draw_captioned, [0.5, 2.0], figsize=(2, 2))
    ).data
    slider = re.search(r'<input id="_anim_slider(\w+)"[^>]*>', html)
    anim_id = slider.group(1)
    # a visible <label> names the parameter (the symbol the captions start with)
    assert f'<label class="anim-label" for="_anim_slider{anim_id}">T</label>' in html
    # the value is announced as text, not as a frame number, and shown under the image
    assert 'aria-valuetext="T = 0.5: slope 0.50"' in slider.group(0)
    assert f'id="_anim_value{anim_id}" aria-hidden="true">T = 0.5: slope 0.50</p>' in html
    assert '["T = 0.5: slope 0.50", "T = 2: slope 2.00"]' in html  # one text per frame
    assert 'setAttribute("aria-valuetext"' in html and f'window["anim{anim_id}"]' in html


def test_jshtml_value_texts_without_captions():
    values = [0.25, 4.0]
    html = sliders.jshtml(
        lambda: sliders.scrub_animation(draw_line_silent, values, figsize=(2, 2), label="δ")
    ).data
    assert ">δ</label>" in html and 'aria-valuetext="δ = 0.25"' in html
    html = sliders.jshtml(
        lambda: sliders.scrub_animation(draw_line_silent, values, figsize=(2, 2)),
        label="step size",
        value_format="{label} {value:.1f}",
    ).data
    assert 'aria-valuetext="step size 0.2"' in html and '"step size 4.0"' in html


def draw_line_silent(fig, value):
    fig.add_subplot().plot([0, 1], [0, value])


def test_jshtml_escapes_label_and_texts():
    html = sliders.jshtml(
        lambda: sliders.scrub_animation(draw_line_silent, [1.0], figsize=(2, 2)),
        label='<b>"x"</b>',
        value_format="{label} </script>",
    ).data
    assert "&lt;b&gt;&quot;x&quot;&lt;/b&gt;</label>" in html
    assert "<\\/script>" in html  # the texts cannot close the script that holds them


def test_jshtml_is_responsive():
    html = sliders.jshtml(
        lambda: sliders.scrub_animation(draw_line_silent, [1.0, 2.0], figsize=(2, 2))
    ).data
    assert ".animation img { max-width: 100%; height: auto; }" in html
    assert "flex-wrap: wrap" in html and "max-width: 100%" in html


def test_scrub_animation_caps_the_width_and_keeps_the_values():
    anim = sliders.scrub_animation(draw_line_silent, [1, 2, 3], figsize=(9.5, 3.2), label="T")
    anim._draw_was_started = True  # never rendered on purpose: no warning when deleted
    try:
        width, height = anim._fig.get_size_inches()
        assert width == sliders.MAX_FRAME_WIDTH
        assert abs(height - 3.2 * sliders.MAX_FRAME_WIDTH / 9.5) < 1e-9
        assert anim.dae_values == [1.0, 2.0, 3.0] and anim.dae_label == "T"
    finally:
        plt.close(anim._fig)
    kept = sliders.scrub_animation(draw_line_silent, [1], figsize=(9.5, 3.2), max_width=None)
    kept._draw_was_started = True
    try:
        assert tuple(kept._fig.get_size_inches()) == (9.5, 3.2)
    finally:
        plt.close(kept._fig)


def test_compress_frames_makes_palette_pngs():
    import base64
    import io

    from PIL import Image

    anim = sliders.scrub_animation(draw_line, TEMPS[:3], figsize=(3, 2))
    with matplotlib.rc_context({"savefig.dpi": "figure", "savefig.bbox": None}):
        raw = anim.to_jshtml()
    plt.close(anim._fig)
    small = sliders.compress_frames(raw, colors=32)
    assert sliders.jshtml_frame_count(small) == 3 and len(small) < len(raw)
    for data in re.findall(r'frames\[\d+\] = "data:image/png;base64,([^"]*)"', small):
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            assert image.mode == "P" and len(image.getcolors()) <= 32
    with pytest.raises(ValueError):
        sliders.compress_frames(raw, colors=1)


# --------------------------------------------------------------------------------------
# dae_course.palette: the figures' colours and style
# --------------------------------------------------------------------------------------


def test_category_colours_have_3_to_1_contrast_on_white_and_differ():
    from dae_course import palette

    assert len(set(palette.CATEGORY_COLORS)) == len(palette.CATEGORY_COLORS) >= 6
    for colour in palette.CATEGORY_COLORS:
        assert palette.contrast_ratio(colour) >= 3.0, colour
    assert palette.contrast_ratio("#000000") == pytest.approx(21.0)
    assert palette.contrast_ratio("#ffffff") == pytest.approx(1.0)


def test_category_style_pairs_colour_with_line_and_marker():
    from dae_course import palette

    styles = [palette.category_style(k, marker=True) for k in range(6)]
    assert len({s["linestyle"] for s in styles}) == 6 and len({s["marker"] for s in styles}) == 6
    assert palette.category_style(7) == palette.category_style(1)
    assert set(palette.category_style(0, line=False)) == {"color"}


def test_palette_import_applies_the_style():
    code = (
        "import matplotlib as mpl; import dae_course.palette as p; "
        "assert mpl.rcParams['xtick.labelsize'] >= p.MIN_FONT_SIZE; "
        "assert mpl.rcParams['legend.fontsize'] >= p.MIN_FONT_SIZE; "
        "colors = mpl.rcParams['axes.prop_cycle'].by_key()['color']; "
        "assert [c.lower() for c in colors] == [c.lower() for c in p.CATEGORY_COLORS]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# fontsize=7, labelsize=8 (tick_params), size=8 (text, annotate), prop={"size": 8} (legend)
_SMALL_FONT = re.compile(
    r"""(?<![\w.])(?:fontsize|labelsize|size|["']size["']|["']fontsize["'])\s*[=:]\s*([0-9.]+)"""
)
_WIDE_FIGURE = re.compile(r"figsize\s*(?::[^=]*)?=\s*\(\s*([0-9.]+)\s*,")


def test_font_size_pattern_finds_every_spelling():
    lines = [
        'ax.set_title("t", fontsize=8)',
        "ax.tick_params(labelsize=7)",
        'ax.text(0, 0, "t", size=9)',
        'ax.legend(prop={"size": 8})',
        "ax.legend(prop=dict(size=6))",
    ]
    assert [_SMALL_FONT.findall(line) for line in lines] == [["8"], ["7"], ["9"], ["8"], ["6"]]
    assert not _SMALL_FONT.findall("ax.plot(x, y, markersize=4, capsize=2)")


def test_figure_modules_leave_type_size_to_the_style():
    """A font under palette.MIN_FONT_SIZE, or a figure wider than palette.MAX_WIDTH, set in
    a chapter's figure module shows its type under about 10 pt where the page shows it.
    (``tests/test_plotting_figures.py`` checks the drawn figures themselves.)"""
    from pathlib import Path

    from dae_course import palette

    root = Path(__file__).resolve().parent.parent / "dae_course"
    found = []
    for module in sorted(root.glob("ch*/figures.py")):
        for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1):
            for size in _SMALL_FONT.findall(line):
                if float(size) < palette.MIN_FONT_SIZE:
                    found.append(f"{module.relative_to(root)}:{number}: font size {size}")
            for width in _WIDE_FIGURE.findall(line):
                if float(width) > palette.MAX_WIDTH:
                    found.append(f"{module.relative_to(root)}:{number}: {width} in wide")
    assert not found, "\n".join(found)
