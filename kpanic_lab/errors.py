"""The one base class of every error the lab raises on purpose (bad input, a guest that
misbehaves, a malformed file).  Front-ends catch ``LabError`` and print its message.

Memory has one fault type, :class:`MemoryFault`, whatever is behind the address: the live
machine's RAM and page tables (``machine/``), a dump file (``formats/``) or an analysis target
(``analysis/``).  Code above the memory interface catches it and cannot tell a live machine from
a vmcore.  Its kinds say why the bytes are not there:

- :class:`ReadError`: nothing to read (not mapped, outside RAM, a hole in the dump, past its end);
- ``kpanic_lab.formats.PageExcluded``: a page makedumpfile filtered out of the dump on purpose
  (crash's "page excluded"); it lives beside the dump-level wording it quotes.
"""


class LabError(Exception):
    """Something the user can act on; the message names what is wrong and where."""


class MemoryFault(LabError):
    """``size`` bytes at ``address`` could not be accessed; ``why`` says why, in a few words.

    ``physical`` says whether ``address`` is physical (else kernel virtual).  Raised as such by
    what is not a read of memory (a write, a CPU that finds no IDT gate); reads raise a kind.

    >>> str(MemoryFault(0x1000, 8, "outside guest RAM", physical=True, write=True))
    'cannot write 8 byte(s) at physical address 1000: outside guest RAM'
    """

    access = "access"

    def __init__(self, address: int, size: int, why: str, *, physical: bool = False,
                 write: bool = False) -> None:
        address &= (1 << 64) - 1         # pointer arithmetic on guest data wraps as on the CPU
        self.address, self.size, self.why, self.physical = address, size, why, physical
        kind = "physical" if physical else "virtual"
        verb = "write" if write else self.access
        super().__init__(f"cannot {verb} {size} byte(s) at {kind} address {address:x}: {why}")


class ReadError(MemoryFault):
    """Memory at ``address`` could not be read: not mapped, outside RAM, not in the dump.

    >>> str(ReadError(0x10, 8, "not mapped by the kernel's page tables"))
    "cannot read 8 byte(s) at virtual address 10: not mapped by the kernel's page tables"
    """

    access = "read"


class MachineError(LabError):
    """Base class of every error the lab machine raises (kinds in :mod:`kpanic_lab.machine.errors`)."""


class ConfigError(MachineError, ValueError):
    """A machine option is malformed or out of range (names the option and the value)."""

    def __init__(self, option: str, value: object, why: str) -> None:
        self.option, self.value, self.why = option, value, why
        super().__init__(f"{option}={value!r}: {why}")


class ToolFailed(MachineError):
    """A host tool's failure (kexec, makedumpfile called over the lab port), reported to the guest
    program as -errno and this message."""

    def __init__(self, message: str, errno: int = 22) -> None:
        super().__init__(message)
        self.errno = errno
