"""Plain-text views of a kdump cycle, so a notebook cell can stay one line.

What crashkernel= reserved and why (the boot's lines, /proc/iomem, Linux's parsing rules), what
``kexec -p`` loaded (its segments, the capture kernel's command line), how far the capture
kernel got, what makedumpfile dropped and wrote, and how the cycle ended.  The views of a dump's
bytes (readelf's, xxd's) are in ``formats.describe``; a kdump.conf's check is in ``kdump.confcheck``.

Every function returns a string and never prints.  Most are pure: they take text the guest
printed, bytes it wrote, or the library's own objects (``KexecPlan``, makedumpfile's ``Result``,
a ``KdumpResult``).  The few that touch a file system or a run say so and are thin wrappers over
a pure half.

>>> print(crashkernel_table(["crashkernel=256M@16M"], 4 << 30))
crashkernel=          form    size     offset  chosen by RAM / error
--------------------  ------  -------  ------  ---------------------
crashkernel=256M@16M  simple  256 MiB  16 MiB
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, List, Mapping, Sequence, Tuple, Union

from kpanic_lab.dumplevel import dump_level_words
from kpanic_lab.formats.codecs import CODECS
from kpanic_lab.formats.printk import PANIC_PREFIX, panic_message
from kpanic_lab.guest.headers import PAGE_SIZE
from kpanic_lab.kdump.crashkernel import CrashkernelError, parse_crashkernel, reserve_crashkernel
from kpanic_lab.kdump.kexec import parse_iomem
from kpanic_lab.kdump.pageclass import KIND_LEVEL_BIT, KIND_REPORT
from kpanic_lab.panic.report import pick_lines
from kpanic_lab.text import size_words, table

if TYPE_CHECKING:
    from kpanic_lab.kdump.kexec import KexecPlan
    from kpanic_lab.kdump.makedumpfile import Result
    from kpanic_lab.kdump.run import KdumpResult, KdumpRun


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
    return table(rows, ["range", "size", "starts at", "name"])


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
    return table(rows, ["crashkernel=", "form", "size", "offset", "chosen by RAM / error"])


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
    return table(rows, ["System RAM", "reserves"])


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
        loaded = "loaded" if r.kexec_exit == 0 else (out.splitlines()[0] if out else f"exit {r.kexec_exit}")
        o = r.outcome
        dump = "-" if o is None else (f"{o.status}, {size_words(o.result.write_bytes)}"  # type: ignore[attr-defined]
                                      if o.status == "saved" and o.result is not None else o.status)
        rows.append([size, loaded, capture_kernel_state(r.capture_console), dump, r.end])
    return table(rows, ["crashkernel=", "kexec -p", "capture kernel", "vmcore", "end"])


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
    return table(rows, ["physical", "in crashkernel=", "size", "segment", "sha256"])


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
    return table(rows, ["word", "why"])


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
def kinds_table(result: "Result") -> str:
    """Pages excluded per kind in one makedumpfile run, in its report's words, with the -d bit that
    drops the kind.  Bit 4 drops every cache page; the cache pages it alone adds are the private ones."""
    rows = [[str(bit), KIND_REPORT[key], str(result.counts[key]), size_words(result.counts[key] * PAGE_SIZE)]
            for key, bit in KIND_LEVEL_BIT.items()]
    rows.append(["", "kept (written)", str(result.original_pages - result.excluded_pages),
                 size_words((result.original_pages - result.excluded_pages) * PAGE_SIZE)])
    return table(rows, ["bit", "kind", "pages", "size"])


def level_table(results: Iterable["Result"]) -> str:
    """One row per makedumpfile run: -d, what it drops, pages kept, file size, and the size as
    a share of the first row's."""
    results = list(results)
    first = results[0].write_bytes if results else 0
    rows = []
    for r in results:
        share = f"{100 * r.write_bytes / first:.1f}%" if first else ""
        rows.append([str(r.dump_level), dump_level_words(r.dump_level), str(r.original_pages - r.excluded_pages),
                     size_words(r.write_bytes), share])
    return table(rows, ["-d", "drops", "pages kept", "file", "of the first"])


def codec_table(results: Iterable["Result"]) -> str:
    """One row per compression: option, file size, ratio to the uncompressed row, seconds."""
    results = list(results)
    plain = next((r.write_bytes for r in results if r.compression is None), None)
    rows = []
    for r in results:
        ratio = f"{plain / r.write_bytes:.1f}x" if plain and r.write_bytes else ""
        option = CODECS[r.compression].option if r.compression else "(none)"
        rows.append([option, r.compression or "none", size_words(r.write_bytes), ratio, f"{r.seconds:.2f}"])
    return table(rows, ["option", "codec", "file", "smaller by", "seconds"])


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
