"""Fuzzing the crash shell on the real dumps the lab writes (issue 10, item 9).

A *corpus* is one panicked 64 MiB sysrq-c machine saved four ways: the whole ELF vmcore,
and through makedumpfile an ELF (``-E -d 31``), a kdump-compressed (``-z -d 31``) and a
flattened (``-F -z -d 31``) dump.  A *recipe* is one mutation, a small JSON dict that says
everything needed to make the file again (so a failing case is kept as a regression file
of a few hundred bytes, not a dump):

    {"fmt": "kdump", "kind": "flip", "flips": [[offset, bit], ...]}
    {"fmt": "flat",  "kind": "truncate", "length": n}
    {"fmt": "elf",   "kind": "set", "writes": [[offset, width, value], ...]}    header fields
    {"fmt": "kdump", "kind": "guest", "field": "log_next_seq", "value": v}      guest memory
    {"fmt": "elf",   "kind": "guest", "field": "task_last.tasks", "value": "task1.tasks"}   a pointer

A ``guest`` recipe changes the crashed kernel's memory (printk indices, list pointers,
task_structs) in the whole ELF vmcore and runs makedumpfile again, so the mutated data
reaches the reader in every format.  Each case runs in a worker process under an
address-space limit (``resource.setrlimit``) and a per-case time limit: CrashSession.open,
then sys, log, bt, ps, ... .  A case fails when something escapes as a traceback or an
"internal error", when it runs over its time, when it needs more memory than the limit,
when an error is not one line, or when an address prints negative.
"""
from __future__ import annotations

import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("elf", "kdump", "flat")
COMMANDS = ("sys", "log", "bt", "bt -a", "ps", "mod", "vm", "kmem -i", "set", "log -m | grep -c '(.*)*y'",
            "list -H modules", "rd -64 jiffies 4", "struct task_struct.pid,comm init_task")
EDGES_8 = (0, 1, 0x7F, 0x80, 0xFF)
EDGES = (0, 1, 2, 0xFFF, 0x1000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63,
         (1 << 64) - 2, (1 << 64) - 1)
MEMORY_LIMIT = 1 << 30          # bytes of address space a case may use beyond the worker's start
CASE_SECONDS = 10.0


# ------------------------------------------------------------------ the corpus
@dataclass
class Corpus:
    folder: Path
    files: Dict[str, Path]                 # fmt -> dump file; "full" -> the whole ELF vmcore; "vmlinux"
    fields: Dict[str, Tuple[List[int], int]]   # guest field -> (its offsets in the whole ELF vmcore, width)
    addresses: Dict[str, int]                  # guest field -> its kernel virtual address


def _paddr_to_offset(elf_path: Path) -> List[Tuple[int, int, int]]:
    from elftools.elf.elffile import ELFFile

    with open(elf_path, "rb") as f:
        return [(s["p_paddr"], s["p_filesz"], s["p_offset"]) for s in ELFFile(f).iter_segments()
                if s["p_type"] == "PT_LOAD"]


