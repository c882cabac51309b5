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

from .leaves import Leaves
from .rule import Rule
from .semantics import compile_body, resolve_hyperparams

PROBE_SHAPES = ((7,), (3, 4))
PROBE_STEPS = 6
PROBE_LEAVES = Leaves(PROBE_SHAPES)


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


def run_packed(rule: Rule, leaves: Leaves, grads: np.ndarray, params: np.ndarray,
               hyperparams: Mapping[str, float] | None = None) -> np.ndarray:
    """Updates ``[steps, *lanes, leaves, width]`` of ``rule`` fed packed streams (``Leaves``):
    ``grads[step]`` and ``params[step]`` broadcast together to the lanes; state starts at zero.
    One evaluation of the rule per step serves every lane and leaf."""
    body = _body(rule, leaves, hyperparams)
    shape = np.broadcast_shapes(grads.shape[1:], params.shape[1:])
    slots = {name: np.zeros(shape) for name in rule.state}
    out = np.empty((len(grads), *shape))
    with np.errstate(all="ignore"):
        for step in range(len(grads)):
            out[step], slots = _apply(body, grads[step], params[step], float(step + 1), slots, shape)
    return out


ANONYMOUS = "rule"  # the name probe caches key rules under: a rule's name changes no update


def _body(rule: Rule, leaves: Leaves, hyperparams: Mapping[str, float] | None = None):
    if not hyperparams:
        return _default_body(rule.renamed(ANONYMOUS), leaves)
    hyper = {k: float(v) for k, v in resolve_hyperparams(rule, hyperparams).items()}
    return compile_body(rule, hyper, leaves)


@functools.lru_cache(maxsize=1 << 10)
def _default_body(rule: Rule, leaves: Leaves):
    """The rule at its default hyper-parameters built for ``leaves`` (once for its probes)."""
    return compile_body(rule, {k: float(v) for k, v in rule.params}, leaves)


def _apply(body, g, p, t: float, slots, shape):
    """One step of a compiled body on packed leaves: ``(u, new_slots)``, each broadcast to ``shape``."""
    u, new = body(g, p, t, slots)
    return _full(u, shape), {k: _full(v, shape) for k, v in new.items()}


def _full(x, shape) -> np.ndarray:
    """``x`` as float64 of ``shape`` (a view where it broadcasts)."""
    if type(x) is np.ndarray and x.shape == shape and x.dtype == np.float64:
        return x
    return np.broadcast_to(np.asarray(x, np.float64), shape)


def run_numpy(rule: Rule, grads, params, hyperparams: Mapping[str, float] | None = None):
    """Updates ``u[step][leaf]`` of ``rule`` fed the given streams (state starts at zero): each
    leaf on its own, as in the native compiler (``run_packed`` on the leaves packed)."""
    leaves = Leaves([np.shape(x) for x in grads[0]])
    packed = run_packed(rule, leaves, np.stack([leaves.pack(gs) for gs in grads]),
                        np.stack([leaves.pack(ps) for ps in params]), hyperparams)
    return [leaves.unpack(u) for u in packed]


FINGERPRINT_SEED = 20230213  # the stream ``dsl.fingerprint`` hashes
GRADIENT_SEEDS = (101, 202, 303, 404)  # independent gradient streams over the first one's parameters


@functools.cache
def standard_streams() -> tuple[Leaves, np.ndarray, np.ndarray]:
    """The probe streams every rule is run on, as lanes of packed arrays ``[steps, lanes, leaves,
    width]``: lane 0 the fingerprint's stream, lanes 1... one per ``GRADIENT_SEEDS`` (the validity
    checks'), all on ``PROBE_SHAPES``."""
    leaves = PROBE_LEAVES
    shared = probe_streams(seed=GRADIENT_SEEDS[0])[1]
    streams = [probe_streams(seed=FINGERPRINT_SEED)] + [(probe_streams(seed=s)[0], shared) for s in GRADIENT_SEEDS]
    grads, params = (np.stack([np.stack([leaves.pack(stream[k][step]) for stream in streams])
                               for step in range(PROBE_STEPS)]) for k in (0, 1))
    return leaves, grads, params


