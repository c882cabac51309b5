"""Stress streams: gradients where optimizers differ in what protects them.

One float64 array of shape ``(STEPS, rows, LEAF_SIZE)`` for gradients and
one for parameters; each row is one parameter leaf (reductions act per row).
Besides ordinary gradients (``N(0, 1) * exp(U(-3, 1))``, as ``dsl.probe``),
the rows hold what decides whether a term of a rule matters:

* tiny gradients, ``1e-6`` to ``1e-20`` (Adam's ``eps``, weight decay dominate);
* large ones, ``1e3`` and ``1e6``;
* a row of exact zeros, and in every row a coordinate whose gradient is
  always 0 (``0 / 0`` is NaN: a guard such as ``eps`` must stay);
* a row with a persistent sign (momentum agrees with the gradient).

Parameters are ``N(0, 1)``. No JAX: this is NumPy, like ``dsl.probe``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import NamedTuple

import numpy as np

from .leaves import Leaves
from .rule import Rule
from .semantics import run_body

STEPS = 10
LEAF_SIZE = 8
ORDINARY_ROWS = 4
SCALED_ROWS = (1e-6, 1e-10, 1e-14, 1e-20, 1e3, 1e6, 0.0)  # gradient magnitude of each row
PERSISTENT_ROWS = 1
ROWS = ORDINARY_ROWS + len(SCALED_ROWS) + PERSISTENT_ROWS


@functools.cache
def stress_streams() -> tuple[np.ndarray, np.ndarray]:
    """``(grads, params)``, each of shape ``(STEPS, rows, LEAF_SIZE)``, read-only."""
    rng = np.random.default_rng(20230213)
    rows = ROWS
    shape = (STEPS, rows, LEAF_SIZE)
    noise = rng.normal(size=shape)
    scale = np.exp(rng.uniform(-3, 1, size=shape))
    scale[:, ORDINARY_ROWS:ORDINARY_ROWS + len(SCALED_ROWS)] = np.array(SCALED_ROWS)[:, None]
    grads = noise * scale
    grads[:, rows - PERSISTENT_ROWS:] = 1 + 0.3 * noise[:, rows - PERSISTENT_ROWS:]
    grads[:, :, 0] = 0.0
    params = rng.normal(size=shape)
    for array in (grads, params):
        array.flags.writeable = False
    return grads, params


PER_ROW = Leaves([(LEAF_SIZE,)] * ROWS)  # each row is one leaf for the reductions


class Step(NamedTuple):
    """One step on the stress streams: the update ``u``, the state slots after it and,
    if recorded, every node's value (statements, then the result; see ``semantics.evaluate``)."""

    u: np.ndarray
    slots: dict[str, np.ndarray]
    values: list | None


def run_stress(rule: Rule, hyper: Mapping[str, float], initial: Mapping[str, float] | None = None,
               record: bool = False) -> Iterator[Step]:
    """The steps of ``rule`` on the stress streams, hyper-parameters ``hyper`` (all of them).

    State slots start at zero, or at ``initial[slot]`` where given.
    """
    grads, params = stress_streams()
    shape = grads.shape[1:]
    initial = initial or {}
    slots = {n: np.full(shape, float(initial.get(n, 0.0))) for n in rule.state}
    for step in range(STEPS):
        values = [] if record else None
        with np.errstate(all="ignore"):
            u, new = run_body(rule, grads[step], params[step], float(step + 1), hyper, slots,
                              PER_ROW, values)
        slots = {n: np.broadcast_to(np.asarray(v, np.float64), shape) for n, v in new.items()}
        yield Step(np.broadcast_to(np.asarray(u, np.float64), shape), slots, values)
