"""Server-side file paths out of texts a client will read (error messages, job errors)."""
from __future__ import annotations

import re

# An absolute path of two or more components; only its last component is kept.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.@+-]+/)+([\w.@+-]+)")


def redact_paths(text: str) -> str:
    """Server-side file paths say nothing useful to a client and too much to an attacker."""
    return _ABSOLUTE_PATH.sub(r"\1", text)