def standard_updates(rule: Rule) -> np.ndarray:
    """``rule``'s updates on ``standard_streams``, ``[steps, lanes, leaves, width]`` (read-only): one
    run serves the fingerprint and the validity checks, and is kept for the rule's next asker,
    under any name."""
    return _standard_updates(rule.renamed(ANONYMOUS))


@functools.lru_cache(maxsize=1 << 12)
def _standard_updates(rule: Rule) -> np.ndarray:
    leaves, grads, params = standard_streams()
    out = run_packed(rule, leaves, grads, params)
    out.flags.writeable = False
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
    Below 1: some lr of the sweep makes progress; inf for updates that are not finite.
    Every lr of the sweep is one lane of one run (``Leaves``)."""
    rng = np.random.default_rng(seed)
    curvature = [np.exp(rng.uniform(np.log(1e-2), np.log(10.0), size=s)) for s in PROBE_SHAPES]
    target = [rng.normal(size=s) for s in PROBE_SHAPES]
    start = [t + rng.normal(size=s) for t, s in zip(target, PROBE_SHAPES)]
    leaves = PROBE_LEAVES
    body = _body(rule, leaves)
    h, p_star = leaves.pack(curvature), leaves.pack(target)
    shape = (len(sweep), len(PROBE_SHAPES), leaves.width)
    p = np.broadcast_to(leaves.pack(start), shape)
    slots = {name: np.zeros(shape) for name in rule.state}
    distance = float(np.sqrt(np.mean(np.concatenate([(s - t).ravel() for s, t in zip(start, target)]) ** 2)))
    lrs = None
    with np.errstate(all="ignore"):
        for step in range(steps):
            u, slots = _apply(body, h * (p - p_star), p, float(step + 1), slots, shape)
            if lrs is None:  # every lane's first update is the same
                first = np.concatenate([x.ravel() for x in leaves.unpack(u[0])])
                rms_u = float(np.sqrt(np.mean(first ** 2)))
                if not (np.all(np.isfinite(first)) and rms_u > 0):
                    return float("inf")
                lrs = np.asarray([s * distance / rms_u for s in sweep])[:, None, None]
            p = p - lrs * u
        final = 0.5 * leaves.total(h * (p - p_star) ** 2)
    f0 = 0.5 * sum(float(np.sum(c * (s - t) ** 2)) for c, s, t in zip(curvature, start, target))
    ratios = [f / f0 for f in final if np.isfinite(f)]
    return min(ratios, default=float("inf"))


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


@functools.cache
def _niche_packed() -> tuple[Leaves, np.ndarray, np.ndarray]:
    """The niche streams of every shape set of ``NICHE_SHAPES``, their leaves side by side."""
    streams = [_niche_streams(group) for group in NICHE_SHAPES]
    leaves = Leaves([s for group in NICHE_SHAPES for s in group])
    grads = np.stack([leaves.pack([x for g, _ in streams for x in g[i]]) for i in range(NICHE_STEPS)])
    params = leaves.pack([x for _, p in streams for x in p[0]])
    return leaves, grads, np.broadcast_to(params, grads.shape)


def directions(rule: Rule) -> tuple[np.ndarray, ...]:
    """For each shape set of ``NICHE_SHAPES``, the rule's unit update direction at each step of
    the niche stream over parameters of those shapes, ``[steps, elements]`` (a zero row where
    the update is zero or not finite). One run serves every set (``run_packed``)."""
    leaves, grads, params = _niche_packed()
    per_leaf = iter(leaves.unpack(run_packed(rule, leaves, grads, params), lanes=(NICHE_STEPS,)))
    out = []
    for group in NICHE_SHAPES:
        rows = np.concatenate([next(per_leaf).reshape(NICHE_STEPS, -1) for _ in group], axis=1)
        rows = np.where(np.isfinite(rows).all(axis=1, keepdims=True), rows, 0.0)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        out.append(np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0))
    return tuple(out)


def niche_vectors(rule: Rule) -> tuple[np.ndarray, ...]:
    """``directions`` flattened and divided by ``sqrt(steps)``: for each shape set, the dot
    product of two rules' vectors is the mean per-step cosine of their updates (1 for the same
    optimizer up to scale)."""
    return tuple(d.ravel() / np.sqrt(NICHE_STEPS) for d in directions(rule))
