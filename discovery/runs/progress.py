"""A dependency-free progress line for long work: count, rate, ETA, and a status text."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``with Progress(total, "baselines") as bar: ... bar.advance(status="mf_k4 adam")``.

    Writes one updating line to ``stream`` (stderr by default), in a terminal
    and in a Jupyter notebook (which redraws a line on ``\r``); on other
    streams (logs, CI) it writes one line per update instead.
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 24):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.reused = 0  # units found done (e.g. on resume): counted, but not in the rate
        self.start = time.perf_counter()
        self.tty = (hasattr(self.stream, "isatty") and self.stream.isatty()) or (
            stream is None and "ipykernel" in sys.modules)

    def __enter__(self) -> Progress:
        self._write("")
        return self

    def __exit__(self, *exc) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def advance(self, n: int = 1, status: str = "", reused: bool = False) -> None:
        """Count ``n`` more units done; ``reused`` ones (loaded, not computed) leave the ETA's rate alone."""
        self.done = min(self.done + n, self.total)
        self.reused += n if reused else 0
        self._write(status)

    def _write(self, status: str) -> None:
        elapsed = time.perf_counter() - self.start
        filled = int(self.width * self.done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        computed = self.done - self.reused
        eta_text = f"ETA {elapsed / computed * (self.total - self.done):5.0f}s" if computed else "ETA     ?"
        line = f"{self.label} [{bar}] {self.done}/{self.total} {elapsed:5.0f}s {eta_text} {status}"
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(160))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
