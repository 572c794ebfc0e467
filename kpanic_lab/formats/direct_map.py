"""Where a KASLR kernel put its direct map (``page_offset_base``), found from its page tables.

Linux x86-64 maps all RAM at ``page_offset_base``: 0xffff888000000000 without randomisation, but a
kernel built with CONFIG_RANDOMIZE_MEMORY (Debian's) moves it by a random number of 1 GiB steps at
boot.  VMCOREINFO does not export the value; an ELF /proc/vmcore shows it in its PT_LOADs, a
kdump-compressed dump does not.  Like crash and makedumpfile without a vmlinux, we find it from
the page tables (``SYMBOL(init_top_pgt)``): the direct map is the lowest kernel-half address that
maps physical address 0.

    PGD index  256..   guard hole, LDT remap, then the direct map (at a random 1 GiB boundary)
    PGD index  511     the kernel image and modules (skipped)

The search is pure over a ``read_physical(addr, size)`` function, so it can be tested on a few
hand-built tables.
"""
from __future__ import annotations

from typing import Callable, Optional

PAGE_ADDR = 0x000FFFFFFFFFF000
PRESENT, HUGE = 0x1, 0x80
KERNEL_HALF = 0xFFFF800000000000
PGD_SHIFT, PUD_SHIFT, PMD_SHIFT = 39, 30, 21

ReadPhysical = Callable[[int, int], bytes]


def _entries(read: ReadPhysical, table: int) -> "list[int]":
    raw = read(table, 4096)
    return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, 4096, 8)]


def _maps_zero(read: ReadPhysical, entry: int, level: int) -> bool:
    """Whether the first page this PUD (level 3) or PMD (level 2) entry covers is physical 0."""
    if not entry & PRESENT:
        return False
    if entry & HUGE:
        return entry & PAGE_ADDR == 0
    first = _entries(read, entry & PAGE_ADDR)[0]
    if level == 2:                                    # a page table: its first PTE
        return bool(first & PRESENT) and first & PAGE_ADDR == 0
    return _maps_zero(read, first, 2)


def find_direct_map(read: ReadPhysical, pgd: int) -> Optional[int]:
    """The virtual address where physical 0 is mapped in the kernel half of the page tables at
    physical address ``pgd`` (4-level paging), or None if no entry maps it.

    Pages that cannot be read (excluded from a filtered dump) are passed over.
    """
    try:
        top = _entries(read, pgd)
    except Exception:                                  # noqa: BLE001 (the root itself is missing)
        return None
    for i in range(256, 511):
        if not top[i] & PRESENT or top[i] & HUGE:
            continue
        try:
            puds = _entries(read, top[i] & PAGE_ADDR)
        except Exception:                              # noqa: BLE001 (a PUD page not in the dump)
            continue
        for j, pud in enumerate(puds):
            try:
                if _maps_zero(read, pud, 3):
                    va = (i << PGD_SHIFT) | (j << PUD_SHIFT)
                    return va | KERNEL_HALF | (0xFFFF << 48)
            except Exception:                          # noqa: BLE001 (a PMD/PTE page not in the dump)
                continue
    return None
