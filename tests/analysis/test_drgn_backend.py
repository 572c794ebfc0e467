"""The drgn back end without Debian's 633 MB vmlinux: which back end a vmlinux gets, the one-line
error when drgn is missing, the progress line before a load (and no hang after it), the match check,
drgn's types turned into the lab's (built in code with drgn's type constructors), and crash's naming
of text addresses (symbols built in code with a drgn symbol finder).  The whole back end against real
crash on a real dump is tests/real/test_crash_agrees.py."""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from kpanic_lab.analysis import drgn_backend
from kpanic_lab.analysis.drgn_backend import (DrgnMissing, check_linux_match, import_drgn,
                                              is_lab_vmlinux, open_linux_program)
from kpanic_lab.analysis.drgn_symbols import DrgnSymbols
from kpanic_lab.analysis.drgn_types import DrgnTypes
from kpanic_lab.analysis.dumptarget import MismatchError
from kpanic_lab.analysis.errors import AnalysisError, NotFound
from kpanic_lab.analysis.typefmt import definition_lines
from kpanic_lab.guest.image import vmlinux_path

REAL_LOG_DUMP = Path(__file__).resolve().parent.parent / "data" / "real" / "vmcore.log-pages"

drgn = pytest.importorskip("drgn")


def elf_with_sections(names):
    """A minimal x86-64 ET_EXEC ELF whose section headers name ``names`` (no contents); a name may
    be (name, sh_type, sh_flags, sh_addr, sh_size)."""
    specs = [n if isinstance(n, tuple) else (n, 1, 2, 0xffffffff81000000, 0) for n in names]
    names = [n[0] for n in specs]
    shstr = b"\0" + b"".join(n.encode() + b"\0" for n in names) + b".shstrtab\0"
    ehsize, shentsize = 64, 64
    shoff = ehsize + len(shstr)
    nsec = len(names) + 2
    hdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    hdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0xffffffff81000000, 0, shoff, 0, ehsize, 0, 0,
                       shentsize, nsec, nsec - 1)
    secs = [bytes(64)]
    pos = 1
    for n, sh_type, flags, addr, size in specs:
        secs.append(struct.pack("<IIQQQQIIQQ", pos, sh_type, flags, addr, 0, size, 0, 0, 1, 0))
        pos += len(n) + 1
    secs.append(struct.pack("<IIQQQQIIQQ", pos, 3, 0, 0, ehsize, len(shstr), 0, 0, 1, 0))
    return hdr + shstr + b"".join(secs)


# ---------------------------------------------------------------------------- which back end
def test_the_labs_guest_is_read_by_the_lab():
    assert is_lab_vmlinux(vmlinux_path())
    assert is_lab_vmlinux(None)                       # the default: the shipped guest


def test_a_kernel_with_orc_tables_is_read_by_drgn(tmp_path):
    real = tmp_path / "vmlinux-6.1.0-57-amd64"
    real.write_bytes(elf_with_sections([".text", ".orc_unwind_ip", ".orc_unwind"]))
    guest_like = tmp_path / "vmlinux-fp"
    guest_like.write_bytes(elf_with_sections([".text", ".data"]))
    assert not is_lab_vmlinux(real)
    assert is_lab_vmlinux(guest_like)
    frame_pointers = tmp_path / "vmlinux-fp-linux"         # CONFIG_UNWINDER_FRAME_POINTER: no ORC, still Linux
    frame_pointers.write_bytes(elf_with_sections([".text", "__ksymtab", ".data..percpu"]))
    assert not is_lab_vmlinux(frame_pointers)
    junk = tmp_path / "junk"
    junk.write_bytes(b"not an ELF")
    assert is_lab_vmlinux(junk)                       # the lab's own reader says what is wrong with it


def test_without_drgn_one_line_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "drgn", None)    # import drgn raises ImportError
    with pytest.raises(DrgnMissing) as e:
        import_drgn()
    assert "\n" not in str(e.value) and "pip install drgn" in str(e.value)


