"""Plain-text views of kdump's pieces, so a notebook cell can stay one line.

Every function returns a string and never prints.  Most are pure: they take text the guest
printed, bytes it wrote, or the library's own objects (``KexecPlan``, makedumpfile's
``Result``, ``KdumpConf``, a ``KdumpResult``).  The few that touch a file system or a run say so
and are thin wrappers over a pure half.

>>> print(size_words(64 << 20))
64 MiB
>>> print(crashkernel_table(["crashkernel=256M@16M"], 4 << 30))
crashkernel=          form    size     offset  chosen by RAM / error
--------------------  ------  -------  ------  ---------------------
crashkernel=256M@16M  simple  256 MiB  16 MiB
"""
from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from elftools.elf.elffile import ELFFile

from kpanic_lab.formats.printk import PANIC_PREFIX, panic_message
from kpanic_lab.guest.headers import PAGE_SIZE, START_KERNEL_MAP
from kpanic_lab.formats.prstatus import PrStatus
from kpanic_lab.kdump.config import (KdumpConf, KdumpConfError, KdumpTools, MakedumpfileArgs, parse_kdump_conf,
                                     parse_kdump_tools)
from kpanic_lab.kdump.crashkernel import CrashkernelError, parse_crashkernel, reserve_crashkernel
from kpanic_lab.kdump.kexec import parse_iomem
from kpanic_lab.panic.report import _table, pick_lines

if TYPE_CHECKING:
    from kpanic_lab.kdump.kexec import KexecPlan
    from kpanic_lab.kdump.makedumpfile import Result
    from kpanic_lab.kdump.run import KdumpResult, KdumpRun

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def size_words(n: int) -> str:
    """A byte count as a person says it: whole units when they divide it, else one decimal.

    >>> size_words(0x9ec00), size_words(3 << 30), size_words(1536 * 1024), size_words(4132), size_words(512)
    ('635 KiB', '3 GiB', '1.5 MiB', '4.0 KiB', '512 bytes')
    """
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if n >= unit:
            return f"{n // unit} {name}" if n % unit == 0 else f"{n / unit:.1f} {name}"
    return f"{n} bytes"


# ---------------------------------------------------------------------------- crashkernel=
# The boot lines that say what happened to crashkernel= (reserve_crashkernel's messages, the
# command line it parsed, and how much memory the kernel has left for itself).
CRASHKERNEL_LINES = re.compile(r"(^Command line:|crashkernel|Memory: \d+K/)")


def crashkernel_lines(console: str) -> str:
    """The kernel's lines about crashkernel= in a console log (printk lines only, timestamps
    kept, as ``dmesg | grep`` shows them; what a program printed is left out).

    >>> print(crashkernel_lines("[ 0.0] Command line: crashkernel=64M\\n[ 0.0] smp: up\\n"
    ...                         "[ 0.0] Reserving 64MB of memory at 176MB for crashkernel (System RAM: 255MB)\\n"))
    [ 0.0] Command line: crashkernel=64M
    [ 0.0] Reserving 64MB of memory at 176MB for crashkernel (System RAM: 255MB)
    """
    lines = []
    for line in console.replace("\r", "").splitlines():
        m = re.match(r"^\[\s*\d+\.\d+\] (.*)$", line)
        if m and not m.group(1).startswith("Kernel command line:") and CRASHKERNEL_LINES.search(m.group(1)):
            lines.append(line)
    return "\n".join(lines)


def iomem_table(text: str) -> str:
    """/proc/iomem with each range's size and where it starts, nesting kept.

    >>> print(iomem_table("00100000-0ffdffff : System RAM\\n  0b000000-0effffff : Crash kernel\\n"))
    range              size       starts at  name
    -----------------  ---------  ---------  --------------
    00100000-0ffdffff  254.9 MiB  1 MiB      System RAM
    0b000000-0effffff  64 MiB     176 MiB      Crash kernel
    """
    rows = []
    for r in parse_iomem(text):
        rows.append([f"{r.start:08x}-{r.end:08x}", size_words(r.size), size_words(r.start) if r.start else "0",
                     "  " * r.depth + r.name])
    return _table(rows, ["range", "size", "starts at", "name"])


def _short(why: str) -> str:
    """The first clause of an explanation, without its asides in parentheses.

    >>> _short("the range ends (0x40000000) at or before it starts (0x100000000)")
    'the range ends at or before it starts'
    """
    return re.sub(r"\s*\([^)]*\)", "", why).split(";")[0].split(". ")[0]


