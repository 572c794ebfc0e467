"""kdump's configuration: RHEL's /etc/kdump.conf and Debian's /etc/default/kdump-tools.

kdump.conf is one directive per line (``#`` starts a comment anywhere); kdumpctl reads it with
``sed 's/#.*//'`` and splits each line into the directive and the rest.  Exactly one dump target:

    raw <device> | nfs <host:/export> | ssh <user@host> | <ext4|xfs|btrfs|ext3|ext2|minix|virtiofs> <device>
    (none: the root file system)           path /var/crash (under the target)
    core_collector makedumpfile -l --message-level 7 -d 31        sshkey <file>
    kdump_pre <binary>   kdump_post <binary>   extra_bins <files>   extra_modules <modules>
    failure_action <shell|reboot|halt|poweroff|dump_to_rootfs>  (``default`` is its old name)
    final_action <reboot|halt|poweroff>   force_rebuild <0|1>   force_no_rebuild <0|1>
    dracut_args <args>   fence_kdump_args <args>   fence_kdump_nodes <nodes>   auto_reset_crashkernel <yes|no>

Errors are kdumpctl's sentences, prefixed with the file and line ("kdump.conf:7: Invalid kdump
config option foo").  /etc/default/kdump-tools is a shell fragment of variables that
kdump-config sources (USE_KDUMP, KDUMP_COREDIR, MAKEDUMP_ARGS, KDUMP_FAIL_CMD, ...).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

from kpanic_lab.errors import LabError
from kpanic_lab.formats.compression import OPTIONS as COMPRESSION_OPTIONS

FS_TARGETS = ("ext2", "ext3", "ext4", "minix", "btrfs", "xfs", "virtiofs")
TARGETS = ("raw", "nfs", "ssh") + FS_TARGETS
PLAIN = ("path", "core_collector", "kdump_post", "kdump_pre", "extra_bins", "extra_modules", "failure_action",
         "final_action", "force_rebuild", "force_no_rebuild", "fence_kdump_args", "fence_kdump_nodes",
         "auto_reset_crashkernel", "sshkey", "dracut_args")
DEPRECATED = ("net", "options", "link_delay", "disk_timeout", "debug_mem_level", "blacklist")
FAILURE_ACTIONS = ("reboot", "halt", "poweroff", "shell", "dump_to_rootfs")
FINAL_ACTIONS = ("reboot", "halt", "poweroff")
DEFAULT_PATH = "/var/crash"
DEFAULT_SSHKEY = "/root/.ssh/kdump_id_rsa"
DEFAULT_CORE_COLLECTOR = "makedumpfile -l --message-level 7 -d 31"
DEFAULT_CORE_COLLECTOR_FLAT = "makedumpfile -F -l --message-level 7 -d 31"   # raw and ssh: to a pipe


class KdumpConfError(LabError):
    """A kdump configuration kdumpctl (or kdump-config) would refuse; names the file and line."""

    def __init__(self, name: str, line: Optional[int], message: str) -> None:
        self.name, self.line, self.message = name, line, message
        super().__init__(f"{name}:{line}: {message}" if line else f"{name}: {message}")


@dataclass(frozen=True)
class MakedumpfileArgs:
    """The makedumpfile options of a core_collector or MAKEDUMP_ARGS."""

    dump_level: int = 0
    compression: Optional[str] = None
    elf: bool = False
    flatten: bool = False
    message_level: Optional[int] = None
    other: tuple = ()




def parse_makedumpfile_args(args: str) -> MakedumpfileArgs:
    """``-l --message-level 7 -d 31`` -> MakedumpfileArgs(dump_level=31, compression="lzo", ...)."""
    words, i = shlex.split(args), 0
    level, comp, elf, flat, ml, other = 0, None, False, False, None, []
    while i < len(words):
        w = words[i]
        if w in ("-d", "--message-level") or (w.startswith("-d") and w[2:].isdigit()):
            val = w[2:] if w.startswith("-d") and w != "-d" else (words[i + 1] if i + 1 < len(words) else "")
            i += 0 if w.startswith("-d") and w != "-d" else 1
            if not val.isdigit():
                raise ValueError(f"{w} needs a number")
            if w == "--message-level":
                ml = int(val)
            else:
                level = int(val)
        elif w in COMPRESSION_OPTIONS:
            comp = COMPRESSION_OPTIONS[w]
        elif w == "-E":
            elf = True
        elif w == "-F":
            flat = True
        else:
            other.append(w)
        i += 1
    return MakedumpfileArgs(level, comp, elf, flat, ml, tuple(other))


@dataclass
class KdumpConf:
    """The settings of a kdump.conf, defaults filled in as kdumpctl does."""

    target_type: Optional[str] = None       # raw, nfs, ssh, ext4, ... ; None: the root file system
    target: Optional[str] = None            # the device, nfs export or user@host
    path: str = DEFAULT_PATH
    core_collector: str = DEFAULT_CORE_COLLECTOR
    sshkey: str = DEFAULT_SSHKEY
    kdump_pre: Optional[str] = None
    kdump_post: Optional[str] = None
    extra_bins: List[str] = field(default_factory=list)
    extra_modules: List[str] = field(default_factory=list)
    failure_action: str = "reboot"
    final_action: str = "reboot"
    force_rebuild: bool = False
    force_no_rebuild: bool = False
    dracut_args: Optional[str] = None
    fence_kdump_args: Optional[str] = None
    fence_kdump_nodes: List[str] = field(default_factory=list)
    auto_reset_crashkernel: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    lines: Dict[str, int] = field(default_factory=dict)

    @property
    def makedumpfile(self) -> Optional[MakedumpfileArgs]:
        """The collector's options if it is makedumpfile, else None (cp, a script ...)."""
        words = self.core_collector.split(None, 1)
        if not words or words[0].rsplit("/", 1)[-1] != "makedumpfile":
            return None
        return parse_makedumpfile_args(words[1] if len(words) > 1 else "")