def test_the_shell_without_drgn_says_so_in_one_line(monkeypatch, tmp_path, capsys):
    from kpanic_lab.crash.repl import main

    real = tmp_path / "vmlinux-6.1.0-57-amd64"
    real.write_bytes(elf_with_sections([".text", ".orc_unwind"]))
    monkeypatch.setitem(sys.modules, "drgn", None)
    with pytest.raises(DrgnMissing, match=r"needs drgn, which is not installed \(pip install drgn"):
        main([str(real), str(REAL_LOG_DUMP)], script=None, stdin=None)


# ---------------------------------------------------------------------------- loading
def test_a_load_says_what_it_reads_first_and_fails_in_one_line(tmp_path):
    fake = tmp_path / "vmlinux-6.1.0-57-amd64"
    fake.write_bytes(elf_with_sections([".text", ".orc_unwind"]) + bytes(3 << 20))
    said = []
    with pytest.raises(AnalysisError) as e:
        open_linux_program(REAL_LOG_DUMP, fake, progress=said.append)
    assert said == ["reading debug info of vmlinux-6.1.0-57-amd64 (3 MB) with drgn ..."]
    assert "\n" not in str(e.value)


def test_the_progress_line_is_in_chinese_too(tmp_path):
    from kpanic_lab.i18n import using

    fake = tmp_path / "vmlinux-x"
    fake.write_bytes(elf_with_sections([".orc_unwind"]))
    said = []
    with using("zh"):
        with pytest.raises(AnalysisError):
            open_linux_program(REAL_LOG_DUMP, fake, progress=said.append)
    assert said and said[0].startswith("正在用 drgn 读取 vmlinux-x 的调试信息")


def test_a_mismatched_vmlinux_is_refused_but_kaslr_is_not():
    vi = {"OSRELEASE": "6.1.0-57-amd64", "KERNELOFFSET": "30000000", "BUILD-ID": "ab12"}
    check_linux_match(vi, "6.1.0-57-amd64", "AB12", "vmlinux", "vmcore")          # KASLR: fine
    check_linux_match(vi, "6.1.0-57-amd64", None, "vmlinux", "vmcore")
    with pytest.raises(MismatchError, match="the dump's kernel is 6.1.0-57-amd64, the vmlinux is 6.1.0-9-amd64"):
        check_linux_match(vi, "6.1.0-9-amd64", None, "vmlinux", "vmcore")
    with pytest.raises(MismatchError, match="build-id ab12, the vmlinux is build-id cd34"):
        check_linux_match(vi, "6.1.0-57-amd64", "cd34", "vmlinux", "vmcore")


# ---------------------------------------------------------------------------- types
@pytest.fixture
def prog():
    return drgn.Program(drgn.Platform(drgn.Architecture.X86_64,
                                      drgn.PlatformFlags.IS_64_BIT | drgn.PlatformFlags.IS_LITTLE_ENDIAN))


def test_drgn_types_become_the_labs(prog):
    u32 = prog.int_type("unsigned int", 4, False)
    s64 = prog.int_type("long", 8, True)
    char = prog.int_type("char", 1, True)
    pid_t = prog.typedef_type("pid_t", prog.int_type("int", 4, True))
    state = prog.enum_type("module_state", u32, [drgn.TypeEnumerator("MODULE_STATE_LIVE", 0),
                                                 drgn.TypeEnumerator("MODULE_STATE_COMING", 1)])
    fn = prog.function_type(prog.int_type("int", 4, True), [drgn.TypeParameter(prog.pointer_type(prog.void_type()))])
    anon = prog.union_type(None, 8, [drgn.TypeMember(s64, "counter", 0), drgn.TypeMember(u32, "low", 0)])
    task = prog.struct_type("task_struct", 48, [
        drgn.TypeMember(drgn.Object(prog, u32, bit_field_size=3), "flags", 0),
        drgn.TypeMember(drgn.Object(prog, u32, bit_field_size=5), "more", 3),
        drgn.TypeMember(pid_t, "pid", 32),
        drgn.TypeMember(prog.array_type(char, 16), "comm", 64),
        drgn.TypeMember(anon, None, 192),
        drgn.TypeMember(prog.pointer_type(fn), "threadfn", 256),
        drgn.TypeMember(state, "state", 320),
        drgn.TypeMember(prog.pointer_type(prog.struct_type("task_struct")), "parent", 256 + 64 * 0 + 64),
    ])
    t = DrgnTypes(prog, "vmlinux").convert(task)
    assert (t.kind, t.name, t.byte_size) == ("struct", "task_struct", 48)
    assert t.member("pid").offset == 4 and t.member("pid").type.describe() == "pid_t"
    assert t.member("pid").type.strip().signed and t.member("pid").type.byte_size == 4
    assert t.member("comm").type.describe() == "char[16]" and t.member("comm").type.byte_size == 16
    more = t.member("more")
    assert (more.offset, more.bit_size, more.bit_offset) == (0, 5, 3)
    assert t.member("counter").offset == 24                     # through the anonymous union
    assert t.member("state").type.enumerators == [("MODULE_STATE_LIVE", 0), ("MODULE_STATE_COMING", 1)]
    assert t.member("state").type.byte_size == 4
    assert t.member("threadfn").type.describe() == "int (*)(void *)"
    assert t.member("parent").type.target.name == "task_struct"
    assert definition_lines(t)[:4] == ["struct task_struct {", "    unsigned int flags : 3;",
                                       "    unsigned int more : 5;", "    pid_t pid;"]


