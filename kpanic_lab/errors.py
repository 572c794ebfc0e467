"""The one base class of every error the lab raises on purpose (bad input, a guest that
misbehaves, a malformed file).  Front-ends catch ``LabError`` and print its message."""


class LabError(Exception):
    """Something the user can act on; the message names what is wrong and where."""
