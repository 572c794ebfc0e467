"""Exercise 7: a dump of one's own, made from a seed, and the truth about it.

A student's seed (their id, and a course secret) picks one of the exercise drivers
(``xsensor``, ``xringbuf``, ``xnetq``: guest/kernel/modules/x*.c), one bug kind, and a
slot that moves the bad write.  ``insmod xsensor bug=dfree slot=3`` loads the driver
with the choice as module parameters (every student's kernel has the same command
line, which says nothing about the bug), it breaks, kdump saves a vmcore.  A worker
boots that kernel and loads the capture kernel once and starts each student's run from
a snapshot of it (the machine is deterministic: the same state a boot reaches).  The truth (function, module,
address, kind, source line) is then read back from that vmcore the way a student
would find it with ``bt``: the culprit function the seed planted must be on the
panicking task's stack, in its module; the address and line are taken from there.

>>> plan_for("s001", secret="course").module in MODULES
True
"""
from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from kpanic_lab.errors import LabError
from kpanic_lab.i18n import N_, _
from kpanic_lab.panic.scenarios import Scenario

#: bug kind -> what a student calls it (the answer's ``kind``)
KINDS: Dict[str, str] = {
    "null": "NULL pointer write",
    "bug": "BUG_ON",
    "warn": "WARN with panic_on_warn",
    "timer": "oops in a timer (interrupt context)",
    "dfree": "double free detected by the slab",
    "uaf": "use-after-free of a slab object (poisoned with 0x6b)",
}
#: the functions each driver breaks in, by bug kind (the drivers' C sources say the same)
MODULES: Dict[str, Dict[str, str]] = {
    "xsensor": {"null": "sensor_store_sample", "bug": "sensor_check_fifo", "warn": "sensor_calibrate",
                "timer": "sensor_poll", "dfree": "sensor_free_buffers",
                "uaf": "sensor_notify_reader"},
    "xringbuf": {"null": "ringbuf_push", "bug": "ringbuf_advance", "warn": "ringbuf_resize",
                 "timer": "ringbuf_flush", "dfree": "ringbuf_destroy",
                 "uaf": "ringbuf_consume"},
    "xnetq": {"null": "netq_xmit", "bug": "netq_reclaim", "warn": "netq_set_mtu",
              "timer": "netq_watchdog", "dfree": "netq_free_skb",
              "uaf": "netq_tx_complete"},
}
SLOTS = 8
#: every student's kernel: an oops or a WARN panics, so kdump always has something to save;
#: slub_debug=P poisons freed slab objects (0x6b), so a use-after-free faults where it happens
CMDLINE = "oops=panic panic_on_warn=1 slub_debug=P"
FIELDS = ("function", "module", "address", "kind", "line")
#: the capture side: RHEL's default collector; power off after saving (no reboot to wait for)
KDUMP_CONF = "core_collector makedumpfile -l --message-level 7 -d 31\nfinal_action poweroff\n"


class DumpError(LabError):
    """A student's dump could not be made or does not show the planted bug."""


@dataclass(frozen=True)
class Plan:
    """What a seed chose: the driver, the bug, the slot."""

    student: str
    module: str
    kind: str
    slot: int

    @property
    def function(self) -> str:
        return MODULES[self.module][self.kind]

    def scenario(self) -> Scenario:
        """The crash scenario that breaks this student's driver."""
        return Scenario(f"exercise-{self.student}", f"{self.module}: {KINDS[self.kind]}",
                        f"insmod {self.module} bug={self.kind} slot={self.slot}", cmdline=CMDLINE)


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\0".join(parts).encode()).digest()


def plan_for(student: str, secret: str = "") -> Plan:
    """The plan a student id gives (with the course's ``secret``): deterministic, and
    spread evenly over the 18 driver/bug pairs.

    >>> plan_for("alice", "x") == plan_for("alice", "x")
    True
    """
    if not student or not student.strip():
        raise DumpError("a student id must not be empty")
    d = _digest("kpanic-lab exercise 7", secret, student.strip())
    pairs = [(m, k) for m in MODULES for k in KINDS]
    module, kind = pairs[int.from_bytes(d[:8], "little") % len(pairs)]
    return Plan(student.strip(), module, kind, d[8] % SLOTS)


