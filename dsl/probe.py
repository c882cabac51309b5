"""Running rules in NumPy (float64) on fixed pseudo-random streams.

No JAX and no compilation: this is how rules are compared and hashed cheaply
(``fingerprint``), checked before training (abstract execution), and how
``simplify`` is tested. Each leaf is evaluated separately, as in the native
compiler, so per-leaf reductions mean the same thing.
"""

from __future__ import annotations

import functools
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


def descent(rule: Rule, sweep, steps: int = 20, seed: int = 0) -> float:
    """The best ``f(p_steps) / f(p_0)`` over the learning rates of ``sweep`` on a probe quadratic
    ``f(p) = 1/2 sum h (p - p*)^2`` (curvatures ``h`` from 1e-2 to 10), the rule run in closed
    loop (``p <- p - lr * u``, ``g = h (p - p*)``) from ``p_0 = p* + N(0, 1)``; each lr is
    ``sweep[k]`` times ``rms(p_0 - p*) / rms(u_1)``, so the sweep is the same for ``c * u``.
    Below 1: some lr of the sweep makes progress; inf for updates that are not finite."""
    rng = np.random.default_rng(seed)
    hyper = {k: float(v) for k, v in resolve_hyperparams(rule, {}).items()}
    curvature = [np.exp(rng.uniform(np.log(1e-2), np.log(10.0), size=s)) for s in PROBE_SHAPES]
    target = [rng.normal(size=s) for s in PROBE_SHAPES]
    start = [t + rng.normal(size=s) for t, s in zip(target, PROBE_SHAPES)]

    def loss(ps):
        return 0.5 * sum(float(np.sum(h * (p - t) ** 2)) for h, p, t in zip(curvature, ps, target))

    def run(lr: float | None):
        ps = [p.copy() for p in start]
        slots = [{name: np.zeros_like(p) for name in rule.state} for p in ps]
        with np.errstate(all="ignore"):
            for step in range(steps):
                us = []
                for i, (h, p, t) in enumerate(zip(curvature, ps, target)):
                    u, new = run_body(rule, h * (p - t), p, float(step + 1), hyper, slots[i], np)
                    us.append(np.broadcast_to(np.asarray(u, np.float64), p.shape))
                    slots[i] = {k: np.broadcast_to(np.asarray(v, np.float64), p.shape) for k, v in new.items()}
                if lr is None:
                    return us
                ps = [p - lr * u for p, u in zip(ps, us)]
        return ps

    first = np.concatenate([u.ravel() for u in run(None)])
    rms_u = float(np.sqrt(np.mean(first ** 2)))
    if not (np.all(np.isfinite(first)) and rms_u > 0):
        return float("inf")
    distance = float(np.sqrt(np.mean(np.concatenate([(p - t).ravel() for p, t in zip(start, target)]) ** 2)))
    f0, best = loss(start), float("inf")
    for s in sweep:
        with np.errstate(all="ignore"):
            f = loss(run(s * distance / rms_u))
        if np.isfinite(f):
            best = min(best, f / f0)
    return best


NICHE_STEPS = 40
NICHE_SHAPES = (((16,), (4, 8)), ((9, 7),))  # two parameter tensors; one


@functools.cache
def _niche_streams(shapes: tuple, steps: int = NICHE_STEPS, seed: int = 41):
    """Gradients of varied scales: step ``i`` is ``N(0, 1) * (0.5 + i % 4) + 0.1 p``, over fixed
    parameters ``p ~ N(0, 0.3^2)`` of ``shapes``: long enough for state (momentum, second
    moments) to matter."""
    rng = np.random.default_rng(seed)
    params = [0.3 * rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) * (0.5 + i % 4) + 0.1 * p for s, p in zip(shapes, params)]
             for i in range(steps)]
    return grads, [params] * steps


def directions(rule: Rule, shapes: tuple = NICHE_SHAPES[0]) -> np.ndarray:
    """The rule's unit update direction at each step of the niche stream over parameters of
    ``shapes``, ``[steps, elements]`` (a zero row where the update is zero or not finite)."""
    grads, params = _niche_streams(shapes)
    rows = np.stack([np.concatenate([np.ravel(u) for u in row]) for row in run_numpy(rule, grads, params)])
    rows = np.where(np.isfinite(rows).all(axis=1, keepdims=True), rows, 0.0)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def direction_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Mean per-step cosine of two ``directions`` arrays: 1 for the same optimizer up to scale."""
    return float(np.mean(np.sum(a * b, axis=1)))
