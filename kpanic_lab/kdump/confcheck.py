"""A kdump configuration checked and said in words, as kdumpctl and kdump-tools would take it.

``config.py`` parses ``/etc/kdump.conf`` (RHEL's kdumpctl) and ``/etc/default/kdump-tools``
(Debian's kdump-tools); this module is their describe layer: the settings with the defaults filled
in (``conf_summary``, ``tools_summary``), a core_collector's makedumpfile options in words
(``makedumpfile_words``), and a check that shows either those settings or the file with the line
the error names marked (``check_kdump_conf``, ``check_kdump_tools``).  Every function returns a
string and never prints.

>>> print(check_kdump_conf("path /var/crash\\ncore_colector makedumpfile -d 31\\n").splitlines()[1])
>  2  core_colector makedumpfile -d 31
"""
from __future__ import annotations

from typing import Callable, Optional

from kpanic_lab.dumplevel import dump_level_words
from kpanic_lab.kdump.config import (KdumpConf, KdumpConfError, KdumpTools, MakedumpfileArgs, parse_kdump_conf,
                                     parse_kdump_tools)


def makedumpfile_words(args: Optional[MakedumpfileArgs]) -> str:
    """A core_collector's makedumpfile options in words.

    >>> from kpanic_lab.kdump.config import parse_makedumpfile_args
    >>> makedumpfile_words(parse_makedumpfile_args("-l --message-level 7 -d 31"))
    'kdump-compressed, lzo, -d 31 (drops zero pages, all cache pages, user process data pages, free pages)'
    """
    if args is None:
        return "not makedumpfile: the lab's capture kernel has only makedumpfile"
    fmt = "ELF (-E)" if args.elf else "kdump-compressed"
    if args.flatten:
        fmt += ", flattened (-F)"
    comp = args.compression or "uncompressed"
    return f"{fmt}, {comp}, -d {args.dump_level} (drops {dump_level_words(args.dump_level)})"


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


def _checked(text: str, summary: Callable[[], str], who: str) -> str:
    """``summary()`` of the parsed file or, when it has an error, the file with the line the error
    names marked, then the error (as ``who`` says it)."""
    try:
        return summary()
    except KdumpConfError as e:
        lines = [f"{'>' if no == e.line else ' '}{no:3d}  {line}" for no, line in enumerate(text.splitlines(), 1)]
        return "\n".join(lines + ["", f"{who}: {e}"])


def check_kdump_conf(text: str, name: str = "/etc/kdump.conf") -> str:
    """Check a kdump.conf as kdumpctl does: its settings, or the error under the line it names."""
    return _checked(text, lambda: conf_summary(parse_kdump_conf(text, name)), "kdumpctl")


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
    return _checked(text, lambda: tools_summary(parse_kdump_tools(text, name)), "error")