def _guest_fields(machine, loads) -> Tuple[Dict[str, Tuple[List[int], int]], Dict[str, int]]:  # type: ignore[no-untyped-def]
    """Where in the ELF vmcore the kernel data a reader trusts lies (printk indices, lists, tasks):
    every copy (the kernel text's PT_LOAD repeats the RAM that holds the kernel image)."""
    from kpanic_lab.analysis import Program
    from kpanic_lab.analysis.target import LiveTarget
    from kpanic_lab.analysis.tasks import list_tasks, panic_cpu, task_on_cpu

    prog = Program(LiveTarget(machine))
    out: Dict[str, Tuple[List[int], int]] = {}
    addresses: Dict[str, int] = {}

    def add(name: str, va: int, width: int) -> None:
        addresses[name] = va
        pa = prog.target.virt_to_phys(va)
        offsets = [off + pa - paddr for paddr, size, off in loads if pa is not None and paddr <= pa < paddr + size]
        if offsets:
            out[name] = (offsets, width)

    for sym, width in (("log_buf", 8), ("log_buf_len", 4), ("log_first_idx", 4), ("log_next_idx", 4),
                       ("log_first_seq", 8), ("log_next_seq", 8), ("panic_cpu", 4), ("modules", 8),
                       ("jiffies", 8)):
        add(sym, prog.address_of(sym), width)
    add("modules.prev", prog.address_of("modules") + 8, 8)
    t = prog.type("struct task_struct")
    tasks = list_tasks(prog)
    cur = task_on_cpu(prog, panic_cpu(prog) or 0)
    for label, task in (("init_task", tasks[0]), ("task1", tasks[min(1, len(tasks) - 1)]),
                        ("task_last", tasks[-1]), ("current", cur)):
        for member in ("tasks", "pid", "comm", "stack", "mm", "real_parent", "__state", "cpu"):
            m = t.member(member)
            add(f"{label}.{member}", task.address + m.offset, 8 if m.type.byte_size >= 8 else m.type.byte_size)
        add(f"{label}.tasks.prev", task.address + t.member("tasks").offset + 8, 8)
        add(f"{label}.thread.sp", task.address + t.member("thread").offset, 8)
    pcpu = prog.type("struct pcpu")
    for cpu in range(prog.target.cpu_count):
        for member in ("current_task", "idle"):
            add(f"cpu{cpu}.{member}", prog.address_of("pcpu_data") + cpu * pcpu.byte_size
                + pcpu.member(member).offset, 8)
    log_buf = prog.read_u64(prog.address_of("log_buf"))
    first = prog.read_u32(prog.address_of("log_first_idx"))
    add("log_record0.len", log_buf + first + 8, 2)
    add("log_record0.text_len", log_buf + first + 10, 2)
    add("log_record5.len", log_buf + first + 8 + 5 * 64, 2)
    return out, addresses


def make_corpus(folder: Path) -> Corpus:
    """Crash a 64 MiB machine (sysrq-c) and write its dump in every format into ``folder``."""
    from kpanic_lab.formats import open_dump
    from tests.support.livecore import write_vmcore_from_machine
    from kpanic_lab.panic import PanicSession

    import shutil

    from kpanic_lab.guest import vmlinux_path

    folder = Path(folder)
    vmlinux = folder / "vmlinux"           # a copy: the dumps stay readable if the image is rebuilt
    shutil.copyfile(vmlinux_path(), vmlinux)
    s = PanicSession("sysrq-c", memory="64M", vmlinux=vmlinux).start()
    s.run_to_end()
    full = folder / "vmcore.full"
    with open(full, "wb") as f:
        write_vmcore_from_machine(s.machine, f, crashtime=1_700_000_000)
    files = {"full": full, "vmlinux": vmlinux}
    for fmt in FORMATS:
        files[fmt] = folder / f"vmcore.{fmt}"
        with open_dump(full) as dump, open(files[fmt], "wb") as f:
            _makedumpfile(dump, f, fmt)
    fields, addresses = _guest_fields(s.machine, _paddr_to_offset(full))
    return Corpus(folder, files, fields, addresses)


def _makedumpfile(dump, out, fmt: str) -> None:  # type: ignore[no-untyped-def]
    from kpanic_lab.kdump.makedumpfile import makedumpfile

    if fmt == "elf":
        makedumpfile(dump, out, 31, None, "elf", False)
    else:
        makedumpfile(dump, out, 31, "zstd", "kdump", fmt == "flat")


