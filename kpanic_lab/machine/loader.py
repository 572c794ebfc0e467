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
from typing import List, Optional, Tuple

from kpanic_lab.guest.headers import (BOOT_PARAMS_PHYS, E820_TYPE_RAM, E820_TYPE_RESERVED, LOAD_PHYSICAL_ADDR,
                                      PAGE_OFFSET, PAGE_SIZE, START_KERNEL_MAP, _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW)
from kpanic_lab.guest.image import KernelImage
from kpanic_lab.machine.errors import ConfigError
from kpanic_lab.machine.hwdefs import HW
from kpanic_lab.machine.memory import PhysicalMemory

PML4_DIRECT = (PAGE_OFFSET >> 39) & 0x1FF          # 273
PML4_KERNEL = (START_KERNEL_MAP >> 39) & 0x1FF     # 511
PDPT_KERNEL = (START_KERNEL_MAP >> 30) & 0x1FF     # 510
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
        E820Entry(0x0, 0x9FC00, E820_TYPE_RAM),
        E820Entry(0x9FC00, 0x400, E820_TYPE_RESERVED),
        E820Entry(0xF0000, 0x10000, E820_TYPE_RESERVED),
        E820Entry(0x100000, top - 0x100000, E820_TYPE_RAM),
        E820Entry(top, 0x20000, E820_TYPE_RESERVED),
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


def build_boot_image(image: KernelImage, cmdline: str, nr_cpus: int, ram_size: int,
                     load_addr: Optional[int] = None, e820: Optional[List[E820Entry]] = None,
                     boot_params_addr: Optional[int] = None) -> Tuple[BootInfo, List[Tuple[int, bytes]]]:
    """Everything a boot needs, as (physical address, bytes) pieces: the kernel's segments,
    the boot page tables and GDT, and struct boot_params.  The first boot writes them into
    RAM (``load_kernel``); kexec-tools hands the same pieces to kexec_load(2) for a capture
    kernel loaded at ``load_addr`` inside the crashkernel= range."""
    load_phys = LOAD_PHYSICAL_ADDR
    load_addr = load_phys if load_addr is None else load_addr
    if load_addr % (2 * MiB):
        raise ConfigError("--load-address", hex(load_addr), "must be 2 MiB aligned (the kernel map uses 2 MiB pages)")
    phys_base = load_addr - load_phys
    e820 = e820 or e820_map(ram_size)
    raw = cmdline.encode()
    if len(raw) >= HW.COMMAND_LINE_SIZE:
        raise ConfigError("--cmdline", cmdline[:40] + "...", f"longer than COMMAND_LINE_SIZE ({HW.COMMAND_LINE_SIZE} bytes)")

    lo, hi = image.phys_range
    k_start, k_end = lo + phys_base, hi + phys_base
    pgt_start = -(-k_end // PAGE_SIZE) * PAGE_SIZE
    direct_gib = (ram_size + (1 << 30) - 1) >> 30
    # PML4, direct-map PDPT, one PD per GiB of RAM, kernel PDPT, kernel PD, GDT page
    pgt_end = pgt_start + (4 + direct_gib + 1) * PAGE_SIZE
    if boot_params_addr is None:
        boot_params_addr = BOOT_PARAMS_PHYS
    if pgt_end + MiB > ram_size:
        raise ConfigError("--memory", f"{ram_size >> 20}M",
                          f"too small for the kernel: the image and its page tables end at {pgt_end >> 20} MiB")

    pieces: List[Tuple[int, bytes]] = []
    for seg in image.segments:
        data = seg.data + bytes(seg.memsz - len(seg.data))
        pieces.append((seg.paddr + phys_base, data))

    # page tables: the direct map of all RAM, and 1 GiB of kernel map onto phys_base
    pml4 = pgt_start
    pdpt_direct = pml4 + PAGE_SIZE
    pds = [pdpt_direct + PAGE_SIZE * (1 + i) for i in range(direct_gib)]
    pdpt_kernel = pds[-1] + PAGE_SIZE
    pd_kernel = pdpt_kernel + PAGE_SIZE
    gdt = pd_kernel + PAGE_SIZE
    tables = bytearray(pgt_end - pgt_start)

    def put(addr: int, value: int) -> None:
        struct.pack_into("<Q", tables, addr - pgt_start, value)

    flags = _PAGE_PRESENT | _PAGE_RW   # supervisor only
    put(pml4 + PML4_DIRECT * 8, pdpt_direct | flags)
    put(pml4 + PML4_KERNEL * 8, pdpt_kernel | flags)
    for g, pd in enumerate(pds):
        put(pdpt_direct + g * 8, pd | flags)
        for i in range(512):
            put(pd + i * 8, ((g << 30) + (i << 21)) | flags | _PAGE_PSE)
    put(pdpt_kernel + PDPT_KERNEL * 8, pd_kernel | flags)
    for i in range(512):
        put(pd_kernel + i * 8, (phys_base + (i << 21)) | flags | _PAGE_PSE)
    gdt_entries = [0, 0, 0x00AF9A000000FFFF, 0x00CF92000000FFFF]   # null, null, kernel CS, kernel DS
    for i, e in enumerate(gdt_entries):
        put(gdt + 8 * i, e)
    pieces.append((pgt_start, bytes(tables)))

    # struct boot_params
    fields = [HW.BOOT_PARAMS_MAGIC, phys_base, k_start, k_end, pgt_start, pgt_end, nr_cpus, len(e820)]
    blob = struct.pack("<8Q", *fields)
    ents = b"".join(struct.pack("<3Q", e.addr, e.size, e.type) for e in e820)
    ents += bytes(24 * HW.E820_MAX_ENTRIES - len(ents))
    blob += ents + raw + bytes(HW.COMMAND_LINE_SIZE - len(raw))
    pieces.append((boot_params_addr, blob))

    info = BootInfo(
        entry=image.entry, boot_params=boot_params_addr, gdt_base=PAGE_OFFSET + gdt,
        gdt_limit=len(gdt_entries) * 8 - 1, cr3=pml4, phys_base=phys_base, kernel_range=(k_start, k_end),
        pgt_range=(pgt_start, pgt_end),
    )
    return info, pieces


def load_kernel(mem: PhysicalMemory, image: KernelImage, cmdline: str, nr_cpus: int,
                load_addr: Optional[int] = None, e820: Optional[List[E820Entry]] = None) -> BootInfo:
    """Load ``image`` into ``mem`` and prepare its boot; returns where to start."""
    info, pieces = build_boot_image(image, cmdline, nr_cpus, mem.size, load_addr, e820)
    for addr, data in pieces:
        mem.write(addr, data)
    return info


BOOT_PARAMS_SIZE = 8 * 8 + 24 * HW.E820_MAX_ENTRIES + HW.COMMAND_LINE_SIZE
