from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from kpanic_lab.kdump.config import (FAILURE_ACTIONS, KdumpConfError, parse_kdump_conf, parse_kdump_tools,
                                     parse_makedumpfile_args)

RHEL = """\
# kdump.conf as RHEL ships it, with a target
#raw /dev/vg/lv_kdump
xfs /dev/mapper/rhel-root     # the dump target
path /var/crash
core_collector makedumpfile -l --message-level 7 -d 31
failure_action shell
final_action poweroff
extra_bins /usr/bin/lsblk
extra_modules   virtio_blk   sd_mod
kdump_post /var/crash/scripts/kdump-post.sh
force_rebuild 0
"""


def test_rhel_file():
    c = parse_kdump_conf(RHEL)
    assert (c.target_type, c.target, c.path) == ("xfs", "/dev/mapper/rhel-root", "/var/crash")
    assert c.failure_action == "shell" and c.final_action == "poweroff"
    assert c.extra_modules == ["virtio_blk", "sd_mod"] and c.kdump_post.endswith("kdump-post.sh")
    mdf = c.makedumpfile
    assert (mdf.dump_level, mdf.compression, mdf.message_level, mdf.flatten) == (31, "lzo", 7, False)
    assert c.lines["target"] == 3 and not c.warnings


def test_defaults():
    c = parse_kdump_conf("")
    assert c.target_type is None and c.path == "/var/crash" and c.failure_action == "reboot"
    assert c.core_collector == "makedumpfile -l --message-level 7 -d 31"
    assert parse_kdump_conf("ssh kdump@backup").core_collector.startswith("makedumpfile -F")


def test_default_is_a_deprecated_alias():
    c = parse_kdump_conf("default dump_to_rootfs\n")
    assert c.failure_action == "dump_to_rootfs"
    assert "Option 'default' was renamed 'failure_action'" in c.warnings[0]


@pytest.mark.parametrize("text,line,msg", [
    ("path /a\nfoo bar\n", 2, "Invalid kdump config option foo"),
    ("path /a\n\n# x\npath /b\n", 4, "Duplicated kdump config value of option path"),
    ("raw /dev/sdb1\nnfs server:/export\n", 2, "More than one dump targets specified"),
    ("ext4 /dev/a\nxfs /dev/b\n", 2, "More than one dump targets specified"),
    ("failure_action panic\n", 1, "Usage kdump.conf: failure_action {reboot|halt|poweroff|shell|dump_to_rootfs}"),
    ("final_action shell\n", 1, "Usage kdump.conf: final_action {reboot|halt|poweroff}"),
    ("failure_action shell\ndefault reboot\n", 2, "Cannot set both 'default' and 'failure_action'"),
    ("link_delay 10\n", 1, "Deprecated kdump config option: link_delay"),
    ("path\n", 1, "Invalid kdump config value for option 'path'"),
    ("force_no_rebuild yes\n", 1, "force_no_rebuild values can only be 0 or 1"),
    ("force_rebuild 1\nforce_no_rebuild 1\n", 2, "mutually exclusive"),
    ("ssh root@host\ncore_collector makedumpfile -l -d 31\n", 2, 'needs makedumpfile "-F" option'),
    ("dracut_args --mount a --mount b\n", 1, "Multiple mount targets"),
    ("core_collector makedumpfile -d\n", 1, "core_collector: -d needs a number"),
])
def test_errors_name_the_line_like_kdumpctl(text, line, msg):
    with pytest.raises(KdumpConfError) as e:
        parse_kdump_conf(text)
    assert e.value.line == line and msg in str(e.value)
    assert str(e.value).startswith(f"kdump.conf:{line}: ")


def test_comments_anywhere_like_kdumpctls_sed():
    c = parse_kdump_conf("path /var/crash#dumps\n   final_action   halt   # at the end\n")
    assert c.path == "/var/crash" and c.final_action == "halt"


def test_makedumpfile_args():
    a = parse_makedumpfile_args("-F -c -d31 --message-level 1 -E --num-threads 2")
    assert (a.dump_level, a.compression, a.flatten, a.elf, a.message_level) == (31, "zlib", True, True, 1)
    assert a.other == ("--num-threads", "2")


DEBIAN = """\
# kdump-tools configuration
USE_KDUMP=1
KDUMP_COREDIR="/var/crash"
MAKEDUMP_ARGS="-c -d 31"
KDUMP_FAIL_CMD="reboot -f"
export KDUMP_DUMP_DMESG=1
# NFS="kdump-netcrash:/var/crash"
"""


def test_debian_file():
    t = parse_kdump_tools(DEBIAN)
    assert t.use_kdump and t.coredir == "/var/crash" and t.fail_cmd == "reboot -f" and t.dump_dmesg
    assert (t.makedumpfile.dump_level, t.makedumpfile.compression) == (31, "zlib")
    assert t.values["KDUMP_NUM_DUMPS"] == "0" and not t.warnings


@pytest.mark.parametrize("text,msg", [
    ("USE_KDUMP 1\n", "not a shell variable assignment"),
    ('KDUMP_COREDIR="/var/crash\n', "No closing quotation"),
    ("KDUMP_FAIL_CMD=reboot -f\n", "the shell would run '-f' as a command"),
    ("KDUMP_NUM_DUMPS=many\n", "is not a number"),
    ("HOSTTAG=mac\n", "'ip' or 'hostname'"),
    ('SSH="u@h"\nNFS="h:/x"\n', "SSH and NFS are both set"),
])
def test_debian_errors(text, msg):
    with pytest.raises(KdumpConfError, match=msg):
        parse_kdump_tools(text)


def test_debian_warnings():
    t = parse_kdump_tools("USE_KDUMP=yes\nKDUMP_COREDIR=$HOME/crash\nFOO=1\n")
    assert not t.use_kdump and len(t.warnings) == 3


directive = st.sampled_from(["path", "core_collector", "failure_action", "final_action", "default", "raw", "ssh",
                             "xfs", "nfs", "force_rebuild", "kdump_pre", "extra_bins", "net", "bogus", "#", ""])
value = st.one_of(st.sampled_from(list(FAILURE_ACTIONS) + ["0", "1", "/var/crash", "makedumpfile -F -d 31"]),
                  st.text(alphabet="abc/ -#=\t\"'", max_size=12))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(directive, value), max_size=8))
def test_fuzz_kdump_conf(lines):
    text = "\n".join(f"{d} {v}" for d, v in lines)
    try:
        c = parse_kdump_conf(text)
    except KdumpConfError as e:
        assert e.line is None or 1 <= e.line <= len(lines)
        return
    assert c.failure_action in FAILURE_ACTIONS


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ABCUSE_KDMP=01'\"$ \n#-", max_size=60))
def test_fuzz_kdump_tools(text):
    try:
        parse_kdump_tools(text)
    except KdumpConfError:
        pass
