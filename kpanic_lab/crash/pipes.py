"""The shell pipes crash hands to ``/bin/sh`` (``log | tail -40``, ``ps | grep sh``),
done in Python: ``grep``, ``head``, ``tail``, ``wc``, ``sort``, ``uniq``.  Pure over text.

``grep`` patterns run on RE2 (``google-re2``), whose matching time is linear in the text:
no pattern (``(.*)*y``) can make the shell hang by backtracking, as Python's ``re`` can.

>>> apply_pipes("a\\nb\\nab", ["grep -c a"])
'2'
>>> apply_pipes("1\\n2\\n3", ["tail -2", "head -n 1"])
'2'
"""
from __future__ import annotations

import shlex
from typing import List

import re2

from kpanic_lab.crash.registry import CommandError

SUPPORTED = ("grep", "head", "tail", "wc", "sort", "uniq")


def _count(args: List[str], default: int, what: str) -> int:
    if not args:
        return default
    a = args[0]
    try:
        if a == "-n" and len(args) > 1:
            return int(args[1])
        if a.startswith("-n"):
            return int(a[2:])
        if a.startswith("-"):
            return int(a[1:])
        return int(a)
    except ValueError:
        raise CommandError(f"{what}: invalid number of lines: {' '.join(args)!r}") from None


def _grep(lines: List[str], args: List[str]) -> List[str]:
    flags: set = set()
    pattern = None
    for a in args:
        if pattern is None and a.startswith("-") and len(a) > 1 and a not in ("-e",):
            flags.update(a[1:])
        elif a == "-e":
            continue
        elif pattern is None:
            pattern = a
        else:
            raise CommandError("grep: one pattern only (files cannot be read here)")
    if pattern is None:
        raise CommandError("grep: no pattern given")
    unknown = flags - set("civwE")
    if unknown:
        raise CommandError(f"grep: option not supported here: -{''.join(sorted(unknown))} (use -c -i -v -w -E)")
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = "i" not in flags
    try:
        rx = re2.compile(rf"\b(?:{pattern})\b" if "w" in flags else pattern, options=options)
    except re2.error as e:
        why = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise CommandError(f"grep: bad pattern {pattern!r}: {why}") from None
    hits = [l for l in lines if bool(rx.search(l)) != ("v" in flags)]
    return [str(len(hits))] if "c" in flags else hits


def apply_pipe(text: str, stage: str) -> str:
    """One stage (``grep -c pid``) applied to ``text``."""
    try:
        words = shlex.split(stage)
    except ValueError as e:
        raise CommandError(f"pipe: {e}") from None
    if not words:
        raise CommandError("pipe: an empty command after |")
    name, args = words[0], words[1:]
    lines = text.split("\n") if text else []
    if name == "grep":
        out = _grep(lines, args)
    elif name == "head":
        out = lines[:max(0, _count(args, 10, "head"))]
    elif name == "tail":
        n = _count(args, 10, "tail")
        out = lines[-n:] if n > 0 else []
    elif name == "wc":
        if args and args != ["-l"]:
            raise CommandError("wc: only wc -l is supported here")
        out = [str(len(lines))]
    elif name == "sort":
        out = sorted(lines, reverse="-r" in args)
    elif name == "uniq":
        out = [l for i, l in enumerate(lines) if i == 0 or lines[i - 1] != l]
    else:
        raise CommandError(f"pipe: {name!r} is not available here (use {', '.join(SUPPORTED)})")
    return "\n".join(out)


def apply_pipes(text: str, stages: List[str]) -> str:
    for s in stages:
        text = apply_pipe(text, s)
    return text


def split_pipes(line: str) -> List[str]:
    """``cmd args | grep x | head`` -> ['cmd args', 'grep x', 'head'] (| inside quotes stays)."""
    parts, cur, quote = [], [], ""
    for ch in line:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch == "|":
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts
