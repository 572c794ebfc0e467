"""Chinese labels in the lab's pictures: a CJK font for matplotlib and graphviz.

The lab's pictures keep their Latin font (DejaVu Sans in matplotlib, Helvetica in graphviz) and
fall back to Noto Sans CJK SC (Debian's ``fonts-noto-cjk``; ``binder/apt.txt``) for Chinese
characters, so an English picture looks as it did and a Chinese label is drawn with glyphs rather
than boxes.  Importing this module (the matplotlib views do) adds the CJK family to matplotlib's
``font.family`` as the fallback for glyphs the Latin font lacks; :data:`GRAPH_FONT` is the ``fontname`` the graphviz views use (pango
measures it through fontconfig, and the browser draws the SVG with the same family list).

>>> cjk_font_path()                                  # doctest: +SKIP
'/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc'
"""
from __future__ import annotations

from typing import Optional

import matplotlib
from matplotlib import font_manager

__all__ = ["CJK_FAMILY", "GRAPH_FONT", "cjk_font_path", "use_cjk_fonts"]

CJK_FAMILY = "Noto Sans CJK SC"
#: the graphviz ``fontname``: Latin in Helvetica, Chinese in Noto Sans CJK SC
GRAPH_FONT = f"Helvetica,{CJK_FAMILY}"


def _find(family: str) -> Optional[str]:
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
    found = cjk_font_path() is not None
    families = list(matplotlib.rcParams["font.family"])
    if CJK_FAMILY not in families:
        matplotlib.rcParams["font.family"] = families + [CJK_FAMILY]
    return found


use_cjk_fonts()
