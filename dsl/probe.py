"""Running rules in NumPy (float64) on fixed pseudo-random streams.

No JAX and no compilation: this is how rules are compared and hashed cheaply
(``fingerprint``), checked before training (abstract execution), and how
``simplify`` is tested. Each leaf is evaluated separately, as in the native
compiler, so per-leaf reductions mean the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .rule import Rule
from .semantics import resolve_hyperparams, run_body

PROBE_SHAPES = ((7,), (3, 4))
PROBE_STEPS = 6


def probe_streams(seed: int = 0, steps: int = PROBE_STEPS, shapes=PROBE_SHAPES):
    """Gradient and parameter streams: ``grads[step][leaf]`` and ``params[step][leaf]``.

    Magnitudes span several decades and signs vary, so that rules which agree
    on them almost surely agree everywhere.
    """
    rng = np.random.default_rng(seed)
    grads, params = [], []
    for _ in range(steps):
        grads.append([rng.normal(size=s) * np.exp(rng.uniform(-3, 1, size=s)) for s in shapes])
        params.append([rng.normal(size=s) for s in shapes])
    return grads, params


def run_numpy(rule: Rule, grads, params, hyperparams: Mapping[str, float] | None = None):
    """Updates ``u[step][leaf]`` of ``rule`` fed the given streams (state starts at zero)."""
    hyper = {k: float(v) for k, v in resolve_hyperparams(rule, hyperparams or {}).items()}
    n_leaves = len(grads[0])
    slots = [{name: np.zeros_like(grads[0][i]) for name in rule.state} for i in range(n_leaves)]
    out = []
    with np.errstate(all="ignore"):
        for step, (gs, ps) in enumerate(zip(grads, params)):
            t = float(step + 1)
            row = []
            for i, (g, p) in enumerate(zip(gs, ps)):
                u, new = run_body(rule, g, p, t, hyper, slots[i], np)
                row.append(np.broadcast_to(np.asarray(u, np.float64), g.shape))
                slots[i] = {k: np.broadcast_to(np.asarray(v, np.float64), g.shape) for k, v in new.items()}
            out.append(row)
    return out


def similarity(a: Rule, b: Rule, seed: int = 0) -> float:
    """Mean cosine similarity of the two rules' update directions on shared probe streams.

    1 for rules that move parameters the same way (up to scale), 0 for
    unrelated ones; a NaN/Inf update counts as dissimilar (0).
    """
    grads, params = probe_streams(seed=seed, steps=20)
    ua, ub = run_numpy(a, grads, params), run_numpy(b, grads, params)
    cosines = []
    for row_a, row_b in zip(ua, ub):
        x = np.concatenate([np.ravel(u) for u in row_a])
        y = np.concatenate([np.ravel(u) for u in row_b])
        norm = np.linalg.norm(x) * np.linalg.norm(y)
        ok = np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and norm > 0
        cosines.append(float(x @ y / norm) if ok else 0.0)
    return float(np.mean(cosines))