# ------------------------------------------------------------------ recipes
def generate(seed: int, corpus: Corpus) -> dict:
    """The recipe of case ``seed`` (deterministic)."""
    rng = random.Random(seed)
    fmt = FORMATS[seed % 3]
    size = corpus.files[fmt].stat().st_size
    head = min(size, 16384)                       # headers, notes, bitmaps: where parsing happens
    kind = rng.choice(("flip", "flip", "truncate", "set", "guest", "guest", "guest"))
    r: dict = {"seed": seed, "fmt": fmt, "kind": kind}
    if kind == "flip":
        span = head if rng.random() < 0.8 else size
        r["flips"] = [[rng.randrange(span), rng.randrange(8)] for _ in range(rng.choice((1, 1, 2, 4, 16)))]
    elif kind == "truncate":
        r["length"] = rng.randrange(head) if rng.random() < 0.6 else rng.randrange(size)
    elif kind == "set":
        r["writes"] = []
        for _ in range(rng.choice((1, 1, 2))):
            width = rng.choice((1, 2, 4, 8))
            off = rng.randrange(0, max(1, head - width)) // width * width
            edges = EDGES_8 if width == 1 else [e & ((1 << 8 * width) - 1) for e in EDGES]
            r["writes"].append([off, width, rng.choice(edges)])
    else:
        name = rng.choice(sorted(corpus.fields))
        width = corpus.fields[name][1]
        mask = (1 << 8 * width) - 1
        r["field"] = name
        if width == 8 and rng.random() < 0.3:      # a pointer to another kernel object: lists that loop
            r["value"] = rng.choice(sorted(corpus.addresses))
        else:
            r["value"] = rng.choice([e & mask for e in EDGES] + [rng.getrandbits(8 * width),
                                                                 0xFFFFFFFF81000000 & mask, 0xFFFF888000000000 & mask])
    return r