@dataclass(frozen=True)
class Truth:
    """The answer key for one student's dump (teacher's side only)."""

    student: str
    function: str
    module: str
    address: int        # where bt shows the culprit: its frame, or the exception RIP
    kind: str           # a key of KINDS
    file: str
    line: int

    def as_row(self) -> Dict[str, str]:
        d = asdict(self)
        d["address"] = f"{self.address:x}"
        return {k: str(v) for k, v in d.items()}


def base_name(symbol: str) -> str:
    """``sensor_free_buffers.constprop.0`` -> ``sensor_free_buffers`` (gcc's clone suffixes)."""
    return symbol.split(".")[0]


def culprit_location(prog, function: str) -> Tuple[int, Optional[str], bool]:  # type: ignore[no-untyped-def]
    """Where ``function`` is on the panicking task's stack: (address, module, is_return_address).

    The exception RIP of an entry frame counts first (a fault or ud2 in the function);
    otherwise the frame ``bt`` prints for it.  DumpError if it is not there."""
    from kpanic_lab.analysis.stack import backtrace
    from kpanic_lab.analysis.tasks import panic_cpu, task_on_cpu

    cpu = panic_cpu(prog)
    bt = backtrace(prog, task_on_cpu(prog, cpu if cpu is not None else 0))
    for i, f in enumerate(bt.frames):
        if f.exception is not None:
            rip = f.exception.regs.rip
            loc = prog.symbols.lookup(rip)
            if loc is not None and base_name(loc.symbol.name) == function:
                return rip, loc.symbol.module, False
        if f.function and base_name(f.function) == function:
            return f.pc, f.module, i != 0 and not f.stack_switch
    raise DumpError(f"{function} is not on the panicking task's stack: {bt.functions}")


def truth_from_dump(vmcore: Union[str, Path], plan: Plan) -> Truth:
    """Read the planted bug back from the vmcore, as ``bt`` and ``bt -l`` show it."""
    from kpanic_lab.crash.session import CrashSession

    prog = CrashSession.open(vmcore).prog
    addr, module, returned = culprit_location(prog, plan.function)
    if module != plan.module:
        raise DumpError(f"{plan.function} at {addr:x} is in module {module!r}, not {plan.module!r}")
    src = prog.line_for(addr - 1 if returned else addr)
    if src is None:
        raise DumpError(f"no source line for {addr:x} in the guest's DWARF")
    return Truth(plan.student, plan.function, plan.module, addr, plan.kind, src.file, src.line)


#: this process's first kernel, booted with kexec -p done, by image (path, mtime, size)
_LOADED: Dict[Tuple[str, int, int], object] = {}


def _loaded_kernel(max_seconds: float):  # type: ignore[no-untyped-def]
    """The class's first kernel, booted and with its capture kernel loaded, once per process."""
    from kpanic_lab.guest import vmlinux_path
    from kpanic_lab.kdump.run import KdumpRun

    p = vmlinux_path()
    st = p.stat()
    key = (str(p), st.st_mtime_ns, st.st_size)
    if key not in _LOADED:
        base = Scenario("exercise", "the class's kernel at the prompt", "true", cmdline=CMDLINE)
        with tempfile.TemporaryDirectory(prefix="kpanic-ex7-") as tmp:
            loaded = KdumpRun(base, crash_dir=tmp, kdump_conf=KDUMP_CONF, max_seconds=max_seconds).load().saved()
        _LOADED.clear()
        _LOADED[key] = loaded
    return _LOADED[key]


def make_dump(plan: Plan, out_dir: Union[str, Path], max_seconds: float = 60.0, reuse: bool = True) -> Truth:
    """Boot (or, with ``reuse``, start from this process's booted kernel), break the student's
    driver, capture with kdump, and leave ``out_dir/vmcore`` (kdump-compressed, ``-d 31 -l``:
    what RHEL's default kdump.conf makes; then the machine powers off).  The truth."""
    from kpanic_lab.kdump.run import KdumpRun

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kpanic-ex7-") as tmp:
        k = KdumpRun(plan.scenario(), crash_dir=tmp, kdump_conf=KDUMP_CONF, max_seconds=max_seconds)
        if reuse:
            k.load(_loaded_kernel(max_seconds))  # type: ignore[arg-type]
        r = k.run()
        if r.outcome is None or r.outcome.vmcore is None:
            raise DumpError(f"student {plan.student}: no vmcore ({r.end}); last console lines:\n"
                            + "\n".join(r.first_console.splitlines()[-8:]))
        shutil.move(str(r.outcome.vmcore), out / "vmcore")
    return truth_from_dump(out / "vmcore", plan)


