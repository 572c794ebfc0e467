"""Registers print in hex, as Linux and crash print them (issue 12: rip was shown in decimal)."""
from kpanic_lab.machine.cpu import Registers


def test_registers_repr_is_hex():
    names = Registers.__dataclass_fields__
    r = Registers(**{name: 0 for name in names} | {"rip": 0xffffffff81012a34, "rflags": 0x246})
    text = repr(r)
    assert "rip=0xffffffff81012a34" in text and "rflags=0x246" in text and "rax=0x0" in text
    assert str(0xffffffff81012a34) not in text
