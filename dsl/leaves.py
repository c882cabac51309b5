"""Several parameter leaves in one NumPy array, so a rule runs once for all of them.

A ``Leaves`` layout holds leaves of any shapes as ``[..., leaves, width]``: leaf ``i``'s
elements first along the last axis (``width`` is the largest leaf's size), zeros after. The
leading axes are lanes (probe streams, learning rates): everything a rule computes is
elementwise except the reductions, so one evaluation over the packed array gives, lane by
lane and leaf by leaf, the numbers the rule gives on each leaf alone.

A ``Leaves`` is also the array namespace the semantics run in (``dsl.ops``: reductions go
through ``xp.sum`` and ``xp.size``): NumPy, with ``sum`` and ``size`` acting per leaf on its
own elements. A per-leaf scalar (what a reduction returns) is ``[..., leaves, 1]``, which
broadcasts over the leaf's elements and sums to itself, as a NumPy scalar does.

Example::

    leaves = Leaves([(7,), (3, 4)])
    x = leaves.pack([np.ones(7), np.ones((3, 4))])   # shape (2, 12)
    leaves.sum(x)[:, 0]                              # [7., 12.]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Leaves:
    """The packed layout of leaves of ``shapes``, and NumPy with per-leaf ``sum`` and ``size``."""

    def __init__(self, shapes: Sequence[tuple[int, ...]]):
        self.shapes = tuple(tuple(int(n) for n in s) for s in shapes)
        self.sizes = tuple(int(np.prod(s)) for s in self.shapes)
        self.width = max(self.sizes)
        self._uniform = all(n == self.width for n in self.sizes)
        self._size_column = np.asarray(self.sizes, np.int64)[:, None]

    def __getattr__(self, name: str):  # every other function is NumPy's (looked up once)
        function = getattr(np, name)
        setattr(self, name, function)
        return function

    def pack(self, arrays: Sequence[np.ndarray], lanes: tuple[int, ...] = ()) -> np.ndarray:
        """``[*lanes, leaves, width]`` float64 from one array per leaf of shape ``[*lanes, *shape]``."""
        out = np.zeros((*lanes, len(self.sizes), self.width))
        for i, (x, n) in enumerate(zip(arrays, self.sizes)):
            out[..., i, :n] = np.reshape(x, (*lanes, n))
        return out

    def unpack(self, x, lanes: tuple[int, ...] = ()) -> list[np.ndarray]:
        """One array per leaf, ``[*lanes, *shape]``, from a packed value (or one that broadcasts to it)."""
        x = np.broadcast_to(np.asarray(x, np.float64), (*lanes, len(self.sizes), self.width))
        return [x[..., i, :n].reshape((*lanes, *s)) for i, (n, s) in enumerate(zip(self.sizes, self.shapes))]

    def sum(self, x):
        """Per leaf and lane: ``[..., leaves, 1]``; a per-leaf scalar is its own sum."""
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[-1] == 1 or self._uniform:
            return np.sum(x, axis=-1, keepdims=True) if x.ndim else x
        return np.stack([x[..., i, :n].sum(axis=-1) for i, n in enumerate(self.sizes)], axis=-1)[..., None]

    def size(self, x):
        """Elements per leaf (``[leaves, 1]``); 1 for a per-leaf scalar."""
        return 1 if np.ndim(x) == 0 or np.shape(x)[-1] == 1 else self._size_column

    def total(self, x) -> np.ndarray:
        """``sum over leaves of sum(leaf)``, per lane: ``[...]``, added leaf by leaf in order."""
        sums = self.sum(x)[..., 0]
        out = sums[..., 0]
        for i in range(1, len(self.sizes)):
            out = out + sums[..., i]
        return out
