"""The boot loader: what firmware and a boot loader do before ``startup_64``.

It writes the e820 memory map and the command line into ``struct
boot_params`` (``bootparam.h``), copies the kernel's PT_LOAD segments to their
physical addresses (plus ``phys_base`` when the kernel is loaded elsewhere, as
a capture kernel is), builds boot page tables (the direct map at PAGE_OFFSET
and the kernel map at __START_KERNEL_map, with 2 MiB pages, as Linux's early
page tables) and a minimal GDT, and returns where the boot CPU starts.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import List, Tuple

from kpanic_lab.guest.image import KernelImage
from kpanic_lab.machine.errors import ConfigError
from kpanic_lab.machine.hwdefs import HW
from kpanic_lab.machine.memory import PhysicalMemory

E820_RAM, E820_RESERVED = 1, 2
PML4_DIRECT = (0xFFFF888000000000 >> 39) & 0x1FF   # 273
PML4_KERNEL = 511
MiB = 1 << 20


@dataclass(frozen=True)
class E820Entry:
    addr: int
    size: int
    type: int

    @property
    def end(self) -> int:
        return self.addr + self.size


def e820_map(mem_size: int) -> List[E820Entry]:
    """A PC's memory map for ``mem_size`` bytes of RAM, shaped like QEMU/SeaBIOS's.

    >>> [hex(e.addr) for e in e820_map(256 << 20)]
    ['0x0', '0x9fc00', '0xf0000', '0x100000', '0xffe0000']
    """
    top = mem_size - 0x20000
    return [
        E820Entry(0x0, 0x9FC00, E820_RAM),
        E820Entry(0x9FC00, 0x400, E820_RESERVED),
        E820Entry(0xF0000, 0x10000, E820_RESERVED),
        E820Entry(0x100000, top - 0x100000, E820_RAM),
        E820Entry(top, 0x20000, E820_RESERVED),
    ]


@dataclass(frozen=True)
class BootInfo:
    entry: int            # virtual RIP of startup_64
    boot_params: int      # physical address of struct boot_params (RSI)
    gdt_base: int         # virtual (direct-map) address of the loader's GDT
    gdt_limit: int
    cr3: int
    phys_base: int
    kernel_range: Tuple[int, int]
    pgt_range: Tuple[int, int]


def load_kernel(mem: PhysicalMemory, image: KernelImage, cmdline: str, nr_cpus: int,
                load_addr: int | None = None, e820: List[E820Entry] | None = None) -> BootInfo:
    """Load ``image`` into ``mem`` and prepare its boot; returns where to start."""
    load_phys = HW.LOAD_PHYSICAL_ADDR
    load_addr = load_phys if load_addr is None else load_addr
    if load_addr % (2 * MiB):
        raise ConfigError("--load-address", hex(load_addr), "must be 2 MiB aligned (the kernel map uses 2 MiB pages)")
    phys_base = load_addr - load_phys
    e820 = e820 or e820_map(mem.size)
    raw = cmdline.encode()
    if len(raw) >= HW.COMMAND_LINE_SIZE:
        raise ConfigError("--cmdline", cmdline[:40] + "...", f"longer than COMMAND_LINE_SIZE ({HW.COMMAND_LINE_SIZE} bytes)")

    lo, hi = image.phys_range
    k_start, k_end = lo + phys_base, hi + phys_base
    pgt_start = (k_end + 0xFFF) & ~0xFFF
    direct_gib = (mem.size + (1 << 30) - 1) >> 30
    # PML4, direct-map PDPT, one PD per GiB of RAM, kernel PDPT, kernel PD, GDT page
    pgt_end = pgt_start + (4 + direct_gib + 1) * 4096
    if pgt_end + MiB > mem.size:
        raise ConfigError("--memory", f"{mem.size >> 20}M",
                          f"too small for the kernel: the image and its page tables end at {pgt_end >> 20} MiB")

    for seg in image.segments:
        pa = seg.paddr + phys_base
        mem.write(pa, seg.data)
        if seg.memsz > len(seg.data):
            mem.write(pa + len(seg.data), bytes(seg.memsz - len(seg.data)))

    # page tables
    pml4 = pgt_start
    pdpt_direct = pml4 + 4096
    pds = [pdpt_direct + 4096 * (1 + i) for i in range(direct_gib)]
    pdpt_kernel = pds[-1] + 4096
    pd_kernel = pdpt_kernel + 4096
    gdt = pd_kernel + 4096
    mem.write(pgt_start, bytes(pgt_end - pgt_start))
    flags = 0x3  # present, writable (supervisor only)
    mem.write_u64(pml4 + PML4_DIRECT * 8, pdpt_direct | flags)
    mem.write_u64(pml4 + PML4_KERNEL * 8, pdpt_kernel | flags)
    for g, pd in enumerate(pds):
        mem.write_u64(pdpt_direct + g * 8, pd | flags)
        mem.write(pd, b"".join(struct.pack("<Q", ((g << 30) + (i << 21)) | flags | 0x80) for i in range(512)))
    # 0xffffffff80000000 is PDPT index 510; map 1 GiB of it onto phys_base
    mem.write_u64(pdpt_kernel + 510 * 8, pd_kernel | flags)
    mem.write(pd_kernel, b"".join(struct.pack("<Q", (phys_base + (i << 21)) | flags | 0x80)
                                  for i in range(512) if True))
    # a minimal GDT: null, null, kernel CS (64-bit), kernel DS
    gdt_entries = [0, 0, 0x00AF9A000000FFFF, 0x00CF92000000FFFF]
    mem.write(gdt, b"".join(struct.pack("<Q", e) for e in gdt_entries))

    # struct boot_params
    bp = HW.BOOT_PARAMS_PHYS
    fields = [HW.BOOT_PARAMS_MAGIC, phys_base, k_start, k_end, pgt_start, pgt_end, nr_cpus, len(e820)]
    blob = struct.pack("<8Q", *fields)
    ents = b"".join(struct.pack("<3Q", e.addr, e.size, e.type) for e in e820)
    ents += bytes(24 * HW.E820_MAX_ENTRIES - len(ents))
    blob += ents + raw + bytes(HW.COMMAND_LINE_SIZE - len(raw))
    mem.write(bp, blob)

    return BootInfo(
        entry=image.entry, boot_params=bp, gdt_base=HW.PAGE_OFFSET + gdt, gdt_limit=len(gdt_entries) * 8 - 1,
        cr3=pml4, phys_base=phys_base, kernel_range=(k_start, k_end), pgt_range=(pgt_start, pgt_end),
    )


BOOT_PARAMS_SIZE = 8 * 8 + 24 * 32 + 2048
