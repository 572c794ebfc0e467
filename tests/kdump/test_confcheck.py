"""kdump/confcheck.py: a kdump.conf and /etc/default/kdump-tools checked and said in words."""
from __future__ import annotations

from kpanic_lab.kdump import confcheck
from kpanic_lab.kdump.config import parse_kdump_conf, parse_kdump_tools, parse_makedumpfile_args


def test_makedumpfile_words():
    assert confcheck.makedumpfile_words(parse_makedumpfile_args("-F -c -d 17")) == \
        "kdump-compressed, flattened (-F), zlib, -d 17 (drops zero pages, free pages)"
    assert confcheck.makedumpfile_words(parse_makedumpfile_args("-E -d 0")) == "ELF (-E), uncompressed, -d 0 (drops nothing)"
    assert confcheck.makedumpfile_words(None).startswith("not makedumpfile")


def test_conf_summary_fills_in_defaults():
    text = confcheck.conf_summary(parse_kdump_conf("ssh kdump@10.0.0.1\ndefault shell\n"))
    assert "dump target     ssh kdump@10.0.0.1, /var/crash/<host>-<date>/" in text
    assert "core_collector  makedumpfile -F -l --message-level 7 -d 31" in text      # ssh: mkdumprd's flat default
    assert "failure_action  shell" in text
    assert "renamed 'failure_action'" in text


def test_check_kdump_conf_marks_the_line():
    text = confcheck.check_kdump_conf("path /var/crash\ncore_collector makedumpfile -d 31\npath /srv\n")
    assert text.splitlines()[2] == ">  3  path /srv"
    assert text.splitlines()[-1] == ("kdumpctl: kdump.conf:3: Duplicated kdump config value of option path "
                                     "(first set on line 1)")
    assert confcheck.check_kdump_conf("raw /dev/vdb\n").startswith("dump target     raw device /dev/vdb")


def test_tools_summary():
    text = confcheck.tools_summary(parse_kdump_tools('USE_KDUMP=1\nMAKEDUMP_ARGS="-c -d 31"\nSSH="kdump@10.0.0.1"\n'))
    assert "kdump is on" in text and "on ssh kdump@10.0.0.1" in text
    assert "MAKEDUMP_ARGS    -c -d 31 = kdump-compressed, zlib, -d 31" in text
    assert "(unset: reboot after a failed dump)" in text


def test_check_kdump_tools_marks_the_line():
    text = confcheck.check_kdump_tools('USE_KDUMP=1\nMAKEDUMP_ARGS=-c -d 31\n')
    assert text.splitlines()[1] == ">  2  MAKEDUMP_ARGS=-c -d 31"
    assert text.splitlines()[-1].startswith("error: kdump-tools:2: MAKEDUMP_ARGS=-c -d 31: the shell would run '-d'")
    assert confcheck.check_kdump_tools("USE_KDUMP=1\n").startswith("USE_KDUMP=1       kdump is on")


def test_docstring_examples():
    import doctest
    assert doctest.testmod(confcheck).failed == 0
