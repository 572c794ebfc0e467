from __future__ import annotations

import string

import pytest
from hypothesis import given, settings, strategies as st

from kpanic_lab.formats.vmcoreinfo import (VmcoreInfoError, VmcoreInfoWriter, emit_vmcoreinfo,
                                           parse_vmcoreinfo)

# the first lines of the real VMCOREINFO note in shared/reference/d_kdump.capture.proc-vmcore-elf-headers.txt
REAL_HEAD = bytes.fromhex("4f 53 52 45 4c 45 41 53 45 3d 36 2e 31 2e 30 2d 35 36 2d 61 6d 64 36 34 0a 42 55 49 4c"
                          " 44 2d 49 44 3d 65 62 34 66 62 63 64 30 33 37 65 37 32 35 33 37 31 37 39 35 30 62 66 32 62 39")


def test_real_note_prefix_parses():
    info = parse_vmcoreinfo(REAL_HEAD + b"\n")
    assert info.osrelease == "6.1.0-56-amd64"
    assert info.build_id.startswith("eb4fbcd037e7")


def test_typed_accessors_use_linux_number_formats():
    text = ("OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(mem_map)=ffffffff81069100\nSIZE(page)=56\n"
            "OFFSET(page._mapcount)=48\nLENGTH(zone.free_area)=11\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\n"
            "NUMBER(phys_base)=16777216\nCRASHTIME=1700000000\nKERNELOFFSET=2c000000\n\0\0\0")
    info = parse_vmcoreinfo(text)
    assert info.symbol("mem_map") == 0xFFFFFFFF81069100
    assert info.size("page") == 56 and info.offset("page", "_mapcount") == 48
    assert info.length("zone.free_area") == 11
    assert info.number("PAGE_BUDDY_MAPCOUNT_VALUE") == -129
    assert info.phys_base == 16 << 20 and info.crashtime == 1700000000
    assert info.kerneloffset == 0x2C000000 and info.pagesize == 4096
    assert isinstance(info, dict) and info["SIZE(page)"] == "56"


def test_missing_key_names_it():
    with pytest.raises(VmcoreInfoError, match=r"no SYMBOL\(prb\)"):
        parse_vmcoreinfo("OSRELEASE=6.1\n").symbol("prb")


@pytest.mark.parametrize("bad,line", [("OSRELEASE=6.1\nnot a line\n", 2), ("=x\n", 1), ("A B=1\n", 1)])
def test_malformed_line_names_the_line(bad, line):
    with pytest.raises(VmcoreInfoError, match=f"line {line}"):
        parse_vmcoreinfo(bad)


def test_non_ascii_is_an_error():
    with pytest.raises(VmcoreInfoError, match="not ASCII"):
        parse_vmcoreinfo(b"OSRELEASE=\xff\n")


def test_writer_formats():
    w = VmcoreInfoWriter()
    w.osrelease("6.1.0"); w.symbol("init_top_pgt", 0xFFFFFFFF82A0A000); w.size("page", 64)
    w.offset("page", "flags", 0); w.length("node_data", 1); w.number("phys_base", -1)
    w.crashtime(5); w.kerneloffset(0x2C000000)
    assert w.text() == ("OSRELEASE=6.1.0\nSYMBOL(init_top_pgt)=ffffffff82a0a000\nSIZE(page)=64\n"
                        "OFFSET(page.flags)=0\nLENGTH(node_data)=1\nNUMBER(phys_base)=-1\nCRASHTIME=5\n"
                        "KERNELOFFSET=2c000000\n")


# keys: SYMBOL(x), SIZE(x), NUMBER(x) or a bare NAME; values: [0-9a-zA-Z._- ]{0,20}
# (built from alphabets: the same strings st.from_regex draws, several times faster)
keys = st.one_of(
    st.tuples(st.sampled_from(["SYMBOL", "SIZE", "NUMBER"]),
              st.text(string.ascii_lowercase + "_", min_size=1, max_size=12)).map(lambda k: f"{k[0]}({k[1]})"),
    st.text(string.ascii_uppercase + "_", min_size=1, max_size=12))
values = st.text(string.digits + string.ascii_letters + "._- ", max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, values, max_size=20))
def test_emit_parse_round_trip(d):
    assert dict(parse_vmcoreinfo(emit_vmcoreinfo(d.items()))) == d