def test_a_type_not_in_the_debug_info_is_not_found(prog):
    types = DrgnTypes(prog, "vmlinux-6.1.0-57-amd64")
    with pytest.raises(NotFound, match="no type 'struct nope' in the DWARF of vmlinux-6.1.0-57-amd64"):
        types.lookup("struct nope")
    assert types.lookup("int").byte_size == 4
    assert types.lookup("unsigned long *").describe() == "unsigned long *"


# ---------------------------------------------------------------------------- symbols
def test_text_is_named_as_crash_names_it(prog):
    G, L = drgn.SymbolBinding.GLOBAL, drgn.SymbolBinding.LOCAL
    F, N, O = drgn.SymbolKind.FUNC, drgn.SymbolKind.UNKNOWN, drgn.SymbolKind.OBJECT
    base = 0xffffffffb1c00000
    syms = [drgn.Symbol("_stext", base - 0x1000, 0, G, N), drgn.Symbol("_etext", base + 0x1000, 0, G, N),
            drgn.Symbol("_sinittext", base + 0x2000, 0, G, N), drgn.Symbol("_einittext", base + 0x3000, 0, G, N),
            drgn.Symbol("entry_SYSCALL_64", base + 0x80, 0x1ab, G, F),
            drgn.Symbol("entry_SYSCALL_64_after_hwframe", base + 0xb8, 0, G, N),
            drgn.Symbol("arch_call_rest_init", base + 0x2100, 0x10, G, F),
            drgn.Symbol("jiffies", base + 0x10000, 8, G, O)]

    def finder(p, name, address, one):
        out = [s for s in syms if (name is None or s.name == name)
               and (address is None or s.address <= address < s.address + max(s.size, 1))]
        return out[:1] if one else out

    prog.register_symbol_finder("test", finder, enable_index=0)
    table = DrgnSymbols(prog)
    assert table.near(base + 0x126) == "entry_SYSCALL_64_after_hwframe+110"   # the label, as crash's bt
    assert table.near(base + 0x2105) == "arch_call_rest_init+5"             # init text is text too
    assert table.by_name("entry_SYSCALL_64").letter == "T"
    assert table.by_name("jiffies").letter == "D"
    assert table.near(base + 0x10004) == "jiffies+4"
    assert table.symbolize(base + 0x2105) == "arch_call_rest_init+0x5/0x10"
    assert table.in_text(base + 0x126) and not table.in_text(base + 0x10000)
    with pytest.raises(NotFound):
        table.by_name("nope")



def test_load_average_as_crash_prints_it():
    import doctest

    from kpanic_lab.analysis import linux

    assert linux.format_load(328, 68, 22) == ("0.16", "0.03", "0.01")     # a real 6.1 dump's avenrun
    assert linux.format_load(2048 * 3 + 1024, 0, 2047) == ("3.50", "0.00", "1.00")
    assert doctest.testmod(linux).failed == 0