def _ck_row(fragment: str, system_ram: int) -> List[str]:
    try:
        ck = parse_crashkernel(fragment, system_ram)
    except CrashkernelError as e:
        return [fragment, "error", "", "", f"{_short(e.why)}; Linux prints \"{e.kernel_message}\""]
    if ck is None:
        return [fragment, "none", "", "", "no crashkernel= (nothing is reserved)"]
    note = ""
    if ck.form == "ranges":
        note = (f"RAM {size_words(system_ram)} picks {size_words(ck.size)}" if ck.size
                else f"RAM {size_words(system_ram)} is in no range: nothing is reserved")
    if ck.low is not None:
        note = f"plus {size_words(ck.low)} below 4 GiB (,low)"
    elif ck.high:
        note = "above 4 GiB if it can; plus 256 MiB low (the default ,low)"
    return [fragment, ck.form, size_words(ck.size) if ck.size else "0",
            size_words(ck.offset) if ck.offset else "", note]


def crashkernel_table(fragments: Sequence[str], system_ram: int) -> str:
    """How the lab's parser (Linux's rules) reads each command-line fragment, for one RAM size.

    ``offset`` empty means the kernel chooses where; ``error`` rows carry what Linux prints.
    """
    rows = [_ck_row(f, system_ram) for f in fragments]
    return _table(rows, ["crashkernel=", "form", "size", "offset", "chosen by RAM / error"])


def ranges_by_ram(fragment: str, rams: Sequence[int]) -> str:
    """Which size a ``start-[end]:size,...`` fragment gives machines of each RAM size.

    >>> print(ranges_by_ram("crashkernel=1G-4G:192M,4G-:256M", [768 << 20, 2 << 30, 8 << 30]))
    System RAM  reserves
    ----------  --------
    768 MiB     nothing
    2 GiB       192 MiB
    8 GiB       256 MiB
    """
    rows = []
    for ram in rams:
        try:
            ck = parse_crashkernel(fragment, ram)
        except CrashkernelError as e:
            rows.append([size_words(ram), f"nothing: {_short(e.why)} (\"{e.kernel_message}\")"])
            continue
        rows.append([size_words(ram), size_words(ck.size) if ck and ck.size else "nothing"])
    return _table(rows, ["System RAM", "reserves"])


def pc_ram(total: int) -> List[Tuple[int, int]]:
    """System RAM ranges [start, end) of a PC with ``total`` bytes, laid out as QEMU's ``pc``
    machine does: 639 KiB of low memory, then from 1 MiB; with 3.5 GiB or more, 3 GiB stay
    below 4 GiB (the rest of that space is for PCI devices) and the remainder starts at 4 GiB.

    >>> [(hex(a), hex(b)) for a, b in pc_ram(8 << 30)]
    [('0x1000', '0x9fc00'), ('0x100000', '0xc0000000'), ('0x100000000', '0x240000000')]
    """
    low = 0xC0000000 if total >= 0xE0000000 else total
    ranges = [(0x1000, 0x9FC00), (0x100000, low)]
    if total > low:
        ranges.append((1 << 32, (1 << 32) + total - low))
    return ranges


def reservation_table(fragments: Sequence[str], ram: Sequence[Tuple[int, int]],
                      reserved: Sequence[Tuple[int, int]] = ()) -> str:
    """What Linux 6.1 (x86-64) prints at boot for each fragment, on a machine with ``ram``."""
    out = []
    for f in fragments:
        res = reserve_crashkernel(f, ram, reserved)
        out.append(f)
        out += [f"    {m}" for m in res.messages] or ["    (nothing printed, nothing reserved)"]
    return "\n".join(out)


def load_report(console: str, kexec_output: str) -> str:
    """The boot's crashkernel= lines, then what ``kexec -p`` said (pure)."""
    said = kexec_output.strip() or "(nothing: it loaded)"
    return crashkernel_lines(console) + "\n# kexec -p\n" + said


def load_reports(runs: Mapping[str, "KdumpRun"]) -> str:
    """``load_report`` for each loaded KdumpRun, under the crashkernel= value it was given."""
    return "\n\n".join(f"== crashkernel={name}\n" + load_report(r.session.machine.console_text, r.kexec_output)
                       for name, r in runs.items())


_MEMORY = re.compile(r"Memory: (\d+K/\d+K) available")


