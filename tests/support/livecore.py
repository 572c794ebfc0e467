"""An ELF vmcore from a live (panicked) lab machine, and VMCOREINFO built from the guest image.

Test support, not part of the lab: the lab's own vmcores come from the guest's capture kernel
(``kpanic_lab.kdump``); tests and benchmarks use this module to make one in a single step, and
to cross-check what the guest writes.

The guest writes its own VMCOREINFO note and NT_PRSTATUS notes when it crashes into a capture
kernel; until then, and to cross-check them, this module builds both from the outside:

- ``vmcoreinfo_from_image``: the VMCOREINFO text Linux's crash_core.c would emit, with every
  number read from the image (symbols, struct layouts from DWARF, ``enum pageflags`` values from
  DWARF) and the one #define DWARF cannot hold (PAGE_BUDDY_MAPCOUNT_VALUE) from mm.h;
- ``prstatus_from_machine``: one NT_PRSTATUS per CPU, from the CPU's registers and the pid of
  the task it runs (pcpu_data[cpu].current_task->pid);
- ``write_vmcore_from_machine``: the ELF vmcore /proc/vmcore would show: the notes, a kernel
  text PT_LOAD (as kexec-tools adds), and one PT_LOAD per System RAM range.

>>> from kpanic_lab.panic import PanicSession                              # doctest: +SKIP
>>> from tests.support.livecore import write_vmcore_from_machine            # doctest: +SKIP
>>> s = PanicSession("sysrq-c").start(); s.run_to_end()                    # doctest: +SKIP
>>> with open("vmcore", "wb") as f: write_vmcore_from_machine(s.machine, f)  # doctest: +SKIP
"""
from __future__ import annotations

import re
import time
from functools import lru_cache
from typing import BinaryIO, Dict, Iterable, List, Optional, Sequence, Tuple

from elftools.elf.elffile import ELFFile

from kpanic_lab.errors import LabError
from kpanic_lab.formats.dump import KERNEL_IMAGE_SIZE
from kpanic_lab.formats.elfcore import ElfLoad, build_vmcore_notes, direct_map_load, write_elf_core
from kpanic_lab.formats.prstatus import PrStatus
from kpanic_lab.formats.sink import Bytes, StreamSink
from kpanic_lab.formats.vmcoreinfo import VmcoreInfoWriter
from kpanic_lab.guest.dwarf import TypeNotFound, struct_layout
from kpanic_lab.guest.headers import (E820_TYPE_RAM, KERNEL_DS, PAGE_BUDDY_MAPCOUNT_VALUE, PAGE_OFFSET, PAGE_SIZE,
                                      START_KERNEL_MAP, USER_DS)
from kpanic_lab.guest.image import KernelImage

_CHUNK = 16 << 20


class LiveCoreError(LabError):
    """The image or machine lacks something a vmcore needs."""


def image_bytes(image: KernelImage, vaddr: int, size: int) -> bytes:
    """Initial bytes of the image at a kernel virtual address (.bss reads as zeros)."""
    for seg in image.segments:
        if seg.vaddr <= vaddr and vaddr + size <= seg.vaddr + seg.memsz:
            rel = vaddr - seg.vaddr
            data = seg.data[rel:rel + size]
            return data + bytes(size - len(data))
    raise LiveCoreError(f"0x{vaddr:x} is not in a loadable segment of {image.path.name}")


def osrelease_of(image: KernelImage) -> str:
    """The release in linux_banner ("Linux version 6.1.0-kpanic (...")."""
    sym = image.symbol("linux_banner")
    banner = image_bytes(image, sym.address, sym.size).split(b"\0", 1)[0].decode("latin-1")
    m = re.match(r"Linux version (\S+)", banner)
    if not m:
        raise LiveCoreError(f"linux_banner does not start with 'Linux version': {banner[:40]!r}")
    return m.group(1)


