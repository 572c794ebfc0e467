from __future__ import annotations

import pytest

from tests.formats import synth


@pytest.fixture(scope="session")
def synthetic():
    """A synthetic vmcore (tests/formats/synth.py): its memory, the pages' kinds and its ELF bytes."""
    return synth.build()
