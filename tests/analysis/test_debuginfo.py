"""Types, source lines and disassembly from the guest's DWARF and text, checked against
gdb on the same vmlinux (the tool crash itself runs)."""
from __future__ import annotations

import re

import pytest

from kpanic_lab.analysis.disasm import decode, disassemble_function
from kpanic_lab.analysis.typefmt import definition_lines, declaration, format_char_array
from kpanic_lab.guest.dwarf import struct_layout

STRUCTS = ["task_struct", "pcpu", "module", "page", "printk_log", "mm_struct", "pt_regs", "list_head",
           "thread_struct", "module_layout"]


@pytest.mark.parametrize("name", STRUCTS)
def test_struct_definition_is_gdbs_ptype(prog, gdb_batch, name):
    out = gdb_batch([f"ptype struct {name}"])
    gdb = out.replace("type = ", "", 1).rstrip("\n").splitlines()
    assert definition_lines(prog.type(f"struct {name}")) == gdb


def test_struct_task_struct_matches_the_dwarf_layout(prog, gdb_batch):
    t = prog.type("struct task_struct")
    layout = struct_layout(prog.image, "task_struct")
    assert t.byte_size == layout.size
    assert [(m.name, m.offset) for m in t.members] == [(m.name, m.offset) for m in layout.members.values()]
    # and gdb's offsets and sizes
    out = gdb_batch([f"print/d (long)&((struct task_struct *)0)->{m.name}" for m in t.members] +
                    [f"print/d sizeof(((struct task_struct *)0)->{m.name})" for m in t.members])
    values = [int(v) for v in re.findall(r"^\$\d+ = (\d+)$", out, re.M)]
    n = len(t.members)
    assert values[:n] == [m.offset for m in t.members]
    assert values[n:] == [m.type.byte_size for m in t.members]


def test_offsets_form_of_struct_o(prog):
    lines = definition_lines(prog.type("struct task_struct"), offsets=True)
    assert lines[0] == "struct task_struct {"
    # crash right-aligns "[offset]" to the widest one plus two spaces
    width = max(len(f"[{m.offset}]") for m in prog.type("struct task_struct").members) + 2
    assert lines[1] == f"{'[0]':>{width}} volatile long __state;"
    pid = prog.type("struct task_struct").member("pid").offset
    assert f"{'[' + str(pid) + ']':>{width}} pid_t pid;" in lines
    assert lines[-1] == "}"



def test_char_arrays_print_as_gdb_prints_them():
    assert format_char_array(b"bash" + bytes(12)) == '"bash' + "\\000" * 11 + '"'
    assert format_char_array(b"abcd") == '"abcd"'
    assert format_char_array(b"a\x000b\x00") == '"a\\000\\060b"'     # a digit after \\000 is escaped


def test_source_lines_are_gdbs(prog, gdb_batch):
    funcs = ["panic", "sysrq_handle_crash", "mdelay", "vfs_write", "ksys_write", "do_exit", "entry_SYSCALL_64",
             "null_deref_write", "__handle_sysrq", "copy_process"]
    addrs = []
    for f in funcs:
        a = prog.address_of(f)
        addrs += [a, a + 0x10, a + 0x21]
    out = gdb_batch([f"info line *{a:#x}" for a in addrs])
    got = re.findall(r'^Line (\d+) of "([^"]+)"', out, re.M)
    assert len(got) == len(addrs)
    for a, (line, file) in zip(addrs, got):
        sl = prog.line_for(a)
        assert (sl.file, sl.line) == (file, int(line)), hex(a)


def test_disassembly_is_gdbs(prog, gdb_batch):
    funcs = ["sysrq_handle_crash", "panic", "copy_process", "null_deref_write", "__switch_to_asm",
             "entry_SYSCALL_64", "schedule", "vfs_write", "mdelay"]
    out = gdb_batch([f"disassemble {f}" for f in funcs])
    gdb = [(int(a, 16), t.rstrip()) for a, t in re.findall(r"^\s+0x([0-9a-f]+) <\+\d+>:\t(.*)$", out, re.M)]
    ours = [(i.address, str(i).rstrip()) for f in funcs for i in disassemble_function(prog, prog.address_of(f))]
    assert len(ours) == len(gdb)
    same = sum(a == b for a, b in zip(ours, gdb))
    assert same / len(gdb) > 0.98, [(hex(a[0]), a[1], b[1]) for a, b in zip(ours, gdb) if a != b][:10]
    assert ours[:12] == gdb[:12]          # sysrq_handle_crash, exactly


def test_decode_is_pure():
    ins = decode(bytes.fromhex("e8fbffffff"), 0x1000, {0x1000: "f"}.get)
    assert str(ins[0]) == "call   0x1000 <f>"
    rip = decode(bytes.fromhex("8b0510000000"), 0x2000, {0x2016: "v"}.get)
    assert str(rip[0]) == "mov    0x10(%rip),%eax        # 0x2016 <v>"
