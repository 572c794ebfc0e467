"""Targets: where memory and the CPUs' saved registers come from, chosen once.

Everything above this module reads through :meth:`Target.read` (kernel virtual or
physical addresses) and asks :meth:`Target.cpu_registers` for each CPU's registers,
so it cannot tell a live machine from a vmcore:

* :class:`LiveTarget` wraps a running (usually panicked) lab :class:`~kpanic_lab.machine.Machine`:
  memory is the machine's RAM, the registers are each CPU's registers *now*.
* :class:`DumpTarget` wraps an opened dump (``kpanic_lab.formats.open_dump``): memory is
  the dump's physical memory seen through the kernel's own page tables, the registers
  come from its ``NT_PRSTATUS`` notes.

A failed read is always :class:`~kpanic_lab.analysis.errors.ReadError`.

>>> t = LiveTarget(machine)                          # doctest: +SKIP
>>> t.read(t.image.address_of("linux_banner"), 13)   # doctest: +SKIP
b'Linux version'
"""
from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from typing import Dict, Optional

from kpanic_lab.analysis.errors import ReadError
from kpanic_lab.analysis.regs import RegisterSet
from kpanic_lab.errors import LabError
from kpanic_lab.guest.headers import PAGE_SIZE, START_KERNEL_MAP
from kpanic_lab.guest.image import KernelImage
from kpanic_lab.pagewalk import walk


class Target(ABC):
    """A source of kernel memory and CPU registers (a live machine or a dump)."""

    kind: str = "?"                  # "live" or "dump"
    image: KernelImage
    vmcoreinfo: Dict[str, str]

    # ------------------------------------------------------------------ memory
    @abstractmethod
    def read_physical(self, addr: int, size: int) -> bytes:
        """``size`` bytes of physical memory at ``addr`` (ReadError when not available)."""

    def read(self, addr: int, size: int, physical: bool = False) -> bytes:
        """``size`` bytes at a kernel virtual address (or a physical one)."""
        if physical:
            return self.read_physical(addr, size)
        out = bytearray()
        a, left = addr, size
        while left > 0:
            n = min(left, PAGE_SIZE - (a & 0xFFF))
            pa = self.virt_to_phys(a)
            if pa is None:
                raise ReadError(a, n, "not mapped by the kernel's page tables")
            out += self.read_physical(pa, n)
            a += n
            left -= n
        return bytes(out)

    def read_user(self, pgd: int, addr: int, size: int) -> bytes:
        """``size`` bytes at a user address of the address space whose PML4 is at physical ``pgd``."""
        out = bytearray()
        a, left = addr, size
        while left > 0:
            n = min(left, PAGE_SIZE - (a & 0xFFF))
            pa = walk(self._phys_u64, pgd, a).pa
            if pa is None:
                raise ReadError(a, n, "not mapped in this address space")
            out += self.read_physical(pa, n)
            a += n
            left -= n
        return bytes(out)

    def _phys_u64(self, pa: int) -> int:
        return struct.unpack("<Q", self.read_physical(pa, 8))[0]

    def virt_to_phys(self, va: int) -> Optional[int]:
        """Translate a kernel virtual address through the kernel's page tables."""
        key = va >> 12
        hit = self._tlb.get(key)
        if hit is None:
            try:
                pa = walk(self._phys_u64, self.kernel_pgd(), va & ~0xFFF).pa
            except ReadError:
                pa = None
            if pa is None:
                return None
            self._tlb[key] = hit = pa
        return hit | (va & 0xFFF)

    @property
    def _tlb(self) -> Dict[int, int]:
        d = self.__dict__.get("_tlb_cache")
        if d is None:
            d = self.__dict__["_tlb_cache"] = {}
        return d

    def kernel_pgd(self) -> int:
        """Physical address of the kernel's PML4 (``init_mm.pgd``), found once."""
        pgd = self.__dict__.get("_kernel_pgd")
        if pgd is None:
            from kpanic_lab.guest.dwarf import struct_layout

            off = struct_layout(self.image, "mm_struct").offset("pgd")
            va = self.image.address_of("init_mm") + off
            pgd = self._phys_u64(va - START_KERNEL_MAP + self.phys_base())
            self.__dict__["_kernel_pgd"] = pgd
        return pgd

    def phys_base(self) -> int:
        """Where the kernel image was loaded, minus where it was linked to load (0 normally)."""
        v = self.vmcoreinfo.get("NUMBER(phys_base)")
        return int(v, 0) if v else 0

    # ------------------------------------------------------------------ CPUs
    @property
    @abstractmethod
    def cpu_count(self) -> int:
        """How many CPUs the machine had."""

    @abstractmethod
    def cpu_registers(self, cpu: int) -> Optional[RegisterSet]:
        """CPU ``cpu``'s registers (saved at the crash, or now), None when unknown."""

    # ------------------------------------------------------------------ description
    @property
    @abstractmethod
    def description(self) -> str:
        """What crash's ``sys`` shows as DUMPFILE."""

    @property
    def memory_size(self) -> int:
        """Bytes of RAM the crashed machine had."""
        return 0

    @property
    def date(self) -> Optional[float]:
        """When the dump was taken (seconds since the epoch), None when unknown."""
        return None

    @property
    def partial(self) -> bool:
        """True for a dump that left pages out (makedumpfile -d)."""
        return False


class LiveTarget(Target):
    """A lab machine, read as it is now (usually stopped after a panic)."""

    kind = "live"

    def __init__(self, machine, name: str = "") -> None:
        self.machine = machine
        self.image = machine.image
        self.vmcoreinfo = {}
        self.name = name

    def read_physical(self, addr: int, size: int) -> bytes:
        try:
            return self.machine.read(addr, size, physical=True)
        except LabError as e:
            raise ReadError(addr, size, getattr(e, "why", str(e)), physical=True) from None

    def read(self, addr: int, size: int, physical: bool = False) -> bytes:
        if physical:
            return self.read_physical(addr, size)
        if addr < 0 or addr + size > 1 << 64:
            raise ReadError(addr, size, "not a 64-bit address")
        try:
            return self.machine.read(addr, size)
        except LabError as e:
            raise ReadError(addr, size, getattr(e, "why", str(e))) from None

    def virt_to_phys(self, va: int) -> Optional[int]:
        return walk(self._phys_u64, self.kernel_pgd(), va).pa

    def kernel_pgd(self) -> int:
        info = self.machine.boot_info
        return info.cr3 if info is not None else super().kernel_pgd()

    @property
    def cpu_count(self) -> int:
        return len(self.machine.cpus)

    def cpu_registers(self, cpu: int) -> Optional[RegisterSet]:
        if not 0 <= cpu < len(self.machine.cpus):
            return None
        c = self.machine.cpus[cpu]
        if c.rt.state.value == "parked":
            return None
        r = self.machine.registers(cpu)
        return RegisterSet.from_mapping(r.as_dict())

    @property
    def description(self) -> str:
        return f"(live lab machine{': ' + self.name if self.name else ''})"

    @property
    def memory_size(self) -> int:
        return int(self.machine.config.memory)


def live_target(scenario: str = "sysrq-c", *, cpus: int = 2, memory: str = "256M",
                cmdline: Optional[str] = None) -> LiveTarget:
    """Boot a lab machine, run ``scenario`` (``kpanic-lab scenarios``) to its end, and
    return the machine as a target: the post-mortem of a crash before any dump is taken."""
    from kpanic_lab.panic import PanicSession

    s = PanicSession(scenario, cpus=cpus, memory=memory, cmdline=cmdline).start()
    s.run_to_end()
    return LiveTarget(s.machine, name=scenario)
