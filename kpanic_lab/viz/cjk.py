"""Chinese labels in the lab's pictures: a CJK font for matplotlib and graphviz.

The lab's pictures keep their Latin font (DejaVu Sans in matplotlib, Helvetica in graphviz) and
fall back to Noto Sans CJK SC (Debian's ``fonts-noto-cjk``; ``binder/apt.txt``) for Chinese
characters, so an English picture looks as it did and a Chinese label is drawn with glyphs rather
than boxes.  :func:`use_cjk_fonts` (the matplotlib views call it before drawing) adds the CJK family to
matplotlib's ``font.family`` as the fallback for glyphs the Latin font lacks; :data:`GRAPH_FONT` is the ``fontname`` the graphviz views use (pango
measures it through fontconfig, and the browser draws the SVG with the same family list).

>>> cjk_font_path()                                  # doctest: +SKIP
'/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc'
"""
from __future__ import annotations

import textwrap
from typing import Any, List, Optional

from kpanic_lab.i18n import display_width

__all__ = ["CJK_FAMILY", "GRAPH_FONT", "cjk_font_path", "use_cjk_fonts", "display_width", "wrap_label"]

CJK_FAMILY = "Noto Sans CJK SC"
#: the graphviz ``fontname``: Latin in Helvetica, Chinese in Noto Sans CJK SC
GRAPH_FONT = f"Helvetica,{CJK_FAMILY}"


def _font_manager() -> Any:
    from matplotlib import font_manager      # here, so the graphviz views do not load matplotlib
    return font_manager


def _find(family: str) -> Optional[str]:
    font_manager = _font_manager()
    try:
        return str(font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False))
    except ValueError:
        return None


def cjk_font_path() -> Optional[str]:
    """The file matplotlib draws Chinese with, or None when no Noto CJK font is installed.

    matplotlib caches its font list; a font installed after the cache was written is added here
    from the system's font folders (``findSystemFonts``), so installing ``fonts-noto-cjk`` later works.
    """
    path = _find(CJK_FAMILY)
    if path is None:
        font_manager = _font_manager()
        for candidate in font_manager.findSystemFonts():
            if "NotoSansCJK" in candidate.replace(" ", "") and "Bold" not in candidate:
                font_manager.fontManager.addfont(candidate)
        path = _find(CJK_FAMILY)
    return path


def use_cjk_fonts() -> bool:
    """Add Noto Sans CJK SC after matplotlib's font families, as the fallback for glyphs they lack.

    matplotlib (3.6+) draws each character with the first family in ``font.family`` that has it, so
    Latin text keeps its font.  Idempotent.  Returns whether the font is installed (False: Chinese
    labels would be boxes).
    """
    import matplotlib

    found = cjk_font_path() is not None
    families = list(matplotlib.rcParams["font.family"])
    if CJK_FAMILY not in families:
        matplotlib.rcParams["font.family"] = families + [CJK_FAMILY]
    return found


def wrap_label(text: str, width: int) -> List[str]:
    """Lines of at most ``width`` columns: at spaces, and between any two Chinese characters.

    >>> wrap_label("3 · 进入 panic()", 8)
    ['3 · 进入', 'panic()']
    """
    if display_width(text) == len(text):
        return textwrap.wrap(text, width)          # no wide characters: exactly as before
    lines: List[str] = []
    line = ""
    for word in text.split(" "):
        pieces = [word] if display_width(word) <= width else list(word)
        for k, piece in enumerate(pieces):
            joiner = " " if line and k == 0 else ""
            if line and display_width(line + joiner + piece) > width:
                lines.append(line)
                line = piece
            else:
                line = line + joiner + piece
    if line:
        lines.append(line)
    return lines
