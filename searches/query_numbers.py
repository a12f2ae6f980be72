"""Whole numbers typed into a URL's query or a form field: ids, trial numbers, event counters.

`str.isdigit()` is true for "²" (which int() refuses) and for 5000 nines (int() reads at most 4300
digits), so checking with isdigit() and then calling int() answers such input with a 500. This reads
ASCII digits only, at most 18 of them (so any value fits a 64-bit column), and answers None otherwise.
"""

from __future__ import annotations

import re

_WHOLE_NUMBER = re.compile(r"\s*([0-9]{1,18})\s*")


def whole_number(text: str | None) -> int | None:
    """The number `text` spells in ASCII digits, spaces around it allowed; None for anything else."""
    match = _WHOLE_NUMBER.fullmatch(text or "")
    return int(match.group(1)) if match else None
