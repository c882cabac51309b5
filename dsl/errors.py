"""The one exception type of the rule language."""

from __future__ import annotations


class DSLError(ValueError):
    """A rule could not be parsed, validated, compiled or loaded.

    ``line`` and ``col`` are 1-based positions in the rule text (0 when the
    error has no position, e.g. for a rule built in code or loaded from bytes).
    """

    def __init__(self, message: str, line: int = 0, col: int = 0):
        self.message = message
        self.line = line
        self.col = col
        where = f"line {line}, col {col}: " if line else ""
        super().__init__(where + message)