def capture_kernel_state(capture_console: str) -> str:
    """How far the capture kernel got, from its console (pure).

    >>> capture_kernel_state("[ 0.0] Memory: 3984K/8824K available (108K kernel code)\\n[ 0.0] Run /init\\n")
    'booted, Memory: 3984K/8824K available'
    >>> capture_kernel_state("")
    'never started'
    """
    if not capture_console.strip():
        return "never started"
    died = panic_message(capture_console)
    if died:
        return f"panicked: {died.removeprefix(PANIC_PREFIX)}"
    mem = _MEMORY.search(capture_console)
    return "booted" + (f", Memory: {mem.group(1)} available" if mem else "")


def sizing_table(results: Mapping[str, "KdumpResult"]) -> str:
    """One row per crashkernel= size: did kexec -p load, how far the capture kernel got, the
    vmcore, how the cycle ended."""
    rows = []
    for size, r in results.items():
        out = r.kexec_output.strip()
        loaded = out.splitlines()[0] if out and r.end == "no-capture" else "loaded"
        o = r.outcome
        dump = "-" if o is None else (f"{o.status}, {size_words(o.result.write_bytes)}"  # type: ignore[attr-defined]
                                      if o.status == "saved" and o.result is not None else o.status)
        rows.append([size, loaded, capture_kernel_state(r.capture_console), dump, r.end])
    return _table(rows, ["crashkernel=", "kexec -p", "capture kernel", "vmcore", "end"])


# ---------------------------------------------------------------------------- kexec -p
def segment_table(plan: "KexecPlan") -> str:
    """The segments kexec_load(2) got: where each lands in the reservation, its size, and the
    SHA-256 purgatory checks before it jumps (of the bytes copied; purgatory is the checker)."""
    base = plan.crash[0]
    rows = []
    for s in sorted(plan.segments, key=lambda s: s.mem):
        digest = "(the checker)" if s.mem == base else hashlib.sha256(s.data).hexdigest()[:16] + "..."
        rows.append([f"{s.mem:08x}-{s.mem + s.memsz - 1:08x}", f"+{size_words(s.mem - base) if s.mem > base else '0'}",
                     size_words(s.memsz), s.what, digest])
    return _table(rows, ["physical", "in crashkernel=", "size", "segment", "sha256"])


_CMDLINE_WORDS = (
    ("elfcorehdr=", "where kexec put the ELF core header: physical address in KiB ({addr})"),
    ("irqpoll", "poll every interrupt handler: devices left mid-request by the crashed kernel may "
                "raise interrupts nobody expects"),
    ("nr_cpus=", "bring up this many CPUs only: less memory, and the other CPUs were stopped mid-work"),
    ("maxcpus=", "bring up this many CPUs only"),
    ("reset_devices", "drivers reset their devices fully instead of trusting the state they find"),
    ("panic=", "if the capture kernel panics too, reboot after this many seconds instead of hanging"),
    ("console=", "the same console as the first kernel (kept from its command line)"),
    ("crashkernel=", "(dropped: the capture kernel reserves nothing)"),
)


def capture_cmdline_table(cmdline: str) -> str:
    """Each word of the capture kernel's command line with why it is there (pure).

    >>> print(capture_cmdline_table("irqpoll elfcorehdr=180244K").splitlines()[-1])
    elfcorehdr=180244K   where kexec put the ELF core header: physical address in KiB (0xb005000)
    """
    rows = []
    for word in cmdline.split():
        why = "kept from the first kernel's command line"
        for prefix, text in _CMDLINE_WORDS:
            if word == prefix or (prefix.endswith("=") and word.startswith(prefix)):
                why = text
                if prefix == "elfcorehdr=":
                    m = re.match(r"elfcorehdr=(?:\d+[KMG]?@)?(\d+)([KMG]?)$", word)
                    if m:
                        shift = {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]
                        why = why.format(addr=hex(int(m.group(1)) << shift))
                break
        rows.append([word + " ", why])
    return _table(rows, ["word", "why"])


def _elf(data: bytes) -> ELFFile:
    return ELFFile(io.BytesIO(data))


def elf_header_line(data: bytes) -> str:
    """readelf -h, in one line: class, type, machine, how many program headers."""
    e = _elf(data)
    h = e.header
    return (f"ELF{e.elfclass} {h['e_type']} {h['e_machine']}, {h['e_phnum']} program headers "
            f"at offset {h['e_phoff']}, {h['e_shnum']} section headers")