def apply(recipe: dict, corpus: Corpus, out: Path) -> Path:
    """Write the file ``recipe`` describes to ``out``."""
    fmt = recipe["fmt"]
    if recipe["kind"] == "guest":
        offsets, width = corpus.fields[recipe["field"]]
        v = recipe["value"]
        value = corpus.addresses[v] if isinstance(v, str) else int(v)    # a field's name: its address
        data = bytearray(corpus.files["full"].read_bytes())
        for off in offsets:
            data[off:off + width] = (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")
        mutated = out.with_suffix(".full")
        mutated.write_bytes(data)
        del data
        from kpanic_lab.formats import open_dump

        try:
            with open_dump(mutated) as dump, open(out, "wb") as f:
                _makedumpfile(dump, f, fmt)
        except Exception:
            # makedumpfile refused the mutated memory itself: the reader then gets the whole ELF
            os.replace(mutated, out)
            return out
        os.unlink(mutated)
        return out
    data = bytearray(corpus.files[fmt].read_bytes())
    if recipe["kind"] == "flip":
        for off, bit in recipe["flips"]:
            data[off] ^= 1 << bit
    elif recipe["kind"] == "truncate":
        del data[recipe["length"]:]
    elif recipe["kind"] == "set":
        for off, width, value in recipe["writes"]:
            data[off:off + width] = int(value).to_bytes(width, "little")
    else:
        raise ValueError(f"unknown recipe kind {recipe['kind']!r}")
    out.write_bytes(data)
    return out


# ------------------------------------------------------------------ the worker process
class CaseTimeout(BaseException):
    """Raised by SIGALRM in the worker: the case ran over its time (not caught by ``except Exception``)."""


_NEGATIVE = re.compile(r"(?:address|at|addr|to) -(?:0x)?[0-9a-f]+\b")


def check_case(path: str, vmlinux: Optional[str] = None, commands: Tuple[str, ...] = COMMANDS) -> dict:
    """Open ``path`` and run ``commands`` (in this process): what happened, one dict."""
    from kpanic_lab.crash.session import CrashSession
    from kpanic_lab.errors import LabError

    t0 = time.monotonic()
    try:
        session = CrashSession.open(path, vmlinux)
    except LabError as e:
        msg = str(e)
        bad = "\n" in msg.strip() or not msg.strip() or _NEGATIVE.search(msg)
        return {"status": "bad-error" if bad else "refused", "detail": msg, "seconds": time.monotonic() - t0}
    except CaseTimeout:
        return {"status": "hang", "detail": "CrashSession.open", "seconds": time.monotonic() - t0}
    except BaseException as e:      # noqa: B902: anything else escaped: that is the bug we look for
        return {"status": "crash", "detail": "CrashSession.open: " + "".join(
            traceback.format_exception_only(type(e), e)).strip()[-400:], "trace": traceback.format_exc()[-3000:],
            "seconds": time.monotonic() - t0}
    try:
        for cmd in commands:
            try:
                text = session.run(cmd)
            except CaseTimeout:
                return {"status": "hang", "detail": cmd, "seconds": time.monotonic() - t0}
            except BaseException as e:
                return {"status": "crash", "detail": f"{cmd}: {type(e).__name__}: {e}"[:400],
                        "trace": traceback.format_exc()[-3000:], "seconds": time.monotonic() - t0}
            for line in text.splitlines():
                if "internal error:" in line or _NEGATIVE.search(line):
                    return {"status": "crash", "detail": f"{cmd}: {line}"[:400], "seconds": time.monotonic() - t0}
    finally:
        try:
            session.target.close()  # type: ignore[attr-defined]
        except Exception:
            pass
    return {"status": "ok", "seconds": time.monotonic() - t0}


def worker_main(limit: int, seconds: float) -> None:
    """Read case paths (JSON lines) on stdin, answer one JSON line each, under the limits."""
    import kpanic_lab.crash.commands  # noqa: F401  (imports done before the limit)

    base = _address_space()
    resource.setrlimit(resource.RLIMIT_AS, (base + limit, base + limit))

    def alarm(signum, frame):  # type: ignore[no-untyped-def]
        raise CaseTimeout()

    signal.signal(signal.SIGALRM, alarm)
    out = sys.stdout
    sys.stdout = sys.stderr          # nothing the library might print reaches the protocol
    for line in sys.stdin:
        req = json.loads(line)
        _reset_peak()
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            res = check_case(req["path"], req.get("vmlinux"))
        except CaseTimeout:
            res = {"status": "hang", "detail": "outside a command"}
        except MemoryError:
            res = {"status": "memory", "detail": "MemoryError"}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        res["peak_rss_mb"] = _status_kb("VmHWM") // 1024         # this case's peak resident size
        out.write(json.dumps(res) + "\n")
        out.flush()


def _address_space() -> int:
    return _status_kb("VmSize") * 1024


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    """Start VmHWM (the peak resident size) again from the current size (Linux clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class Runner:
    """Cases through a worker process, restarted when a case kills it."""

    def __init__(self, limit: int = MEMORY_LIMIT, seconds: float = CASE_SECONDS) -> None:
        self.limit, self.seconds = limit, seconds
        self.proc: Optional[subprocess.Popen] = None

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        return subprocess.Popen([sys.executable, "-m", "tests.hostile.fuzzlib", "worker", str(self.limit),
                                 str(self.seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)

    def run(self, path: Path, vmlinux: Optional[Path] = None) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"path": str(path), "vmlinux": str(vmlinux) if vmlinux else None}) + "\n")
        self.proc.stdin.flush()
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout=self.seconds + 30)     # the first case also pays the worker's start
        sel.close()
        if not ready:
            self.close()
            return {"status": "hang", "detail": f"no answer in {self.seconds + 30:.0f} s (killed)"}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return {"status": "died", "detail": f"worker exited with {code} (memory limit or a crash in C)"}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


FAILING = ("crash", "hang", "memory", "died", "bad-error")


def fuzz(corpus: Corpus, seeds: Iterator[int], work: Path, budget: float,
         runner: Optional[Runner] = None) -> Tuple[int, List[Tuple[dict, dict]]]:
    """Run cases ``seeds`` until ``budget`` seconds are used; (cases run, [(recipe, result) that failed])."""
    runner = runner or Runner()
    failures: List[Tuple[dict, dict]] = []
    end = time.monotonic() + budget
    n = 0
    try:
        for seed in seeds:
            if time.monotonic() >= end:
                break
            recipe = generate(seed, corpus)
            path = apply(recipe, corpus, work / f"case.{recipe['fmt']}")
            res = runner.run(path, corpus.files["vmlinux"])
            n += 1
            if res["status"] in FAILING:
                failures.append((recipe, res))
    finally:
        runner.close()
    return n, failures


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "worker":
    worker_main(int(sys.argv[2]), float(sys.argv[3]))
