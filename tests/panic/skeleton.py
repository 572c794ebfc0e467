"""The line skeleton of a console log: what kind of line comes in what order, with timestamps,
addresses, hardware names and the frames of a Call Trace left out.  Two consoles with the same
skeleton print the same lines in the same order, as far as a student reading them can tell.

>>> skeleton("[ 1.0] sysrq: Trigger a crash\\n[ 1.1] Kernel panic - not syncing: x\\n[ 1.2]  panic+0x1/0x2\\n")
['sysrq: Trigger a crash', 'Kernel panic - not syncing: x', 'FRAMES']
"""
from __future__ import annotations

import re
from typing import List, Optional

_TS = re.compile(r"^\[\s*\d+\.\d{6}\] ")
_FRAME = re.compile(r"^ (\? )?([\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+( \[\w+\])?|0x[0-9a-f]+)$")
_REGS = re.compile(r"^(RSP: |RAX: |RDX: |RBP: |R10: |R13: |FS: |CS: |CR2: [0-9a-f]{16} CR3)")
# a line and the token it becomes; the first match wins
_KINDS = [
    (re.compile(r"^CPU: \d+ PID: \d+ Comm: \S+ (Kdump: loaded )?(Not tainted|Tainted: [A-Z ]+) \S+ #1"),
     lambda m: "CPU line" + (" (Kdump: loaded)" if m.group(1) else "")),
    (re.compile(r"^Hardware name: "), lambda m: None),                    # hardware: aside
    (re.compile(r"^Code: "), lambda m: "Code:"),
    (re.compile(r"^RIP: 0033:"), lambda m: "RIP: 0033 (user)"),
    (re.compile(r"^RIP: 0010:"), lambda m: "RIP: 0010 (kernel)"),
    (re.compile(r"^Kernel Offset: "), lambda m: "Kernel Offset:"),
    (re.compile(r"^BUG: kernel NULL pointer dereference, address: "), lambda m: "BUG: kernel NULL pointer dereference"),
    (re.compile(r"^#PF: supervisor (read|write) access in kernel mode$"), lambda m: "#PF: supervisor access"),
    (re.compile(r"^#PF: error_code\(0x[0-9a-f]{4}\) - not-present page$"), lambda m: "#PF: error_code"),
    (re.compile(r"^PGD [0-9a-f]+ "), lambda m: "PGD"),
    (re.compile(r"^Oops: [0-9a-f]{4} \[#(\d+)\] PREEMPT SMP NOPTI$"), lambda m: f"Oops: [#{m.group(1)}]"),
    (re.compile(r"^Modules linked in: "), lambda m: "Modules linked in:"),
    (re.compile(r"^CR2: [0-9a-f]{16}$"), lambda m: "CR2:"),
    (re.compile(r"^(\w+): (about to dereference NULL|module's own line).*"), lambda m: "module's own line"),
]


def line_token(line: str) -> Optional[str]:
    """One console line (timestamp already stripped) as its skeleton token, or None to leave out."""
    if _FRAME.match(line):
        return "FRAMES"
    if _REGS.match(line):
        return "REGS"
    for pat, tok in _KINDS:
        m = pat.match(line)
        if m:
            return tok(m)
    return line.strip()


def skeleton(text: str, *, kernel_only: bool = True) -> List[str]:
    """The console's skeleton: printk lines only (user space and the lab's own lines left out), runs
    of frames and of register lines folded into one token each."""
    out: List[str] = []
    for raw in text.replace("\r", "").splitlines():
        m = _TS.search(raw) if kernel_only else None
        if kernel_only and not m:
            ts = re.search(r"\[\s*\d+\.\d{6}\] ", raw)       # a prompt may precede the timestamp
            if not ts:
                continue
            raw = raw[ts.end():]
        elif m:
            raw = raw[m.end():]
        tok = line_token(raw)
        if tok is None or (out and tok in ("FRAMES", "REGS") and out[-1] == tok):
            continue
        out.append(tok)
    return out


def after(tokens: List[str], first: str) -> List[str]:
    """The tokens from the first one that starts with ``first``."""
    i = next(i for i, t in enumerate(tokens) if t.startswith(first))
    return tokens[i:]