def program_headers(data: bytes, notes: Sequence[Tuple[int, int]] = (), vmcoreinfo: str = "") -> str:
    """readelf -l of an ELF core file's head, each header said in words.

    ``notes`` (each CPU's crash_notes address and size) and ``vmcoreinfo`` (what
    /sys/kernel/vmcoreinfo says: address and size in hex) name the PT_NOTEs of kexec's ELF core
    header, which point into the crashed kernel's memory.
    """
    names = {addr: f"crash_notes of CPU {i}" for i, (addr, _) in enumerate(notes)}
    if vmcoreinfo.split():
        names[int(vmcoreinfo.split()[0], 16)] = "VMCOREINFO"
    rows = []
    for seg in _elf(data).iter_segments():
        t = seg["p_type"]
        if t == "PT_NOTE":
            what = names.get(seg["p_paddr"], "notes (NT_PRSTATUS per CPU, VMCOREINFO)")
        elif t == "PT_LOAD" and seg["p_vaddr"] >= START_KERNEL_MAP:
            what = "the kernel image (its virtual addresses)"
        elif t == "PT_LOAD":
            missing = seg["p_memsz"] - seg["p_filesz"]
            what = f"RAM at {size_words(seg['p_paddr']) if seg['p_paddr'] else '0'}" + \
                   (f", last {size_words(missing)} not in the file" if missing else "")
        else:
            what = ""
        rows.append([t[3:], f"0x{seg['p_offset']:x}", f"{seg['p_vaddr']:016x}", f"{seg['p_paddr']:08x}",
                     size_words(seg["p_memsz"]), what])
    return _table(rows, ["type", "offset", "virtual", "physical", "size", "what"])


def note_table(data: bytes) -> str:
    """readelf -n of an ELF core file whose head (notes included) is ``data``."""
    rows = []
    for seg in _elf(data).iter_segments():
        if seg["p_type"] != "PT_NOTE" or seg["p_offset"] + seg["p_filesz"] > len(data):
            continue
        for n in seg.iter_notes():  # type: ignore[attr-defined]  # a NoteSegment
            desc = n["n_type"] if isinstance(n["n_type"], str) else f"type {n['n_type']:#x}"
            rows.append([n["n_name"], f"0x{n['n_descsz']:08x}", desc])
    return _table(rows, ["owner", "data size", "description"])


def prstatus_table(prstatus: Sequence[PrStatus], symbolize: Callable[[int], str] = hex) -> str:
    """One line per CPU's NT_PRSTATUS note: the pid it ran and where its registers were saved."""
    rows = [[str(cpu), str(p.pid), symbolize(p.reg("rip")), f"{p.reg('rsp'):016x}"]
            for cpu, p in enumerate(prstatus)]
    return _table(rows, ["CPU", "pid", "rip", "rsp"])


def seam(first_console: str, capture_console: str, before: int = 4, after: int = 2) -> str:
    """The last lines the crashed kernel printed and the first of the capture kernel, with the
    place where one ends and the other begins marked (pure)."""
    a = first_console.rstrip("\n").splitlines()[-before:]
    b = capture_console.lstrip("\n").splitlines()[:after]
    return "\n".join(a + ["----------- (the console, unchanged: the capture kernel starts here) -----------"] + b)


def e820_lines(console: str) -> str:
    """The firmware memory map a kernel was given (its ``BIOS-e820`` lines)."""
    return pick_lines(console, re.compile(r"^BIOS-e820:"))


# ---------------------------------------------------------------------------- makedumpfile
_KIND_BIT = (("zero", 1, "Pages filled with zero"), ("cache", 2, "Non-private cache pages"),
             ("cache_private", 4, "Private cache pages"), ("user", 8, "User process data pages"),
             ("free", 16, "Free pages"))


def kinds_table(result: "Result") -> str:
    """Pages excluded per kind in one makedumpfile run, with the -d bit that drops the kind.

    Bit 4 drops every cache page; the cache pages it alone adds are the private ones."""
    rows = [[str(bit), words, str(result.counts[key]), size_words(result.counts[key] * PAGE_SIZE)]
            for key, bit, words in _KIND_BIT]
    rows.append(["", "kept (written)", str(result.original_pages - result.excluded_pages),
                 size_words((result.original_pages - result.excluded_pages) * PAGE_SIZE)])
    return _table(rows, ["bit", "kind", "pages", "size"])


