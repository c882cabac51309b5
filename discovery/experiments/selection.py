"""Home advantage by selection on a shared pool, measured on training seeds that never selected.

A pool (per replicate seed ``s``) is a set of architectures on which every panel
optimizer ``g`` was fairly tuned twice from disjoint training seeds: its *selection*
score ``S_s[g][a]`` and its *measurement* score ``T_s[g][a]`` (log10 held-out loss,
mean over the seeds of each half; lower is better). A fixed optimizer ``f`` selects
the ``k`` architectures it does best on, by its selection scores only:

    top_s(f) = the k members a with the lowest S_s[f][a]   (exact ties: a seeded order)

and the matrix the home advantage is made of reads measurement scores only:

    M_s[f][g] = mean_{a in top_s(f)} T_s[g][a]
    R_s[f][g] = M_s[f][g] - mean_h M_s[f][h]
    HA_s(g)   = mean_{f != g} R_s[f][g] - R_s[g][g]

(``relative`` and ``home_advantage``). Were ``T = S``, the training noise that put a
member in ``f``'s top k would also make ``f`` look good there: every optimizer would
get a home advantage from the winner's curse alone. With independent halves that noise
is not in ``T``, so a pool without any interaction gives ``HA = 0`` on average
(``tests/test_hypothesis.py`` checks both on pure-noise pools).

Intervals: a percentile bootstrap over replicate seeds and, within each, over the
pool's *blocks* (a block is the members that share a base architecture: one member in
a random pool, the base at every value of a planted gene in a blocked one), resampled
with replacement and selected again: ``HA* = mean over resampled seeds of HA_s`` on
the resampled pools. Adding a fixed optimizer costs only its selection.

Example::

    pool = SeedPool(selection={"adam": s_a, "sgd": s_g}, measurement={"adam": t_a, "sgd": t_g},
                    blocks=np.arange(16), order=np.arange(16))
    by_optimizer, mean = home_advantage_intervals([pool], ("adam", "sgd"), ("adam", "sgd"), k=4)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from discovery.experiments import statistics as st

RESAMPLES = 2000


def relative(m: np.ndarray) -> np.ndarray:
    """``R[f][g] = M[f][g] - mean_h M[f][h]``."""
    return m - m.mean(axis=1, keepdims=True)


def home_advantage(m: np.ndarray, fixed: Sequence[str], panel: Sequence[str]) -> dict[str, float]:
    """``HA(g) = mean_{f != g} R[f][g] - R[g][g]`` for every ``g`` of ``fixed`` (>0: better at home)."""
    r = relative(m)
    out = {}
    for i, g in enumerate(fixed):
        j = list(panel).index(g)
        away = [r[k, j] for k in range(len(fixed)) if k != i]
        out[g] = float(np.mean(away) - r[i, j])
    return out


@dataclasses.dataclass(frozen=True)
class SeedPool:
    """One replicate's pool as arrays over its members: ``selection[g]`` and ``measurement[g]``
    (log10 scores from disjoint training seeds), ``blocks`` (the block of each member) and
    ``order`` (a seeded rank of each member that breaks exact ties in selection: an optimizer
    invariant to a planted gene scores a base's copies alike)."""

    selection: dict[str, np.ndarray]
    measurement: dict[str, np.ndarray]
    blocks: np.ndarray
    order: np.ndarray

    def take(self, members: np.ndarray) -> SeedPool:
        """The pool of ``members`` (indices, repeats allowed: a bootstrap resample)."""
        return SeedPool({g: v[members] for g, v in self.selection.items()},
                        {g: v[members] for g, v in self.measurement.items()},
                        self.blocks[members], self.order[members])

    def resample(self, rng: np.random.Generator) -> SeedPool:
        """As many blocks as the pool has, drawn with replacement, each with all its members."""
        ids = np.unique(self.blocks)
        drawn = ids[rng.integers(0, len(ids), len(ids))]
        return self.take(np.concatenate([np.flatnonzero(self.blocks == b) for b in drawn]))


def top_k(scores: np.ndarray, k: int, order: np.ndarray) -> np.ndarray:
    """Indices of the ``k`` lowest ``scores``, exact ties in ``order``."""
    if not 0 < k <= len(scores):
        raise ValueError(f"cannot select the top {k} of a pool of {len(scores)}")
    return np.lexsort((order, scores))[:k]


def matrix(pool: SeedPool, fixed: Sequence[str], panel: Sequence[str], k: int) -> np.ndarray:
    """``M[f][g]``: mean measurement score of ``g`` on the top ``k`` of ``f`` by selection."""
    rows = []
    for f in fixed:
        chosen = top_k(pool.selection[f], k, pool.order)
        rows.append([float(pool.measurement[g][chosen].mean()) for g in panel])
    return np.array(rows)


def selected(pool: SeedPool, fixed: Sequence[str], k: int) -> np.ndarray:
    """The members any fixed optimizer selects (sorted indices)."""
    return np.unique(np.concatenate([top_k(pool.selection[f], k, pool.order) for f in fixed]))


def home_advantage_intervals(pools: Sequence[SeedPool], fixed: Sequence[str], panel: Sequence[str], k: int,
                             resamples: int = RESAMPLES, seed: int = 0) -> tuple[dict[str, st.Effect], st.Effect]:
    """Per fixed optimizer ``g``, ``HA(g)`` (mean over seeds of ``HA_s(g)``), and the mean over the
    fixed optimizers, each with its bootstrap interval over seeds and blocks (module doc);
    ``Effect.values`` holds the per-seed values."""
    def values(has: list[dict[str, float]]) -> np.ndarray:
        per = np.array([[h[g] for g in fixed] for h in has])
        return np.column_stack([per, per.mean(axis=1)])  # the fixed optimizers', then their mean

    per_seed = values([home_advantage(matrix(p, fixed, panel, k), fixed, panel) for p in pools])
    rng = np.random.default_rng(seed)
    draws = np.empty((resamples, len(fixed) + 1))
    for b in range(resamples):
        chosen = rng.integers(0, len(pools), len(pools))
        draws[b] = values([home_advantage(matrix(pools[i].resample(rng), fixed, panel, k), fixed, panel)
                           for i in chosen]).mean(axis=0)
    alpha = (1 - st.CONFIDENCE) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha], axis=0)
    method = f"percentile bootstrap over {len(pools)} seeds and the pools' blocks, {resamples} resamples"
    effects = [st.Effect(float(per_seed[:, i].mean()), float(low[i]), float(high[i]), tuple(per_seed[:, i].tolist()),
                         method) for i in range(len(fixed) + 1)]
    return dict(zip(fixed, effects)), effects[-1]
