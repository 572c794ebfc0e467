from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from kpanic_lab.kdump.crashkernel import (CRASH_ALIGN, Crashkernel, CrashkernelError, memparse,
                                          parse_crashkernel, parse_crashkernel_value, reserve_crashkernel)

M, G = 1 << 20, 1 << 30
# the reference machine (shared/reference/d_kdump.*): 1 GiB QEMU, kernel at 880 MiB (KASLR)
REF_RAM = [(0x1000, 0x9FC00), (0x100000, 0x3FFD7000)]
REF_KERNEL = [(0x37000000, 0x3A430000)]
LAB_RAM = [(0x1000, 0x9FC00), (0x100000, 0xFFE0000)]      # the lab's 256 MiB e820


def test_reference_reservation_is_reproduced():
    r = reserve_crashkernel("console=ttyS0 crashkernel=192M panic=0", REF_RAM, REF_KERNEL)
    assert r.messages == ["Reserving 192MB of memory at 688MB for crashkernel (System RAM: 1023MB)"]
    assert (r.base, r.size) == (0x2B000000, 192 * M)


@pytest.mark.parametrize("text,value", [("192M", 192 * M), ("0x1000", 0x1000), ("010", 8), ("1g", G), ("4K", 4096),
                                        ("2T", 2 << 40), ("7", 7)])
def test_memparse(text, value):
    assert memparse(text) == (value, len(text))


def test_every_form():
    assert parse_crashkernel_value("256M", G) == Crashkernel("simple", 256 * M, text="256M")
    assert parse_crashkernel_value("256M@16M", G).offset == 16 * M
    ranges = parse_crashkernel_value("512M-2G:64M,2G-:128M", G)
    assert ranges.form == "ranges" and ranges.size == 64 * M and ranges.ranges[0].end == 2 * G
    assert parse_crashkernel_value("512M-2G:64M,2G-:128M", 3 * G).size == 128 * M
    assert parse_crashkernel_value("512M-2G:64M,2G-:128M@32M", 3 * G).offset == 32 * M
    assert parse_crashkernel_value("1G-2G:64M", 256 * M).size == 0          # no range matches
    assert parse_crashkernel_value("512M,high", G, ",high").form == "high"
    assert parse_crashkernel_value("72M,low", G, ",low").size == 72 * M


def test_ram_rounds_up_to_128M_before_picking_a_range():
    # 1023 MiB of System RAM picks the range that starts at 1 GiB, as Linux's roundup(SZ_128M)
    assert parse_crashkernel_value("0-1G:64M,1G-:128M", 1023 * M).size == 128 * M


def test_last_one_wins_and_suffixes_are_separate():
    ck = parse_crashkernel("crashkernel=64M crashkernel=128M crashkernel=256M,low", G)
    assert ck.size == 128 * M and ck.low == 256 * M
    ck = parse_crashkernel("crashkernel=1G,high crashkernel=128M,low", 8 * G)
    assert ck.high and ck.size == G and ck.low == 128 * M
    assert parse_crashkernel("console=ttyS0", G) is None


def test_auto_is_explained():
    with pytest.raises(CrashkernelError) as e:
        parse_crashkernel("crashkernel=auto", 4 * G)
    assert "RHEL" in str(e.value) and "never had it" in str(e.value)
    assert e.value.kernel_message == "crashkernel: memory value expected"
    assert reserve_crashkernel("crashkernel=auto", LAB_RAM).messages == ["crashkernel: memory value expected"]


@pytest.mark.parametrize("value,pos,kernel", [
    ("", 0, "crashkernel: memory value expected"),
    ("foo", 0, "crashkernel: memory value expected"),
    ("64Mx", 3, "crashkernel: unrecognized char: x"),
    ("1G-512M:64M", 7, "crashkernel: end <= start"),
    ("1G:64M", 2, "crashkernel: '-' expected"),
    ("1G-2G-64M:1M", 5, "crashkernel: ':' expected"),
    ("1G-2G-64M", 2, "crashkernel: unrecognized char: -"),      # no colon: the simple form
    ("1G-x:64M", 3, "crashkernel: Memory value expected"),
    ("x-2G:64M", 0, "crashkernel: Memory value expected"),
    ("0-2G:", 5, "Memory value expected"),
    ("0-:4G", 5, "crashkernel: invalid size"),
    ("0-:64M@", 7, "Memory value expected after '@'"),
])
def test_malformed_values_name_the_position(value, pos, kernel):
    with pytest.raises(CrashkernelError) as e:
        parse_crashkernel_value(value, 2 * G)
    assert e.value.position == pos and e.value.kernel_message == kernel
    assert f"at position {pos}" in str(e.value)


