"""The probes as they were first written: the rule walked leaf by leaf and step by step, one
learning rate and one stream at a time. A slow reference that the packed evaluators of
``dsl.probe`` and ``discovery.evolution.validity`` must reproduce verdict for verdict."""

from __future__ import annotations

import numpy as np

from discovery.evolution import validity
from dsl.probe import GRADIENT_SEEDS, NICHE_SHAPES, PROBE_SHAPES, _niche_streams, probe_streams
from dsl.semantics import resolve_hyperparams, run_body


def run_numpy(rule, grads, params):
    hyper = {k: float(v) for k, v in resolve_hyperparams(rule, {}).items()}
    slots = [{name: np.zeros_like(g) for name in rule.state} for g in grads[0]]
    out = []
    with np.errstate(all="ignore"):
        for step, (gs, ps) in enumerate(zip(grads, params)):
            row = []
            for i, (g, p) in enumerate(zip(gs, ps)):
                u, new = run_body(rule, g, p, float(step + 1), hyper, slots[i], np)
                row.append(np.broadcast_to(np.asarray(u, np.float64), g.shape))
                slots[i] = {k: np.broadcast_to(np.asarray(v, np.float64), g.shape) for k, v in new.items()}
            out.append(row)
    return out


def descent(rule, sweep, steps: int = 20, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    curvature = [np.exp(rng.uniform(np.log(1e-2), np.log(10.0), size=s)) for s in PROBE_SHAPES]
    target = [rng.normal(size=s) for s in PROBE_SHAPES]
    start = [t + rng.normal(size=s) for t, s in zip(target, PROBE_SHAPES)]
    hyper = {k: float(v) for k, v in resolve_hyperparams(rule, {}).items()}

    def loss(ps):
        return 0.5 * sum(float(np.sum(h * (p - t) ** 2)) for h, p, t in zip(curvature, ps, target))

    def run(lr):
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


def rejection_kind(rule) -> str | None:
    """The kind of ``validity.rejection`` (or None), computed the first way."""
    _, params = probe_streams(seed=GRADIENT_SEEDS[0])
    streams = [probe_streams(seed=seed)[0] for seed in GRADIENT_SEEDS]

    def updates(grads):
        return np.concatenate([u.ravel() for row in run_numpy(rule, grads, params) for u in row])

    u = updates(streams[0])
    if not np.all(np.isfinite(u)):
        return "not finite"
    if not np.any(u):
        return "zero"
    if float(np.median(np.abs(u))) > validity.MAX_SCALE:
        return "scale"
    others = [updates(grads) for grads in streams[1:]]
    if not all(np.all(np.isfinite(x)) for x in others):
        return "not finite"
    if validity.gradient_share(np.stack([u, *others])) < validity.MIN_GRADIENT_SHARE:
        return "gradient share"
    cosines = []
    for row, g_row in zip(run_numpy(rule, streams[0], params), streams[0]):
        x, g = np.concatenate([v.ravel() for v in row]), np.concatenate([v.ravel() for v in g_row])
        norm = np.linalg.norm(x) * np.linalg.norm(g)
        cosines.append(float(x @ g / norm) if norm > 0 else 0.0)
    if not float(np.mean(cosines)) > 0:
        return "ascent"
    if not descent(rule, validity.SWEEP) < 1:
        return "no descent"
    return None


def similarity(a, b) -> float:
    """Mean per-step cosine of update directions, the larger over the niche shape sets."""
    def directions(rule, shapes):
        grads, params = _niche_streams(shapes)
        rows = np.stack([np.concatenate([np.ravel(u) for u in row]) for row in run_numpy(rule, grads, params)])
        rows = np.where(np.isfinite(rows).all(axis=1, keepdims=True), rows, 0.0)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)

    return max(float(np.mean(np.sum(directions(a, s) * directions(b, s), axis=1))) for s in NICHE_SHAPES)


def fingerprint(rule) -> str:
    """``dsl.fingerprint`` as first written: each leaf's updates quantized and hashed in turn."""
    import hashlib

    from dsl.fingerprint import quantize

    grads, params = probe_streams(seed=20230213)
    digest = hashlib.sha256()
    for row in run_numpy(rule, grads, params):
        for u in row:
            digest.update(quantize(u).tobytes())
    return digest.hexdigest()[:16]
