"""A ``crash>`` prompt in the notebook, and a small vmcore explorer.

``CrashShell`` is a Text input and an Output over a ``kpanic_lab.crash.CrashSession``: each
line typed is run by the session (which never raises; its errors are one line, as crash's
are) and echoed after a ``crash>`` prompt.  ``VmcoreExplorer`` opens a dump file and shows
its header (``formats.describe``), its VMCOREINFO, its CPUs (NT_PRSTATUS), its kernel log
(``kdump.dmesg``), and a crash shell on it.

>>> sh = CrashShell("vmcore")               # or a CrashSession, or a panicked Machine  # doctest: +SKIP
>>> sh.run("bt")                            # what pressing Enter does                  # doctest: +SKIP
>>> VmcoreExplorer("/tmp/crash")            # every vmcore under a folder               # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Tuple, Union

import ipywidgets as w
import traitlets as t

from kpanic_lab.i18n import _
from kpanic_lab.viz._common import ViewError, describe_exception, error_html, error_widget, esc, guarded, pre

PROMPT = "crash> "
SUGGESTED = ("sys", "bt", "log | tail -20", "ps", "bt -a")


def _open_session(source: Any, vmlinux: Union[str, Path, None] = None) -> Tuple[Any, str]:
    """(a CrashSession, a note for the student) from a session, a vmcore path, a Machine or a
    PanicSession; raises ViewError with the reason when ``source`` cannot be analysed."""
    from kpanic_lab.crash import CrashSession
    from kpanic_lab.machine import Machine
    from kpanic_lab.panic import PanicSession

    if isinstance(source, CrashSession):
        return source, ""
    if isinstance(source, (str, Path)):
        return CrashSession.open(source, vmlinux), ""
    if isinstance(source, PanicSession):
        if source.position < 0:
            raise ViewError("this PanicSession has not been triggered (it waits before the trigger): step it "
                            "or run_to_end() first, then open the shell on it")
        source = source.machine
    if isinstance(source, Machine):
        from kpanic_lab.analysis.target import LiveTarget

        note = ""
        if "Kernel panic - not syncing" not in source.console_text and "Oops" not in source.console_text:
            note = _("this machine never panicked: crash reads it as it runs now (there is no panic task "
                     "to start from)")
        return CrashSession(LiveTarget(source)), note
    raise ViewError(f"the crash shell opens a vmcore path, a CrashSession, a Machine or a PanicSession, "
                    f"not {type(source).__name__}")


class CrashShell(w.VBox):
    """A ``crash>`` prompt: type a command, press Enter (or Run)."""

    history = t.List(t.Unicode(), help="the lines run, in order")
    last_output = t.Unicode("")
    note = t.Unicode("", help="what the student should know about the target")
    closed = t.Bool(False, help="after q/exit")
    error = t.Unicode("")

    def __init__(self, source: Any, vmlinux: Union[str, Path, None] = None, **kwargs: Any) -> None:
        self._error_box = error_widget()
        self.session: Any = None
        self.input = w.Text(placeholder="bt, log, ps, sys, help ...", continuous_update=False,
                            layout=w.Layout(width="35em", max_width="100%"))
        self.input.add_class("kpanic-crash-input")
        self.run_button = w.Button(description=_("Run"), layout=w.Layout(width="auto"))
        self.examples = w.ToggleButtons(options=list(SUGGESTED), value=None, style={"button_width": "auto"})
        self.output = w.Output(layout=w.Layout(max_height="28em", overflow="auto", border="1px solid #ddd"))
        self._note = w.HTML("")
        self.input.observe(self._on_enter, "value")
        self.run_button.on_click(lambda _b: self.run(self.input.value))
        self.examples.observe(self._on_example, "value")
        super().__init__([self._error_box, self._note, w.HBox([w.HTML(f"<code>{PROMPT.strip()}</code>"),
                                                                self.input, self.run_button]),
                          self.examples, self.output], **kwargs)
        self.add_class("kpanic-crash-shell")
        self._open(source, vmlinux)

    @guarded
    def _open(self, source: Any, vmlinux: Union[str, Path, None]) -> None:
        self.session, self.note = _open_session(source, vmlinux)
        if self.note:
            self._note.value = f"<i>{esc(self.note)}</i>"

    def _on_enter(self, change: Any) -> None:
        if change["new"].strip():
            self.run(change["new"])

    def _on_example(self, change: Any) -> None:
        if change["new"]:
            self.run(change["new"])
            self.examples.value = None

    @guarded
    def run(self, line: str) -> str:
        """Run one command line, as pressing Enter does; returns what it printed."""
        if self.session is None:
            raise ViewError(self.error or "no crash session: the shell could not open its target")
        line = line.strip()
        if self.input.value:
            self.input.value = ""
        if not line:
            return ""
        if self.closed:
            raise ViewError("the session has ended (q): make a new CrashShell to go on")
        text = self.session.run(line)
        self.history = self.history + [line]
        self.last_output = text
        self.output.append_stdout(f"{PROMPT}{line}\n{text}\n" if text else f"{PROMPT}{line}\n")
        if getattr(self.session, "done", False):
            self.closed = True
            self.input.disabled = self.run_button.disabled = True
        return text


# ---------------------------------------------------------------------------- the explorer
def find_dumps(folder: Union[str, Path]) -> List[Path]:
    """Dump files under ``folder``: ``vmcore`` and ``vmcore*`` names (not ``vmcore-dmesg.txt``)."""
    root = Path(folder)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("vmcore*") if p.is_file() and not p.name.endswith(".txt")
                  and not p.name.endswith("-incomplete"))


def cpu_rows(dump: Any, symbolize: Any = None) -> List[Tuple[int, int, int, int, str]]:
    """(cpu, pid, rip, rsp, where) for each NT_PRSTATUS note of ``dump``."""
    rows = []
    for cpu, p in enumerate(dump.prstatus):
        rip = p.reg("rip")
        where = ""
        if symbolize is not None:
            try:
                where = symbolize(rip)
            except Exception:           # noqa: BLE001 - a symbol is a nicety; the address stays
                where = ""
        rows.append((cpu, p.pid, rip, p.reg("rsp"), where))
    return rows


class VmcoreExplorer(w.VBox):
    """Pick a dump file; see its header, VMCOREINFO, CPUs, log, and a crash shell on it."""

    path = t.Unicode("")
    format = t.Unicode("")
    nr_cpus = t.Int(0)
    vmcoreinfo_keys = t.Int(0)
    log_lines = t.Int(0)
    log_error = t.Unicode("", help="why the log cannot be shown, or stops early ('' when it is whole)")
    error = t.Unicode("")

    def __init__(self, source: Union[str, Path, None] = None, vmlinux: Union[str, Path, None] = None,
                 **kwargs: Any) -> None:
        self._error_box = error_widget()
        self.vmlinux = vmlinux
        self.dump: Any = None
        self.shell: Optional[CrashShell] = None
        files = find_dumps(source) if source is not None and Path(source).exists() else []
        self.picker = w.Dropdown(options=[(str(p), str(p)) for p in files], value=None, description=_("dump"),
                                 layout=w.Layout(width="48em", max_width="100%"))
        self.path_input = w.Text(value=str(source or ""), placeholder=_("path to a vmcore"), description=_("or path"),
                                 layout=w.Layout(width="48em", max_width="100%"))
        self.open_button = w.Button(description=_("Open"), button_style="primary")
        self.header = w.HTML("")
        self.info = w.HTML("")
        self.cpus = w.HTML("")
        self.log_view = w.HTML("")
        self.shell_box = w.VBox([])
        self.tabs = w.Tab(children=[self.header, self.info, self.cpus, self.log_view, self.shell_box])
        for i, title in enumerate((_("header"), "VMCOREINFO", _("CPUs"), "log", "crash>")):
            self.tabs.set_title(i, title)
        self.picker.observe(lambda ch: self.open_dump(ch["new"]) if ch["new"] else None, "value")
        self.open_button.on_click(lambda _b: self.open_dump(self.path_input.value))
        super().__init__([self.picker, w.HBox([self.path_input, self.open_button]), self._error_box, self.tabs],
                         **kwargs)
        self.add_class("kpanic-vmcore-explorer")
        if files:
            self.picker.value = str(files[0])
        elif source is not None:
            self.open_dump(str(source))

    @guarded
    def open_dump(self, path: Union[str, Path]) -> None:
        """Open a dump file and fill every tab (a tab that cannot be filled says why)."""
        from kpanic_lab.formats import open_dump
        from kpanic_lab.formats.describe import describe_dump

        path = str(path).strip()
        if not path:
            raise ViewError("no dump chosen: pick one, or type its path")
        if self.dump is not None:
            self.dump.close()
            self.dump = None
        self.dump = dump = open_dump(path)
        self.path, self.format, self.nr_cpus = path, dump.format, dump.nr_cpus
        self.path_input.value = path
        self.header.value = pre(describe_dump(dump), max_height="16em")
        vi = dict(dump.vmcoreinfo)
        self.vmcoreinfo_keys = len(vi)
        self.info.value = (pre("\n".join(f"{k}={v}" for k, v in vi.items()), max_height="24em") if vi else
                           error_html("this dump has no VMCOREINFO note: makedumpfile cannot filter it above "
                                      "-d 1, and a tool must be given the vmlinux to find anything in it"))
        self._fill_log(dump)
        self.shell = CrashShell(path, self.vmlinux)
        self.shell_box.children = (self.shell,)
        symbolize = self.shell.session.prog.symbolize if self.shell.session is not None else None
        rows = cpu_rows(dump, symbolize)
        body = "".join(f"<tr><td>{c}</td><td>{pid}</td><td><code>{rip:016x}</code></td><td><code>{rsp:016x}"
                       f"</code></td><td><code>{esc(where)}</code></td></tr>" for c, pid, rip, rsp, where in rows)
        self.cpus.value = ("<table><tr><th>CPU</th><th>pid</th><th>rip</th><th>rsp</th><th>where</th></tr>"
                           + body + "</table>") if rows else error_html("no NT_PRSTATUS notes: no CPU's "
                                                                        "registers were saved")

    def _fill_log(self, dump: Any) -> None:
        from kpanic_lab.kdump.dmesg import format_dmesg, read_dmesg

        try:
            records = read_dmesg(dump)
        except Exception as e:          # noqa: BLE001 - a dump without a log says so in the log tab
            self.log_error = describe_exception(e)
            self.log_lines = 0
            self.log_view.value = error_html(f"no kernel log in this dump: {self.log_error}")
            return
        text = format_dmesg(records)
        self.log_error = records.error or ""
        self.log_lines = text.count("\n")
        self.log_view.value = pre(text, max_height="28em") + (
            error_html(f"the log stops here: {records.error}") if records.error else "")