# ---------------------------------------------------------------------------- answers
_ADDR = re.compile(r"^(?:0x)?([0-9a-f]{1,16})$")
_LINE = re.compile(r"^(?:(?P<file>[\w./-]+?)\s*:\s*)?(?P<line>\d+)$")
KIND_WORDS: Dict[str, Tuple[str, ...]] = {
    "null": ("null",), "bug": ("bug_on", "bug"), "warn": ("warn",), "timer": ("timer", "interrupt", "irq"),
    "dfree": ("double", "dfree"),
    "uaf": ("use-after-free", "use after free", "uaf", "poison"),
}


class AnswerFormatError(LabError, ValueError):
    """An answer that is not in the form asked for (said in one line)."""


def normalise(field: str, value: object) -> str:
    """One answer field in a canonical form, so that ``0xFFFF...`` equals ``ffff...``,
    ``sensor_poll.constprop.0`` equals ``sensor_poll`` and ``"BUG_ON"`` equals ``"bug"``."""
    text = str(value).strip()
    if not text or value is None or value is Ellipsis:
        raise AnswerFormatError(f"{field}: no answer yet")
    low = text.lower()
    if field == "function":
        return base_name(low.split("+")[0])
    if field == "module":
        return low.strip("[]")
    if field == "address":
        v = value if isinstance(value, int) and not isinstance(value, bool) else None
        if v is None:
            m = _ADDR.match(low)
            if not m:
                raise AnswerFormatError(f"address: {text!r} is not a hex address like ffffffff8101c0a4")
            v = int(m.group(1), 16)
        return f"{v:x}"
    if field == "kind":
        if low in KINDS:
            return low
        for key, name in KINDS.items():
            if low == name.lower():
                return key
        hits = [k for k, words in KIND_WORDS.items() if any(w in low for w in words)]
        if "bug_on" in low or low == "bug":
            hits = ["bug"]
        if len(hits) != 1:
            raise AnswerFormatError(f"kind: {text!r} is not one of: " + ", ".join(f"{k} ({v})" for k, v in KINDS.items()))
        return hits[0]
    if field == "line":
        m = _LINE.match(low.replace(" ", "") if ":" in low else low)
        if not m:
            raise AnswerFormatError(f"line: {text!r} is not a source line like kernel/modules/xnetq.c:61")
        return m.group("line")
    raise AnswerFormatError(f"unknown answer field {field!r}; the fields are: {', '.join(FIELDS)}")


def truth_values(t: Truth) -> Dict[str, str]:
    return {"function": t.function, "module": t.module, "address": f"{t.address:x}", "kind": t.kind,
            "line": str(t.line)}


def answer_hashes(t: Truth, salt: str) -> Dict[str, str]:
    """What a student's notebook may hold: a salted hash of each true field, so the check
    can say right or wrong without the notebook holding the answer."""
    return {f: hashlib.sha256(f"{salt}\0{f}\0{v}".encode()).hexdigest() for f, v in truth_values(t).items()}


def hash_answer(field: str, value: object, salt: str) -> str:
    return hashlib.sha256(f"{salt}\0{field}\0{normalise(field, value)}".encode()).hexdigest()


def list_kinds() -> List[str]:
    return list(KINDS)


# ---------------------------------------------------------------------------- the student's side
CHECK_FILE = "check.json"        # beside each student's vmcore: salted hashes, never the truth
KEY_ENV = "KPANIC_LAB_ANSWER_KEY"   # the teacher's answers.csv (autograding, solution notebooks)
DUMPS_ENV = "KPANIC_LAB_DUMPS"      # the folder of students' dump folders the teacher handed out

