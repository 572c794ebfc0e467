"""Chinese labels in the lab's pictures are drawn with a CJK font (Noto Sans CJK SC), not boxes."""
from __future__ import annotations

import shutil
import subprocess
import warnings

import graphviz
import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from kpanic_lab.viz.cjk import CJK_FAMILY, GRAPH_FONT, cjk_font_path, use_cjk_fonts

CHINESE = "恐慌 转储内核"
BOXES = "\U0010fffd\U0010fffd \U0010fffd\U0010fffd\U0010fffd\U0010fffd"   # no font has these: drawn as boxes


def _draw(text: str) -> tuple[np.ndarray, list[str]]:
    fig = Figure(figsize=(3, 1), dpi=60)
    FigureCanvasAgg(fig)
    fig.text(0.05, 0.4, text, fontsize=20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()  # type: ignore[attr-defined]
    return pixels, [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_matplotlib_finds_noto_sans_cjk():
    path = cjk_font_path()
    assert path is not None, "no Noto CJK font: install Debian's fonts-noto-cjk (make install does)"
    assert "NotoSansCJK" in path
    font = FT2Font(path)
    assert all(font.get_char_index(ord(c)) != 0 for c in CHINESE if c != " "), "the font lacks the glyphs"


def test_the_cjk_family_is_a_fallback_added_once():
    assert use_cjk_fonts() is True
    use_cjk_fonts()
    families = list(matplotlib.rcParams["font.family"])
    assert families.count(CJK_FAMILY) == 1 and families[-1] == CJK_FAMILY and families[0] != CJK_FAMILY


def test_a_chinese_label_is_drawn_with_glyphs_not_boxes():
    chinese, missing = _draw(CHINESE)
    assert missing == []
    boxes, missing_boxes = _draw(BOXES)
    assert missing_boxes, "the reference string was expected to have no glyphs"
    # the same number of characters drawn as boxes looks different from the Chinese glyphs
    ink_chinese = (chinese.min(axis=2) < 128).sum()
    assert ink_chinese > 50 and not np.array_equal(chinese, boxes)


def test_a_latin_label_keeps_its_latin_font():
    from matplotlib import font_manager
    prop = font_manager.FontProperties(family=matplotlib.rcParams["font.family"])
    assert "NotoSansCJK" not in font_manager.findfont(prop)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_graphviz_names_the_cjk_font_and_fontconfig_has_it():
    d = graphviz.Digraph(node_attr={"fontname": GRAPH_FONT})
    d.node("a", CHINESE)
    svg = d.pipe(format="svg", encoding="utf-8")
    assert f'font-family="{GRAPH_FONT}"' in svg and CHINESE in svg
    families = subprocess.run(["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True,
                              check=True).stdout
    assert CJK_FAMILY in families, "fontconfig has no Noto Sans CJK SC: install fonts-noto-cjk"
