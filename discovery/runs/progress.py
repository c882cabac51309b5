"""Progress of long work as a tqdm bar: count, elapsed, ETA, and a status text.

``tqdm.auto`` draws a widget in a Jupyter notebook with ipywidgets, else the text bar
(which a notebook redraws on ``\\r``); on a stream given explicitly (a log, a quiet buffer)
it is always the text bar.
"""

from __future__ import annotations

import warnings
from typing import TextIO

from tqdm import std

with warnings.catch_warnings():  # a notebook without ipywidgets: the text bar, without a warning
    warnings.simplefilter("ignore", std.TqdmWarning)
    from tqdm.auto import tqdm as auto_tqdm


class Progress:
    """``with Progress(total, "baselines") as bar: ... bar.advance(status="mf_k4 adam")``.

    The ETA's rate counts only computed units: ``reused`` ones (loaded, e.g. on resume)
    and those found ``done`` before the work started advance the bar, not the rate.
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None):
        self.total = max(int(total), 1)
        self.label = label
        make = auto_tqdm if stream is None else std.tqdm
        # smoothing 0: the rate is the average over the computed units (tqdm: (n - initial) / elapsed)
        self._bar = make(total=self.total, desc=label, file=stream, smoothing=0, mininterval=0,
                         dynamic_ncols=True)

    @property
    def done(self) -> int:
        """Units done; set it to the units found done when the work starts (not in the rate)."""
        return self._bar.n

    @done.setter
    def done(self, value: int) -> None:
        value = min(int(value), self.total)
        if value != self._bar.n:
            self._bar.initial = self._bar.n = value
            self._bar.refresh()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._bar.close()

    def advance(self, n: int = 1, status: str = "", reused: bool = False) -> None:
        """Count ``n`` more units done; ``reused`` ones (loaded, not computed) leave the ETA's rate alone."""
        n = min(n, self.total - self._bar.n)
        if reused:
            self._bar.initial += n  # tqdm's rate is (n - initial) / elapsed
        self._bar.n += n
        self._bar.set_postfix_str(status)  # redraws the bar