def conf_text(data: Union[str, bytes], name: str = "kdump.conf") -> str:
    """The text of a configuration file's bytes: comments may hold any bytes (``# café`` in
    Latin-1), the rest must be UTF-8 with no NUL byte; KdumpConfError names the line."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    short = name.rsplit("/", 1)[-1]
    lines = []
    for no, raw in enumerate(data.split(b"\n"), 1):
        if b"\0" in raw:
            raise KdumpConfError(short, no, "holds a NUL byte: this is not a text file")
        body, hash_, comment = raw.partition(b"#")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise KdumpConfError(short, no, f"byte 0x{body[e.start]:02x} at column {e.start + 1} "
                                 "is not UTF-8 text") from None
        lines.append(text + (hash_ + comment).decode("utf-8", "replace"))
    return "\n".join(lines)


def read_conf_lines(text: str) -> List[tuple]:
    """kdump_read_conf: (line number, directive, value) with comments and blank lines gone."""
    out = []
    for no, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            key, _, val = line.partition(" ") if " " in line else line.partition("\t")
            out.append((no, key, re.sub(r"^\s+", "", val)))
    return out


def parse_kdump_conf(text: Union[str, bytes], name: str = "/etc/kdump.conf") -> KdumpConf:
    """Parse and check a kdump.conf (text, or a file's bytes) as kdumpctl does;
    KdumpConfError names the line."""
    text = conf_text(text, name)
    conf, seen = KdumpConf(), {}  # type: Tuple[KdumpConf, Dict[str, int]]
    short = name.rsplit("/", 1)[-1]

    def err(line: Optional[int], msg: str) -> KdumpConfError:
        return KdumpConfError(short, line, msg)

    def setopt(no: int, opt: str, val: str) -> None:
        if not val:
            raise err(no, f"Invalid kdump config value for option '{opt}'")
        if opt in seen:
            if opt in ("_target", "_fstype"):
                raise err(no, f"More than one dump targets specified (the first is on line {seen[opt]})")
            raise err(no, f"Duplicated kdump config value of option {opt} (first set on line {seen[opt]})")
        seen[opt] = no

    default_line = None
    for no, key, val in read_conf_lines(text):
        if key in DEPRECATED:
            raise err(no, f"Deprecated kdump config option: {key}. Refer to kdump.conf manpage for alternatives.")
        if key == "dracut_args" and "--mount" in val:
            if val.count("--mount") != 1:
                raise err(no, 'Multiple mount targets specified in one "dracut_args".')
            setopt(no, "_fstype", "dracut")
            setopt(no, "_target", val)
            conf.target_type, conf.target = "dracut", val
        if key in TARGETS:
            setopt(no, "_fstype", key)
            setopt(no, "_target", val)
            conf.target_type, conf.target = key, val
            conf.lines["target"] = no
            continue
        if key == "default":
            conf.warnings.append(f"{short}:{no}: WARNING: Option 'default' was renamed 'failure_action' and "
                                 "will be removed in the future.")
            conf.warnings.append(f"Please update {name} to use option 'failure_action' instead.")
            default_line = no
            if "failure_action" in seen:
                raise err(no, f"Cannot set both 'default' and 'failure_action' in {name}")
            key = "failure_action"
        elif key == "failure_action" and default_line is not None:
            raise err(no, f"Cannot set both 'default' and 'failure_action' in {name}")
        if key not in PLAIN:
            raise err(no, f"Invalid kdump config option {key}")
        setopt(no, key, val)
        conf.lines[key] = no
        _apply(conf, key, val, no, err)
    _check(conf, err, name)
    return conf


def _apply(conf: KdumpConf, key: str, val: str, no: int, err) -> None:  # type: ignore[no-untyped-def]
    if key in ("extra_bins", "extra_modules", "fence_kdump_nodes"):
        setattr(conf, key, val.split())
    elif key == "failure_action":
        if val not in FAILURE_ACTIONS:
            raise err(no, "Usage kdump.conf: failure_action {reboot|halt|poweroff|shell|dump_to_rootfs}")
        conf.failure_action = val
    elif key == "final_action":
        if val not in FINAL_ACTIONS:
            raise err(no, "Usage kdump.conf: final_action {reboot|halt|poweroff}")
        conf.final_action = val
    elif key in ("force_rebuild", "force_no_rebuild"):
        if val not in ("0", "1"):
            raise err(no, f"Error: {key} values can only be 0 or 1 in kdump.conf")
        setattr(conf, key, val == "1")
    elif key == "core_collector":
        conf.core_collector = val
        try:
            conf.makedumpfile
        except ValueError as e:
            raise err(no, f"core_collector: {e}") from None
    else:
        setattr(conf, key, val)


def _check(conf: KdumpConf, err, name: str) -> None:  # type: ignore[no-untyped-def]
    if conf.force_rebuild and conf.force_no_rebuild:
        raise err(conf.lines.get("force_no_rebuild"), "force_rebuild and force_no_rebuild are mutually "
                  "exclusive and can't be enabled at the same time.")
    if conf.target_type in ("ssh", "raw") and "core_collector" not in conf.lines:
        conf.core_collector = DEFAULT_CORE_COLLECTOR_FLAT     # mkdumprd's default for these targets
    mdf = conf.makedumpfile
    if conf.target_type in ("ssh", "raw") and mdf is not None and not mdf.flatten:
        raise err(conf.lines.get("core_collector", conf.lines.get("target")),
                  'The specified dump target needs makedumpfile "-F" option.')
    if conf.target_type == "ssh" and conf.target and "@" not in conf.target:
        conf.warnings.append(f"ssh target {conf.target!r} has no user@: kdump logs in as root")
    if conf.path and not conf.path.startswith("/"):
        raise err(conf.lines.get("path"), f"path {conf.path} is not absolute")


# ------------------------------------------------------------------ Debian /etc/default/kdump-tools
KDUMP_TOOLS_DEFAULTS: Dict[str, str] = {
    "USE_KDUMP": "0", "KDUMP_SYSCTL": "kernel.panic_on_oops=1", "KDUMP_KERNEL": "", "KDUMP_INITRD": "",
    "KDUMP_COREDIR": "/var/crash", "KDUMP_FAIL_CMD": "", "DEBUG_KERNEL": "", "KDUMP_DUMP_DMESG": "1",
    "KDUMP_NUM_DUMPS": "0", "KDUMP_CMDLINE": "", "KDUMP_CMDLINE_APPEND":
    "reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll nousb",
    "MAKEDUMP_ARGS": "-c -d 31", "KDUMP_KEXEC_ARGS": "", "HOSTTAG": "ip", "NFS": "", "NFS_TIMEO": "600",
    "NFS_RETRANS": "3", "SSH": "", "SSH_KEY": "",
}


@dataclass
class KdumpTools:
    """The variables of /etc/default/kdump-tools, defaults filled in."""

    values: Dict[str, str]
    warnings: List[str] = field(default_factory=list)

    @property
    def use_kdump(self) -> bool:
        return self.values["USE_KDUMP"] == "1"

    @property
    def coredir(self) -> str:
        return self.values["KDUMP_COREDIR"]

    @property
    def makedumpfile(self) -> MakedumpfileArgs:
        return parse_makedumpfile_args(self.values["MAKEDUMP_ARGS"])

    @property
    def fail_cmd(self) -> Optional[str]:
        return self.values["KDUMP_FAIL_CMD"] or None

    @property
    def dump_dmesg(self) -> bool:
        return self.values["KDUMP_DUMP_DMESG"] == "1"


_ASSIGN = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def parse_kdump_tools(text: str, name: str = "/etc/default/kdump-tools") -> KdumpTools:
    """Parse the shell variables (no command runs; ``$VAR`` is kept as written, with a warning)."""
    short, values, warnings = name.rsplit("/", 1)[-1], dict(KDUMP_TOOLS_DEFAULTS), []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _ASSIGN.match(line)
        if not m:
            raise KdumpConfError(short, no, f"not a shell variable assignment: {line[:60]!r}")
        var, rhs = m.groups()
        try:
            words = shlex.split(rhs, comments=True, posix=True)
        except ValueError as e:
            raise KdumpConfError(short, no, f"{var}: {e} (an unclosed quote?)") from None
        if len(words) > 1:
            raise KdumpConfError(short, no, f"{var}={rhs}: the shell would run {words[1]!r} as a command; "
                                 "quote a value with spaces")
        value = words[0] if words else ""
        if "$" in value or "`" in value:
            warnings.append(f"{short}:{no}: {var} uses shell expansion; it is kept as written: {value!r}")
        if var not in KDUMP_TOOLS_DEFAULTS:
            warnings.append(f"{short}:{no}: unknown variable {var} (kdump-tools does not use it)")
        values[var] = value
        _check_tools_var(short, no, var, value, warnings)
    if values["SSH"] and values["NFS"]:
        raise KdumpConfError(short, None, "SSH and NFS are both set: kdump-tools dumps to one remote target")
    return KdumpTools(values, warnings)


def _check_tools_var(short: str, no: int, var: str, value: str, warnings: List[str]) -> None:
    if var in ("USE_KDUMP", "KDUMP_DUMP_DMESG") and value not in ("0", "1"):
        warnings.append(f"{short}:{no}: {var}={value!r}: kdump-tools only acts on 1 (0 turns it off)")
    elif var in ("KDUMP_NUM_DUMPS", "NFS_TIMEO", "NFS_RETRANS") and not value.isdigit():
        raise KdumpConfError(short, no, f"{var}={value!r} is not a number")
    elif var == "HOSTTAG" and value not in ("ip", "hostname"):
        raise KdumpConfError(short, no, f"HOSTTAG={value!r}: it is 'ip' or 'hostname'")
    elif var == "MAKEDUMP_ARGS":
        try:
            parse_makedumpfile_args(value)
        except ValueError as e:
            raise KdumpConfError(short, no, f"MAKEDUMP_ARGS: {e}") from None