@lru_cache(maxsize=4)
def _enumerators(path: str, build_id: Optional[str]) -> Dict[str, int]:
    out: Dict[str, int] = {}
    with open(path, "rb") as f:
        for cu in ELFFile(f).get_dwarf_info().iter_CUs():
            for die in cu.iter_DIEs():
                if die.tag == "DW_TAG_enumerator" and "DW_AT_const_value" in die.attributes:
                    out.setdefault(die.attributes["DW_AT_name"].value.decode(), die.attributes["DW_AT_const_value"].value)
    return out


def vmcoreinfo_from_image(image: KernelImage, *, phys_base: int = 0, crashtime: Optional[int] = None,
                          kerneloffset: int = 0, init_top_pgt: Optional[int] = None,
                          osrelease: Optional[str] = None) -> str:
    """VMCOREINFO for the guest ``image`` in Linux 6.1's names and formats (crash_core.c order).

    Entries Linux has but the guest lacks (a symbol it does not define) are left out, so a
    tool that needs them fails the way it would on such a kernel.  ``init_top_pgt``: the kernel
    page table root's virtual address, when the guest has no symbol for it.
    """
    w = VmcoreInfoWriter()
    w.osrelease(osrelease or osrelease_of(image))
    if image.build_id:
        w.build_id(image.build_id)
    w.pagesize(PAGE_SIZE)

    def sym(name: str) -> None:
        try:
            w.symbol(name, image.symbol(name).address)
        except Exception:
            pass

    sym("init_uts_ns")
    try:
        w.offset("uts_namespace", "name", struct_layout(image, "uts_namespace").offset("name"))
    except TypeNotFound:
        pass
    # x86-64's swapper_pg_dir is init_top_pgt (a #define in Linux and in the guest)
    root = image.symbols["init_top_pgt"].address if "init_top_pgt" in image.symbols else init_top_pgt
    sym("node_online_map")
    if root is not None:
        w.symbol("swapper_pg_dir", root)
    for name in ("_stext", "vmap_area_list", "mem_map", "contig_page_data"):
        sym(name)
    try:
        page = struct_layout(image, "page")
    except TypeNotFound as e:
        raise LiveCoreError(f"no struct page in the DWARF of {image.path.name}: {e}") from None
    w.size("page", page.size)
    for member in ("flags", "_refcount", "mapping", "lru", "_mapcount", "private"):
        if member in page.members:
            w.offset("page", member, page.offset(member))
    w.size("list_head", struct_layout(image, "list_head").size)
    enums = _enumerators(str(image.path), image.build_id)
    for flag in ("PG_lru", "PG_private", "PG_swapcache", "PG_swapbacked", "PG_slab", "PG_hwpoison"):
        if flag in enums:
            w.number(flag, enums[flag])
    if "PG_head" in enums:
        w.number("PG_head_mask", 1 << enums["PG_head"])
    w.number("PAGE_BUDDY_MAPCOUNT_VALUE", PAGE_BUDDY_MAPCOUNT_VALUE)
    # printk (log_buf_vmcoreinfo_setup, the printk_log format of Linux 3.5 .. 5.9)
    for name in ("log_buf", "log_buf_len", "log_first_idx", "clear_idx", "log_next_idx"):
        sym(name)
    try:
        log = struct_layout(image, "printk_log")
        w.size("printk_log", log.size)
        for member in ("ts_nsec", "len", "text_len", "dict_len"):
            w.offset("printk_log", member, log.offset(member))
    except TypeNotFound:
        pass
    # arch_crash_save_vmcoreinfo (x86-64)
    w.number("phys_base", phys_base)
    if root is not None:
        w.symbol("init_top_pgt", root)
    w.raw("NUMBER(pgtable_l5_enabled)", "0")
    w.kerneloffset(kerneloffset)
    w.number("KERNEL_IMAGE_SIZE", KERNEL_IMAGE_SIZE)
    w.number("sme_mask", 0)
    w.crashtime(int(time.time()) if crashtime is None else crashtime)
    return w.text()


