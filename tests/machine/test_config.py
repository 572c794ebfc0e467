"""Machine options as the CLI and notebooks pass them: parse_size and MachineConfig.create."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpanic_lab.machine import ConfigError, MachineConfig, parse_size

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


@pytest.mark.parametrize("text, size", [
    ("256M", 256 * MiB),
    ("256m", 256 * MiB),
    ("1G", GiB),
    ("65536K", 64 * MiB),
    ("4096", 4096),
    ("0", 0),
    (" 512M ", 512 * MiB),
    ("256MiB", 256 * MiB),
    ("256MB", 256 * MiB),
    ("1T", 1 << 40),
    (268435456, 256 * MiB),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["12Q", "", "M", "-1M", "1.5G", "256 M B", "0x100000", "1e9", "256MiBs"])
def test_parse_size_rejects(text):
    with pytest.raises(ConfigError) as e:
        parse_size(text)
    assert e.value.option == "--memory"
    assert e.value.value == text
    assert "not a size" in str(e.value)


def test_parse_size_names_the_option_it_is_given():
    with pytest.raises(ConfigError) as e:
        parse_size("lots", option="crashkernel")
    assert str(e.value).startswith("crashkernel='lots'")


@given(st.integers(min_value=0, max_value=1 << 20), st.sampled_from(["", "K", "M", "G", "k", "m", "g"]))
def test_parse_size_is_number_times_unit(n, unit):
    assert parse_size(f"{n}{unit}") == n * {"": 1, "K": KiB, "M": MiB, "G": GiB}[unit.upper()]


def test_config_defaults():
    c = MachineConfig.create()
    assert (c.cpus, c.memory, c.cmdline) == (2, 256 * MiB, "console=ttyS0")


@pytest.mark.parametrize("kwargs, option", [
    ({"cpus": 0}, "--cpus"),
    ({"cpus": 99}, "--cpus"),
    ({"cpus": "two"}, "--cpus"),
    ({"memory": "12Q"}, "--memory"),
    ({"memory": "16M"}, "--memory"),
    ({"memory": "64G"}, "--memory"),
    ({"memory": "100001"}, "--memory"),
    ({"cmdline": "a\nb"}, "--cmdline"),
    ({"cmdline": "x" * 4096}, "--cmdline"),
])
def test_config_rejects_naming_the_option(kwargs, option):
    with pytest.raises(ConfigError) as e:
        MachineConfig.create(**kwargs)
    assert e.value.option == option
    assert str(e.value).startswith(f"{option}=")


@pytest.mark.parametrize("cpus", [1, 2, 8, "4"])
def test_config_accepts_cpus(cpus):
    assert MachineConfig.create(cpus=cpus).cpus == int(cpus)