def test_suffix_errors():
    with pytest.raises(CrashkernelError, match="unrecognized char: ,"):   # Linux prints the first char that differs
        parse_crashkernel_value("64M,higx", G, ",high")


def test_reservation_failures_print_linuxs_messages():
    kernel = [(0x1000000, 0x1100000)]
    assert reserve_crashkernel("crashkernel=2G", LAB_RAM, kernel).messages == [
        "crashkernel reservation failed - No suitable area found."]
    assert reserve_crashkernel("crashkernel=64M@16M", LAB_RAM, kernel).messages == [
        "crashkernel reservation failed - memory is in use."]
    assert reserve_crashkernel("crashkernel=64M@1M", LAB_RAM, kernel).messages == [
        "crashkernel reservation failed - memory is in use."]          # 0..1M is not all RAM
    assert reserve_crashkernel("crashkernel=1G-2G:64M", LAB_RAM).messages == [
        "crashkernel size resulted in zero bytes"]
    ok = reserve_crashkernel("crashkernel=64M@32M", LAB_RAM, kernel)
    assert ok.ok and ok.base == 32 * M


def test_high_takes_low_memory_too():
    ram = [(0x100000, 0xC0000000), (0x100000000, 0x240000000)]     # 3 GiB low, 5 GiB high
    r = reserve_crashkernel("crashkernel=512M,high", ram)
    assert r.base >= 4 * G and r.low_size == 256 * M and r.low_base < 4 * G
    assert r.messages[0].startswith("Reserving 256MB of low memory at")
    assert "(low RAM limit: 4096MB)" in r.messages[0]
    r = reserve_crashkernel("crashkernel=512M,high crashkernel=0,low", ram)
    assert r.ok and r.low_size == 0
    small_low = [(0x100000, 0x8000000), (0x100000000, 0x240000000)]
    r = reserve_crashkernel("crashkernel=512M,high", small_low)
    assert not r.ok and r.messages == ["Cannot reserve 256MB crashkernel low memory, please try smaller size."]


sizes = st.integers(1, 512).map(lambda n: n * M)


@settings(max_examples=300, deadline=None)
@given(sizes, st.lists(st.tuples(st.integers(0, 250), st.integers(1, 8)), max_size=4))
def test_reservation_is_aligned_free_and_highest(size, holes):
    reserved = [(a * M, (a + n) * M) for a, n in holes]
    r = reserve_crashkernel(f"crashkernel={size >> 20}M", LAB_RAM, reserved)
    if not r.ok:
        assert r.messages == ["crashkernel reservation failed - No suitable area found."]
        return
    assert r.base % CRASH_ALIGN == 0 and r.size == size
    assert any(a <= r.base and r.end <= b for a, b in LAB_RAM)
    assert all(r.end <= a or r.base >= b for a, b in reserved)
    def fits(base: int) -> bool:
        return (any(a <= base and base + size <= b for a, b in LAB_RAM)
                and all(base + size <= a or base >= b for a, b in reserved))
    assert fits(r.base)
    assert not any(fits(c) for c in range(r.base + CRASH_ALIGN, 1 << 32, CRASH_ALIGN))     # top-down


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789abcdefxKMGTkmg-:,@ highlowauto", max_size=40), st.integers(1, 1 << 40))
def test_parser_never_crashes(value, ram):
    try:
        ck = parse_crashkernel_value(value, ram)
    except CrashkernelError as e:
        assert 0 <= e.position <= len(value) and e.kernel_message
        return
    assert ck.size >= 0 and ck.offset >= 0


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 1 << 20), st.sampled_from(["K", "M", "G"]), st.integers(0, 1 << 10))
def test_simple_form_round_trips(n, unit, off):
    shift = {"K": 10, "M": 20, "G": 30}[unit]
    ck = parse_crashkernel_value(f"{n}{unit}@{off}M", 1 << 50)
    assert (ck.size, ck.offset) == (n << shift, off << 20)