LEVEL_BITS = ((1, "zero pages"), (2, "cache pages without private data"), (4, "all cache pages"),
              (8, "user process data"), (16, "free pages"))


def level_words(level: int) -> str:
    """What ``-d level`` drops, bit by bit, in makedumpfile's terms (bit 4 drops every cache
    page, with private data or without, so 6 drops no more than 4).

    >>> level_words(5), level_words(6)
    ('zero pages + all cache pages', 'all cache pages')
    >>> level_words(0)
    'nothing'
    """
    words = [w for bit, w in LEVEL_BITS if level & bit and not (bit == 2 and level & 4)]
    return " + ".join(words) if words else "nothing"


def level_table(results: Iterable["Result"]) -> str:
    """One row per makedumpfile run: -d, what it drops, pages kept, file size, and the size as
    a share of the first row's."""
    results = list(results)
    first = results[0].write_bytes if results else 0
    rows = []
    for r in results:
        share = f"{100 * r.write_bytes / first:.1f}%" if first else ""
        rows.append([str(r.dump_level), level_words(r.dump_level), str(r.original_pages - r.excluded_pages),
                     size_words(r.write_bytes), share])
    return _table(rows, ["-d", "drops", "pages kept", "file", "of the first"])


_OPTION = {None: "(none)", "zlib": "-c", "lzo": "-l", "snappy": "-p", "zstd": "-z"}


def codec_table(results: Iterable["Result"]) -> str:
    """One row per compression: option, file size, ratio to the uncompressed row, seconds."""
    results = list(results)
    plain = next((r.write_bytes for r in results if r.compression is None), None)
    rows = []
    for r in results:
        ratio = f"{plain / r.write_bytes:.1f}x" if plain and r.write_bytes else ""
        rows.append([_OPTION.get(r.compression, "?"), r.compression or "none", size_words(r.write_bytes),
                     ratio, f"{r.seconds:.2f}"])
    return _table(rows, ["option", "codec", "file", "smaller by", "seconds"])


def hexdump(data: bytes, length: int = 64, start: int = 0) -> str:
    """xxd's layout: offset, 16 bytes as 8 groups of 4 hex digits, the printable characters.

    >>> print(hexdump(b"KDUMP   \\x06\\x00\\x00\\x00Linu", 16))
    00000000: 4b44 554d 5020 2020 0600 0000 4c69 6e75  KDUMP   ....Linu
    """
    out = []
    chunk = data[start:start + length]
    for off in range(0, len(chunk), 16):
        row = chunk[off:off + 16]
        hexes = " ".join(row[i:i + 2].hex() for i in range(0, len(row), 2))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        out.append(f"{start + off:08x}: {hexes:<39}  {text}")
    return "\n".join(out)


def makedumpfile_words(args: Optional[MakedumpfileArgs]) -> str:
    """A core_collector's makedumpfile options in words.

    >>> from kpanic_lab.kdump.config import parse_makedumpfile_args
    >>> makedumpfile_words(parse_makedumpfile_args("-l --message-level 7 -d 31"))
    'kdump-compressed, lzo, -d 31 (drops zero pages + all cache pages + user process data + free pages)'
    """
    if args is None:
        return "not makedumpfile: the lab's capture kernel has only makedumpfile"
    fmt = "ELF (-E)" if args.elf else "kdump-compressed"
    if args.flatten:
        fmt += ", flattened (-F)"
    comp = args.compression or "uncompressed"
    return f"{fmt}, {comp}, -d {args.dump_level} (drops {level_words(args.dump_level)})"


# ---------------------------------------------------------------------------- configuration
def conf_summary(conf: KdumpConf) -> str:
    """The settings kdumpctl takes from a kdump.conf, defaults filled in, in words."""
    if conf.target_type is None:
        where = f"the root file system, {conf.path}/<host>-<date>/"
    elif conf.target_type in ("ssh", "nfs"):
        where = f"{conf.target_type} {conf.target}, {conf.path}/<host>-<date>/"
    elif conf.target_type == "raw":
        where = f"raw device {conf.target} (the flattened stream, no file system)"
    else:
        where = f"{conf.target_type} file system on {conf.target}, {conf.path}/<host>-<date>/"
    lines = [f"dump target     {where}",
             f"core_collector  {conf.core_collector}",
             f"                = {makedumpfile_words(conf.makedumpfile)}",
             f"failure_action  {conf.failure_action}   (when the dump fails)",
             f"final_action    {conf.final_action}   (after a dump that worked)"]
    lines += [f"warning         {w}" for w in conf.warnings]
    return "\n".join(lines)


