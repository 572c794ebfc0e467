"""What tests and benchmarks share but the lab itself does not use (``from tests.support...``).

Benchmarks import it too: they put the repository root on ``sys.path`` first.
"""
