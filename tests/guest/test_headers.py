"""guest/headers.py: the guest's #defines, parsed once, agree with the C and with the built image."""
from __future__ import annotations

import re

import pytest

from kpanic_lab.guest import KERNEL_SRC, vmlinux_path
from kpanic_lab.guest import headers
from kpanic_lab.guest.headers import define, header, parse_defines


def test_literals_in_every_c_spelling():
    text = ("#define A 12\n#define B 0x3f8   /* data register, a comment that goes on\n"
            "#define C 0040000\n#define D 00\n#define E 1795680000ULL\n#define F (-128)\n")
    assert parse_defines(text) == {"A": 12, "B": 0x3F8, "C": 0o40000, "D": 0, "E": 1795680000, "F": -128}


def test_expressions_use_the_names_defined_before_them():
    text = ("#define PAGE_SHIFT 12\n#define PAGE_SIZE (1UL << PAGE_SHIFT)\n"
            "#define PAGE_MASK (~(PAGE_SIZE - 1))\n#define SIGNED (~0)\n#define NOTE (12 * 2 + 12 + PAGE_SIZE)\n")
    d = parse_defines(text)
    assert d["PAGE_SIZE"] == 4096 and d["NOTE"] == 4132
    assert d["PAGE_MASK"] == 0xFFFFFFFFFFFFF000        # unsigned long wraps to 64 bits
    assert d["SIGNED"] == -1                           # an int does not


def test_what_is_not_an_integer_constant_is_left_out():
    text = ('#define KPANIC_X_H\n#define __va(pa) ((pa) + 1)\n#define KERN_SOH "\\001"\n'
            "#define current get_current()\n#define J ((unsigned long)(unsigned int)(-300 * HZ))\n"
            "#define UNKNOWN (NOT_DEFINED + 1)\n#define X 1\n#define X \"now a string\"\n")
    assert parse_defines(text) == {}


def test_header_reads_the_guests_sources():
    assert header("param.h")["NR_CPUS"] == headers.NR_CPUS
    assert header("memlayout.h")["__START_KERNEL_map"] == headers.START_KERNEL_MAP
    assert define("COM1_BASE", "memlayout.h", "hw.h") == 0x3F8
    with pytest.raises(KeyError, match="no integer #define NOPE in the guest's hw.h"):
        define("NOPE", "hw.h")


def test_every_header_of_the_guest_parses():
    for h in sorted(KERNEL_SRC.glob("*.h")):
        header(h.name)


def test_error_code_vectors_are_the_ones_entry_s_takes_an_error_code_for():
    entry = (KERNEL_SRC / "entry.S").read_text()
    taken = {int(v) for flag, v in re.findall(r"^idtentry\s+asm_exc_\w+\s+exc_\w+\s+(\d)\s+/\*\s*(\d+)\s*\*/",
                                              entry, re.M) if flag == "1"}
    assert headers.ERROR_CODE_VECTORS == taken | {8}    # #DF has its own IST entry, not an idtentry line


def test_the_layout_is_the_one_the_image_was_linked_with():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    from kpanic_lab.guest.image import KernelImage

    image = KernelImage.open()
    assert image.symbol("_text").address == headers.START_KERNEL_MAP + headers.LOAD_PHYSICAL_ADDR
    assert image.phys_range[0] == headers.LOAD_PHYSICAL_ADDR
    assert image.symbol("init_stack").size == headers.THREAD_SIZE
