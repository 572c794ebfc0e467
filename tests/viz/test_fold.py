"""Long outputs folded: key lines first, the whole text behind <details>."""
from __future__ import annotations

from kpanic_lab.viz import folded, folded_html

OOPS = """[    1.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008
[    1.000001] #PF: supervisor write access in kernel mode
[    1.000002] some register line that is not key
[    1.000003] Kernel panic - not syncing: Fatal exception"""


def test_key_lines_come_first_and_the_rest_is_folded():
    html = folded_html(OOPS)
    shown, hidden = html.split("<details", 1)
    assert "BUG: kernel NULL pointer dereference" in shown and "Kernel panic - not syncing" in shown
    assert "some register line" not in shown and "some register line" in hidden
    assert "(4 lines)" in hidden and "</details>" in hidden


def test_text_is_escaped_and_given_key_lines_are_used():
    html = folded_html("<script>x</script>\nline", key_lines="line", title="console")
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>console</b>" in html


def test_widget():
    view = folded(OOPS)
    assert "kpanic-folded" in view._dom_classes and "<details" in view.value