HINTS: Dict[str, str] = {
    "function": N_("bt lists the panicking task's frames: skip the kernel's own helpers (kfree, panic, __warn, "
                   "report_bug, the exception entry) and find the first frame in a module ([name] at the end "
                   "of the line); after an exception, crash prints [exception RIP: ...]"),
    "module": N_("mod lists the loaded modules with their addresses; sym ADDRESS names the module an address "
                 "is in"),
    "address": N_("give the address bt prints for the culprit's frame ('at ffffffff81...'), or the RIP of "
                  "the exception frame if it faulted there"),
    "kind": N_("read the lines above the Call Trace (log | grep -e BUG -e WARNING -e Oops -e 'protection "
               "fault'): 'kernel NULL pointer dereference', 'kernel BUG at file:line' (which file?), "
               "'panic_on_warn set', <IRQ> in the trace for interrupt context, and a general protection "
               "fault at 0x6b6b6b6b6b6b...: a pointer read from a freed slab object (0x6b is the slab's "
               "POISON_FREE)"),
    "line": N_("bt -l prints each frame's source line; dis -l FUNCTION shows the lines around it"),
}


def write_check(folder: Union[str, Path], truth: Truth) -> Path:
    """The student's check file: the salt and a hash of each true field."""
    import json

    salt = hashlib.sha256(_digest("salt", truth.student, f"{truth.address:x}")).hexdigest()[:16]
    path = Path(folder) / CHECK_FILE
    path.write_text(json.dumps({"student": truth.student, "salt": salt, "hashes": answer_hashes(truth, salt)},
                               indent=1, sort_keys=True) + "\n")
    return path


def read_key(path: Union[str, Path]) -> Dict[str, Truth]:
    """The teacher's answers.csv: student -> Truth."""
    import csv

    out: Dict[str, Truth] = {}
    p = Path(path)
    if not p.is_file():
        raise DumpError(f"{p}: no answer key there")
    with p.open(newline="") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                out[row["student"]] = Truth(row["student"], row["function"], row["module"], int(row["address"], 16),
                                            row["kind"], row["file"], int(row["line"]))
            except (KeyError, ValueError) as e:
                raise DumpError(f"{p}:{i}: not a row of an answer key ({e})") from None
    return out


def write_key(path: Union[str, Path], truths: List[Truth]) -> Path:
    import csv

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["student", "function", "module", "address", "kind", "file", "line"])
        w.writeheader()
        for t in sorted(truths, key=lambda t: t.student):
            w.writerow(t.as_row())
    return p


def answer_from_key(student: str, key: Union[str, Path, None] = None) -> Dict[str, str]:
    """The right answer for ``student`` from the teacher's key (solution notebooks only)."""
    import os

    where = key or os.environ.get(KEY_ENV)
    if not where:
        raise DumpError(f"no answer key: set {KEY_ENV} to the teacher's key/answers.csv")
    truths = read_key(where)
    if student not in truths:
        raise DumpError(f"{where}: no student {student!r}")
    t = truths[student]
    return {"function": t.function, "module": t.module, "address": f"{t.address:x}", "kind": t.kind,
            "line": f"{t.file}:{t.line}"}


def field_results(answer: Dict[str, object], student: str, hashes: Optional[Dict[str, str]] = None,
                  salt: str = "", truth: Optional[Truth] = None) -> Dict[str, Tuple[bool, str]]:
    """Each field: (right, what to say).  Against the truth when the teacher has it, else the hashes."""
    out: Dict[str, Tuple[bool, str]] = {}
    for f in FIELDS:
        if f not in answer or answer[f] in (None, "", Ellipsis):
            out[f] = (False, _("{field}: no answer yet").format(field=f))
            continue
        try:
            value = normalise(f, answer[f])
        except AnswerFormatError as e:
            out[f] = (False, str(e))
            continue
        if truth is not None:
            right = value == truth_values(truth)[f]
        else:
            right = hashes is not None and hash_answer(f, value, salt) == hashes.get(f)
        out[f] = (right, _("{field}: right").format(field=f) if right else
                  _("{field}: {value!r} is not it").format(field=f, value=answer[f]))
    return out
