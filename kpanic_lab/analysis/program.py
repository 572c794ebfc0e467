"""The program being debugged: one target plus what its vmlinux says about it.

A :class:`Program` is what every helper takes first (drgn's ``prog``): memory through
the target's one ``read``, symbols, DWARF types and source lines of the image, and
typed :class:`~kpanic_lab.analysis.objects.Object` views over memory.

>>> prog = Program(LiveTarget(machine))                    # doctest: +SKIP
>>> prog["init_task"].comm.string_()                       # doctest: +SKIP
b'swapper/0'
>>> prog.object(0xffff88800f598000, "struct task_struct").pid.value_()   # doctest: +SKIP
1
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Optional, Union

from kpanic_lab.analysis.errors import NotFound, ReadError
from kpanic_lab.analysis.lines import LineTable, SourceLine
from kpanic_lab.analysis.symbols import SymbolTable
from kpanic_lab.analysis.target import Target
from kpanic_lab.analysis.typeindex import TypeIndex
from kpanic_lab.analysis.types import Type
from kpanic_lab.guest.headers import PAGE_SIZE

if TYPE_CHECKING:
    from kpanic_lab.analysis.objects import Object


class Program:
    """A target (live machine or dump) with the symbols, types and lines of its kernel."""

    linux = False          # the lab's guest; LinuxProgram (a real kernel, through drgn) says True

    def __init__(self, target: Target) -> None:
        self.target = target
        self.image = target.image
        self.symbols = SymbolTable.for_image(self.image)
        self._types: Optional[TypeIndex] = None
        self._lines: Optional[LineTable] = None
        self.cache: dict = {}           # helpers memoise per-program facts here (layouts, task lists)

    # ---------------------------------------------------------------- debug info
    @property
    def types(self) -> TypeIndex:
        if self._types is None:
            self._types = TypeIndex.for_image(self.image)
        return self._types

    @property
    def lines(self) -> LineTable:
        if self._lines is None:
            self._lines = LineTable.for_image(self.image)
        return self._lines

    def type(self, spec: Union[str, Type]) -> Type:
        """A type by C name (``struct task_struct``, ``pid_t``, ``char *``)."""
        return spec if isinstance(spec, Type) else self.types.lookup(spec)

    def offsetof(self, struct_name: str, member: str) -> int:
        """``offsetof(struct struct_name, member)``; dotted members go inside (``thread.sp``)."""
        key = ("offsetof", struct_name, member)
        if key not in self.cache:
            self.cache[key] = self.type(f"struct {struct_name}").member(member).offset
        return self.cache[key]

    def sizeof(self, spec: str) -> int:
        return self.type(spec).byte_size

    def line_for(self, addr: int) -> Optional[SourceLine]:
        return self.lines.line_for(addr)

    # ---------------------------------------------------------------- symbols
    def address_of(self, name: str) -> int:
        """The address of a kernel symbol (NotFound when there is none)."""
        return self.symbols.by_name(name).address

    def symbolize(self, addr: int) -> str:
        """``panic+0x17d/0x32f`` (the kernel's %pS) or hex."""
        return self.symbols.symbolize(addr)

    # ---------------------------------------------------------------- memory
    def read(self, addr: int, size: int, physical: bool = False) -> bytes:
        """``size`` bytes of kernel memory (ReadError when they cannot be read)."""
        return self.target.read(addr, size, physical)

    def read_u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def read_u32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    def read_s32(self, addr: int) -> int:
        return struct.unpack("<i", self.read(addr, 4))[0]

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        """The NUL-terminated string at ``addr`` (at most ``limit`` bytes), read a page at a time."""
        out = bytearray()
        while len(out) < limit:
            n = min(limit - len(out), PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            chunk = self.read(addr, n)
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                return bytes(out)
            out += chunk
            addr += n
        return bytes(out)

    def readable(self, addr: int, size: int = 1) -> bool:
        try:
            self.read(addr, size)
            return True
        except ReadError:
            return False

    # ---------------------------------------------------------------- objects
    def object(self, where: Union[str, int], type: Union[str, Type, None] = None) -> "Object":
        """A typed view: a global variable by name (its DWARF type unless ``type`` is
        given), or the object of ``type`` at an address."""
        from kpanic_lab.analysis.objects import Object

        if isinstance(where, str):
            addr = self.address_of(where)
            if type is None:
                t = self.types.variable_type(where)
                if t is None:
                    raise NotFound(f"no type information for {where!r}")
                return Object(self, t, addr)
            return Object(self, self.type(type), addr)
        if type is None:
            raise ValueError("an address needs a type")
        return Object(self, self.type(type), where)

    def __getitem__(self, name: str) -> "Object":
        return self.object(name)

    # ValueContext for typefmt: strings behind char pointers, symbols for addresses
    def string_at(self, addr: int, limit: int = 200) -> Optional[bytes]:
        try:
            return self.read_cstring(addr, limit)
        except ReadError:
            return None

    def symbol_for(self, addr: int) -> Optional[str]:
        return self.symbols.near(addr)

    def __repr__(self) -> str:
        return f"Program({self.target.kind}: {self.target.description})"
