"""kpanic_lab/errors.py: one memory-fault type, raised alike by the machine, the dump readers and
the analysis targets, so code above the memory interface catches one type."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest

from kpanic_lab.errors import LabError, MemoryFault, ReadError
from kpanic_lab.formats import PageExcluded, open_dump
from kpanic_lab.kdump.makedumpfile import makedumpfile
from kpanic_lab.machine.memory import PhysicalMemory
from tests.formats import synth


def test_the_kinds_of_memory_fault():
    assert issubclass(ReadError, MemoryFault) and issubclass(PageExcluded, MemoryFault)
    assert issubclass(MemoryFault, LabError)
    e = ReadError(-8, 8, "not mapped by the kernel's page tables")
    assert (e.address, e.size, e.physical) == (0xFFFFFFFFFFFFFFF8, 8, False)   # wraps as the CPU does
    assert str(e) == "cannot read 8 byte(s) at virtual address fffffffffffffff8: not mapped by the kernel's page tables"


def test_the_machine_faults_with_the_one_type():
    mem = PhysicalMemory(1 << 20)
    with pytest.raises(ReadError, match=r"cannot read 8 byte\(s\) at physical address 100000: outside guest RAM") as e:
        mem.read(1 << 20, 8)
    assert e.value.physical
    with pytest.raises(MemoryFault, match="cannot write 4 byte") as w:
        mem.write((1 << 20) - 2, b"abcd")
    assert not isinstance(w.value, ReadError)
    with pytest.raises(ReadError, match="not mapped"):
        mem.read_virt(0, 0xFFFF888000000000, 8)       # an empty PML4 at 0 maps nothing


def test_one_except_clause_for_a_machine_a_dump_and_an_excluded_page():
    s = synth.build()
    out = io.BytesIO()
    makedumpfile(open_dump(s.elf), out, 16)
    reads = [lambda: PhysicalMemory(1 << 20).read(1 << 30, 1),
             lambda: open_dump(s.elf).read(0x400000, 8),                       # a user address
             lambda: open_dump(out.getvalue(), "vmcore").read(synth.kvirt(260, 8), 4)]
    kinds = []
    for read in reads:
        try:
            read()
        except MemoryFault as e:
            kinds.append(type(e).__name__)
    assert kinds == ["ReadError", "ReadError", "PageExcluded"]


def test_formats_and_analysis_do_not_import_the_machine():
    code = ("import sys, kpanic_lab.formats, kpanic_lab.analysis, kpanic_lab.analysis.dumptarget; "
            "print(sorted(m for m in sys.modules if m.startswith('kpanic_lab.machine')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_module_outside_the_machine_imports_it_for_an_exception_or_a_constant():
    """The machine's errors and the guest's constants live in kpanic_lab.errors and guest/headers.py:
    code above the machine imports machine/ only for what it drives (Machine, MachineConfig, ...)."""
    import ast
    from pathlib import Path

    import kpanic_lab

    root = Path(kpanic_lab.__file__).parent
    wrong = []
    for path in sorted(root.rglob("*.py")):
        if (root / "machine") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kpanic_lab.machine"):
                wrong += [f"{path.relative_to(root)}: {a.name}" for a in node.names
                          if a.name.endswith(("Error", "Failed", "Fault", "Exceeded")) or a.name.isupper()]
    assert wrong == []
