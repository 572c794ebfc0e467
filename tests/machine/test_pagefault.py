"""The page-fault error code's W bit: does the faulting instruction write? (capstone, no machine)"""
from __future__ import annotations

import pytest

from kpanic_lab.machine.pagefault import instruction_writes


@pytest.mark.parametrize("hexcode,writes", [
    ("c70425000000000100000000", True),    # movl $1, 0x0
    ("488b042508000000", False),           # mov 0x8, %rax
    ("50", True),                          # push %rax
    ("ff10", True),                        # call *(%rax): reads the pointer, then pushes: a write
    ("f3ab", True),                        # rep stos %eax, (%rdi)
    ("", False),                           # nothing to decode
])
def test_page_fault_write_bit(hexcode, writes):
    assert instruction_writes(bytes.fromhex(hexcode), 0x1000) is writes