# ------------------------------------------------------------------ from a live machine
def ram_ranges(machine, exclude: Sequence[Tuple[int, int]] = ()) -> List[Tuple[int, int]]:  # type: ignore[no-untyped-def]
    """System RAM ranges of the machine's e820 map, less page 0 (Linux reserves it) and
    ``exclude`` (the crashkernel region: kexec-tools leaves it out of the vmcore)."""
    from kpanic_lab.machine.loader import e820_map
    ranges = [(max(e.addr, PAGE_SIZE), e.end) for e in e820_map(machine.config.memory)
              if e.type == E820_TYPE_RAM and e.end > PAGE_SIZE]
    for xa, xb in exclude:
        cut = []
        for a, b in ranges:
            if xb <= a or xa >= b:
                cut.append((a, b))
                continue
            if a < xa:
                cut.append((a, xa))
            if xb < b:
                cut.append((xb, b))
        ranges = cut
    return ranges


def _current_pid(machine, cpu: int) -> int:  # type: ignore[no-untyped-def]
    try:
        pcpu = struct_layout(machine.image, "pcpu")
        task = struct_layout(machine.image, "task_struct")
        base = machine.symbol("pcpu_data") + cpu * pcpu.size
        current = machine.read_u64(base + pcpu.offset("current_task"))
        return int.from_bytes(machine.read(current + task.offset("pid"), 4), "little", signed=True) if current else 0
    except Exception:
        return 0


def prstatus_from_machine(machine) -> List[PrStatus]:  # type: ignore[no-untyped-def]
    """One NT_PRSTATUS per CPU: its registers now, and the pid of the task it runs."""
    out = []
    for cpu in range(len(machine.cpus)):
        r = machine.registers(cpu)
        regs = {name: getattr(r, name) for name in ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10",
                                                    "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi", "rip", "rsp",
                                                    "cs", "gs_base")}
        regs.update(eflags=r.rflags, ss=KERNEL_DS if r.cs & 3 == 0 else USER_DS,
                    orig_rax=0xFFFFFFFFFFFFFFFF)
        out.append(PrStatus(pid=_current_pid(machine, cpu), regs=regs))
    return out


def kernel_text_load(image: KernelImage, phys_base: int = 0) -> ElfLoad:
    """The PT_LOAD kexec-tools adds for the kernel image (_text, 2 MiB aligned, to _end)."""
    start = image.symbol("_text").address & ~0x1FFFFF
    end = -(-image.symbol("_end").address // PAGE_SIZE) * PAGE_SIZE
    return ElfLoad(start - START_KERNEL_MAP + phys_base, start, end - start, end - start)


def write_vmcore_from_machine(machine, out: BinaryIO, *, vmcoreinfo: Optional[str] = None,  # type: ignore[no-untyped-def]
                              crashtime: Optional[int] = None, exclude: Sequence[Tuple[int, int]] = (),
                              kernel_text: bool = True, page_offset: int = PAGE_OFFSET) -> List[ElfLoad]:
    """Write the machine's memory as an ELF vmcore to ``out``; returns the PT_LOADs written."""
    phys_base = machine.boot_info.phys_base if getattr(machine, "boot_info", None) else 0
    if vmcoreinfo is None:
        pgd = machine.boot_info.cr3 - phys_base + START_KERNEL_MAP if getattr(machine, "boot_info", None) else None
        vmcoreinfo = vmcoreinfo_from_image(machine.image, phys_base=phys_base, crashtime=crashtime,
                                           init_top_pgt=pgd)
    notes = build_vmcore_notes(prstatus_from_machine(machine), vmcoreinfo)
    loads = ([kernel_text_load(machine.image, phys_base)] if kernel_text else [])
    loads += [direct_map_load(a, b, page_offset) for a, b in ram_ranges(machine, exclude)]
    sink = StreamSink(out)
    write_elf_core(sink, notes, loads, lambda ld: _memory_chunks(machine, ld.paddr, ld.filesz))
    sink.close()
    return loads


def _memory_chunks(machine, paddr: int, size: int) -> Iterable[Bytes]:  # type: ignore[no-untyped-def]
    mem = getattr(machine, "mem", None)
    for off in range(0, size, _CHUNK):
        n = min(_CHUNK, size - off)
        if mem is not None and hasattr(mem, "array"):
            yield memoryview(mem.array[paddr + off: paddr + off + n])
        else:
            yield machine.read(paddr + off, n, physical=True)
