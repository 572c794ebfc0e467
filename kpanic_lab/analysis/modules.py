"""Loaded modules, from the kernel's ``modules`` list (crash's ``mod``).

>>> [(m.name, m.flags) for m in loaded_modules(prog)]            # doctest: +SKIP
[('null_deref', '(OE)')]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, List

from kpanic_lab.analysis.errors import AnalysisError, NotFound
from kpanic_lab.guest.taint import taint_letters

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program


@dataclass(frozen=True)
class Module:
    """One ``struct module`` on the ``modules`` list."""

    address: int          # the struct module
    name: str
    base: int             # core_layout.base: where its code is
    size: int             # core_layout.size
    text_size: int
    state: str            # MODULE_STATE_LIVE, _COMING (init running), _GOING
    taints: int
    refcnt: int

    @property
    def flags(self) -> str:
        """``(OE)``, ``(OE+)`` while its init runs, ``(OE-)`` while it goes, as oopses print."""
        mark = {"MODULE_STATE_COMING": "+", "MODULE_STATE_GOING": "-"}.get(self.state, "")
        letters = taint_letters(self.taints)
        return f"({letters}{mark})" if letters or mark else ""


def loaded_modules(prog: "Program") -> List[Module]:
    """The modules on the ``modules`` list, in list order (most recently loaded first,
    as Linux adds them at the head)."""
    head = prog.object("modules")
    t = prog.type("struct module")
    off = t.member("list").offset
    out: List[Module] = []
    node = prog.read_u64(head.address_of_())
    seen = {head.address_of_()}
    while node != head.address_of_():
        if node in seen or len(out) >= 10_000:
            raise AnalysisError(f"modules: the list loops back to {node:x} after {len(out)} modules "
                                "without coming back to its head (a corrupted module list)")
        seen.add(node)
        mod = prog.object(node - off, t)
        ref = mod.refcnt          # an int in the guest, Linux's atomic_t
        refcnt = ref.counter.value_() if ref.type.strip().kind == "struct" else ref.value_()
        out.append(Module(mod.address_of_(), mod.name.string_().decode(errors="replace"),
                          mod.core_layout.base.value_(), mod.core_layout.size.value_(),
                          mod.core_layout.text_size.value_(), mod.state.format_(),
                          mod.taints.value_(), refcnt))
        node = prog.read_u64(node)
    if prog.linux:      # crash lists a real kernel's modules by address
        out.sort(key=lambda m: m.address)
    return out


def find_module(prog: "Program", name: str) -> Module:
    for m in loaded_modules(prog):
        if m.name == name:
            return m
    raise NotFound(f"no module {name!r} is loaded")