def test_vm_of_a_real_task_in_crashs_columns():
    from kpanic_lab.crash.render_mem import render_linux_vm

    text = render_linux_vm("PID: 0 ...", 0, 0, 0, 0, [])
    assert text.splitlines()[2] == "       0                 0            0k       0k   "     # crash 8.0.2's
    text = render_linux_vm("PID: 1 ...", 0xffff8f3f825ec900, 0xffff8f3f97e8e000, 68, 2260,
                           [(0xffff8f3f825e35f0, 0x400000, 0x401000, 0x8000071, "/bin/busybox")])
    assert text.splitlines()[2] == "ffff8f3f825ec900  ffff8f3f97e8e000   68k     2260k  "        # crash 8.0.2's
    assert text.splitlines()[4] == "ffff8f3f825e35f0      400000     401000  8000071 /bin/busybox"


def test_guest_only_commands_say_so_in_one_line_on_a_real_kernel():
    from kpanic_lab.analysis.program import Program
    from kpanic_lab.crash.session import CrashSession

    prog = object.__new__(drgn_backend.LinuxProgram)     # no dump needed: these refuse before reading
    prog.target = None  # type: ignore[assignment]
    prog.cache = {}
    assert isinstance(prog, Program) and prog.linux
    s = CrashSession(prog)
    for line, starts in (("kmem -i", "kmem: kmem -i is not available on this kernel"),
                         ("mod -s virtio", "mod: mod -s/-S (a module's own debug info) is not available")):
        out = s.run(line)
        assert out.startswith(starts) and "\n" not in out, out


def test_the_debug_vmlinux_of_a_release_is_found_where_debian_puts_it(tmp_path):
    from kpanic_lab.analysis.drgn_backend import debug_vmlinux_for

    boot = tmp_path / "usr/lib/debug/boot"
    boot.mkdir(parents=True)
    dirs = (str(boot), str(tmp_path / "usr/lib/debug/lib/modules/{release}"))
    assert debug_vmlinux_for("6.1.0-57-amd64", dirs) is None
    (boot / "vmlinux-6.1.0-57-amd64").write_bytes(b"\x7fELF")
    assert debug_vmlinux_for("6.1.0-57-amd64", dirs) == boot / "vmlinux-6.1.0-57-amd64"
    assert debug_vmlinux_for("6.1.0-9-amd64", dirs) is None and debug_vmlinux_for(None, dirs) is None


def test_a_real_dump_alone_gets_its_installed_debug_vmlinux(monkeypatch, tmp_path):
    from kpanic_lab.analysis import drgn_backend as backend
    from kpanic_lab.crash import session

    fake = tmp_path / "vmlinux-6.1.0-57-amd64"
    monkeypatch.setattr(backend, "DEBUG_VMLINUX_DIRS", (str(tmp_path),))
    monkeypatch.setattr(backend.debug_vmlinux_for, "__defaults__", ((str(tmp_path),),))
    assert session._installed_debug_vmlinux(REAL_LOG_DUMP) is None
    fake.write_bytes(b"\x7fELF")
    assert session._installed_debug_vmlinux(REAL_LOG_DUMP) == fake       # its OSRELEASE is 6.1.0-57-amd64


def test_nm_letters_come_from_the_section_flags(tmp_path):
    import doctest

    from kpanic_lab.analysis import drgn_symbols
    from kpanic_lab.analysis.drgn_symbols import section_kinds

    base = 0xffffffff81000000
    path = tmp_path / "vmlinux"
    path.write_bytes(elf_with_sections([(".text", 1, 0x6, base, 0x1000), (".rodata", 1, 0x3, base + 0x1000, 0x100),
                                        ("__ksymtab", 1, 0x2, base + 0x1100, 0x10), (".bss", 8, 0x3, base + 0x2000, 64),
                                        (".comment", 1, 0x30, 0, 0x20)]))
    assert section_kinds(path, offset=0x30000000) == [
        (base + 0x30000000, base + 0x30001000, "t"), (base + 0x30001000, base + 0x30001100, "d"),
        (base + 0x30001100, base + 0x30001110, "r"), (base + 0x30002000, base + 0x30002040, "b")]
    assert doctest.testmod(drgn_symbols).failed == 0
