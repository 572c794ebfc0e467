"""makedumpfile's compression options, the one table (makedumpfile(8): ``-c``, ``-l``, ``-p``, ``-z``).

Light on purpose: the CLI's options and kdump.conf's checks read it without loading the codecs
(``kpanic_lab.formats.codecs``, which builds its ``CODECS`` from it) or numpy.

>>> OPTIONS["-l"], OPTION_OF["zstd"]
('lzo', '-z')
"""
from typing import Dict

OPTIONS: Dict[str, str] = {"-c": "zlib", "-l": "lzo", "-p": "snappy", "-z": "zstd"}
OPTION_OF: Dict[str, str] = {name: option for option, name in OPTIONS.items()}
