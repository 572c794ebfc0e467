"""help's examples are real: a fresh run of the shipped image prints exactly what they show.

When the guest or the shell changes what a command prints, this fails until the examples
are refreshed with ``python -m kpanic_lab.crash.examples`` (and the change reviewed).
"""
from __future__ import annotations

import pytest

from kpanic_lab.crash import examples
from kpanic_lab.crash.registry import COMMANDS, lookup


@pytest.mark.slow
def test_every_example_is_from_a_run_of_the_shipped_image():
    from kpanic_lab.guest import vmlinux_path
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    fresh = examples.generate()
    stored = examples.parse_examples(examples.EXAMPLES_FILE.read_text())
    for name in fresh:
        assert stored.get(name) == fresh[name], (
            f"help {name}'s example is out of date: run `python -m kpanic_lab.crash.examples`\n"
            f"stored:\n{stored.get(name)}\nnow:\n{fresh[name]}")
    assert set(stored) == set(fresh)


def test_help_shows_the_stored_example():
    import kpanic_lab.crash.commands  # noqa: F401  (registers the commands)
    from kpanic_lab.crash.commands.help import help_page

    bt = help_page(lookup("bt"))
    assert "EXAMPLE\n  crash> bt\n  PID: " in bt
    assert "machine_kexec at" in bt          # a kdump vmcore's bt starts where crash 8's does
    assert all(not c.example for c in COMMANDS.values()), "examples belong in examples.txt"
    for spec in examples.SPECS:
        assert examples.stored_example(spec.command).startswith("crash> "), spec.command


def test_transcript_and_file_format_round_trip():
    text = examples.format_examples({"ps": "crash> ps\n   PID", "bt": "crash> bt\nPID: 1"})
    assert examples.parse_examples(text) == {"ps": "crash> ps\n   PID", "bt": "crash> bt\nPID: 1"}
    assert examples.transcript("log", "a\nb\nc\n", keep=2) == "crash> log\na\nb\n..."
