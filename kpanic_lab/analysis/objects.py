"""Typed views of kernel memory, in drgn's manner: ``task.comm.string_()``.

An :class:`Object` is a type and an address (a few are plain values, such as the
result of following a pointer).  Member access reads nothing until a value is asked
for, and goes through pointers to structs by itself, so helper code reads like the
kernel's C:

>>> t = prog["init_task"]                       # doctest: +SKIP
>>> t.tasks.next.value_() - prog.offsetof("task_struct", "tasks")   # doctest: +SKIP
18446612682335715328
>>> container_of(t.tasks.next, "struct task_struct", "tasks").pid.value_()   # doctest: +SKIP
1
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Optional, Union

from kpanic_lab.analysis.errors import AnalysisError
from kpanic_lab.analysis.typefmt import format_value, member_bytes_value
from kpanic_lab.analysis.types import Member, Type

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program


class Object:
    """A value of C type ``type`` at ``address`` in ``prog`` (or a plain ``value``)."""

    __slots__ = ("prog", "type", "address", "_value", "_bits")

    def __init__(self, prog: "Program", type: Type, address: Optional[int] = None,
                 value: Optional[int] = None, bits: Optional[Member] = None) -> None:
        self.prog = prog
        self.type = type
        self.address = address
        self._value = value
        self._bits = bits          # a bitfield: the member, read from the unit at address

    # ---------------------------------------------------------------- values
    def read_(self) -> bytes:
        """The object's bytes."""
        if self.address is None:
            raise AnalysisError("a value has no memory to read")
        return self.prog.read(self.address, self.type.byte_size)

    def value_(self) -> int:
        """The value as an int (integers, enums, pointers, bools)."""
        if self._value is not None:
            return self._value
        t = self.type.strip()
        if self._bits is not None:
            m = self._bits
            unit = self.prog.read(self.address, t.byte_size or 8)  # type: ignore[arg-type]
            return member_bytes_value(Member(m.name, m.type, 0, m.bit_size, m.bit_offset), unit)
        if t.kind not in ("int", "bool", "enum", "pointer"):
            raise AnalysisError(f"{self.type.describe()} is not an integer or a pointer")
        data = self.read_()
        return int.from_bytes(data, "little", signed=t.signed and t.kind != "pointer")

    def string_(self, limit: int = 4096) -> bytes:
        """A ``char[]`` up to its first NUL, or the string a ``char *`` points at."""
        t = self.type.strip()
        if t.kind == "array":
            data = self.read_()
            return data.split(b"\0", 1)[0]
        if t.kind == "pointer":
            return self.prog.read_cstring(self.value_(), limit)
        raise AnalysisError(f"{self.type.describe()} is not a string")

    def address_of_(self) -> int:
        if self.address is None:
            raise AnalysisError("a value has no address")
        return self.address

    def __int__(self) -> int:
        return self.value_()

    __index__ = __int__

    def __bool__(self) -> bool:
        return bool(self.value_())

    # ---------------------------------------------------------------- navigation
    def member_(self, name: str) -> "Object":
        t = self.type.strip()
        base = self
        if t.kind == "pointer":
            base = self.deref_()
            t = base.type.strip()
        if t.kind not in ("struct", "union"):
            raise AnalysisError(f"{self.type.describe()} has no members")
        m = t.member(name)
        addr = base.address_of_() + m.offset
        return Object(self.prog, m.type, addr, bits=m if m.bit_size is not None else None)

    def __getattr__(self, name: str) -> "Object":
        if name.startswith("_") or name.endswith("_"):
            raise AttributeError(name)
        return self.member_(name)

    def deref_(self) -> "Object":
        t = self.type.strip()
        if t.kind != "pointer":
            raise AnalysisError(f"{self.type.describe()} is not a pointer")
        return Object(self.prog, t.target, self.value_())

    def __getitem__(self, i: int) -> "Object":
        t = self.type.strip()
        if t.kind == "array":
            if t.length is not None and not 0 <= i < t.length:
                raise IndexError(f"index {i} out of {self.type.describe()}")
            return Object(self.prog, t.target, self.address_of_() + i * t.target.byte_size)
        if t.kind == "pointer":
            return Object(self.prog, t.target, self.value_() + i * t.target.byte_size)
        raise AnalysisError(f"{self.type.describe()} cannot be indexed")

    def __iter__(self) -> Iterator["Object"]:
        t = self.type.strip()
        if t.kind != "array" or t.length is None:
            raise AnalysisError(f"{self.type.describe()} is not an array of known length")
        return (self[i] for i in range(t.length))

    def cast_(self, type: Union[str, Type]) -> "Object":
        """The same memory seen as another type."""
        return Object(self.prog, self.prog.type(type), self.address, self._value)

    def format_(self) -> str:
        """The value as gdb prints it (what crash's ``struct`` shows)."""
        if self._bits is not None or self._value is not None:
            from kpanic_lab.analysis.typefmt import format_scalar
            return format_scalar(self.type, self.value_(), self.prog)
        return format_value(self.type, self.read_(), self.prog)

    def __repr__(self) -> str:
        where = f"0x{self.address:x}" if self.address is not None else f"value={self._value}"
        return f"Object({self.type.describe()!r}, {where})"


def container_of(ptr: Union[Object, int], type: Union[str, Type], member: str, prog: Optional["Program"] = None) -> Object:
    """The ``type`` object that holds ``member`` at the address ``ptr`` (Linux's container_of)."""
    if isinstance(ptr, Object):
        prog = ptr.prog
        addr = ptr.value_() if ptr.type.strip().kind == "pointer" else ptr.address_of_()
    else:
        addr = ptr
    if prog is None:
        raise ValueError("container_of on an int needs prog=")
    t = prog.type(type)
    return Object(prog, t, addr - t.member(member).offset)


def list_for_each(head: Object) -> Iterator[int]:
    """Addresses of the ``struct list_head`` nodes on the list at ``head`` (head excluded)."""
    prog = head.prog
    first = head.address_of_()
    node = prog.read_u64(first)
    seen = 0
    while node != first:
        yield node
        node = prog.read_u64(node)
        seen += 1
        if seen > 1_000_000:
            raise AnalysisError(f"list at {first:x} does not come back to its head")


def list_for_each_entry(type: Union[str, Type], head: Object, member: str) -> Iterator[Object]:
    """The ``type`` objects linked through their ``member`` on the list at ``head``."""
    for node in list_for_each(head):
        yield container_of(node, type, member, head.prog)
