"""The serial port (a 16550's line-status bits) and the ICR as hw.h encodes it, without a machine."""
from __future__ import annotations

from kpanic_lab.machine.devices import Serial, decode_icr

DATA_READY, THR_EMPTY = 0x01, 0x20            # 16550 line status register, bits 0 and 5


def test_serial_output_keeps_the_low_byte():
    s = Serial()
    for b in (0x41, 0x142, 0x0A):
        s.write(b)
    assert bytes(s.output) == b"AB\n"


def test_serial_input_is_read_in_order_and_lsr_says_when_there_is_some():
    s = Serial()
    assert s.lsr() == THR_EMPTY and s.read() == 0
    s.feed(b"ls\n")
    assert s.lsr() == THR_EMPTY | DATA_READY
    assert [s.read(), s.read(), s.read()] == list(b"ls\n")
    assert s.lsr() == THR_EMPTY


def test_serial_feed_asks_for_an_interrupt_only_when_the_guest_enabled_it():
    s = Serial()
    assert s.feed(b"a") is False
    s.ier = 1
    assert s.feed(b"b") is True


def test_serial_save_restore():
    s = Serial()
    s.write(0x78)
    s.feed(b"yz")
    s.ier = 1
    saved = s.save()
    s.write(0x21)
    s.read()
    s.ier = 0
    s.restore(saved)
    assert (bytes(s.output), bytes(s.input), s.ier) == (b"x", b"yz", 1)


def test_decode_icr_splits_vector_mode_and_destination():
    assert decode_icr(0xFF000402) == (2, 4, 255)
    assert decode_icr(0x000000F2 | 5 << 8 | 1 << 24) == (0xF2, 5, 1)