def _error_at_line(text: str, e: KdumpConfError, who: str) -> str:
    """The file with the line the error names marked, then the error."""
    lines = [f"{'>' if no == e.line else ' '}{no:3d}  {line}" for no, line in enumerate(text.splitlines(), 1)]
    return "\n".join(lines + ["", f"{who}: {e}"])


def check_kdump_conf(text: str, name: str = "/etc/kdump.conf") -> str:
    """Check a kdump.conf as kdumpctl does: its settings, or the error under the line it names."""
    try:
        conf = parse_kdump_conf(text, name)
    except KdumpConfError as e:
        return _error_at_line(text, e, "kdumpctl")
    return conf_summary(conf)


def tools_summary(tools: KdumpTools) -> str:
    """What Debian's kdump-tools will do with these /etc/default/kdump-tools variables."""
    v = tools.values
    remote = f"ssh {v['SSH']}" if v["SSH"] else f"nfs {v['NFS']}" if v["NFS"] else "local disk"
    lines = [f"USE_KDUMP={v['USE_KDUMP']}       " + ("kdump is on" if tools.use_kdump else
                                                    "kdump is off: nothing is loaded at boot"),
             f"KDUMP_COREDIR    {tools.coredir}/<timestamp>/  on {remote}",
             f"MAKEDUMP_ARGS    {v['MAKEDUMP_ARGS']} = {makedumpfile_words(tools.makedumpfile)}",
             f"KDUMP_SYSCTL     {v['KDUMP_SYSCTL']}   (set when kdump is loaded)",
             f"KDUMP_FAIL_CMD   {tools.fail_cmd or '(unset: reboot after a failed dump)'}",
             f"KDUMP_CMDLINE_APPEND  {v['KDUMP_CMDLINE_APPEND']}"]
    lines += [f"warning          {w}" for w in tools.warnings]
    return "\n".join(lines)


def check_kdump_tools(text: str, name: str = "/etc/default/kdump-tools") -> str:
    """Check /etc/default/kdump-tools: what kdump-tools will do, or the error under its line."""
    try:
        tools = parse_kdump_tools(text, name)
    except KdumpConfError as e:
        return _error_at_line(text, e, "error")
    return tools_summary(tools)


def tail(text: str, n: int = 5) -> str:
    """The last ``n`` lines of a console (pure).

    >>> tail("a\\nb\\nc\\n", 2)
    'b\\nc'
    """
    return "\n".join(text.rstrip("\n").splitlines()[-n:])


def listing_lines(entries: Iterable[Tuple[str, int]]) -> str:
    """``ls -l``-like lines (size, name) for (relative path, size) pairs (pure).

    >>> print(listing_lines([("a/vmcore", 860469), ("a/vmcore-dmesg.txt", 2934)]))
      860469  a/vmcore
        2934  a/vmcore-dmesg.txt
    """
    entries = sorted(entries)
    if not entries:
        return "(empty)"
    width = max(len(str(size)) for _, size in entries)
    return "\n".join(f"{size:>{max(width, 8)}}  {name}" for name, size in entries)


def listing(folder: Union[str, "os.PathLike[str]"]) -> str:
    """Every file under ``folder`` with its size (reads the file system)."""
    base = Path(folder)
    return listing_lines((str(p.relative_to(base)), p.stat().st_size) for p in base.rglob("*") if p.is_file())


def outcome_summary(result: "KdumpResult") -> str:
    """What a kdump cycle came to: the collector's verdict, what it did next, the machine's end."""
    o = result.outcome
    if o is None:
        trace = getattr(result, "trace", None)
        first = getattr(trace, "end", None)
        return ("no dump: the capture kernel never ran" + (f" (the crashed kernel's run ended: {first})" if first else "")
                + f"\nmachine   {result.end}")
    lines = [f"dump      {o.status}" + (f": {o.error}" if o.error else ""),
             f"then      {o.action}",
             f"machine   {result.end}"]
    if o.vmcore is not None:
        lines.append(f"vmcore    {o.vmcore.name} in {o.vmcore.parent.name}/")
    if o.raw is not None:
        lines.append(f"raw disk  {o.raw.name}")
    return "\n".join(lines)
