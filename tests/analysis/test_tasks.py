"""Reading tasks when part of a task_struct is missing from the dump.

Linux 6.1's task_struct is 9792 bytes (three pages on Debian's kernel) and ends with
thread_struct; in a real ``-d 31`` dump one of those pages can be excluded (captured on
2026-12-03: kworker/1:2's last page, in one run of four of ``kpanic-lab real run sysrq-c
--kdump``).  ``ps`` needs none of it, so the task list must still be read.
"""
from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest

from kpanic_lab.analysis.errors import ReadError
from kpanic_lab.analysis.tasks import read_task, task_state_code

# offsets as in Debian's 6.1 task_struct (pahole), the thread_struct far behind them
OFFSETS = {"thread_info.cpu": 0x18, "__state": 0x18 + 8, "stack": 0x28, "flags": 0x2c, "mm": 0x8a8,
           "exit_state": 0x8d8, "pid": 0x988, "real_parent": 0x998, "comm": 0xbd0, "tasks": 0x8a0,
           "thread.sp": 0x2600}
SIZE = 9792


class _Type:
    byte_size = SIZE

    def has_member(self, name: str) -> bool:
        return name in OFFSETS

    def member(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(offset=OFFSETS[name])


class _Prog:
    """Memory of one task_struct whose last page was excluded, and the types to read it."""

    def __init__(self, base: int) -> None:
        self.base, self.cache = base, {}
        mem = bytearray(SIZE)
        struct.pack_into("<q", mem, OFFSETS["__state"], 0x402)
        struct.pack_into("<i", mem, OFFSETS["pid"], 93)
        mem[OFFSETS["comm"]:OFFSETS["comm"] + 11] = b"kworker/1:2"
        self.mem = bytes(mem)

    def type(self, spec: str) -> _Type:
        assert spec == "struct task_struct"
        return _Type()

    def read(self, addr: int, size: int, physical: bool = False) -> bytes:
        off = addr - self.base
        if addr + size > (self.base + SIZE) & ~0xFFF:       # the task's last page is not in the dump
            raise ReadError(addr, size, "page excluded from the dump (makedumpfile -d)")
        return self.mem[off:off + size]

    def read_s32(self, addr: int) -> int:
        return struct.unpack("<i", self.read(addr, 4))[0]


def test_a_task_whose_thread_page_is_excluded_is_still_read():
    prog = _Prog(0xffff8bb7dfc66100)
    task = read_task(prog, prog.base)
    assert (task.pid, task.comm, task.state_code) == (93, "kworker/1:2", "ID")


def test_a_field_in_an_excluded_page_still_fails_with_a_read_error():
    prog = _Prog(0xffff8bb7dfc66100)
    OFFSETS_MOVED = dict(OFFSETS, comm=0x25f0)                 # comm inside the excluded page
    prog.type = lambda spec: type("T", (_Type,), {"member": lambda self, n: SimpleNamespace(
        offset=OFFSETS_MOVED[n])})()
    with pytest.raises(ReadError, match="page excluded"):
        read_task(prog, prog.base)


@pytest.mark.parametrize("state, exit_state, code", [
    (0x0, 0, "RU"), (0x1, 0, "IN"), (0x2, 0, "UN"), (0x402, 0, "ID"), (0x4, 0, "ST"), (0x8, 0, "TR"),
    (0x40, 0, "PA"), (0x200, 0, "WA"), (0x800, 0, "NE"), (0x0, 0x20, "ZO"), (0x0, 0x10, "DE"), (0x80, 0, "DE")])
def test_state_codes_are_crashs(state, exit_state, code):
    assert task_state_code(state, exit_state) == code
