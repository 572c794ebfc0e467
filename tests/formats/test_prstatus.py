from __future__ import annotations

import struct

import pytest
from hypothesis import given, strategies as st

from kpanic_lab.formats.prstatus import PR_REG_OFFSET, PRSTATUS_SIZE, USER_REGS, PrStatus, PrStatusError


def test_size_and_register_order_are_x86_64s():
    assert PRSTATUS_SIZE == 0x150                  # readelf -n: "CORE 0x00000150 NT_PRSTATUS"
    assert USER_REGS[:6] == ("r15", "r14", "r13", "r12", "rbp", "rbx")
    assert USER_REGS[15:] == ("orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base",
                              "ds", "es", "fs", "gs")


def test_fields_at_their_offsets():
    raw = PrStatus(pid=1234, regs={"r15": 0x1515, "rip": 0xFFFFFFFF81000000, "gs": 0x6767}).pack()
    assert struct.unpack_from("<i", raw, 32)[0] == 1234                   # pr_pid
    assert struct.unpack_from("<Q", raw, PR_REG_OFFSET)[0] == 0x1515      # pr_reg[0] = r15
    assert struct.unpack_from("<Q", raw, PR_REG_OFFSET + 16 * 8)[0] == 0xFFFFFFFF81000000
    assert struct.unpack_from("<Q", raw, PR_REG_OFFSET + 26 * 8)[0] == 0x6767


@given(st.integers(0, 2**31 - 1), st.dictionaries(st.sampled_from(USER_REGS), st.integers(0, 2**64 - 1)))
def test_round_trip(pid, regs):
    p = PrStatus.unpack(PrStatus(pid=pid, regs=regs).pack())
    assert p.pid == pid and all(p.reg(r) == regs.get(r, 0) for r in USER_REGS)


def test_short_and_unknown_are_errors():
    with pytest.raises(PrStatusError, match="336"):
        PrStatus.unpack(b"\0" * 100)
    with pytest.raises(PrStatusError, match="eip"):
        PrStatus(regs={"eip": 1}).pack()
    with pytest.raises(KeyError):
        PrStatus().reg("eip")
